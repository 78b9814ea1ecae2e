import sql from 'mssql';
import { describe, expect, it } from 'vitest';
import type { SqlSession } from '../../src/dialect/dialect-adapter.js';
import { MssqlAdapter } from '../../src/dialect/mssql/mssql-adapter.js';
import { bindInput } from '../../src/dialect/mssql/mssql-driver.js';
import { rowToTenant } from '../../src/dialect/row-mapping.js';
import { PinnedConnection } from '../../src/dialect/mssql/pinned-connection.js';
import { ConfigError } from '../../src/errors.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const tenant = 'ws_123e4567e89b12d3a456426614174000';

/** A session that answers each query from a script and records what ran. */
function scriptedSession(answers: Array<Record<string, unknown>[]>) {
  const calls: Array<{ sql: string; params: readonly unknown[] }> = [];
  const session: SqlSession = {
    query: async <R,>(text: string, params: readonly unknown[] = []) => {
      calls.push({ sql: text, params });
      return (answers.shift() ?? []) as R[];
    },
    runScript: async () => undefined,
    begin: async () => undefined,
    commit: async () => undefined,
    rollback: async () => undefined,
    inTransaction: false,
  };
  return { session, calls };
}

/** The composed adapter with the contract methods under test flattened onto it (the calls below predate the split). */
const adapter = () => {
  const d = new MssqlAdapter({ url: 'mssql://sa:pw@localhost:1433/app', names, maxConnections: 4 });
  return Object.assign(d, {
    acquireLock: d.locks.acquireLock.bind(d.locks),
    releaseLock: d.locks.releaseLock.bind(d.locks),
    readApplied: d.meta.readApplied.bind(d.meta),
    insertApplied: d.meta.insertApplied.bind(d.meta),
    setWorkspaceStatus: d.workspaces.setWorkspaceStatus.bind(d.workspaces),
    touchWorkspace: d.workspaces.touchWorkspace.bind(d.workspaces),
  });
};

describe('MssqlAdapter without a server', () => {
  it('is constructed from the factory shape and connects lazily', async () => {
    const a = adapter();
    expect(a.name).toBe('mssql');
    expect(a.maxConnections).toBe(4);
    expect(a.capabilities).toEqual({ transactionalDdl: true, multipleConnections: true });
    expect(a.syntax.batchSeparator).toBe('GO');
    await a.close();
  });

  it('rejects a bad URL with the key named', () => {
    expect(() => new MssqlAdapter({ url: 'mssql://h/db?encrypt=sometimes', names, maxConnections: 1 })).toThrow(ConfigError);
  });

  it('takes a session-owned applock with the tenant resource and a sliced timeout', async () => {
    const { session, calls } = scriptedSession([[{ result: 1 }]]);
    expect(await adapter().acquireLock(session, tenant, 3000)).toBe(true);
    expect(calls[0]!.sql).toMatch(/sp_getapplock @Resource = @resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = \$2/);
    // $1 as is on SQL Server; qualified with the database on Babelfish (cluster-wide advisory locks).
    expect(calls[0]!.sql).toContain("@resource NVARCHAR(255) = CASE WHEN SERVERPROPERTY('Babelfish') IS NULL THEN $1 ELSE LEFT($1 + N'@' + DB_NAME(), 255) END");
    expect(calls[0]!.params[0]).toBe(`tenant-migrate:${tenant}`);
    expect(calls[0]!.params[1]).toBeLessThanOrEqual(3000);
  });

  it('returns false on timeout (-1) once the deadline passed, and retries a deadlock victim (-3)', async () => {
    const a = adapter();
    const timedOut = scriptedSession([[{ result: -1 }]]);
    expect(await a.acquireLock(timedOut.session, tenant, 0)).toBe(false);
    const victim = scriptedSession([[{ result: -3 }], [{ result: 0 }]]);
    expect(await a.acquireLock(victim.session, tenant, 50)).toBe(true);
    expect(victim.calls).toHaveLength(2);
  });

  it('throws on -999', async () => {
    const { session } = scriptedSession([[{ result: -999 }]]);
    await expect(adapter().acquireLock(session, tenant, 10)).rejects.toThrow(/return code -999/);
  });

  it('releases idempotently through APPLOCK_MODE', async () => {
    const { session, calls } = scriptedSession([[{ result: 0 }]]);
    await adapter().releaseLock(session, tenant);
    expect(calls[0]!.sql).toMatch(/APPLOCK_MODE\(N'public', @resource, N'Session'\)/);
    expect(calls[0]!.params).toEqual([`tenant-migrate:${tenant}`]);
  });

  it('reads applied rows only when the meta table exists', async () => {
    const a = adapter();
    const missing = scriptedSession([[{ found: 0 }]]);
    expect(await a.readApplied(missing.session, tenant)).toEqual([]);
    expect(missing.calls).toHaveLength(1);
    const appliedUtc = new Date('2026-01-02T03:04:05.678Z');
    const present = scriptedSession([
      [{ found: 1 }],
      [{ id: '0001_init', checksum: 'a'.repeat(64), rendered_checksum: 'b'.repeat(64), applied_utc: appliedUtc, duration_ms: 12, run_id: null }],
    ]);
    expect(await a.readApplied(present.session, tenant)).toEqual([
      { id: '0001_init', checksum: 'a'.repeat(64), renderedChecksum: 'b'.repeat(64), appliedUtc, durationMs: 12, runId: null },
    ]);
  });

  it('passes the applied row with a Date for DATETIME2', async () => {
    const { session, calls } = scriptedSession([]);
    const appliedUtc = new Date();
    await adapter().insertApplied(session, tenant, { id: 'x', checksum: 'c', renderedChecksum: 'r', appliedUtc, durationMs: 1.6, runId: 'run' });
    expect(calls[0]!.params).toEqual(['x', 'c', 'r', appliedUtc, 2, 'run']);
  });

  it('reports whether a registry update matched via @@ROWCOUNT', async () => {
    const a = adapter();
    expect(await a.setWorkspaceStatus(scriptedSession([[{ affected: 1 }]]).session, 'id', 'Archived')).toBe(true);
    expect(await a.touchWorkspace(scriptedSession([[{ affected: 0 }]]).session, 'id')).toBe(false);
  });

  it('maps registry rows, lower-casing the GUID', () => {
    expect(rowToTenant({ workspace_id: '123E4567-E89B-12D3-A456-426614174000', name: 'n', db_schema_name: null, status: 'Active', last_seen_utc: null, created_utc: null })).toEqual({
      workspaceId: '123e4567-e89b-12d3-a456-426614174000',
      name: 'n',
      dbSchemaName: null,
      status: 'Active',
      lastSeenUtc: null,
      createdUtc: null,
    });
  });
});

describe('bindInput', () => {
  it('types parameters explicitly', () => {
    const request = new sql.Request();
    bindInput(request, 'p1', 'text');
    bindInput(request, 'p2', 5);
    bindInput(request, 'p3', 1.5);
    bindInput(request, 'p4', new Date(0));
    bindInput(request, 'p5', null);
    bindInput(request, 'p6', 'x'.repeat(5000));
    bindInput(request, 'p7', true);
    bindInput(request, 'p8', 2 ** 40);
    const p = request.parameters as unknown as Record<string, { type: unknown; length?: number; scale?: number }>;
    expect(p.p1!.type).toBe(sql.NVarChar);
    expect(p.p1!.length).toBe(4000);
    expect(p.p2!.type).toBe(sql.Int);
    expect(p.p3!.type).toBe(sql.Float);
    expect(p.p4!.type).toBe(sql.DateTime2);
    expect(p.p5!.type).toBe(sql.NVarChar);
    expect(p.p6!.length).toBe(sql.MAX);
    expect(p.p7!.type).toBe(sql.Bit);
    expect(p.p8!.type).toBe(sql.BigInt);
  });
});

describe('PinnedConnection', () => {
  function fakePool() {
    const connection = { closed: false, close() { this.closed = true; } };
    const released: unknown[] = [];
    const pool = {
      config: { server: 'h' },
      connected: true,
      acquire: async () => connection,
      release: (c: unknown) => released.push(c),
    };
    return { pool: pool as unknown as sql.ConnectionPool, connection, released };
  }

  it('hands its one connection to one request at a time', async () => {
    const { pool, connection } = fakePool();
    const pinned = await PinnedConnection.acquire(pool);
    const first = await new Promise<unknown[]>((resolve) => pinned.acquire(null, (...args) => resolve(args)));
    expect(first[0]).toBeNull();
    expect(first[1]).toBe(connection);
    const second = await new Promise<unknown[]>((resolve) => pinned.acquire(null, (...args) => resolve(args)));
    expect((second[0] as { code: string }).code).toBe('EREQINPROG');
    pinned.release(connection as never);
    const third = await new Promise<unknown[]>((resolve) => pinned.acquire(null, (...args) => resolve(args)));
    expect(third[1]).toBe(connection);
  });

  it('returns the connection to the pool, closing it first when asked to discard', async () => {
    const kept = fakePool();
    (await PinnedConnection.acquire(kept.pool)).end({ discard: false });
    expect(kept.released).toEqual([kept.connection]);
    expect(kept.connection.closed).toBe(false);

    const dropped = fakePool();
    const pinned = await PinnedConnection.acquire(dropped.pool);
    pinned.end({ discard: true });
    pinned.end({ discard: true });
    expect(dropped.connection.closed).toBe(true);
    expect(dropped.released).toHaveLength(1);
    expect(() => pinned.request()).toThrow(/session already ended/);
  });
});
