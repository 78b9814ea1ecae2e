/**
 * The expected catalog of each tenant version: replay the tenant migrations into a scratch schema
 * and introspect it after each version that is asked for — normalization by execution, not by a
 * parser (the server itself says what the migrations make). On the same server by default (exact,
 * dialect-native), or offline into an in-memory PGlite for PostgreSQL fleets.
 */
import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog-model.js';
import type { CatalogReader } from '../catalog/catalog-reader.js';
import { createAdapter } from '../dialect/create-adapter.js';
import { createCatalogReader } from '../dialect/create-catalog-reader.js';
import type { Dialect } from '../dialect/dialect.js';
import { TenantMigrateError } from '../errors.js';
import type { OperationContext } from '../operations/context.js';
import { rendererFor } from '../operations/templates.js';
import { migrateSchema } from '../runner/schema-migrator.js';
import type { MigrationFile, Tenant } from '../types.js';
import { withRollbackOnly } from './rollback-only.js';
import { dropStaleScratchSchemas, newScratchName } from './scratch-schema.js';

export interface ReplayRequest {
  readonly adapter: Dialect;
  readonly reader: CatalogReader;
  /** Tenant migration files in order. */
  readonly files: readonly MigrationFile[];
  /** Versions (tenant migration ids) whose catalog is wanted. */
  readonly versions: ReadonlySet<string>;
  readonly render: (file: MigrationFile, tenant: Tenant) => string;
}

/**
 * Replay into one scratch schema, reading the catalog after each wanted version. Everything runs in
 * one transaction that is rolled back at the end (see rollback-only.ts): the scratch schema and
 * whatever the migrations did elsewhere on the server vanish with it.
 */
export async function replayExpectedCatalogs(req: ReplayRequest): Promise<Map<string, Catalog>> {
  const out = new Map<string, Catalog>();
  const wanted = req.files.filter((f) => req.versions.has(f.id));
  if (wanted.length === 0) return out;
  await req.adapter.withSession(async (session) => {
    // Leftovers of versions that replayed outside a transaction: their owner's lock is free.
    await dropStaleScratchSchemas(req.adapter, session);
    await withRollbackOnly(session, req.adapter.syntax.family, async ({ session: inner, check }) => {
      const schema = newScratchName();
      const workspaceId = randomUUID();
      const tenant: Tenant = {
        workspaceId,
        name: 'tenant-migrate drift scratch',
        dbSchemaName: schema,
        status: 'Active',
        lastSeenUtc: null,
        createdUtc: null,
        schema,
        needsBackfill: false,
      };
      await req.adapter.meta.ensureSchema(inner, schema);
      await req.adapter.meta.ensureMetaTable(inner, schema);
      for (const file of wanted) {
        await migrateSchema({ dialect: req.adapter, session: inner, schema, files: req.files, render: (f) => req.render(f, tenant), runId: null, to: file.id });
        await check();
        out.set(file.id, await req.reader.readCatalog(session, schema));
      }
    });
  });
  return out;
}

/** Replay on a database of the fleet (the master's, or a target's: `adapter`), in a scratch schema there. */
export async function expectedOnServer(
  ctx: OperationContext,
  adapter: Dialect,
  files: readonly MigrationFile[],
  versions: ReadonlySet<string>,
): Promise<Map<string, Catalog>> {
  const render = await rendererFor(ctx, adapter.syntax);
  return replayExpectedCatalogs({ adapter, reader: await createCatalogReader(adapter), files, versions, render: render.tenant });
}

/**
 * Replay offline into an in-memory PGlite: master migrations first (tenant migrations may read
 * master tables), then the tenant migrations in a scratch schema. PostgreSQL family only.
 */
export async function expectedOffline(
  ctx: OperationContext,
  files: { readonly master: readonly MigrationFile[]; readonly tenant: readonly MigrationFile[] },
  versions: ReadonlySet<string>,
): Promise<Map<string, Catalog>> {
  const online = await ctx.dialect();
  if (online.syntax.family !== 'postgres') {
    throw new TenantMigrateError('USAGE', '--offline replays into PGlite, which only matches PostgreSQL fleets; on SQL Server drift replays on the server');
  }
  const adapter = await createAdapter({ url: 'pglite:memory', names: online.names, maxConnections: 1, rootDir: ctx.config.rootDir });
  try {
    const render = await rendererFor(ctx, adapter.syntax);
    const masterSchema = ctx.config.masterSchema;
    await adapter.withSession(async (session) => {
      await adapter.meta.ensureSchema(session, masterSchema);
      await adapter.meta.ensureMetaTable(session, masterSchema);
      const before = new Set(files.master.filter((f) => !f.directives.afterTenants).map((f) => f.id));
      await migrateSchema({ dialect: adapter, session, schema: masterSchema, files: files.master, render: render.master, runId: null, only: before });
    });
    return await replayExpectedCatalogs({ adapter, reader: await createCatalogReader(adapter), files: files.tenant, versions, render: render.tenant });
  } finally {
    await adapter.close();
  }
}
