/**
 * Catalogs by execution (STYLE 17: normalize by execution, not by a parser): the migrations
 * replayed, and the model's own CREATE script run, each in an in-memory PGlite; both read back
 * with the same catalog reader, so a check written `status IN ('a', 'b')` compares with whatever
 * PostgreSQL prints for it on both sides.
 */
import type { Catalog } from '../catalog/catalog-model.js';
import type { Config } from '../config/config-schema.js';
import { createAdapter } from '../dialect/create-adapter.js';
import { createCatalogReader } from '../dialect/create-catalog-reader.js';
import type { Dialect } from '../dialect/dialect.js';
import { replayExpectedCatalogs } from '../drift/expected-catalogs.js';
import { migrateSchema } from '../runner/schema-migrator.js';
import { checksumOf } from '../source/index.js';
import type { TemplateEngine } from '../templating/index.js';
import { buildRenderContext } from '../templating/index.js';
import type { MigrationFile } from '../types.js';
import type { ModelScope, SchemaModel } from '../schema-model/model-types.js';
import { emptyModel } from '../schema-model/snapshot.js';
import { migrationTemplates } from './generate-migration.js';

export interface ReplayedCatalogs {
  /** What the migrations make, per scope (after every migration). */
  readonly migrations: Record<ModelScope, Catalog>;
  /** What each given model's CREATE script makes. */
  readonly models: Partial<Record<ModelScope, Catalog>>;
}

/** A template held in memory as if it were a migration file. */
export function inMemoryMigration(id: string, scope: ModelScope, source: string, where: string): MigrationFile {
  const [digits = '0001', ...rest] = id.split('_');
  return {
    id,
    number: Number(digits),
    name: rest.join('_'),
    scope,
    path: where,
    absolutePath: where,
    source,
    isTemplate: true,
    checksum: checksumOf(source),
    directives: { noTransaction: false, afterTenants: false },
  };
}

/** Without the engine's own tables: the meta table (the reader skips it) and the run ledger. */
const withoutEngineTables = (catalog: Catalog, ledgerPrefix: string): Catalog => ({
  ...catalog,
  tables: catalog.tables.filter((t) => !t.name.startsWith(ledgerPrefix)),
});

export async function openScratchPglite(config: Config): Promise<Dialect> {
  return createAdapter({
    url: 'pglite:memory',
    names: { masterSchema: config.masterSchema, metaTable: config.metaTable, registryTable: config.registry.table, ledgerPrefix: config.ledgerPrefix },
    maxConnections: 1,
    rootDir: config.rootDir,
  });
}

/** Master migrations in replay order: after-tenants ones last (they run after the fleet). */
const masterOrder = (files: readonly MigrationFile[]): MigrationFile[] => [...files.filter((f) => !f.directives.afterTenants), ...files.filter((f) => f.directives.afterTenants)];

/**
 * Replay every master migration (after-tenants ones last) and every tenant migration, and run each
 * model's CREATE script into a scratch schema; read all back with the dialect's catalog reader.
 *
 * Offline (no `server`): into an in-memory PGlite — the master migrations into the master schema
 * there, the tenant migrations into a scratch schema. On a server (`check --on-server`: how a SQL
 * Server team checks on the real dialect): everything into scratch schemas (drift's
 * `tm_scratch_<pid>_<hex>`, held by a lock, leftovers of dead runs dropped) — the master
 * migrations rendered with the scratch schema as the master schema, the tenant migrations with the
 * server's real master schema (which must be migrated: tenant migrations may use its tables).
 */
export async function replayCatalogs(
  config: Config,
  engine: TemplateEngine,
  files: { readonly master: readonly MigrationFile[]; readonly tenant: readonly MigrationFile[] },
  models: Partial<Record<ModelScope, SchemaModel>>,
  options: { readonly server?: Dialect } = {},
): Promise<ReplayedCatalogs> {
  const adapter = options.server ?? (await openScratchPglite(config));
  try {
    const reader = await createCatalogReader(adapter);
    const { masterSchema, vars } = config;
    const masterContext = (schema: string) => buildRenderContext({ syntax: adapter.syntax, masterSchema: schema, vars });
    const tenantContext = (schema: string, workspaceId: string) =>
      buildRenderContext({ syntax: adapter.syntax, masterSchema, vars, tenant: { workspaceId, schemaName: schema, workspace: { workspace_id: workspaceId, db_schema_name: schema, status: 'Active' } } });
    /** The catalog after replaying `list` into a scratch schema (empty for no files). */
    const replay = async (list: readonly MigrationFile[], render: (f: MigrationFile, t: { schema: string; workspaceId: string }) => string): Promise<Catalog> => {
      const last = list.at(-1)?.id;
      if (!last) return { family: adapter.syntax.family, tables: [] };
      return (await replayExpectedCatalogs({ adapter, reader, files: list, versions: new Set([last]), render })).get(last)!;
    };
    const renderTenant = (f: MigrationFile, t: { schema: string; workspaceId: string }) => engine.render(f, tenantContext(t.schema, t.workspaceId));
    const renderMaster = (f: MigrationFile, t: { schema: string }) => engine.render(f, masterContext(t.schema));

    let master: Catalog;
    let tenant: Catalog;
    if (options.server) {
      master = withoutEngineTables(await replay(masterOrder(files.master), renderMaster), config.ledgerPrefix);
      tenant = await replay(files.tenant, renderTenant);
    } else {
      const applyMaster = (only: (f: MigrationFile) => boolean) =>
        adapter.withSession((session) =>
          migrateSchema({ dialect: adapter, session, schema: masterSchema, files: files.master, render: (f) => engine.render(f, masterContext(masterSchema)), runId: null, only: new Set(files.master.filter(only).map((f) => f.id)) }),
        );
      await adapter.withSession(async (session) => {
        await adapter.meta.ensureSchema(session, masterSchema);
        await adapter.meta.ensureMetaTable(session, masterSchema);
      });
      await applyMaster((f) => !f.directives.afterTenants);
      tenant = await replay(files.tenant, renderTenant);
      await applyMaster((f) => f.directives.afterTenants);
      master = withoutEngineTables(await adapter.withSession((s) => reader.readCatalog(s, masterSchema)), config.ledgerPrefix);
    }

    const out: Partial<Record<ModelScope, Catalog>> = {};
    for (const scope of ['tenant', 'master'] as const) {
      const model = models[scope];
      if (!model) continue;
      const id = '0001_schema_model';
      const file = inMemoryMigration(id, scope, migrationTemplates(emptyModel(scope), model, id, new Set()).up, `${config.model[scope]} (CREATE script)`);
      out[scope] = await replay([file], scope === 'tenant' ? renderTenant : renderMaster);
    }
    return { migrations: { master, tenant }, models: out };
  } finally {
    if (!options.server) await adapter.close();
  }
}
