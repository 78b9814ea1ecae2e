import { randomUUID } from 'node:crypto';
import type { Dialect } from '../dialect/dialect.js';
import type { LedgerRunCounts, RunStatus } from '../dialect/ledger-types.js';
import { LockTimeoutError, TenantMigrateError } from '../errors.js';
import type { TenantResult } from '../events.js';
import { planSchema } from '../planner/plan.js';
import { type FleetOutcome, runFleet } from '../runner/fleet.js';
import { retryTransient } from '../runner/ledger-client.js';
import { type Shard, parseFleetArgs } from '../runner/fleet-options.js';
import { type OpenedRun, inShard, newWorkerId, openRun, orderTenants, runKeyOf } from '../runner/run-ledger.js';
import type { AppliedRef } from '../planner/applied-summary.js';
import type { InvalidTenant, Tenant } from '../types.js';
import type { MigrationFiles, OperationContext } from './context.js';
import { DEFAULT_LEASE_MS, type UpOptions, type UpResult } from './up-options.js';

export { DEFAULT_LEASE_MS, type UpOptions, type UpResult } from './up-options.js';
import { discoverTenants } from './discover.js';
import { checkEngineRights, grantMaster } from './grants.js';
import { afterTenantsIds, migrateMaster, pendingAfterTenants, tenantsBehind, withMasterLock } from './master.js';
import { type Renderer, rendererFor } from './templates.js';
import { groupByTarget } from './targets.js';
import { preRenderMaster, preRenderTenants } from '../release/pre-render.js';
import type { TargetCounts } from './up-options.js';

/** What one `up` call works with, fixed before anything runs. */
interface UpRun {
  readonly ctx: OperationContext;
  readonly dialect: Dialect;
  readonly files: MigrationFiles;
  /** The renderer, made on first use: a run that renders nothing does not load the template engine. */
  readonly render: () => Promise<Renderer>;
  readonly options: UpOptions;
  readonly shard: Shard | undefined;
  readonly waves: readonly string[] | undefined;
  readonly leaseMs: number;
  readonly workerId: string;
  /** Last tenant migration id (or `--to`): the run's target. */
  readonly target: string;
  readonly afterTenants: ReadonlySet<string>;
}

/** The ledger run this worker takes part in (none: nothing to do), and how many discovered tenants it covers. */
interface LedgerStep {
  readonly todoCount: number;
  readonly opened: OpenedRun | undefined;
  /** The plan's meta rows of the tenants to do (none when joining by id): lets runTenant fold. */
  readonly planned?: ReadonlyMap<string, readonly AppliedRef[]>;
}

/**
 * `up`, as in DESIGN.md "Flow of up": master step → discover → plan → open run → fan out →
 * after-tenants. Steps 1–4 run under the master lock, so two `up` processes agree on one run and
 * split its tenants.
 */
export async function up(ctx: OperationContext, options: UpOptions = {}): Promise<UpResult> {
  const started = Date.now();
  // Bad fleet options are usage errors (exit 2) before anything is opened.
  const fleetArgs = parseFleetArgs({
    shard: options.shard || undefined,
    waves: options.waves && options.waves.length > 0 ? options.waves : undefined,
    order: options.order,
    maxFailures: options.maxFailures,
    concurrency: options.concurrency,
    leaseMs: options.leaseMs,
    tenantsPerSend: options.tenantsPerSend,
  });
  if (options.dbTarget !== undefined && !(options.dbTarget in ctx.config.targets)) {
    throw new TenantMigrateError('USAGE', `--target ${options.dbTarget}: not a name in config targets (${Object.keys(ctx.config.targets).join(', ') || 'none configured'})`, { key: 'target' });
  }
  const dialect = await ctx.dialect();
  // Names a missing right (on the master's database and each target this run touches) before anything changes.
  await checkEngineRights(ctx, dialect, options.dbTarget !== undefined ? [options.dbTarget] : ctx.targets.names);
  const files = await ctx.files();
  let renderer: Promise<Renderer> | undefined;
  const u: UpRun = {
    ctx,
    dialect,
    files,
    render: () => (renderer ??= rendererFor(ctx, dialect.syntax)),
    options,
    shard: fleetArgs.shard,
    waves: fleetArgs.waves,
    leaseMs: fleetArgs.leaseMs ?? DEFAULT_LEASE_MS,
    workerId: newWorkerId(),
    target: options.to ?? files.tenant.at(-1)?.id ?? '',
    afterTenants: afterTenantsIds(files.master),
  };
  let runId = options.runId ?? randomUUID();

  // Steps 1–4 are idempotent under the master lock (master migrations and the plan re-read what is
  // applied; a run half-opened by a failed attempt is found and joined): a transient fault there
  // (reset connection, failover, deadlock) is retried instead of failing the worker.
  const prepared = await retryTransient(dialect.driver, 4, () => withMasterLock(ctx, async () => {
    // A release is decided before it starts: pending master migrations render (and pass the
    // transaction-control rule) before the first one commits.
    const masterDone = new Set((await dialect.withSession((s) => dialect.meta.readApplied(s, ctx.config.masterSchema))).map((a) => a.id));
    const masterPending = new Set(files.master.filter((f) => !masterDone.has(f.id)).map((f) => f.id));
    // Under the master lock, what migrateMaster finds pending is a subset of masterPending: with
    // none (the everyday deploy) nothing of the master renders.
    const masterRender = masterPending.size > 0 || options.masterTo ? (await u.render()).master : nothingToRender;
    preRenderMaster(masterRender, files.master, masterPending);
    // With master migrations to apply, the tenants' pending files render first as well: a tenant
    // template error stops the release before the master schema changes.
    if (!options.masterTo && !options.runId && files.master.some((f) => !masterDone.has(f.id) && !u.afterTenants.has(f.id))) {
      await preRenderBeforeMaster(u);
    }
    // 1. Master migrations (except after-tenants).
    const masterApplied = await migrateMaster(ctx, dialect, files.master, masterRender, runId, {
      only: new Set(files.master.filter((f) => !u.afterTenants.has(f.id)).map((f) => f.id)),
      ...(options.masterTo ? { to: options.masterTo } : {}),
    });
    if (options.masterTo) return { masterApplied, stop: true as const };
    await grantMaster(ctx, dialect); // registry lookup columns for the configured roles
    // 2. Discover (validated names), this shard only.
    const discovered = await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s, options.includeArchived));
    const tenants = discovered.tenants.filter((t) => inShard(t, u.shard) && (!options.dbTarget || t.target === options.dbTarget));
    // 3–4. Plan and open the ledger run (or join one by id).
    await dialect.ledger.ensureLedger();
    const ledger = options.runId ? await joinRun(u, options.runId) : await planAndOpenRun(u, runId, tenants);
    return { masterApplied, tenants, invalid: discovered.invalid, ...ledger };
  }), (attempt, message) => ctx.emit({ type: 'warning', message: `retrying the master step and planning (attempt ${attempt + 1}) after: ${message}` }));
  if (prepared.stop) {
    const empty = { total: 0, succeeded: 0, upToDate: 0, failed: 0, skipped: 0 };
    return { runId, master: { applied: prepared.masterApplied, waiting: [...u.afterTenants] }, tenants: empty, results: [], invalid: [], interrupted: false, durationMs: Date.now() - started };
  }
  const { masterApplied, tenants, invalid, opened, planned } = prepared;
  if (opened) runId = opened.run.runId;
  const opening = await announceRun(u, opened, tenants.length, invalid);

  // 5. Fan out over the ledger: claims, leases, batched outcomes.
  const fleet = opened ? await fanOut(u, opened, tenants, planned) : undefined;
  const interrupted = fleet?.stopped === 'interrupted';
  if (interrupted) ctx.emit({ type: 'run:interrupted' });
  const results = fleet?.results ?? [];
  const counts = fleet?.counts;

  // 6. Expand/contract: after-tenants master migrations once every Active tenant is at target.
  let waiting = await pendingAfterTenants(ctx, dialect, files.master, u.afterTenants);
  const runComplete = !counts || (counts.failed === 0 && counts.pending + counts.running === 0);
  if (waiting.length > 0 && !options.to && runComplete && !interrupted && invalid.length === 0) {
    const applied = await withMasterLock(ctx, async () => {
      if ((await tenantsBehind(ctx, dialect, files.tenant, true, { truth: true })) > 0) return [];
      return migrateMaster(ctx, dialect, files.master, (await u.render()).master, runId, { only: u.afterTenants });
    });
    masterApplied.push(...applied);
    waiting = waiting.filter((id) => !applied.includes(id));
  }

  const count = (s: TenantResult['status']) => results.filter((r) => r.status === s).length;
  const failed = counts ? counts.failed : 0;
  const result: UpResult = {
    runId,
    ...(opening ? { opening } : {}),
    master: { applied: masterApplied, waiting },
    tenants: {
      total: tenants.length,
      succeeded: count('succeeded'),
      upToDate: tenants.length - prepared.todoCount + count('up-to-date'),
      failed,
      skipped: count('skipped') + (counts ? counts.pending : 0),
    },
    ...(counts ? { run: counts } : {}),
    ...(fleet?.stopped ? { stopped: fleet.stopped } : {}),
    workerId: u.workerId,
    results,
    ...(ctx.targets.names.length > 0 ? { targets: countsByTarget(tenants, results) } : {}),
    invalid,
    interrupted,
    durationMs: Date.now() - started,
  };
  // Every failure a lock timeout: the whole call is a lock failure (exit 3), result attached.
  const lockFailures = results.filter((r) => r.error?.code === 'LOCK_TIMEOUT');
  if (lockFailures.length > 0 && lockFailures.length === count('failed') && failed === lockFailures.length) {
    throw Object.assign(new LockTimeoutError(lockFailures[0]!.error!.message, { tenant: lockFailures[0]!.schema }), { result });
  }
  return result;
}

/**
 * Before master migrations: every tenant file pending on a tenant the registry lists now renders
 * for it. Only a registry that cannot be read yet (the pending master migrations make or reshape
 * it) skips this; the check after the master step runs in every case, on what the run then plans.
 */
async function preRenderBeforeMaster(u: UpRun): Promise<void> {
  const { ctx, dialect, files, options } = u;
  let tenants: Tenant[];
  try {
    const discovered = await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s, options.includeArchived));
    tenants = discovered.tenants.filter((t) => inShard(t, u.shard) && (!options.dbTarget || t.target === options.dbTarget));
  } catch {
    return;
  }
  if (tenants.length === 0) return;
  const { applied } = await ctx.targets.readPlanned(tenants, files.tenant);
  const work = tenants.map((t) => ({ tenant: t, pending: planSchema(t.schema, files.tenant, applied.get(t.schema) ?? [], options).pending }));
  if (work.some((w) => w.pending.length > 0)) preRenderTenants((await u.render()).tenant, files.tenant, work);
}

/** The master render of a step with nothing pending: never called (see the master step in {@link up}). */
function nothingToRender(file: { readonly id: string }): string {
  throw new Error(`internal error: master migration ${file.id} rendered in a step that had none pending`);
}

/** Joining a run by id: its tenants come from the ledger, no planning here. */
async function joinRun(u: UpRun, runId: string): Promise<LedgerStep> {
  const { ledger } = u.dialect;
  const run = await ledger.getRun(runId);
  if (!run) throw new TenantMigrateError('NOT_FOUND', `No run with id ${runId} in the ledger`, { runId });
  if (run.target !== u.target) {
    throw new TenantMigrateError('USAGE', `Run ${run.runId} migrates to ${run.target}, but these migration files end at ${u.target}; deploy the same files on every worker`, { runId: run.runId });
  }
  if (run.status !== 'running') await ledger.reopenRun(run.runId);
  const counts = await ledger.countRunTenants(run.runId);
  return { todoCount: counts.pending + counts.running, opened: { run, opening: 'joined', previousStatus: run.status, queued: 0 } };
}

/** Plan (one batched read of every tenant's applied set), refuse changed files, queue the rest in the ledger. */
async function planAndOpenRun(u: UpRun, runId: string, tenants: readonly Tenant[]): Promise<LedgerStep> {
  const { options, files } = u;
  // Per target database: the applied-version summary (created here if missing), meta tables only
  // where it has no usable row; an unreachable target's tenants are planned as pending.
  const { applied } = await u.ctx.targets.readPlanned(tenants, files.tenant, { emit: u.ctx.emit, ensure: true });
  const plans = new Map(tenants.map((t) => [t.schema, planSchema(t.schema, files.tenant, applied.get(t.schema) ?? [], options)]));
  const blocked = [...plans.values()].filter((p) => p.state === 'blocked');
  if (blocked.length > 0) {
    const first = blocked[0]!.checksumMismatches[0]!;
    const file = files.tenant.find((f) => f.id === first.id)!;
    throw new TenantMigrateError(
      'CHECKSUM_MISMATCH',
      `${file.path} was changed after it was applied (${blocked.length} tenant(s), e.g. ${blocked[0]!.schema}); nothing was run. Revert the edit, add a new migration, or run \`tenant-migrate repair\` if the change is cosmetic.`,
      { file: file.path, migrationId: first.id, tenant: blocked[0]!.schema, tenants: blocked.length },
    );
  }
  const todo = orderTenants(
    tenants.filter((t) => plans.get(t.schema)!.state !== 'up-to-date' || t.needsBackfill),
    options.order,
  );
  // Every pending file renders for every planned tenant before the run opens: a template error or a
  // refused statement applies nothing (exit 2), naming file, line and tenant.
  if (todo.length > 0) preRenderTenants((await u.render()).tenant, files.tenant, todo.map((t) => ({ tenant: t, pending: plans.get(t.schema)!.pending })));
  const opened = await openRun({
    ledger: u.dialect.ledger,
    runId,
    runKey: runKeyOf({ target: u.target, shard: u.shard, includeArchived: options.includeArchived, dbTarget: options.dbTarget }),
    target: u.target,
    todo,
    waves: u.waves,
    workerId: u.workerId,
    leaseMs: u.leaseMs,
    options: {
      ...(options.to ? { to: options.to } : {}),
      ...(u.shard ? { shard: `${u.shard.index}/${u.shard.count}` } : {}),
      ...(options.includeArchived ? { includeArchived: true } : {}),
      ...(options.order ? { order: options.order } : {}),
      ...(options.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
      ...(options.dbTarget ? { dbTarget: options.dbTarget } : {}),
      leaseMs: u.leaseMs,
    },
  });
  const planned = new Map(todo.map((t) => [t.schema, applied.get(t.schema) ?? []]));
  return { todoCount: todo.length, opened, planned };
}

/** Emit `run:opened` (when there is a run) and `tenants:discovered`; returns how the run counts as opened. */
async function announceRun(
  u: UpRun,
  opened: OpenedRun | undefined,
  discovered: number,
  invalid: InvalidTenant[],
): Promise<OpenedRun['opening'] | undefined> {
  const { ledger } = u.dialect;
  if (!opened) {
    u.ctx.emit({ type: 'tenants:discovered', total: discovered, pending: 0, invalid });
    return undefined;
  }
  const runId = opened.run.runId;
  const live = await ledger.countRunTenants(runId);
  const opening = opened.opening;
  u.ctx.emit({
    type: 'run:opened',
    runId,
    opening,
    ...(opened.previousStatus ? { previousStatus: opened.previousStatus } : {}),
    total: live.total,
    remaining: live.pending + live.running,
    workerId: u.workerId,
  });
  u.ctx.emit({ type: 'tenants:discovered', total: discovered, pending: (await ledger.countRunTenants(runId)).pending, invalid });
  return opening;
}

/** Run this worker's share of the ledger run and record how the run ended (when this worker ends it). */
async function fanOut(u: UpRun, opened: OpenedRun, tenants: readonly Tenant[], planned: LedgerStep['planned']) {
  const { dialect, options, ctx } = u;
  const runId = opened.run.runId;
  const runWaves = opened.run.options.waves as string[] | undefined;
  const concurrency = dialect.capabilities.multipleConnections ? (options.concurrency ?? ctx.config.concurrency) : 1;
  // Every task needs a connection, plus one for the ledger and the heartbeat: a pool sized from
  // the config but asked for more tasks would make them wait for connections until they time out
  // and leases lapse (the pool is sized at open, the concurrency per call).
  dialect.driver.ensureCapacity(concurrency + 1);
  const to = (opened.run.options.to as string | undefined) ?? options.to;
  const perTarget = Math.min(concurrency, options.targetConcurrency ?? ctx.config.targetConcurrency ?? concurrency);
  const ran = await runFleet({
    dialect,
    // Each tenant on its own database (docs/fleet.md); the ledger stays on the master's.
    dialectOf: async (tenant) => {
      const target = await ctx.targets.dialectOf(tenant.target);
      if (tenant.target) target.driver.ensureCapacity(perTarget + 1);
      return target;
    },
    targetConcurrency: perTarget,
    tenantsPerSend: options.tenantsPerSend ?? ctx.config.tenantsPerSend,
    runId,
    workerId: u.workerId,
    files: u.files.tenant,
    render: (await u.render()).tenant,
    tenants: new Map(tenants.map((t) => {
      const appliedAtPlan = planned?.get(t.schema);
      return [t.schema, appliedAtPlan ? { ...t, appliedAtPlan } : t];
    })),
    concurrency,
    waveCount: runWaves && runWaves.length > 0 ? runWaves.length : 1,
    lockTimeoutMs: ctx.config.lockTimeoutMs,
    leaseMs: u.leaseMs,
    maxFailures: options.maxFailures,
    to,
    signal: options.signal,
    emit: ctx.emit,
  });
  const fleet = await reconcileWithMeta(u, runId, ran, to, tenants);
  const c = fleet.counts;
  const left = c.pending + c.running;
  // An interrupted worker ends the run only when no other worker is still on it (rows running under
  // another claim): its siblings go on, take the rows it handed back and finish the run.
  const siblingsLive = c.running > 0;
  const status: RunStatus | undefined =
    left > 0
      ? fleet.stopped === 'interrupted'
        ? siblingsLive
          ? undefined
          : 'interrupted'
        : fleet.stopped === 'max-failures' || fleet.stopped === 'wave-failed'
          ? 'failed'
          : undefined // stopped by another worker: it set the status
      : c.failed > 0
        ? 'failed'
        : 'succeeded';
  if (status) await dialect.ledger.finishRun(runId, status, c);
  ctx.emit({ type: 'run:finished', runId, status: status ?? (await dialect.ledger.getRun(runId))?.status ?? 'running', ...(fleet.stopped ? { stopped: fleet.stopped } : {}) });
  return fleet;
}

/**
 * The meta tables are the truth, the ledger is progress. When nothing of the run is left to do but
 * some rows say failed, read those tenants' meta tables (one batched read): a tenant already at the
 * run's target — finished by a worker whose claim had lapsed, or by a concurrent provisioning — is
 * recorded succeeded, whoever wrote it, and this worker's result for it becomes "up to date".
 */
async function reconcileWithMeta(
  u: UpRun,
  runId: string,
  fleet: FleetOutcome,
  to: string | undefined,
  tenants: readonly Tenant[],
): Promise<FleetOutcome> {
  const c = fleet.counts;
  if (c.failed === 0 || c.pending + c.running > 0) return fleet;
  const { ledger } = u.dialect;
  const placed = new Map(tenants.map((t) => [t.schema, t.target ?? null]));
  // Only failures whose outcome this worker could not know (connection lost, timeout, the tenant
  // locked by another worker) can be successes in disguise. A statement error, a primary-key
  // violation on the meta row or a transaction the script ended are known failures: a meta table
  // at target after one of those means something applied the migration outside the engine's
  // transaction, which is exactly what must be reported, never counted as done.
  const failed = (await ledger.listRunTenants(runId, { status: 'failed', limit: c.failed })).filter((r) => unknownOutcome(r.error));
  if (failed.length === 0) return fleet;
  const toIndex = to ? u.files.tenant.findIndex((f) => f.id === to) : u.files.tenant.length - 1;
  const wanted = u.files.tenant.slice(0, toIndex + 1).map((f) => f.id);
  const { applied } = await u.ctx.targets.readAppliedMany(failed.map((r) => ({ schema: r.schema, target: placed.get(r.schema) ?? null })));
  const atTarget = failed
    .map((r) => r.schema)
    .filter((schema) => {
      const ids = new Set((applied.get(schema) ?? []).map((a) => a.id));
      return wanted.every((id) => ids.has(id));
    });
  if (atTarget.length === 0) return fleet;
  await ledger.reconcileTenants(runId, atTarget);
  u.ctx.emit({ type: 'run:reconciled', runId, schemas: atTarget });
  const done = new Set(atTarget);
  const results = fleet.results.map((r): TenantResult => {
    if (r.status !== 'failed' || !done.has(r.schema)) return r;
    const { error: _error, ...rest } = r;
    return { ...rest, status: 'up-to-date', reason: 'already at target (completed by another worker)' };
  });
  const counts: LedgerRunCounts = await ledger.countRunTenants(runId);
  return { ...fleet, results, counts };
}

/** A recorded failure whose outcome is unknown: transient (connection lost, timeout, deadlock) or a lock held elsewhere. */
export function unknownOutcome(error: Readonly<Record<string, unknown>> | null): boolean {
  if (!error) return true;
  return error.transient === true || error.code === 'LOCK_TIMEOUT' || error.code === 'LEDGER_UNAVAILABLE';
}

/** Discovered tenants and this worker's outcomes per target database (`(master)`: the master's own). */
function countsByTarget(tenants: readonly Tenant[], results: readonly TenantResult[]): Record<string, TargetCounts> {
  const bySchema = new Map(results.map((r) => [r.schema, r]));
  const out: Record<string, TargetCounts> = {};
  for (const [key, group] of groupByTarget(tenants)) {
    const count = (s: TenantResult['status']) => group.filter((t) => bySchema.get(t.schema)?.status === s).length;
    const failed = count('failed');
    const succeeded = count('succeeded');
    const skipped = count('skipped');
    // upToDate: every tenant of the target this worker did not migrate, fail or skip (with several workers, theirs too).
    out[key] = { total: group.length, succeeded, upToDate: group.length - succeeded - failed - skipped, failed, skipped };
  }
  return out;
}
