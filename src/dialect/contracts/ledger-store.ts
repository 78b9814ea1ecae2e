import { LockTimeoutError } from '../../errors.js';
import type {
  LedgerRun,
  LedgerRunCounts,
  LedgerTenant,
  LedgerTenantOutcome,
  NewLedgerRun,
  NewLedgerTenant,
  RunStatus,
} from '../ledger-types.js';

/**
 * The run ledger (master schema, tables `<ledgerPrefix>runs` and `<ledgerPrefix>run_tenants`).
 * Each method borrows its own session: the ledger is written beside the tenant sessions, never
 * inside their transactions, so a tenant's rollback never loses its ledger record. Times are the
 * database's clock (UTC), so leases do not depend on the workers' clocks agreeing.
 */
export interface LedgerStore {
  /**
   * Create both ledger tables and their indexes if missing. Idempotent; safe to race (creators take
   * the {@link LEDGER_LOCK}). Default lock wait {@link LEDGER_LOCK_TIMEOUT_MS}.
   * @throws LockTimeoutError when the ledger lock cannot be taken in time — never a silent return
   *   that would fail later with "Invalid object name" / "relation does not exist".
   */
  ensureLedger(options?: { lockTimeoutMs?: number }): Promise<void>;
  /** Insert a run row with status `running` and heartbeat = now. */
  createRun(run: NewLedgerRun): Promise<void>;
  /**
   * The newest run with this `runKey` (target + shard + scope) that did not finish cleanly:
   * status `running`, `interrupted` or `failed`. undefined when there is none.
   */
  findResumableRun(runKey: string): Promise<LedgerRun | undefined>;
  /** Set a resumed run back to `running` (finished time cleared, heartbeat now). */
  reopenRun(runId: string): Promise<void>;
  /** A run by id, or the newest run when `runId` is undefined. */
  getRun(runId?: string): Promise<LedgerRun | undefined>;
  /**
   * Add (run, tenant) rows as `pending` in bulk (one statement per few thousand rows). Rows that
   * exist already are left as they are. Returns how many were new.
   */
  addRunTenants(runId: string, tenants: readonly NewLedgerTenant[]): Promise<number>;
  /**
   * Put `failed` and `skipped` rows of a run back to `pending` (a resumed run retries them);
   * returns how many.
   */
  requeueRunTenants(runId: string): Promise<number>;
  /**
   * Claim up to `n` tenants of a run for `workerId`: rows that are `pending`, or `running` with an
   * expired lease (a crashed worker's), with `wave <= maxWave`, in `seq` order. Sets status
   * `running`, claimed_by, lease_until = now + leaseMs, attempts + 1. Concurrent claimers never get
   * the same row and never wait for each other: PostgreSQL `FOR UPDATE SKIP LOCKED`, SQL Server
   * `WITH (UPDLOCK, READPAST, ROWLOCK)`.
   */
  claimTenants(runId: string, workerId: string, n: number, leaseMs: number, maxWave: number): Promise<LedgerTenant[]>;
  /** Extend the leases of every `running` row `workerId` holds in the run, and the run's heartbeat. */
  renewLease(runId: string, workerId: string, leaseMs: number): Promise<void>;
  /**
   * Record outcomes (bulk). Only rows still claimed by `workerId` are updated, so a worker whose
   * lease was taken over cannot overwrite the new owner's record.
   */
  completeTenants(runId: string, workerId: string, outcomes: readonly LedgerTenantOutcome[]): Promise<void>;
  /**
   * Mark `failed` rows of these schemas `succeeded` (error cleared): the caller has read their
   * meta tables and found them at the run's target — the meta tables are the truth, whoever wrote them.
   */
  reconcileTenants(runId: string, schemas: readonly string[]): Promise<void>;
  /** Give claimed-but-unstarted rows back (`pending`, lease cleared), e.g. on SIGINT. */
  releaseTenants(runId: string, workerId: string, schemas: readonly string[]): Promise<void>;
  /** Row counts per status, optionally only waves `<= maxWave`. */
  countRunTenants(runId: string, maxWave?: number): Promise<LedgerRunCounts>;
  /** Set the final status, finished time and counts. */
  finishRun(runId: string, status: RunStatus, counts: LedgerRunCounts): Promise<void>;
  /**
   * The newest `limit` runs, newest first; none while the ledger tables do not exist yet (a read
   * never creates them).
   */
  listRuns(limit: number): Promise<LedgerRun[]>;
  /** Rows of a run (optionally one status), in `seq` order, at most `limit`. */
  listRunTenants(runId: string, options?: { status?: LedgerTenant['status']; limit?: number }): Promise<LedgerTenant[]>;
}

/** Lock key that serialises creators of the ledger tables (CREATE … IF NOT EXISTS still races on the catalog). */
export const LEDGER_LOCK = '__ledger__';

/** How long ensureLedger waits for another process creating the ledger. */
export const LEDGER_LOCK_TIMEOUT_MS = 30_000;

/** The error of an ensureLedger that could not take the ledger lock. */
export function ledgerLockTimeout(timeoutMs: number): LockTimeoutError {
  return new LockTimeoutError(`Could not take the ledger lock (${LEDGER_LOCK}) within ${timeoutMs} ms: another process holds it while creating the run ledger`);
}
