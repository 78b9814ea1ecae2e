/**
 * Rows of the run ledger (DESIGN.md "Run ledger"): one per run and one per (run, tenant). The
 * per-schema meta tables are the truth; the ledger is progress, coordination and history.
 */

/** Status of a run (contract): running | succeeded | failed | interrupted. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

/** Status of a (run, tenant) row (contract): pending | running | succeeded | failed | skipped. */
export type RunTenantStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface NewLedgerRun {
  readonly runId: string;
  /**
   * What makes two runs "the same" for resuming: target migration, shard, scope. An `up` resumes
   * only an unfinished run with an equal key.
   */
  readonly runKey: string;
  /** Last tenant migration id the run migrates to. */
  readonly target: string;
  /** The options the run was started with (JSON). */
  readonly options: Readonly<Record<string, unknown>>;
  /** Who started it (host:pid). */
  readonly startedBy: string;
}

export interface LedgerRun {
  readonly runId: string;
  readonly runKey: string;
  readonly target: string;
  readonly options: Record<string, unknown>;
  readonly status: RunStatus;
  readonly startedBy: string;
  readonly startedUtc: Date;
  readonly finishedUtc: Date | null;
  readonly heartbeatUtc: Date | null;
  /**
   * Milliseconds since the heartbeat, on the database clock (workers' clocks need not agree).
   * A `running` run whose heartbeat is older than its lease has no live worker: it crashed.
   */
  readonly heartbeatAgeMs: number | null;
  /** Counts recorded by finishRun (live counts: countRunTenants). */
  readonly counts: LedgerRunCounts;
}

export interface LedgerRunCounts {
  readonly total: number;
  readonly pending: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface NewLedgerTenant {
  readonly schema: string;
  readonly workspaceId: string;
  /** Position in the run's tenant order (claims go in seq order). */
  readonly seq: number;
  /** Canary wave, 0-based; 0 for runs without waves. */
  readonly wave: number;
}

export interface LedgerTenant extends NewLedgerTenant {
  readonly status: RunTenantStatus;
  readonly attempts: number;
  readonly claimedBy: string | null;
  readonly leaseUntil: Date | null;
  readonly startedUtc: Date | null;
  readonly finishedUtc: Date | null;
  readonly durationMs: number | null;
  /** Migration ids applied by this run. */
  readonly applied: readonly string[];
  /** The failure as recorded (FailureInfo JSON): code, message, migrationId, file, line, statementIndex… */
  readonly error: Record<string, unknown> | null;
}

export interface LedgerTenantOutcome {
  readonly schema: string;
  readonly status: 'succeeded' | 'failed' | 'skipped';
  readonly durationMs: number;
  /** Transient retries inside the claim, added to the attempts the claim counted. */
  readonly extraAttempts: number;
  readonly applied: readonly string[];
  readonly error?: Readonly<Record<string, unknown>>;
}
