import type { Driver } from '../contracts/driver.js';
import { LEDGER_LOCK, LEDGER_LOCK_TIMEOUT_MS, type LedgerStore, ledgerLockTimeout } from '../contracts/ledger-store.js';
import { holdLock, type Locks } from '../contracts/locks.js';
import type { MetaStore } from '../contracts/meta-store.js';
import type { AdapterNames } from '../dialect.js';
import type { LedgerRun, LedgerRunCounts, LedgerTenant, LedgerTenantOutcome, NewLedgerRun, NewLedgerTenant, RunStatus } from '../ledger-types.js';
import { countsFrom, rowToLedgerTenant, rowToRun } from '../row-mapping.js';
import { affected } from './mssql-driver.js';
import { MAX_PARAMS, mssqlLedgerSql } from './mssql-ledger-sql.js';

/**
 * The run ledger on SQL Server (each call on its own session, never inside a tenant's
 * transaction). Bulk statements are chunked to stay under the 2,100-parameter limit.
 */
export class MssqlLedgerStore implements LedgerStore {
  readonly #driver: Driver;
  readonly #locks: Locks;
  readonly #meta: MetaStore;
  readonly #ledger: ReturnType<typeof mssqlLedgerSql>;
  readonly #names: AdapterNames;

  constructor(parts: { driver: Driver; locks: Locks; meta: MetaStore; names: AdapterNames }) {
    this.#driver = parts.driver;
    this.#locks = parts.locks;
    this.#meta = parts.meta;
    this.#names = parts.names;
    this.#ledger = mssqlLedgerSql(parts.names.masterSchema, parts.names.ledgerPrefix);
  }

  async ensureLedger(options: { lockTimeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.lockTimeoutMs ?? LEDGER_LOCK_TIMEOUT_MS;
    await this.#driver.withSession(async (session) => {
      // Every run after the first finds the ledger: one catalog read instead of the applock and the DDL.
      const [present] = await session.query<{ present: number }>(this.#ledger.ledgerPresent);
      if (Number(present?.present) === 1) return;
      // IF OBJECT_ID … CREATE can race between processes; one applock serialises creators.
      await holdLock(this.#locks, session, LEDGER_LOCK, timeoutMs, async () => {
        await this.#meta.ensureSchema(session, this.#names.masterSchema);
        for (const text of this.#ledger.createLedger) await session.query(text);
      }, () => {
        throw ledgerLockTimeout(timeoutMs);
      });
    });
  }

  async createRun(run: NewLedgerRun): Promise<void> {
    await this.#driver.withSession((s) => s.query(this.#ledger.createRun, [run.runId, run.runKey, run.target, JSON.stringify(run.options), run.startedBy]));
  }

  async findResumableRun(runKey: string): Promise<LedgerRun | undefined> {
    const [row] = await this.#driver.withSession((s) => s.query(this.#ledger.findResumableRun, [runKey]));
    return row ? rowToRun(row) : undefined;
  }

  async reopenRun(runId: string): Promise<void> {
    await this.#driver.withSession((s) => s.query(this.#ledger.reopenRun, [runId]));
  }

  async getRun(runId?: string): Promise<LedgerRun | undefined> {
    const [row] = await this.#driver.withSession((s) => (runId === undefined ? s.query(this.#ledger.latestRun) : s.query(this.#ledger.getRun, [runId])));
    return row ? rowToRun(row) : undefined;
  }

  async listRuns(limit: number): Promise<LedgerRun[]> {
    const rows = await this.#driver.withSession((s) => s.query(this.#ledger.recentRuns, [limit]));
    return rows.map(rowToRun);
  }

  async addRunTenants(runId: string, tenants: readonly NewLedgerTenant[]): Promise<number> {
    const perStatement = Math.floor((MAX_PARAMS - 1) / 4);
    let added = 0;
    await this.#driver.withSession(async (s) => {
      for (let i = 0; i < tenants.length; i += perStatement) {
        const chunk = tenants.slice(i, i + perStatement);
        const params = [runId, ...chunk.flatMap((t) => [t.schema, t.workspaceId, t.seq, t.wave])];
        added += affected(await s.query(this.#ledger.addRunTenants(chunk.length), params));
      }
    });
    return added;
  }

  async requeueRunTenants(runId: string): Promise<number> {
    return affected(await this.#driver.withSession((s) => s.query(this.#ledger.requeueRunTenants, [runId])));
  }

  async claimTenants(runId: string, workerId: string, n: number, leaseMs: number, maxWave: number): Promise<LedgerTenant[]> {
    if (n <= 0) return [];
    const rows = await this.#driver.withSession((s) => s.query(this.#ledger.claimTenants, [runId, workerId, n, Math.round(leaseMs), maxWave]));
    return rows.map(rowToLedgerTenant).sort((a, b) => a.seq - b.seq);
  }

  async renewLease(runId: string, workerId: string, leaseMs: number): Promise<void> {
    await this.#driver.withSession((s) => s.query(this.#ledger.renewLease, [runId, workerId, Math.round(leaseMs)]));
  }

  async completeTenants(runId: string, workerId: string, outcomes: readonly LedgerTenantOutcome[]): Promise<void> {
    const perStatement = Math.floor((MAX_PARAMS - 2) / 6);
    await this.#driver.withSession(async (s) => {
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

  async reconcileTenants(runId: string, schemas: readonly string[]): Promise<void> {
    const perStatement = MAX_PARAMS - 1;
    await this.#driver.withSession(async (s) => {
      for (let i = 0; i < schemas.length; i += perStatement) {
        const chunk = schemas.slice(i, i + perStatement);
        await s.query(this.#ledger.reconcileTenants(chunk.length), [runId, ...chunk]);
      }
    });
  }

  async releaseTenants(runId: string, workerId: string, schemas: readonly string[]): Promise<void> {
    const perStatement = MAX_PARAMS - 2;
    await this.#driver.withSession(async (s) => {
      for (let i = 0; i < schemas.length; i += perStatement) {
        const chunk = schemas.slice(i, i + perStatement);
        await s.query(this.#ledger.releaseTenants(chunk.length), [runId, workerId, ...chunk]);
      }
    });
  }

  async countRunTenants(runId: string, maxWave = 2 ** 31 - 1): Promise<LedgerRunCounts> {
    const rows = await this.#driver.withSession((s) => s.query<{ status: string; n: number }>(this.#ledger.countRunTenants, [runId, maxWave]));
    return countsFrom(rows);
  }

  async finishRun(runId: string, status: RunStatus, counts: LedgerRunCounts): Promise<void> {
    await this.#driver.withSession((s) =>
      s.query(this.#ledger.finishRun, [runId, status, counts.total, counts.succeeded, counts.failed, counts.skipped]),
    );
  }

  async listRunTenants(runId: string, options: { status?: LedgerTenant['status']; limit?: number } = {}): Promise<LedgerTenant[]> {
    const rows = await this.#driver.withSession((s) =>
      s.query(this.#ledger.listRunTenants, [runId, options.status ?? null, options.limit ?? 1_000_000]),
    );
    return rows.map(rowToLedgerTenant);
  }
}
