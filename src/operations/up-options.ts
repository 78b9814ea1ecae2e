import type { LedgerRunCounts } from '../dialect/ledger-types.js';
import type { TenantResult } from '../events.js';
import type { FleetStop } from '../runner/fleet.js';
import type { Shard, TenantOrder } from '../runner/fleet-options.js';
import type { InvalidTenant } from '../types.js';

export interface UpOptions {
  /** Also migrate Archived tenants. */
  readonly includeArchived?: boolean;
  /** Override the configured concurrency. */
  readonly concurrency?: number;
  /** Apply tenant migrations up to and including this id. */
  readonly to?: string;
  /** Apply master migrations up to and including this id (tenants are not touched when set). */
  readonly masterTo?: string;
  /** Stop taking new tenants when aborted; in-flight tenants finish. */
  readonly signal?: AbortSignal;
  /** Stop taking new tenants after this many failures (per worker). Default: never stop. */
  readonly maxFailures?: number;
  /** Only the tenants of this shard: `"2/4"` or `{ index: 2, count: 4 }` (stable hash of the workspace id). */
  readonly shard?: string | Shard;
  /** Canary waves, e.g. `"1,10%,100%"`: each wave must succeed before the next starts. */
  readonly waves?: string | readonly string[];
  /** Tenant order (default registry order); `last-seen` = least recently seen first. */
  readonly order?: TenantOrder;
  /** Join this ledger run (started by another worker) instead of opening one. */
  readonly runId?: string;
  /** Lease on a claimed tenant, renewed while the worker lives (default 30 s). */
  readonly leaseMs?: number;
  /** Only the tenants placed on this target database (a name of config `targets`; CLI `--target`). */
  readonly dbTarget?: string;
  /** Tenants in flight per target database (default: config `targetConcurrency`, else `concurrency`). */
  readonly targetConcurrency?: number;
  /**
   * At most this many tenants of one database share a request when their pending migrations are all
   * transactional (each still its own transaction, lock and meta check; docs/fleet.md). 1: a request
   * per tenant. Default: config `tenantsPerSend` (32).
   */
  readonly tenantsPerSend?: number;
}

/** One target database's share of an `up` (this worker's results). */
export interface TargetCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly upToDate: number;
  readonly failed: number;
  readonly skipped: number;
}

/** Lease on a claimed tenant: how long before a silent worker's tenants are taken over. */
export const DEFAULT_LEASE_MS = 30_000;

export interface UpResult {
  readonly runId: string;
  /** How the ledger run was opened; absent when there was nothing to do. */
  readonly opening?: 'new' | 'resumed' | 'joined';
  /** This process's worker id in the ledger. */
  readonly workerId?: string;
  /** The run's counts across all workers when this one finished. */
  readonly run?: LedgerRunCounts;
  /** Why this worker stopped early (interrupted, max-failures, wave-failed, run-stopped). */
  readonly stopped?: FleetStop;
  readonly master: { readonly applied: readonly string[]; readonly waiting: readonly string[] };
  readonly tenants: {
    readonly total: number;
    readonly succeeded: number;
    readonly upToDate: number;
    readonly failed: number;
    readonly skipped: number;
  };
  readonly results: readonly TenantResult[];
  /**
   * Per target database (`(master)` = the master's own database): discovered tenants and this
   * worker's outcomes; present when config `targets` is not empty.
   */
  readonly targets?: Readonly<Record<string, TargetCounts>>;
  readonly invalid: readonly InvalidTenant[];
  readonly interrupted: boolean;
  readonly durationMs: number;
}
