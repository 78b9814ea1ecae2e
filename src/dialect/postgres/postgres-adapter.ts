import pLimit from 'p-limit';
import pg from 'pg';
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
import type { DialectName, DialectSyntax } from '../dialect-syntax.js';
import { DriverSession, type SessionDriver } from '../sql-session.js';
import type { AppliedMigration, TenantRow } from '../../types.js';
import type {
  LedgerRun,
  LedgerRunCounts,
  LedgerTenant,
  LedgerTenantOutcome,
  NewLedgerRun,
  NewLedgerTenant,
  RunStatus,
} from '../ledger-types.js';
import { countsFrom, rowToApplied, rowToLedgerTenant, rowToRun, rowToTenant } from '../row-mapping.js';
import { classifyPostgresError } from './postgres-errors.js';
import { type PostgresSql, postgresSql } from './postgres-sql.js';
import { postgresSyntax } from './postgres-syntax.js';

export interface PostgresAdapterOptions {
  readonly url: string;
  readonly names: AdapterNames;
  readonly maxConnections: number;
}

/** Schemas per UNION ALL query when reading many meta tables. */
export const META_READ_BATCH = 200;
/** Connections used at once for those queries. */
export const META_READ_PARALLEL = 4;

// `timestamp without time zone` columns hold UTC; read them as UTC, not local time.
const TIMESTAMP_OID = 1114;
const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === TIMESTAMP_OID) return (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * PostgreSQL over `pg`. Everything here is written in terms of a {@link SqlSession}, so the PGlite
 * adapter extends this class and only replaces how sessions are obtained.
 */
export class PostgresAdapter implements DialectAdapter {
  readonly name: DialectName = 'postgres';
  readonly syntax: DialectSyntax = postgresSyntax;
  readonly capabilities: DialectCapabilities = { transactionalDdl: true, multipleConnections: true };
  readonly names: AdapterNames;
  readonly maxConnections: number;
  protected readonly sql: PostgresSql;
  #pool: pg.Pool | undefined;
  readonly #url: string;

  constructor(options: PostgresAdapterOptions) {
    this.names = options.names;
    this.maxConnections = options.maxConnections;
    this.sql = postgresSql(options.names);
    this.#url = options.url;
  }

  #getPool(): pg.Pool {
    if (!this.#pool) {
      this.#pool = new pg.Pool({
        connectionString: this.#url,
        max: this.maxConnections,
        types: pgTypes,
        application_name: 'tenant-migrate',
      });
      // A backend killed under an idle client (pg_terminate_backend, failover) must not crash the
      // process; the client is discarded and the next checkout opens a new connection.
      this.#pool.on('error', () => undefined);
    }
    return this.#pool;
  }

  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.#getPool().connect();
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    const driver: SessionDriver = {
      query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
      exec: async (sql) => {
        await client.query(sql);
      },
      errorPosition: (err) => pgPosition(err),
    };
    const session = new DriverSession(driver, this.syntax);
    try {
      return await fn(session);
    } catch (err) {
      broken ??= classifyPostgresError(err).transient ? (err as Error) : undefined;
      throw err;
    } finally {
      if (session.inTransaction && !broken) await session.rollback().catch((e: Error) => (broken = e));
      client.off('error', onError);
      // Destroy a connection that failed (or may hold session state such as an advisory lock).
      client.release(broken ?? undefined);
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }

  async ensureSchema(session: SqlSession, schema: string): Promise<void> {
    if (await this.schemaExists(session, schema)) return;
    await session.query(this.sql.createSchema(schema));
  }

  async schemaExists(session: SqlSession, schema: string): Promise<boolean> {
    return (await session.query(this.sql.schemaExists, [schema])).length > 0;
  }

  async ensureMetaTable(session: SqlSession, schema: string): Promise<void> {
    const rows = await session.query(this.sql.schemasWithMeta, [this.names.metaTable, [schema]]);
    if (rows.length === 0) await session.query(this.sql.createMetaTable(schema));
  }

  async readApplied(session: SqlSession, schema: string): Promise<AppliedMigration[]> {
    const rows = await session.query(this.sql.schemasWithMeta, [this.names.metaTable, [schema]]);
    if (rows.length === 0) return [];
    return (await session.query(this.sql.selectApplied(schema))).map(rowToApplied);
  }

  async readAppliedMany(schemas: readonly string[]): Promise<Map<string, AppliedMigration[]>> {
    const result = new Map<string, AppliedMigration[]>(schemas.map((s) => [s, []]));
    if (schemas.length === 0) return result;
    const existing = await this.withSession((session) =>
      session.query<{ schema_name: string }>(this.sql.schemasWithMeta, [this.names.metaTable, schemas]),
    );
    const withMeta = existing.map((r) => r.schema_name);
    const chunks: string[][] = [];
    for (let i = 0; i < withMeta.length; i += META_READ_BATCH) chunks.push(withMeta.slice(i, i + META_READ_BATCH));
    // Chunks are independent: read them on several pooled connections at once (one on PGlite).
    const limit = pLimit(Math.max(1, Math.min(META_READ_PARALLEL, this.maxConnections)));
    await Promise.all(
      chunks.map((chunk) =>
        limit(() =>
          this.withSession(async (session) => {
            const rows = await session.query(this.sql.selectAppliedMany(chunk));
            for (const row of rows) result.get(String(row.schema_name))?.push(rowToApplied(row));
          }),
        ),
      ),
    );
    for (const list of result.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return result;
  }

  async insertApplied(session: SqlSession, schema: string, row: AppliedMigration): Promise<void> {
    await session.query(this.sql.insertApplied(schema), [
      row.id,
      row.checksum,
      row.renderedChecksum,
      row.appliedUtc.toISOString(),
      Math.round(row.durationMs),
      row.runId,
    ]);
  }

  async deleteApplied(session: SqlSession, schema: string, id: string): Promise<void> {
    await session.query(this.sql.deleteApplied(schema), [id]);
  }

  async updateChecksums(session: SqlSession, schema: string, id: string, checksum: string, rendered: string) {
    await session.query(this.sql.updateChecksums(schema), [id, checksum, rendered]);
  }

  async acquireLock(session: SqlSession, key: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let wait = 25;
    for (;;) {
      const [row] = await session.query<{ locked: boolean }>(this.sql.tryLock, [`tenant-migrate:${key}`]);
      if (row?.locked) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(wait, Math.max(1, deadline - Date.now())));
      wait = Math.min(wait * 2, 500);
    }
  }

  async releaseLock(session: SqlSession, key: string): Promise<void> {
    await session.query(this.sql.unlock, [`tenant-migrate:${key}`]);
  }

  async registryExists(session: SqlSession): Promise<boolean> {
    const rows = await session.query(this.sql.registryReady, [
      this.names.masterSchema,
      this.names.registryTable,
      'db_schema_name',
    ]);
    return rows.length > 0;
  }

  async listTenants(session: SqlSession, options: RegistryQueryOptions): Promise<TenantRow[]> {
    const sql = options.customQuery ?? this.sql.listTenants(options.includeArchived);
    const rows = (await session.query(sql)).map(rowToTenant);
    return options.customQuery && !options.includeArchived ? rows.filter((r) => r.status === 'Active') : rows;
  }

  async getTenant(session: SqlSession, workspaceId: string): Promise<TenantRow | undefined> {
    const [row] = await session.query(this.sql.getTenant, [workspaceId]);
    return row ? rowToTenant(row) : undefined;
  }

  async setSchemaName(session: SqlSession, workspaceId: string, schema: string): Promise<void> {
    await session.query(this.sql.setSchemaName, [workspaceId, schema]);
  }

  async upsertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<void> {
    await session.query(this.sql.upsertWorkspace, [row.workspaceId, row.name, row.schema, row.status]);
  }

  async setWorkspaceStatus(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    const rows = await session.query(`${this.sql.setStatus} RETURNING 1 AS found`, [workspaceId, status]);
    return rows.length > 0;
  }

  async touchWorkspace(session: SqlSession, workspaceId: string): Promise<boolean> {
    const rows = await session.query(`${this.sql.touch} RETURNING 1 AS found`, [workspaceId]);
    return rows.length > 0;
  }

  async insertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<boolean> {
    const rows = await session.query(this.sql.insertWorkspace, [row.workspaceId, row.name, row.schema, row.status]);
    return rows.length > 0;
  }

  async transitionWorkspaceStatus(session: SqlSession, workspaceId: string, from: string, to: string): Promise<boolean> {
    return (await session.query(this.sql.transitionStatus, [workspaceId, from, to])).length > 0;
  }

  async deleteWorkspace(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    return (await session.query(this.sql.deleteWorkspace, [workspaceId, status])).length > 0;
  }

  async addWorkspaceMember(session: SqlSession, member: WorkspaceMemberInsert): Promise<void> {
    await session.query(this.sql.addMember(member.table), [member.workspaceId, member.userId, member.role]);
  }

  async dropSchema(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.sql.dropSchema(schema));
  }

  // — run ledger —

  async ensureLedger(): Promise<void> {
    await this.withSession(async (session) => {
      // CREATE … IF NOT EXISTS can still race on the catalog; one advisory lock serializes creators.
      if (!(await this.acquireLock(session, '__ledger__', 30_000))) return;
      try {
        await this.ensureSchema(session, this.names.masterSchema);
        for (const sql of this.sql.createLedger) await session.query(sql);
      } finally {
        await this.releaseLock(session, '__ledger__').catch(() => undefined);
      }
    });
  }

  async createRun(run: NewLedgerRun): Promise<void> {
    await this.withSession((s) =>
      s.query(this.sql.createRun, [run.runId, run.runKey, run.target, JSON.stringify(run.options), run.startedBy]),
    );
  }

  async findResumableRun(runKey: string): Promise<LedgerRun | undefined> {
    const [row] = await this.withSession((s) => s.query(this.sql.findResumableRun, [runKey]));
    return row ? rowToRun(row) : undefined;
  }

  async reopenRun(runId: string): Promise<void> {
    await this.withSession((s) => s.query(this.sql.reopenRun, [runId]));
  }

  async getRun(runId?: string): Promise<LedgerRun | undefined> {
    const [row] = await this.withSession((s) =>
      runId === undefined ? s.query(this.sql.latestRun) : s.query(this.sql.getRun, [runId]),
    );
    return row ? rowToRun(row) : undefined;
  }

  async addRunTenants(runId: string, tenants: readonly NewLedgerTenant[]): Promise<number> {
    let added = 0;
    await this.withSession(async (s) => {
      for (let i = 0; i < tenants.length; i += LEDGER_INSERT_BATCH) {
        const chunk = tenants.slice(i, i + LEDGER_INSERT_BATCH);
        const rows = await s.query(`${this.sql.addRunTenants} RETURNING 1 AS added`, [
          runId,
          chunk.map((t) => t.schema),
          chunk.map((t) => t.workspaceId),
          chunk.map((t) => t.seq),
          chunk.map((t) => t.wave),
        ]);
        added += rows.length;
      }
    });
    return added;
  }

  async requeueRunTenants(runId: string): Promise<number> {
    const rows = await this.withSession((s) => s.query(`${this.sql.requeueRunTenants} RETURNING 1 AS n`, [runId]));
    return rows.length;
  }

  async claimTenants(runId: string, workerId: string, n: number, leaseMs: number, maxWave: number): Promise<LedgerTenant[]> {
    const rows = await this.withSession((s) => s.query(this.sql.claimTenants, [runId, workerId, n, leaseMs, maxWave]));
    return rows.map(rowToLedgerTenant).sort((a, b) => a.seq - b.seq);
  }

  async renewLease(runId: string, workerId: string, leaseMs: number): Promise<void> {
    await this.withSession(async (s) => {
      await s.query(this.sql.renewLease, [runId, workerId, leaseMs]);
      await s.query(this.sql.heartbeat, [runId]);
    });
  }

  async completeTenants(runId: string, workerId: string, outcomes: readonly LedgerTenantOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.withSession((s) =>
      s.query(this.sql.completeTenants, [
        runId,
        workerId,
        outcomes.map((o) => o.schema),
        outcomes.map((o) => o.status),
        outcomes.map((o) => Math.round(o.durationMs)),
        outcomes.map((o) => o.extraAttempts),
        outcomes.map((o) => JSON.stringify(o.applied)),
        outcomes.map((o) => (o.error ? JSON.stringify(o.error) : null)),
      ]),
    );
  }

  async releaseTenants(runId: string, workerId: string, schemas: readonly string[]): Promise<void> {
    if (schemas.length === 0) return;
    await this.withSession((s) => s.query(this.sql.releaseTenants, [runId, workerId, schemas]));
  }

  async countRunTenants(runId: string, maxWave = 2 ** 31 - 1): Promise<LedgerRunCounts> {
    const rows = await this.withSession((s) =>
      s.query<{ status: string; n: number }>(this.sql.countRunTenants, [runId, maxWave]),
    );
    return countsFrom(rows);
  }

  async finishRun(runId: string, status: RunStatus, counts: LedgerRunCounts): Promise<void> {
    await this.withSession((s) =>
      s.query(this.sql.finishRun, [runId, status, counts.total, counts.succeeded, counts.failed, counts.skipped]),
    );
  }

  async listRunTenants(runId: string, options: { status?: LedgerTenant['status']; limit?: number } = {}): Promise<LedgerTenant[]> {
    const rows = await this.withSession((s) =>
      s.query(this.sql.listRunTenants, [runId, options.status ?? null, options.limit ?? 1_000_000]),
    );
    return rows.map(rowToLedgerTenant);
  }

  classifyError(err: unknown): ErrorClassification {
    return classifyPostgresError(err);
  }
}

/** (run, tenant) rows per bulk insert statement. */
const LEDGER_INSERT_BATCH = 5000;

/** PostgreSQL reports the error position as a 1-based character offset string. */
export function pgPosition(err: unknown): number | undefined {
  const position = (err as { position?: unknown } | null)?.position;
  const n = typeof position === 'string' || typeof position === 'number' ? Number(position) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
