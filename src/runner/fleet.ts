import type { Dialect } from '../dialect/dialect.js';
import type { LedgerRunCounts, LedgerTenant } from '../dialect/ledger-types.js';
import { TenantMigrateError } from '../errors.js';
import type { MigratorListener, TenantResult } from '../events.js';
import type { MigrationFile, Tenant } from '../types.js';
import pLimit, { type LimitFunction } from 'p-limit';
import { LedgerClient, OutcomeBuffer } from './ledger-client.js';
import { SendSizer, batchable, runTenantBatch } from './batch-runner.js';
import { failureInfo, runTenant } from './tenant-runner.js';

export interface FleetOptions {
  /** The master's dialect: the ledger, and the tenants without a target. */
  readonly dialect: Dialect;
  /**
   * The dialect of a tenant's target database (docs/fleet.md); default: `dialect`. A rejection
   * (the target cannot be opened) fails that tenant, never the worker.
   */
  readonly dialectOf?: ((tenant: Tenant) => Promise<Dialect>) | undefined;
  /** Tenants in flight per target database (default: `concurrency`); `concurrency` stays the overall limit. */
  readonly targetConcurrency?: number | undefined;
  readonly runId: string;
  readonly workerId: string;
  readonly files: readonly MigrationFile[];
  readonly render: (file: MigrationFile, tenant: Tenant) => string;
  /** Tenants this process knows from the registry, by schema (claimed rows are looked up here). */
  readonly tenants: ReadonlyMap<string, Tenant>;
  readonly concurrency: number;
  /** Number of canary waves of the run (1 without waves). */
  readonly waveCount: number;
  readonly lockTimeoutMs: number;
  /** Lease of a claimed tenant; renewed every third of it while the worker lives. */
  readonly leaseMs: number;
  /**
   * At most this many tenants of one database share a send when their pending migrations allow it
   * (all transactional, planned by this process, dialect able to: {@link runTenantBatch}); the size
   * follows the measured send time. 1: one send per tenant. Default 32.
   */
  readonly tenantsPerSend?: number | undefined;
  /** Stop taking new tenants after this many failures in this worker (default: never). */
  readonly maxFailures?: number | undefined;
  readonly to?: string | undefined;
  readonly maxAttempts?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly emit: MigratorListener;
}

export type FleetStop = 'interrupted' | 'max-failures' | 'wave-failed' | 'run-stopped';

/**
 * How often one worker hands a tenant back because its lock is held elsewhere before recording
 * the lock timeout as a failure (each wait is `lockTimeoutMs`).
 */
export const MAX_HANDBACKS = 3;

export interface FleetOutcome {
  /** What this worker did. */
  readonly results: TenantResult[];
  /** Why this worker stopped before the run was complete; undefined when it ran to the end. */
  readonly stopped?: FleetStop | undefined;
  /** The run's counts (all workers) when this worker finished. */
  readonly counts: LedgerRunCounts;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One worker of a ledger run. `concurrency` tasks take tenants from a local queue that is refilled
 * by claiming from the ledger (`SKIP LOCKED`/`READPAST`: other workers' rows are skipped, not
 * waited on), so any number of processes can work one run. Outcomes are written back in batches.
 * A worker only finishes a wave when no row of it is pending or running anywhere: it waits for
 * other live workers and takes over rows whose lease expired (a crashed worker's).
 */
export async function runFleet(options: FleetOptions): Promise<FleetOutcome> {
  const { dialect, runId, workerId, leaseMs, emit } = options;
  const results: TenantResult[] = [];
  const queue: LedgerTenant[] = [];
  const ledger = new LedgerClient(dialect.ledger, dialect.driver, emit);
  const outcomes = new OutcomeBuffer(ledger, runId, workerId);
  const handbacks = new Map<string, number>();
  // One limiter per target: a slow or large target cannot take every overall slot.
  const perTarget = new Map<string, LimitFunction>();
  const limitOf = (tenant: Tenant): LimitFunction | undefined => {
    const limit = options.targetConcurrency;
    if (!limit || limit >= options.concurrency) return undefined;
    const key = tenant.target ?? '';
    let fn = perTarget.get(key);
    if (!fn) perTarget.set(key, (fn = pLimit(limit)));
    return fn;
  };
  let failures = 0;
  let stopped: FleetStop | undefined;
  /** A ledger call that failed past its retries: this worker stops taking tenants. */
  let ledgerFailure: unknown;
  let claiming: Promise<number> | undefined;
  // Claims are ledger round trips on the tenants' critical path: take rows in batches of at
  // least 16 and claim the next batch while the last few tenants of the queue still run.
  // With shared sends a task takes up to `tenantsPerSend` rows at once: claim enough for every task.
  const batch = Math.max(16, options.concurrency * 4, options.concurrency * Math.min(32, options.tenantsPerSend ?? 32));
  const pollMs = Math.max(50, Math.min(1000, Math.floor(leaseMs / 4)));

  const shouldStop = () => {
    if (stopped) return true;
    if (options.signal?.aborted) stopped = 'interrupted';
    else if (options.maxFailures !== undefined && failures >= options.maxFailures) stopped = 'max-failures';
    return stopped !== undefined;
  };

  // Leases outlive a slow tenant only while this process is alive to renew them. A renewal that
  // meets a transient error is retried (LedgerClient) rather than dropped, so a short outage does not
  // let the leases lapse; ticks do not pile up behind a renewal that is still retrying.
  const renewEvery = Math.max(50, Math.floor(leaseMs / 3));
  let renewing = false;
  const heartbeat = setInterval(() => {
    if (!renewing) {
      renewing = true;
      void ledger
        .call('renewLease', (l) => l.renewLease(runId, workerId, leaseMs))
        .catch((err) => emit({ type: 'warning', message: `could not renew leases of run ${runId}: ${(err as Error).message}` }))
        .finally(() => (renewing = false));
    }
    void outcomes.flush().catch(() => undefined);
  }, renewEvery);
  heartbeat.unref();

  const claim = (maxWave: number): Promise<number> => {
    claiming ??= (async () => {
      try {
        // Outcomes first (a failed write stays buffered for the next flush; it never blocks claiming).
        await outcomes.flush().catch(() => undefined);
        const rows = await ledger.call('claimTenants', (l) => l.claimTenants(runId, workerId, batch, leaseMs, maxWave));
        queue.push(...rows);
        return rows.length;
      } finally {
        claiming = undefined;
      }
    })();
    return claiming;
  };

  const sizer = new SendSizer(options.tenantsPerSend ?? 32);
  /** Whether tenants may share sends at all (`tenantsPerSend` 1 is the careful behaviour: never). */
  const sharing = (options.tenantsPerSend ?? 32) > 1;
  const tenantDialectOf = (tenant: Tenant): Promise<Dialect> => (options.dialectOf ? options.dialectOf(tenant) : Promise.resolve(dialect));
  const runOptions = (tenantDialect: Dialect, capture: (result: TenantResult) => void) => ({
    dialect: tenantDialect,
    files: options.files,
    render: options.render,
    runId,
    lockTimeoutMs: options.lockTimeoutMs,
    ...(options.to ? { to: options.to } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    // `tenant:done` waits until we know whether the tenant is done or handed back.
    emit: ((event) => (event.type === 'tenant:done' ? capture(event.result) : emit(event))) as MigratorListener,
  });
  /** Rows of the queue that may share a send with `first` (itself {@link batchable}; same database), taken out of it. */
  const batchmates = (first: Tenant): LedgerTenant[] => {
    const size = sizer.next(queue.length + 1, options.concurrency);
    if (size <= 1) return [];
    const mates: LedgerTenant[] = [];
    for (let i = 0; i < queue.length && mates.length < size - 1; ) {
      const t = options.tenants.get(queue[i]!.schema);
      if (t && (t.target ?? '') === (first.target ?? '') && batchable(t, options)) mates.push(...queue.splice(i, 1));
      else i++;
    }
    return mates;
  };
  /** Several tenants of one database in shared sends; each outcome recorded as {@link execute} does. */
  const executeMany = async (rows: readonly LedgerTenant[]): Promise<void> => {
    const tenants = rows.map((r) => options.tenants.get(r.schema)!);
    const captured = new Map<string, TenantResult>();
    const run = async (): Promise<TenantResult[]> => {
      let tenantDialect: Dialect;
      try {
        tenantDialect = await tenantDialectOf(tenants[0]!);
      } catch (err) {
        return tenants.map((t) => ({ workspaceId: t.workspaceId, schema: t.schema, status: 'failed', applied: [], durationMs: 0, attempts: 1, error: failureInfo(err, dialect) }));
      }
      const o = runOptions(tenantDialect, (r) => captured.set(r.schema, r));
      if (!tenantDialect.folded?.applyMany) {
        const out: TenantResult[] = [];
        for (const t of tenants) out.push(await runTenant(t, o));
        return out;
      }
      return runTenantBatch(tenants, o, sizer);
    };
    const limit = limitOf(tenants[0]!);
    const results = await (limit ? limit(run) : run());
    for (const [i, row] of rows.entries()) await record(row, results[i]!, captured.get(row.schema));
  };

  /** `measured`: the tenant could have shared a send; its time goes to the sizer. */
  const execute = async (row: LedgerTenant, measured = false): Promise<void> => {
    const tenant = options.tenants.get(row.schema);
    let result: TenantResult;
    if (!tenant) {
      // Claimed from a run another process opened, but not Active in this process's registry read.
      result = { workspaceId: row.workspaceId, schema: row.schema, status: 'skipped', applied: [], durationMs: 0, attempts: 0, reason: 'not an Active tenant in the registry' };
      emit({ type: 'tenant:done', result });
      await record(row, result, undefined);
      return;
    }
    let done: TenantResult | undefined;
    const run = async (): Promise<TenantResult> => {
      let tenantDialect: Dialect;
      try {
        tenantDialect = await tenantDialectOf(tenant);
      } catch (err) {
        // The target's pool could not even be created: this tenant fails, the others go on.
        const failed: TenantResult = { workspaceId: tenant.workspaceId, schema: tenant.schema, status: 'failed', applied: [], durationMs: 0, attempts: 1, error: failureInfo(err, dialect) };
        done = failed;
        return failed;
      }
      const started = Date.now();
      const result = await runTenant(tenant, runOptions(tenantDialect, (r) => (done = r)));
      if (measured && result.status === 'succeeded') sizer.observe(1, Date.now() - started);
      return result;
    };
    const limit = limitOf(tenant);
    result = await (limit ? limit(run) : run());
    await record(row, result, done);
  };

  /** A tenant's outcome: handed back when its lock was busy, else reported and buffered for the ledger. */
  const record = async (row: LedgerTenant, result: TenantResult, done: TenantResult | undefined): Promise<void> => {
    if (options.tenants.has(row.schema)) {
      // The tenant's lock is held elsewhere: another worker that outlived its lease is still on it
      // (its success will be recorded), or provisioning is. Not a failure of the tenant: hand the row
      // back to the run (pending) and let it be claimed again, a few times before giving up.
      const n = (handbacks.get(row.schema) ?? 0) + 1;
      if (result.error?.code === 'LOCK_TIMEOUT' && n <= MAX_HANDBACKS && !shouldStop()) {
        handbacks.set(row.schema, n);
        try {
          await ledger.call('releaseTenants', (l) => l.releaseTenants(runId, workerId, [row.schema]));
          emit({ type: 'tenant:handed-back', workspaceId: row.workspaceId, schema: row.schema, handbacks: n });
          return;
        } catch (err) {
          ledgerFailure ??= err;
        }
      }
      emit({ type: 'tenant:done', result: done ?? result });
    }
    results.push(result);
    if (result.status === 'failed') failures++;
    outcomes.push({
      schema: row.schema,
      status: result.status === 'failed' ? 'failed' : result.status === 'skipped' ? 'skipped' : 'succeeded',
      durationMs: result.durationMs,
      extraAttempts: Math.max(0, result.attempts - 1),
      applied: result.applied,
      ...(result.error ? { error: { ...result.error } } : {}),
      ...(result.reason && !result.error ? { error: { code: 'SKIPPED', message: result.reason } } : {}),
    });
    if (outcomes.size >= batch) void outcomes.flush().catch(() => undefined);
  };

  let busy = 0;
  /** One of `concurrency` tasks. Never rejects: a ledger that stays unreachable stops the worker instead. */
  const task = async (maxWave: number): Promise<void> => {
    try {
      await taskLoop(maxWave);
    } catch (err) {
      ledgerFailure ??= err;
    }
  };
  const taskLoop = async (maxWave: number): Promise<void> => {
    for (;;) {
      if (shouldStop() || ledgerFailure !== undefined) return;
      const row = queue.shift();
      if (row && queue.length < options.concurrency * sizer.size && !claiming) void claim(maxWave).catch(() => undefined);
      if (row) {
        busy++;
        try {
          const first = options.tenants.get(row.schema);
          // Planned once per tenant: whether it may share a send at all.
          const shareable = first !== undefined && sharing && batchable(first, options);
          const mates = shareable ? batchmates(first) : [];
          if (mates.length > 0) await executeMany([row, ...mates]);
          // A tenant that could share but goes alone (the sizer is at 1, or the queue is down to it)
          // is measured too: its time is what lets the sizer grow again. Without it, one slow send
          // (a connection's first on Babelfish took 1.3 s for 4 tenants) put the size at 1 for the
          // rest of the run. It still takes the single-tenant path, which is the cheaper one for a
          // tenant alone (on Babelfish a fresh tenant's folded text alone took 2–4× its careful path).
          else await execute(row, shareable);
        } finally {
          busy--;
        }
        continue;
      }
      if ((await claim(maxWave)) > 0 || queue.length > 0) continue;
      // Nothing claimable. While sibling tasks still run tenants, let them finish the wave; the
      // last idle task waits for rows held by other workers (their lease may expire: take-over).
      if (busy > 0) return;
      // A failed write stays buffered; this loop polls again and the next flush retries it.
      await outcomes.flush().catch(() => undefined);
      const counts = await ledger.call('countRunTenants', (l) => l.countRunTenants(runId, maxWave));
      if (counts.pending + counts.running === 0) return;
      const run = await ledger.call('getRun', (l) => l.getRun(runId));
      // Another worker finished the run between the count and this read: a succeeded run has nothing
      // left, so this worker is done too — not stopped (it would exit 1 after a run that succeeded).
      if (run && run.status === 'succeeded') return;
      // Another worker was interrupted (SIGINT) and, seeing no other rows running, marked the run
      // interrupted: that stops that worker, not this one. Reopen the run and take its rows.
      if (run && run.status === 'interrupted' && !shouldStop()) {
        await ledger.call('reopenRun', (l) => l.reopenRun(runId));
        continue;
      }
      if (run && run.status !== 'running') {
        stopped ??= 'run-stopped';
        return;
      }
      await sleep(pollMs);
    }
  };

  try {
    for (let wave = 0; wave < options.waveCount; wave++) {
      if (options.waveCount > 1) emit({ type: 'wave:start', wave: wave + 1, waves: options.waveCount });
      await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, () => task(wave)));
      // The wave gate below counts failures: this wave's outcomes must be written first (a second
      // try after a failed one; still failing, the worker stops like any unreachable ledger).
      if (ledgerFailure === undefined) await outcomes.flush().catch(() => outcomes.flush()).catch((err: unknown) => (ledgerFailure ??= err));
      if (ledgerFailure !== undefined) break;
      if (stopped) break;
      if (wave < options.waveCount - 1) {
        const counts = await ledger.call('countRunTenants', (l) => l.countRunTenants(runId, wave));
        if (counts.failed > 0) {
          stopped = 'wave-failed';
          emit({ type: 'wave:failed', wave: wave + 1, failed: counts.failed });
          break;
        }
      }
    }
  } finally {
    clearInterval(heartbeat);
    // A claim still in flight (the prefetch started while the last tenants ran) lands its rows in
    // the queue when it returns: wait for it, or those rows stay `running` under this worker's name
    // until their lease lapses (seen: SIGINT on SQL Server left 16 rows running).
    await claiming?.catch(() => undefined);
    // Claimed but never started: give them back so a resumed run or another worker takes them.
    const unstarted = queue.splice(0).map((r) => r.schema);
    await outcomes.flush().catch((err) => (ledgerFailure ??= err));
    await ledger.call('releaseTenants', (l) => l.releaseTenants(runId, workerId, unstarted)).catch(() => undefined);
  }
  if (ledgerFailure !== undefined) {
    // The tenants this worker finished are in their meta tables (the truth); the ledger rows it could
    // not write keep their leases, which lapse, and the next `up` resumes the run and reconciles.
    throw new TenantMigrateError(
      'LEDGER_UNAVAILABLE',
      `The run ledger could not be written (${(ledgerFailure as Error).message ?? String(ledgerFailure)}); this worker stopped taking tenants. ` +
        `${outcomes.size} outcome(s) not recorded. Run \`tenant-migrate up\` again to resume run ${runId}.`,
      { runId },
      { cause: ledgerFailure },
    );
  }
  return { results, stopped, counts: await ledger.call('countRunTenants', (l) => l.countRunTenants(runId)) };
}
