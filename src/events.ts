import type { InvalidTenant } from './types.js';

/** A failure as reported in results, events and the ledger: no stack, every coordinate we know. */
export interface FailureInfo {
  readonly code: string;
  readonly message: string;
  readonly migrationId?: string;
  /** Template file (relative path) and line of the failing statement, when known. */
  readonly file?: string;
  readonly line?: number;
  /** 0-based batch index inside the rendered script. */
  readonly statementIndex?: number;
  /** SQLSTATE or SQL Server error number. */
  readonly dbCode?: string | number;
  readonly transient?: boolean;
}

export type TenantOutcome = 'succeeded' | 'up-to-date' | 'failed' | 'skipped';

export interface TenantResult {
  readonly workspaceId: string;
  readonly schema: string;
  readonly status: TenantOutcome;
  readonly applied: readonly string[];
  readonly durationMs: number;
  readonly attempts: number;
  readonly error?: FailureInfo;
  /** Why a tenant was skipped (interrupted, max failures, locked elsewhere…). */
  readonly reason?: string;
}

/** Typed events emitted by the core; reporters (src/reporting, src/cli) render them. */
export type MigratorEvent =
  | { type: 'master:start'; pending: readonly string[] }
  | { type: 'master:migrated'; id: string; durationMs: number }
  | { type: 'master:done'; applied: readonly string[]; waiting: readonly string[] }
  | { type: 'tenants:discovered'; total: number; pending: number; invalid: readonly InvalidTenant[] }
  | { type: 'tenant:start'; workspaceId: string; schema: string }
  | { type: 'tenant:migrated'; workspaceId: string; schema: string; id: string; durationMs: number }
  | { type: 'tenant:retry'; workspaceId: string; schema: string; attempt: number; error: FailureInfo; delayMs: number }
  | { type: 'tenant:done'; result: TenantResult }
  | {
      type: 'run:opened';
      runId: string;
      /** new run, resumed after an interrupted/failed/crashed one, or joined (another worker is on it). */
      opening: 'new' | 'resumed' | 'joined';
      previousStatus?: string;
      /** Tenants in the run's ledger, and how many are left to do. */
      total: number;
      remaining: number;
      workerId: string;
    }
  | { type: 'wave:start'; wave: number; waves: number }
  | { type: 'wave:failed'; wave: number; failed: number }
  | { type: 'run:finished'; runId: string; status: string; stopped?: string }
  | { type: 'run:interrupted' }
  /** A ledger write or claim met a transient error and is retried (the tenants' work is unaffected). */
  | { type: 'ledger:retry'; operation: string; attempt: number; message: string; delayMs: number }
  /**
   * A tenant's lock was held by someone else (another worker still on it after its lease lapsed,
   * or a provisioning call): the row is handed back to the run instead of being recorded failed.
   */
  | { type: 'tenant:handed-back'; workspaceId: string; schema: string; handbacks: number }
  /** Rows the ledger called failed whose meta tables show them at the run's target: now succeeded. */
  | { type: 'run:reconciled'; runId: string; schemas: readonly string[] }
  | { type: 'warning'; message: string };

export type MigratorListener = (event: MigratorEvent) => void;
