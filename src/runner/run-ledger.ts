import { hostname } from 'node:os';
import type { LedgerStore } from '../dialect/contracts/ledger-store.js';
import type { LedgerRun, NewLedgerTenant } from '../dialect/ledger-types.js';
import type { Tenant } from '../types.js';
import type { Shard, TenantOrder } from './fleet-options.js';

// The option parsers live in fleet-options.ts (pure, unit-tested); re-exported for existing imports.
export { type Shard, type TenantOrder, TENANT_ORDERS, parseShard, parseWaves } from './fleet-options.js';

/**
 * FNV-1a (32 bit) of the canonical workspace id: stable across processes, machines and versions,
 * so `--shard 1/4` on one machine and `--shard 2/4` on another never overlap.
 */
export function shardOf(workspaceId: string, count: number): number {
  let h = 0x811c9dc5;
  const s = workspaceId.toLowerCase();
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % count) + 1;
}

export function inShard(tenant: { workspaceId: string }, shard: Shard | undefined): boolean {
  return !shard || shardOf(tenant.workspaceId, shard.count) === shard.index;
}

export function orderTenants<T extends Tenant>(tenants: readonly T[], order: TenantOrder = 'registry'): T[] {
  const time = (d: Date | null, missing: number) => (d ? d.getTime() : missing);
  const byName = (a: T, b: T) => (a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : 0);
  const list = [...tenants];
  switch (order) {
    case 'registry':
      return list;
    case 'last-seen': // never seen first: the least exposed canaries
      return list.sort((a, b) => time(a.lastSeenUtc, -Infinity) - time(b.lastSeenUtc, -Infinity) || byName(a, b));
    case 'recent':
      return list.sort((a, b) => time(b.lastSeenUtc, -Infinity) - time(a.lastSeenUtc, -Infinity) || byName(a, b));
    case 'created':
      return list.sort((a, b) => time(a.createdUtc, Infinity) - time(b.createdUtc, Infinity) || byName(a, b));
  }
}

/** The wave index (0-based) of each position 0..total-1, given cumulative wave sizes. */
export function waveBoundaries(waves: readonly string[] | undefined, total: number): number[] {
  if (!waves || waves.length === 0) return [total];
  const bounds = waves.map((w) => (w.endsWith('%') ? Math.ceil((parseFloat(w) / 100) * total) : Number(w)));
  const out: number[] = [];
  let prev = 0;
  for (const b of bounds) {
    const clamped = Math.min(total, Math.max(prev, b));
    out.push(clamped);
    prev = clamped;
  }
  out[out.length - 1] = total;
  return out;
}

export function ledgerRows(tenants: readonly Tenant[], waves: readonly string[] | undefined, firstSeq = 0): NewLedgerTenant[] {
  const bounds = waveBoundaries(waves, tenants.length);
  let wave = 0;
  return tenants.map((t, i) => {
    while (i >= bounds[wave]! && wave < bounds.length - 1) wave++;
    return { schema: t.schema, workspaceId: t.workspaceId, seq: firstSeq + i, wave };
  });
}

/** The identity used to decide whether an unfinished run is "the same" run to resume. */
export function runKeyOf(parts: {
  target: string;
  shard?: Shard | undefined;
  includeArchived?: boolean | undefined;
  /** `up --target <name>`: a run limited to one target database is its own run. */
  dbTarget?: string | undefined;
}): string {
  return JSON.stringify({
    target: parts.target,
    shard: parts.shard ? `${parts.shard.index}/${parts.shard.count}` : null,
    archived: parts.includeArchived === true,
    ...(parts.dbTarget ? { dbTarget: parts.dbTarget } : {}),
  });
}

/** host:pid:random — unique per process, readable in `status --run`. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

export type RunOpening = 'new' | 'resumed' | 'joined';

export interface OpenRunRequest {
  readonly ledger: LedgerStore;
  readonly runId: string;
  readonly runKey: string;
  readonly target: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** Tenants to migrate, in run order. */
  readonly todo: readonly Tenant[];
  readonly waves?: readonly string[] | undefined;
  readonly workerId: string;
  /** This worker's lease: a `running` run whose heartbeat is older than its lease has no live worker. */
  readonly leaseMs: number;
}

/**
 * True when a `running` run has no live worker: its heartbeat (renewed every third of a lease by
 * every worker on it) is older than the longer of its own recorded lease and ours. Measured on the
 * database clock.
 */
export function isCrashedRun(run: LedgerRun, leaseMs: number): boolean {
  if (run.status !== 'running' || run.heartbeatAgeMs === null) return false;
  const runLease = typeof run.options.leaseMs === 'number' ? run.options.leaseMs : 0;
  return run.heartbeatAgeMs > Math.max(runLease, leaseMs);
}

export interface OpenedRun {
  readonly run: LedgerRun;
  readonly opening: RunOpening;
  /** Status the run had before it was resumed or joined. */
  readonly previousStatus?: LedgerRun['status'];
  /** Rows added (new run) or failed/skipped rows requeued plus new tenants (resumed). */
  readonly queued: number;
}

/**
 * Open the ledger run for an `up`: join the newest unfinished run with the same key while another
 * worker is live on it; resume it (failed and skipped tenants requeued) when it was interrupted,
 * failed, or crashed (status running, heartbeat older than a lease); else start a new one. Call under the master lock so two `up` processes agree on one run. Returns undefined when
 * there is nothing to do and nothing to resume.
 */
export async function openRun(req: OpenRunRequest): Promise<OpenedRun | undefined> {
  const { ledger } = req;
  const previous = await ledger.findResumableRun(req.runKey);
  if (previous) {
    const live = previous.status === 'running' && !isCrashedRun(previous, req.leaseMs);
    if (!live) await ledger.reopenRun(previous.runId);
    const requeued = live ? 0 : await ledger.requeueRunTenants(previous.runId);
    // Tenants that became pending since (new workspaces): appended as the last wave.
    const existing = await ledger.countRunTenants(previous.runId);
    const waves = previous.options.waves as string[] | undefined;
    const lastWave = waves && waves.length > 0 ? waves.length - 1 : 0;
    const added = await ledger.addRunTenants(
      previous.runId,
      req.todo.map((t, i) => ({ schema: t.schema, workspaceId: t.workspaceId, seq: existing.total + i, wave: lastWave })),
    );
    const run = (await ledger.getRun(previous.runId))!;
    return { run, opening: live ? 'joined' : 'resumed', previousStatus: previous.status, queued: requeued + added };
  }
  if (req.todo.length === 0) return undefined;
  await ledger.createRun({
    runId: req.runId,
    runKey: req.runKey,
    target: req.target,
    options: { ...req.options, ...(req.waves ? { waves: req.waves } : {}) },
    startedBy: req.workerId,
  });
  const queued = await ledger.addRunTenants(req.runId, ledgerRows(req.todo, req.waves));
  return { run: (await ledger.getRun(req.runId))!, opening: 'new', queued };
}
