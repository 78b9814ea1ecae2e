import type { Driver } from '../contracts/driver.js';
import { LEDGER_LOCK, LEDGER_LOCK_TIMEOUT_MS, type LedgerStore, ledgerLockTimeout } from '../contracts/ledger-store.js';
import { holdLock, type Locks } from '../contracts/locks.js';
import type { MetaStore } from '../contracts/meta-store.js';
import type { AdapterNames } from '../dialect.js';
import type { LedgerRun, LedgerRunCounts, LedgerTenant, LedgerTenantOutcome, NewLedgerRun, NewLedgerTenant, RunStatus } from '../ledger-types.js';
import { countsFrom, rowToLedgerTenant, rowToRun } from '../row-mapping.js';
import type { PostgresSql } from './postgres-sql.js';

/** (run, tenant) rows per bulk insert statement. */
const LEDGER_INSERT_BATCH = 5000;

/** The run ledger on PostgreSQL: array parameters (`unnest`) for the bulk statements, `SKIP LOCKED` claims. */
export class PostgresLedgerStore implements LedgerStore {
  readonly #driver: Driver;
  readonly #locks: Locks;
  readonly #meta: MetaStore;
  readonly #sql: PostgresSql;
  readonly #names: AdapterNames;

  constructor(parts: { driver: Driver; locks: Locks; meta: MetaStore; sql: PostgresSql; names: AdapterNames }) {
    this.#driver = parts.driver;
    this.#locks = parts.locks;
    this.#meta = parts.meta;
    this.#sql = parts.sql;
    this.#names = parts.names;
  }

  async ensureLedger(options: { lockTimeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.lockTimeoutMs ?? LEDGER_LOCK_TIMEOUT_MS;
    await this.#driver.withSession(async (session) => {
      // Every run after the first finds the ledger: one catalog read instead of the lock and the DDL.
      const [present] = await session.query<{ present: boolean }>(this.#sql.ledgerPresent);
      if (present?.present) return;
      // CREATE … IF NOT EXISTS can still race on the catalog; one advisory lock serializes creators.
      await holdLock(this.#locks, session, LEDGER_LOCK, timeoutMs, async () => {
        await this.#meta.ensureSchema(session, this.#names.masterSchema);
        for (const sql of this.#sql.createLedger) await session.query(sql);
      }, () => {
        throw ledgerLockTimeout(timeoutMs);
      });
    });
  }

  async createRun(run: NewLedgerRun): Promise<void> {
    await this.#driver.withSession((s) =>
      s.query(this.#sql.createRun, [run.runId, run.runKey, run.target, JSON.stringify(run.options), run.startedBy]),
    );
  }

  async findResumableRun(runKey: string): Promise<LedgerRun | undefined> {
    const [row] = await this.#driver.withSession((s) => s.query(this.#sql.findResumableRun, [runKey]));
    return row ? rowToRun(row) : undefined;
  }

  async reopenRun(runId: string): Promise<void> {
    await this.#driver.withSession((s) => s.query(this.#sql.reopenRun, [runId]));
  }

  async getRun(runId?: string): Promise<LedgerRun | undefined> {
    const [row] = await this.#driver.withSession((s) =>
      runId === undefined ? s.query(this.#sql.latestRun) : s.query(this.#sql.getRun, [runId]),
    );
    return row ? rowToRun(row) : undefined;
  }

  async listRuns(limit: number): Promise<LedgerRun[]> {
    const rows = await this.#driver.withSession(async (s) => {
      const [exists] = await s.query(this.#sql.runsTableExists, [this.#sql.runsTableName]);
      return exists?.present ? s.query(this.#sql.recentRuns, [limit]) : [];
    });
    return rows.map(rowToRun);
  }

  async addRunTenants(runId: string, tenants: readonly NewLedgerTenant[]): Promise<number> {
    let added = 0;
    await this.#driver.withSession(async (s) => {
      for (let i = 0; i < tenants.length; i += LEDGER_INSERT_BATCH) {
        const chunk = tenants.slice(i, i + LEDGER_INSERT_BATCH);
        const rows = await s.query(`${this.#sql.addRunTenants} RETURNING 1 AS added`, [
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
    const rows = await this.#driver.withSession((s) => s.query(`${this.#sql.requeueRunTenants} RETURNING 1 AS n`, [runId]));
    return rows.length;
  }

  async claimTenants(runId: string, workerId: string, n: number, leaseMs: number, maxWave: number): Promise<LedgerTenant[]> {
    const rows = await this.#driver.withSession((s) => s.query(this.#sql.claimTenants, [runId, workerId, n, leaseMs, maxWave]));
    return rows.map(rowToLedgerTenant).sort((a, b) => a.seq - b.seq);
  }

  async renewLease(runId: string, workerId: string, leaseMs: number): Promise<void> {
    await this.#driver.withSession(async (s) => {
      await s.query(this.#sql.renewLease, [runId, workerId, leaseMs]);
      await s.query(this.#sql.heartbeat, [runId]);
    });
  }

  async completeTenants(runId: string, workerId: string, outcomes: readonly LedgerTenantOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.#driver.withSession((s) =>
      s.query(this.#sql.completeTenants, [
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

  async reconcileTenants(runId: string, schemas: readonly string[]): Promise<void> {
    if (schemas.length === 0) return;
    await this.#driver.withSession((s) => s.query(this.#sql.reconcileTenants, [runId, schemas]));
  }

  async releaseTenants(runId: string, workerId: string, schemas: readonly string[]): Promise<void> {
    if (schemas.length === 0) return;
    await this.#driver.withSession((s) => s.query(this.#sql.releaseTenants, [runId, workerId, schemas]));
  }

  async countRunTenants(runId: string, maxWave = 2 ** 31 - 1): Promise<LedgerRunCounts> {
    const rows = await this.#driver.withSession((s) =>
      s.query<{ status: string; n: number }>(this.#sql.countRunTenants, [runId, maxWave]),
    );
    return countsFrom(rows);
  }

  async finishRun(runId: string, status: RunStatus, counts: LedgerRunCounts): Promise<void> {
    await this.#driver.withSession((s) =>
      s.query(this.#sql.finishRun, [runId, status, counts.total, counts.succeeded, counts.failed, counts.skipped]),
    );
  }

  async listRunTenants(runId: string, options: { status?: LedgerTenant['status']; limit?: number } = {}): Promise<LedgerTenant[]> {
    const rows = await this.#driver.withSession((s) =>
      s.query(this.#sql.listRunTenants, [runId, options.status ?? null, options.limit ?? 1_000_000]),
    );
    return rows.map(rowToLedgerTenant);
  }
}
