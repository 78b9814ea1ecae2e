import sql from 'mssql';
import type {
  AdapterNames,
  DialectAdapter,
  DialectCapabilities,
  ErrorClassification,
  RegistryQueryOptions,
  SqlSession,
  WorkspaceMemberInsert,
  WorkspaceUpsert,
} from '../dialect-adapter.js';
import type { LedgerRun, LedgerRunCounts, LedgerTenant, LedgerTenantOutcome, NewLedgerRun, NewLedgerTenant, RunStatus } from '../ledger-types.js';
import { MAX_PARAMS, mssqlLedgerSql, mssqlWorkspaceSql } from './mssql-ledger-sql.js';
import { countsFrom, rowToApplied, rowToLedgerTenant, rowToRun, rowToTenant } from '../row-mapping.js';
import type { DialectName, DialectSyntax } from '../dialect-syntax.js';
import { DriverSession, type SessionDriver } from '../sql-session.js';
import type { AppliedMigration, TenantRow } from '../../types.js';
import { PinnedConnection } from './pinned-connection.js';
import { classifyMssqlError, mssqlErrorLine } from './mssql-errors.js';
import { META_READ_BATCH, type MssqlSql, lockResource, mssqlSql, rewritePlaceholders } from './mssql-sql.js';
import { mssqlSyntax } from './mssql-syntax.js';
import { parseMssqlUrl, toMssqlConfig } from './mssql-url.js';

export interface MssqlAdapterOptions {
  /** `mssql://…`, `sqlserver://…` or an ADO-style `Server=…;Database=…` string. */
  readonly url: string;
  readonly names: AdapterNames;
  /** Pool size: the tenant concurrency. */
  readonly maxConnections: number;
  /**
   * Per-request timeout. Default: the URL's `requestTimeout`, else none (0) — a migration that
   * builds an index on a big table may legitimately run for minutes.
   */
  readonly requestTimeoutMs?: number;
}

/** Longest single sp_getapplock wait; longer timeouts are waited in slices of this size. */
const LOCK_WAIT_SLICE_MS = 10_000;

/** sp_getapplock return codes (>= 0 means granted). */
const APPLOCK_TIMEOUT = -1;
const APPLOCK_DEADLOCK = -3;

/**
 * SQL Server over the `mssql` package (tedious).
 *
 * Sessions. A session-owned `sp_getapplock` is held by one connection, and a tenant's migrations
 * each run in their own transaction while that lock is held, so a session must keep one
 * connection across many requests. The `mssql` package has no public API for that (everything
 * is a pool; see https://github.com/tediousjs/node-mssql/issues/1517), and a `Transaction` would
 * hold the connection only until its single commit. We therefore take a connection from the
 * pool with `ConnectionPool#acquire()` and bind `Request`s to it through {@link PinnedConnection},
 * which implements the same parent contract a `Transaction` gives its requests. The connection
 * returns to the pool when the session ends — or is closed instead when it may still hold a lock
 * or a transaction, because tedious does not reset a pooled connection's session state.
 *
 * Transactions are plain `SET XACT_ABORT ON; BEGIN TRANSACTION` / `COMMIT` batches on that
 * connection: with XACT_ABORT any run-time error rolls back the whole transaction, so a
 * migration and its meta row commit together or not at all.
 * https://learn.microsoft.com/en-us/sql/t-sql/statements/set-xact-abort-transact-sql
 */
export class MssqlAdapter implements DialectAdapter {
  readonly name: DialectName = 'mssql';
  readonly syntax: DialectSyntax = mssqlSyntax;
  readonly capabilities: DialectCapabilities = { transactionalDdl: true, multipleConnections: true };
  readonly names: AdapterNames;
  readonly maxConnections: number;
  readonly #sql: MssqlSql;
  readonly #ledger: ReturnType<typeof mssqlLedgerSql>;
  readonly #ws: ReturnType<typeof mssqlWorkspaceSql>;
  readonly #config: sql.config;
  #pool: Promise<sql.ConnectionPool> | undefined;
  /** Locks each live session holds, so that a session never goes back to the pool holding one. */
  readonly #locks = new WeakMap<SqlSession, Set<string>>();

  constructor(options: MssqlAdapterOptions) {
    this.names = options.names;
    this.maxConnections = options.maxConnections;
    this.#sql = mssqlSql(options.names);
    this.#ledger = mssqlLedgerSql(options.names.masterSchema, options.names.ledgerPrefix);
    this.#ws = mssqlWorkspaceSql(options.names.masterSchema, options.names.registryTable);
    const settings = parseMssqlUrl(options.url);
    this.#config = toMssqlConfig(settings, {
      poolMax: options.maxConnections,
      requestTimeoutMs: options.requestTimeoutMs ?? settings.requestTimeoutMs ?? 0,
    });
  }

  #getPool(): Promise<sql.ConnectionPool> {
    if (!this.#pool) {
      const pool = new sql.ConnectionPool(this.#config);
      // A connection dropped while idle (failover, KILL) must not crash the process; the pool
      // validates connections on checkout and replaces dead ones.
      pool.on('error', () => undefined);
      this.#pool = pool.connect().catch((err: unknown) => {
        this.#pool = undefined;
        throw err;
      });
    }
    return this.#pool;
  }

  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const pool = await this.#getPool();
    const pinned = await PinnedConnection.acquire(pool);
    const driver: SessionDriver = {
      query: async (text, params) => {
        const request = pinned.request();
        params.forEach((value, i) => bindInput(request, `p${i + 1}`, value));
        const result = await request.query(params.length > 0 ? rewritePlaceholders(text) : text);
        return (result.recordset ?? []) as Record<string, unknown>[];
      },
      // Batches, not sp_executesql: SET options and BEGIN TRANSACTION must outlive the request.
      exec: async (text) => {
        await pinned.request().batch(text === 'ROLLBACK' ? this.#sql.rollback : text === 'COMMIT' ? this.#sql.commit : text);
      },
      errorPosition: () => undefined,
      errorLine: mssqlErrorLine,
    };
    const session = new DriverSession(driver, this.syntax, this.#sql.begin);
    const locks = new Set<string>();
    this.#locks.set(session, locks);
    let discard = false;
    try {
      return await fn(session);
    } catch (err) {
      if (classifyMssqlError(err).transient) discard = true;
      throw err;
    } finally {
      if (!discard && session.inTransaction) await session.rollback().catch(() => (discard = true));
      // The caller releases its locks in a finally; this is the safety net for one that could not.
      for (const resource of [...locks]) {
        if (discard) break;
        try {
          await session.query(this.#sql.releaseAppLock, [resource]);
          locks.delete(resource);
        } catch {
          discard = true;
        }
      }
      this.#locks.delete(session);
      // Closing the connection ends the server session, which releases its locks and transaction.
      pinned.end({ discard: discard || locks.size > 0 });
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await (await pool.catch(() => undefined))?.close();
  }

  // — schemas and meta tables —

  async ensureSchema(session: SqlSession, schema: string): Promise<void> {
    if (await this.schemaExists(session, schema)) return;
    try {
      await session.query(this.#sql.createSchema(schema));
    } catch (err) {
      // Another process created it between our check and CREATE SCHEMA (error 2714/2759).
      if (!(await this.schemaExists(session, schema).catch(() => false))) throw err;
    }
  }

  async schemaExists(session: SqlSession, schema: string): Promise<boolean> {
    return (await session.query(this.#sql.schemaExists, [schema])).length > 0;
  }

  async ensureMetaTable(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.#sql.createMetaTable(schema));
  }

  async readApplied(session: SqlSession, schema: string): Promise<AppliedMigration[]> {
    const [row] = await session.query<{ found: number }>(this.#sql.metaTableExists(schema));
    if (!row || Number(row.found) !== 1) return [];
    return (await session.query(this.#sql.selectApplied(schema))).map(rowToApplied);
  }

  async readAppliedMany(schemas: readonly string[]): Promise<Map<string, AppliedMigration[]>> {
    const result = new Map<string, AppliedMigration[]>(schemas.map((s) => [s, []]));
    if (schemas.length === 0) return result;
    await this.withSession(async (session) => {
      const existing = await session.query<{ schema_name: string }>(this.#sql.schemasWithMeta, [this.names.metaTable]);
      const present = new Set(existing.map((r) => r.schema_name));
      const withMeta = schemas.filter((s) => present.has(s));
      for (let i = 0; i < withMeta.length; i += META_READ_BATCH) {
        const rows = await session.query(this.#sql.selectAppliedMany(withMeta.slice(i, i + META_READ_BATCH)));
        for (const row of rows) result.get(String(row.schema_name))?.push(rowToApplied(row));
      }
    });
    for (const list of result.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return result;
  }

  async insertApplied(session: SqlSession, schema: string, row: AppliedMigration): Promise<void> {
    await session.query(this.#sql.insertApplied(schema), [
      row.id,
      row.checksum,
      row.renderedChecksum,
      row.appliedUtc,
      Math.round(row.durationMs),
      row.runId,
    ]);
  }

  async deleteApplied(session: SqlSession, schema: string, id: string): Promise<void> {
    await session.query(this.#sql.deleteApplied(schema), [id]);
  }

  async updateChecksums(session: SqlSession, schema: string, id: string, checksum: string, rendered: string): Promise<void> {
    await session.query(this.#sql.updateChecksums(schema), [id, checksum, rendered]);
  }

  // — locks —

  /**
   * `sp_getapplock` owned by the session. A long timeout is waited in slices so that no single
   * request outlives a configured request timeout; a deadlock-victim return (-3) is retried
   * within the same deadline. -999 (bad call) throws.
   */
  async acquireLock(session: SqlSession, key: string, timeoutMs: number): Promise<boolean> {
    const resource = lockResource(key);
    const requestTimeout = this.#config.requestTimeout ?? 0;
    const slice = requestTimeout > 0 ? Math.max(1, Math.min(LOCK_WAIT_SLICE_MS, Math.floor(requestTimeout / 2))) : LOCK_WAIT_SLICE_MS;
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      const wait = Math.max(0, Math.min(slice, deadline - Date.now()));
      const [row] = await session.query<{ result: number }>(this.#sql.getAppLock, [resource, wait]);
      const code = Number(row?.result);
      if (code >= 0) {
        this.#locks.get(session)?.add(resource);
        return true;
      }
      if (code !== APPLOCK_TIMEOUT && code !== APPLOCK_DEADLOCK) {
        throw new Error(`sp_getapplock on ${resource} failed with return code ${code}`);
      }
      if (Date.now() >= deadline) return false;
    }
  }

  async releaseLock(session: SqlSession, key: string): Promise<void> {
    const resource = lockResource(key);
    const [row] = await session.query<{ result: number }>(this.#sql.releaseAppLock, [resource]);
    this.#locks.get(session)?.delete(resource);
    const code = Number(row?.result ?? 0);
    if (code < 0) throw new Error(`sp_releaseapplock on ${resource} failed with return code ${code}`);
  }

  // — tenant registry —

  async registryExists(session: SqlSession): Promise<boolean> {
    const rows = await session.query(this.#sql.registryReady, [this.names.masterSchema, this.names.registryTable, 'db_schema_name']);
    return rows.length > 0;
  }

  async listTenants(session: SqlSession, options: RegistryQueryOptions): Promise<TenantRow[]> {
    const text = options.customQuery ?? this.#sql.listTenants(options.includeArchived);
    const rows = (await session.query(text)).map(rowToTenant);
    return options.customQuery && !options.includeArchived ? rows.filter((r) => r.status === 'Active') : rows;
  }

  async getTenant(session: SqlSession, workspaceId: string): Promise<TenantRow | undefined> {
    const [row] = await session.query(this.#sql.getTenant, [workspaceId]);
    return row ? rowToTenant(row) : undefined;
  }

  async setSchemaName(session: SqlSession, workspaceId: string, schema: string): Promise<void> {
    await session.query(this.#sql.setSchemaName, [workspaceId, schema]);
  }

  async upsertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<void> {
    await session.query(this.#sql.upsertWorkspace, [row.workspaceId, row.name, row.schema, row.status]);
  }

  async setWorkspaceStatus(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    const [row] = await session.query<{ affected: number }>(this.#sql.setStatus, [workspaceId, status]);
    return Number(row?.affected ?? 0) > 0;
  }

  async touchWorkspace(session: SqlSession, workspaceId: string): Promise<boolean> {
    const [row] = await session.query<{ affected: number }>(this.#sql.touch, [workspaceId]);
    return Number(row?.affected ?? 0) > 0;
  }

  async insertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<boolean> {
    return affected(await session.query(this.#ws.insertWorkspace, [row.workspaceId, row.name, row.schema, row.status])) > 0;
  }

  async transitionWorkspaceStatus(session: SqlSession, workspaceId: string, from: string, to: string): Promise<boolean> {
    return affected(await session.query(this.#ws.transitionStatus, [workspaceId, from, to])) > 0;
  }

  async deleteWorkspace(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    return affected(await session.query(this.#ws.deleteWorkspace, [workspaceId, status])) > 0;
  }

  async addWorkspaceMember(session: SqlSession, member: WorkspaceMemberInsert): Promise<void> {
    await session.query(this.#ws.addMember(member.table), [member.workspaceId, member.userId, member.role]);
  }

  async dropSchema(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.#ws.dropSchema, [schema]);
  }

  // — run ledger (each call on its own session, never inside a tenant's transaction) —

  async ensureLedger(): Promise<void> {
    await this.withSession(async (session) => {
      // IF OBJECT_ID … CREATE can race between processes; one applock serialises creators.
      if (!(await this.acquireLock(session, '__ledger__', 30_000))) return;
      try {
        await this.ensureSchema(session, this.names.masterSchema);
        for (const text of this.#ledger.createLedger) await session.query(text);
      } finally {
        await this.releaseLock(session, '__ledger__').catch(() => undefined);
      }
    });
  }

  async createRun(run: NewLedgerRun): Promise<void> {
    await this.withSession((s) => s.query(this.#ledger.createRun, [run.runId, run.runKey, run.target, JSON.stringify(run.options), run.startedBy]));
  }

  async findResumableRun(runKey: string): Promise<LedgerRun | undefined> {
    const [row] = await this.withSession((s) => s.query(this.#ledger.findResumableRun, [runKey]));
    return row ? rowToRun(row) : undefined;
  }

  async reopenRun(runId: string): Promise<void> {
    await this.withSession((s) => s.query(this.#ledger.reopenRun, [runId]));
  }

  async getRun(runId?: string): Promise<LedgerRun | undefined> {
    const [row] = await this.withSession((s) => (runId === undefined ? s.query(this.#ledger.latestRun) : s.query(this.#ledger.getRun, [runId])));
    return row ? rowToRun(row) : undefined;
  }

  async addRunTenants(runId: string, tenants: readonly NewLedgerTenant[]): Promise<number> {
    const perStatement = Math.floor((MAX_PARAMS - 1) / 4);
    let added = 0;
    await this.withSession(async (s) => {
      for (let i = 0; i < tenants.length; i += perStatement) {
        const chunk = tenants.slice(i, i + perStatement);
        const params = [runId, ...chunk.flatMap((t) => [t.schema, t.workspaceId, t.seq, t.wave])];
        added += affected(await s.query(this.#ledger.addRunTenants(chunk.length), params));
      }
    });
    return added;
  }

  async requeueRunTenants(runId: string): Promise<number> {
    return affected(await this.withSession((s) => s.query(this.#ledger.requeueRunTenants, [runId])));
  }

  async claimTenants(runId: string, workerId: string, n: number, leaseMs: number, maxWave: number): Promise<LedgerTenant[]> {
    if (n <= 0) return [];
    const rows = await this.withSession((s) => s.query(this.#ledger.claimTenants, [runId, workerId, n, Math.round(leaseMs), maxWave]));
    return rows.map(rowToLedgerTenant).sort((a, b) => a.seq - b.seq);
  }

  async renewLease(runId: string, workerId: string, leaseMs: number): Promise<void> {
    await this.withSession((s) => s.query(this.#ledger.renewLease, [runId, workerId, Math.round(leaseMs)]));
  }

  async completeTenants(runId: string, workerId: string, outcomes: readonly LedgerTenantOutcome[]): Promise<void> {
    const perStatement = Math.floor((MAX_PARAMS - 2) / 6);
    await this.withSession(async (s) => {
      for (let i = 0; i < outcomes.length; i += perStatement) {
        const chunk = outcomes.slice(i, i + perStatement);
        const params = [
          runId,
          workerId,
          ...chunk.flatMap((o) => [
            o.schema,
            o.status,
            Math.round(o.durationMs),
            o.extraAttempts,
            JSON.stringify(o.applied),
            o.error ? JSON.stringify(o.error) : null,
          ]),
        ];
        await s.query(this.#ledger.completeTenants(chunk.length), params);
      }
    });
  }

  async releaseTenants(runId: string, workerId: string, schemas: readonly string[]): Promise<void> {
    const perStatement = MAX_PARAMS - 2;
    await this.withSession(async (s) => {
      for (let i = 0; i < schemas.length; i += perStatement) {
        const chunk = schemas.slice(i, i + perStatement);
        await s.query(this.#ledger.releaseTenants(chunk.length), [runId, workerId, ...chunk]);
      }
    });
  }

  async countRunTenants(runId: string, maxWave = 2 ** 31 - 1): Promise<LedgerRunCounts> {
    const rows = await this.withSession((s) => s.query<{ status: string; n: number }>(this.#ledger.countRunTenants, [runId, maxWave]));
    return countsFrom(rows);
  }

  async finishRun(runId: string, status: RunStatus, counts: LedgerRunCounts): Promise<void> {
    await this.withSession((s) =>
      s.query(this.#ledger.finishRun, [runId, status, counts.total, counts.succeeded, counts.failed, counts.skipped]),
    );
  }

  async listRunTenants(runId: string, options: { status?: LedgerTenant['status']; limit?: number } = {}): Promise<LedgerTenant[]> {
    const rows = await this.withSession((s) =>
      s.query(this.#ledger.listRunTenants, [runId, options.status ?? null, options.limit ?? 1_000_000]),
    );
    return rows.map(rowToLedgerTenant);
  }

  classifyError(err: unknown): ErrorClassification {
    return classifyMssqlError(err);
  }
}

/** The `affected` column of a statement ending in `SELECT @@ROWCOUNT AS affected`. */
function affected(rows: readonly Record<string, unknown>[]): number {
  return Number(rows[0]?.affected ?? 0);
}

/**
 * Bind a positional parameter with an explicit type, so that plans are reused (one NVARCHAR
 * length for all short strings) and dates keep DATETIME2 precision (mssql would infer DATETIME).
 */
export function bindInput(request: sql.Request, name: string, value: unknown): void {
  if (value === null || value === undefined) request.input(name, sql.NVarChar(4000), null);
  else if (typeof value === 'string') request.input(name, sql.NVarChar(value.length > 4000 ? sql.MAX : 4000), value);
  else if (typeof value === 'number') {
    if (!Number.isInteger(value)) request.input(name, sql.Float, value);
    else if (Math.abs(value) <= 2_147_483_647) request.input(name, sql.Int, value);
    else request.input(name, sql.BigInt, value);
  } else if (typeof value === 'bigint') request.input(name, sql.BigInt, value.toString());
  else if (typeof value === 'boolean') request.input(name, sql.Bit, value);
  else if (value instanceof Date) request.input(name, sql.DateTime2(7), value);
  else if (Buffer.isBuffer(value)) request.input(name, sql.VarBinary(sql.MAX), value);
  else request.input(name, sql.NVarChar(sql.MAX), JSON.stringify(value));
}


