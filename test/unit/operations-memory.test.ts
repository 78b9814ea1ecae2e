import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { memoryDialect } from '../../src/dialect/memory/memory-dialect.js';
import { OperationContext } from '../../src/operations/context.js';
import { discoverTenants } from '../../src/operations/discover.js';
import { tenantsBehind } from '../../src/operations/master.js';
import { status } from '../../src/operations/status.js';
import type { AppliedMigration, MigrationFile, TenantRow } from '../../src/types.js';

/** Operations over the in-memory twins of the meta store and registry: no database. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const A = '11111111-1111-4111-a111-111111111111';
const B = '22222222-2222-4222-a222-222222222222';
const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;
const row = (workspaceId: string, dbSchemaName: string | null, status = 'Active'): TenantRow => ({
  workspaceId,
  name: null,
  dbSchemaName,
  status,
  lastSeenUtc: null,
  createdUtc: null,
});
const applied = (files: readonly MigrationFile[]): AppliedMigration[] =>
  files.map((f) => ({ id: f.id, checksum: f.checksum, renderedChecksum: f.checksum, appliedUtc: new Date(0), durationMs: 1, runId: null }));

function setup() {
  const dialect = memoryDialect(names);
  const ctx = new OperationContext(parseConfig({ url: 'pglite:memory', rootDir: ROOT, lockTimeoutMs: 10 }), async () => dialect);
  return { dialect, ctx };
}

describe('operations over the in-memory dialect', () => {
  it('discovery is empty before the registry exists, then validates every schema name', async () => {
    const { dialect, ctx } = setup();
    dialect.registry.exists = false;
    expect(await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s))).toEqual({ tenants: [], invalid: [] });
    dialect.registry.exists = true;
    dialect.registry.rows.push(row(A, null), row(B, 'ws_bad;drop'), row('33333333-3333-4333-a333-333333333333', null, 'Archived'));
    const found = await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s));
    expect(found.tenants.map((t) => [t.schema, t.needsBackfill])).toEqual([[schemaOf(A), true]]);
    expect(found.invalid.map((t) => t.workspaceId)).toEqual([B]);
  });

  it('status plans master and tenants from the twins', async () => {
    const { dialect, ctx } = setup();
    const files = await ctx.files();
    dialect.meta.schemas.set(names.masterSchema, applied(files.master.slice(0, 2)));
    dialect.meta.schemas.set(schemaOf(A), applied(files.tenant));
    dialect.registry.rows.push(row(A, schemaOf(A)), row(B, schemaOf(B)), row('not-a-guid', null));
    const result = await status(ctx);
    expect(result.master.pending).toEqual(files.master.slice(2).map((f) => f.id));
    expect(result.tenants).toMatchObject({ total: 2, upToDate: 1, behind: 1, invalid: 1 });
    expect(result.plans.find((p) => p.schema === schemaOf(B))!.pending).toEqual(files.tenant.map((f) => f.id));
    expect(await tenantsBehind(ctx, dialect, files.tenant, true)).toBe(2);
  });

  it('withLock releases after the call and reports a busy lock', async () => {
    const { dialect, ctx } = setup();
    expect(await ctx.withLock('ws_x', async () => dialect.locks.held.has('ws_x'))).toBe(true);
    expect(dialect.locks.held.size).toBe(0);
    await dialect.withSession(async (other) => {
      await dialect.locks.acquireLock(other, 'ws_x');
      await expect(ctx.withLock('ws_x', async () => 'ran')).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
      expect(await ctx.withLock('ws_x', async () => 'ran', { onBusy: () => 'busy' })).toBe('busy');
    });
  });
});
