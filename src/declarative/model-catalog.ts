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

/**
 * Replay every master migration (after-tenants ones last) and every tenant migration into an
 * in-memory PGlite, and run each model's CREATE script into a scratch schema; read all back.
 */
export async function replayCatalogs(
  config: Config,
  engine: TemplateEngine,
  files: { readonly master: readonly MigrationFile[]; readonly tenant: readonly MigrationFile[] },
  models: Partial<Record<ModelScope, SchemaModel>>,
): Promise<ReplayedCatalogs> {
  const adapter = await openScratchPglite(config);
  try {
    const reader = await createCatalogReader(adapter);
    const { masterSchema, vars } = config;
    const masterContext = buildRenderContext({ syntax: adapter.syntax, masterSchema, vars });
    const tenantContext = (schema: string, workspaceId: string) =>
      buildRenderContext({ syntax: adapter.syntax, masterSchema, vars, tenant: { workspaceId, schemaName: schema, workspace: { workspace_id: workspaceId, db_schema_name: schema, status: 'Active' } } });
    const applyMaster = (only: (f: MigrationFile) => boolean) =>
      adapter.withSession((session) =>
        migrateSchema({ dialect: adapter, session, schema: masterSchema, files: files.master, render: (f) => engine.render(f, masterContext), runId: null, only: new Set(files.master.filter(only).map((f) => f.id)) }),
      );
    await adapter.withSession(async (session) => {
      await adapter.meta.ensureSchema(session, masterSchema);
      await adapter.meta.ensureMetaTable(session, masterSchema);
    });
    await applyMaster((f) => !f.directives.afterTenants);
    const last = files.tenant.at(-1)?.id;
    const tenant = last
      ? (await replayExpectedCatalogs({ adapter, reader, files: files.tenant, versions: new Set([last]), render: (f, t) => engine.render(f, tenantContext(t.schema, t.workspaceId)) })).get(last)!
      : { family: 'postgres' as const, tables: [] };
    await applyMaster((f) => f.directives.afterTenants);
    const master = withoutEngineTables(await adapter.withSession((s) => reader.readCatalog(s, masterSchema)), config.ledgerPrefix);

    const out: Partial<Record<ModelScope, Catalog>> = {};
    for (const scope of ['tenant', 'master'] as const) {
      const model = models[scope];
      if (!model) continue;
      const id = '0001_schema_model';
      const file = inMemoryMigration(id, scope, migrationTemplates(emptyModel(scope), model, id, new Set()).up, `${config.model[scope]} (CREATE script)`);
      const render = (f: MigrationFile, t: { schema: string; workspaceId: string }) =>
        engine.render(f, scope === 'tenant' ? tenantContext(t.schema, t.workspaceId) : buildRenderContext({ syntax: adapter.syntax, masterSchema: t.schema, vars }));
      out[scope] = (await replayExpectedCatalogs({ adapter, reader, files: [file], versions: new Set([id]), render })).get(id)!;
    }
    return { migrations: { master, tenant }, models: out };
  } finally {
    await adapter.close();
  }
}
