import type { FoldedMigration } from '../dialect/contracts/folded-apply.js';
import type { Dialect } from '../dialect/dialect.js';
import type { TenantResult } from '../events.js';
import { describeError } from '../errors.js';
import { planSchema } from '../planner/plan.js';
import { checksumOf } from '../source/index.js';
import type { AppliedMigration, Tenant } from '../types.js';
import { type TenantRunOptions, prepareTenant, runTenant } from './tenant-runner.js';

/**
 * Whether a tenant may share a send with others: it was planned by this process, everything it has
 * pending is transactional, and nothing about it needs a statement of its own after the commit (a
 * legacy row whose schema name is still to be recorded goes alone).
 */
export function batchable(tenant: Tenant, options: Pick<TenantRunOptions, 'files' | 'to'>): boolean {
  if (!tenant.appliedAtPlan || tenant.needsBackfill) return false;
  const plan = planSchema(tenant.schema, options.files, tenant.appliedAtPlan, options.to ? { to: options.to } : {});
  if (plan.state !== 'behind') return false;
  const byId = new Map(options.files.map((f) => [f.id, f]));
  return plan.pending.every((id) => !byId.get(id)!.directives.noTransaction);
}

/** One tenant's part of a shared send: its pending migrations, rendered, each with the meta rows before it. */
interface TenantSends {
  readonly tenant: Tenant;
  readonly sends: FoldedMigration[];
}

/** The folded migrations of a planned tenant, in file order (the first carries the prelude). */
async function sendsOf(dialect: Dialect, tenant: Tenant, options: TenantRunOptions): Promise<TenantSends> {
  const known: Pick<AppliedMigration, 'id' | 'checksum'>[] = [...tenant.appliedAtPlan!];
  const plan = planSchema(tenant.schema, options.files, known, options.to ? { to: options.to } : {});
  const byId = new Map(options.files.map((f) => [f.id, f]));
  const recorder = dialect.folded!.recorder();
  await prepareTenant(dialect, recorder.session, tenant, { structure: known.length === 0 });
  const sends: FoldedMigration[] = [];
  for (const id of plan.pending) {
    const file = byId.get(id)!;
    const script = options.render(file, tenant);
    const row = { id, checksum: file.checksum, renderedChecksum: checksumOf(script), runId: options.runId };
    sends.push({ schema: tenant.schema, expected: [...known], prelude: sends.length === 0 ? [...recorder.statements] : [], script, row });
    known.push(row);
  }
  return { tenant, sends };
}

/**
 * The migrations of `sends` this run committed, by the meta table: present with their checksum and
 * this run's id. A row of another run was there already (a plan read from a stale summary row, a
 * concurrent deploy): the request did not apply it and the tenant's result must not claim it.
 */
function committedByThisRun(t: TenantSends, applied: readonly AppliedMigration[] | undefined): Set<string> {
  const have = new Map((applied ?? []).map((a) => [a.id, a]));
  return new Set(
    t.sends.filter((s) => {
      const row = have.get(s.row.id);
      return row !== undefined && row.checksum === s.row.checksum && row.runId === s.row.runId;
    }).map((s) => s.row.id),
  );
}

/**
 * Migrate several tenants of one database with one request (the dialect's
 * {@link FoldedApply.applyMany}): each tenant's migrations are still their own transactions, with
 * the tenant lock and the meta-table check inside, and the session is reset between tenants. When
 * the request fails, the meta tables say which tenants committed before the failure; every other
 * tenant runs again on its own ({@link runTenant}: the single send, or the careful path), which
 * reports its error with file and line, or applies it if the failure was another tenant's. One
 * result per tenant, in order; never throws.
 */
export async function runTenantBatch(tenants: readonly Tenant[], options: TenantRunOptions, sizer?: SendSizer): Promise<TenantResult[]> {
  const { dialect, emit } = options;
  const started = Date.now();
  for (const t of tenants) emit({ type: 'tenant:start', workspaceId: t.workspaceId, schema: t.schema });
  const batch: TenantSends[] = [];
  const alone = new Map<string, Tenant>();
  for (const tenant of tenants) {
    try {
      const sends = await sendsOf(dialect, tenant, options);
      // A migration the dialect cannot put in a shared request (SQL Server: session options, #temp…) goes alone.
      if (sends.sends.every((m) => dialect.folded!.shareable?.(m) ?? true)) batch.push(sends);
      else alone.set(tenant.schema, tenant);
    } catch {
      // A render or prelude problem belongs to this tenant: its own run reports it.
      alone.set(tenant.schema, tenant);
    }
  }
  const done = new Map<string, TenantResult>();
  let sharedError: unknown;
  /** Per tenant that runs again alone: what the shared request committed for it before failing. */
  const committedEarlier = new Map<string, string[]>();
  const succeed = (t: TenantSends, durationMs: number) => {
    for (const s of t.sends) emit({ type: 'tenant:migrated', workspaceId: t.tenant.workspaceId, schema: t.tenant.schema, id: s.row.id, durationMs });
    const result: TenantResult = { workspaceId: t.tenant.workspaceId, schema: t.tenant.schema, status: 'succeeded', applied: t.sends.map((s) => s.row.id), durationMs, attempts: 1 };
    emit({ type: 'tenant:done', result });
    done.set(t.tenant.schema, result);
  };
  if (batch.length > 0) {
    const migrations = batch.flatMap((t) => t.sends);
    let failed = false;
    let times: ReadonlyMap<string, number> = new Map();
    const sent = Date.now();
    try {
      times = await dialect.withSession((session) => dialect.folded!.applyMany!(session, migrations));
    } catch (err) {
      failed = true;
      sharedError = err;
    }
    if (!failed) sizer?.observe(batch.length, Date.now() - sent, migrations.reduce((n, m) => n + m.script.length, 0));
    // Each tenant's own time inside the request (the server's clock, as its meta rows say); the
    // request's share only where the dialect did not report it.
    const each = Math.round((Date.now() - started) / batch.length);
    if (!failed) for (const t of batch) succeed(t, times.get(t.tenant.schema) ?? each);
    else {
      // The truth decides who committed; a read that fails leaves every tenant to its own run.
      // Read twice before giving up: without it, a tenant the request committed is still re-run
      // correctly (its run finds nothing pending), but its result could not name what was applied.
      const readTruth = () => dialect.meta.readAppliedMany(batch.map((t) => t.tenant.schema));
      const truth = await readTruth()
        .catch(readTruth)
        .catch(() => undefined);
      for (const t of batch) {
        const applied = truth?.get(t.tenant.schema);
        const ours = committedByThisRun(t, applied);
        if (truth && ours.size === t.sends.length) {
          succeed(t, applied!.filter((a) => ours.has(a.id)).reduce((ms, a) => ms + a.durationMs, 0));
        }
        else {
          // Some of its migrations may have committed in the request: its own run starts after them,
          // and its result still names them (only those: rows of another run were there before).
          committedEarlier.set(t.tenant.schema, t.sends.map((m) => m.row.id).filter((id) => ours.has(id)));
          alone.set(t.tenant.schema, applied ? { ...t.tenant, appliedAtPlan: applied.map((a) => ({ id: a.id, checksum: a.checksum })) } : t.tenant);
        }
      }
    }
  }
  for (const tenant of alone.values()) {
    const earlier = committedEarlier.get(tenant.schema) ?? [];
    for (const id of earlier) emit({ type: 'tenant:migrated', workspaceId: tenant.workspaceId, schema: tenant.schema, id, durationMs: 0 });
    const withEarlier = (r: TenantResult): TenantResult =>
      earlier.length === 0
        ? r
        : { ...r, applied: [...earlier, ...r.applied.filter((id) => !earlier.includes(id))], ...(r.status === 'up-to-date' ? { status: 'succeeded' as const } : {}) };
    // Its start was reported with the batch; its result names what the shared request committed.
    const result = withEarlier(
      await runTenant(tenant, {
        ...options,
        emit: (e) => (e.type === 'tenant:start' ? undefined : e.type === 'tenant:done' ? emit({ ...e, result: withEarlier(e.result) }) : emit(e)),
      }),
    );
    done.set(tenant.schema, result);
  }
  // The shared request failed, yet every tenant succeeded on its own: the sharing itself broke (it
  // cost a request and a meta read for nothing). Said once per request, with the server's error.
  if (sharedError !== undefined && [...alone.keys()].every((schema) => done.get(schema)?.status !== 'failed')) {
    emit({ type: 'warning', message: `a request shared by ${batch.length} tenants failed (${describeError(sharedError)}), but each succeeded on its own; try --tenants-per-send 1 and report this` });
  }
  return tenants.map((t) => done.get(t.schema)!);
}

/**
 * How many tenants go in one send. Starts small and follows the measured time per tenant toward
 * sends of about `targetMs`, capped by the text's size (large scripts go fewer at a time) and by
 * `max`. `max` 1 is the careful behaviour: a send per tenant.
 */
export class SendSizer {
  #size: number;
  #msPerTenant: number | undefined;
  #bytesPerTenant: number | undefined;
  readonly #max: number;
  readonly #targetMs: number;
  readonly #maxBytes: number;

  constructor(max: number, options: { readonly targetMs?: number; readonly maxBytes?: number; readonly start?: number } = {}) {
    this.#max = Math.max(1, Math.floor(max));
    this.#targetMs = options.targetMs ?? 500;
    this.#maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.#size = Math.min(this.#max, options.start ?? 4);
  }

  /** The size of the next send, leaving `waiting` tenants to share among `workers` sends in flight. */
  next(waiting: number, workers: number): number {
    const share = Math.max(1, Math.ceil(waiting / Math.max(1, workers)));
    return Math.max(1, Math.min(this.#size, share));
  }

  /**
   * Record a send of `tenants` tenants that took `ms` and carried `bytes` of text (unknown for a
   * tenant that ran alone: its time counts, the size estimate stays as it was).
   */
  observe(tenants: number, ms: number, bytes?: number): void {
    if (tenants <= 0) return;
    const per = ms / tenants;
    this.#msPerTenant = this.#msPerTenant === undefined ? per : 0.7 * this.#msPerTenant + 0.3 * per;
    if (bytes !== undefined) {
      const perBytes = bytes / tenants;
      this.#bytesPerTenant = this.#bytesPerTenant === undefined ? perBytes : 0.7 * this.#bytesPerTenant + 0.3 * perBytes;
    }
    const byTime = Math.floor(this.#targetMs / Math.max(0.1, this.#msPerTenant));
    const bySize = Math.floor(this.#maxBytes / Math.max(1, this.#bytesPerTenant ?? 0));
    // Grow at most twofold per send: one quick send does not make the next one huge.
    this.#size = Math.max(1, Math.min(this.#max, byTime, bySize, this.#size * 2));
  }

  get size(): number {
    return this.#size;
  }
}
