import type { LedgerRun, LedgerRunCounts, LedgerTenant } from '../dialect/ledger-types.js';
import type { OperationContext } from './context.js';

export interface RunStatusResult {
  readonly run: LedgerRun;
  /** Live counts from the (run, tenant) rows. */
  readonly counts: LedgerRunCounts;
  /** Failed tenants with their recorded error (tenant, migration id, statement index, template line). */
  readonly failed: readonly LedgerTenant[];
  /** Tenants claimed right now, with worker and lease. */
  readonly running: readonly LedgerTenant[];
}

/**
 * A ledger run's progress (newest run when `runId` is omitted), readable from another terminal
 * while workers are on it: live counts, failed tenants with their errors, claimed tenants.
 */
export async function runStatus(
  ctx: OperationContext,
  runId?: string,
  options: { limit?: number } = {},
): Promise<RunStatusResult | undefined> {
  const { ledger } = await ctx.dialect();
  await ledger.ensureLedger();
  const run = await ledger.getRun(runId);
  if (!run) return undefined;
  const limit = options.limit ?? 100;
  const [counts, failed, running] = await Promise.all([
    ledger.countRunTenants(run.runId),
    ledger.listRunTenants(run.runId, { status: 'failed', limit }),
    ledger.listRunTenants(run.runId, { status: 'running', limit }),
  ]);
  return { run, counts, failed, running };
}
