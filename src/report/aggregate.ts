/**
 * Pure aggregation for the fleet report: ledger rows → run summary (percentiles, histogram,
 * throughput, failures grouped), tenants and their plans → per-version counts and the compact
 * search index. No I/O, so the unit tests check each number.
 */
import type { LedgerRun, LedgerTenant } from '../dialect/ledger-types.js';
import type { SchemaPlan } from '../planner/plan.js';
import type { Tenant } from '../types.js';
import { type FailureGroup, LIST_LIMIT, NO_VERSION, type RunSummary, type SlowTenant, TENANT_STATES, type TenantState } from './report-data.js';

/** Nearest-rank percentile of an ascending array (0 for an empty one). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Bucket edges (ms) of the duration histogram: 1-2-5 steps, so a long tail stays readable. */
const EDGES = [0, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 3_600_000];

/** Histogram over {@link EDGES}, cut after the bucket of the largest value. */
export function histogram(values: readonly number[]): { edges: number[]; counts: number[] } {
  if (values.length === 0) return { edges: [], counts: [] };
  const max = Math.max(...values);
  let last = EDGES.findIndex((e) => e > max);
  if (last < 0) last = EDGES.length;
  const edges = EDGES.slice(0, last);
  edges.push(last < EDGES.length ? EDGES[last]! : max + 1);
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < counts.length - 1 && v >= edges[i + 1]!) i++;
    counts[i]!++;
  }
  return { edges, counts };
}

/** Cumulative succeeded / failed tenants by time since the run's first tenant started (≤ `points` marks). */
export function throughput(
  rows: readonly Pick<LedgerTenant, 'status' | 'startedUtc' | 'finishedUtc'>[],
  points = 60,
): RunSummary['throughput'] {
  const finished = rows.filter((r) => r.finishedUtc && (r.status === 'succeeded' || r.status === 'failed'));
  if (finished.length === 0) return { seconds: [], succeeded: [], failed: [] };
  let start = Infinity;
  let end = -Infinity;
  for (const r of finished) {
    start = Math.min(start, (r.startedUtc ?? r.finishedUtc!).getTime());
    end = Math.max(end, r.finishedUtc!.getTime());
  }
  const span = Math.max(1, end - start);
  const n = Math.max(1, Math.min(points, Math.ceil(span / 10)));
  const step = span / n;
  const ok = new Array<number>(n).fill(0);
  const bad = new Array<number>(n).fill(0);
  for (const r of finished) {
    const i = Math.min(n - 1, Math.max(0, Math.ceil((r.finishedUtc!.getTime() - start) / step) - 1));
    (r.status === 'succeeded' ? ok : bad)[i]!++;
  }
  for (let i = 1; i < n; i++) {
    ok[i]! += ok[i - 1]!;
    bad[i]! += bad[i - 1]!;
  }
  const seconds = Array.from({ length: n }, (_, i) => Math.round(((i + 1) * step) / 10) / 100);
  return { seconds, succeeded: ok, failed: bad };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A failure's message with the tenant's own names replaced, so the same failure on many tenants is one group. */
export function normalizeMessage(message: string, tenant: Pick<LedgerTenant, 'schema' | 'workspaceId'>): string {
  let out = message.split(tenant.schema).join('<schema>');
  if (tenant.workspaceId) {
    out = out.split(tenant.workspaceId).join('<workspace>');
    out = out.split(tenant.workspaceId.replace(/-/g, '')).join('<workspace>');
  }
  return out;
}

/** The recorded error of a ledger row as the report shows it. */
export function errorOf(row: Pick<LedgerTenant, 'error'>): { code: string; message: string; migrationId?: string; file?: string; line?: number } {
  const e = row.error ?? {};
  const line = typeof e.line === 'number' ? e.line : undefined;
  const file = str(e.file);
  let message = str(e.message) ?? 'no message recorded';
  // The report shows file and line beside the message: drop the same prefix from the message.
  for (const prefix of file ? [`${file}:${line}: `, `${file}: `] : []) if (message.startsWith(prefix)) message = message.slice(prefix.length);
  return {
    code: str(e.code) ?? 'UNKNOWN',
    message,
    ...(str(e.migrationId) ? { migrationId: str(e.migrationId)! } : {}),
    ...(str(e.file) ? { file: str(e.file)! } : {}),
    ...(line !== undefined ? { line } : {}),
  };
}

/** Failed rows grouped by code, migration, file, line and message; most tenants first. */
export function groupFailures(rows: readonly LedgerTenant[], limit = LIST_LIMIT): FailureGroup[] {
  const groups = new Map<string, { group: Omit<FailureGroup, 'count' | 'tenants'>; count: number; tenants: FailureGroup['tenants'][number][] }>();
  for (const row of rows) {
    if (row.status !== 'failed') continue;
    const e = errorOf(row);
    const message = normalizeMessage(e.message, row);
    const key = [e.code, e.migrationId, e.file, e.line, message].join('\u0000');
    let entry = groups.get(key);
    if (!entry) groups.set(key, (entry = { group: { ...e, message }, count: 0, tenants: [] }));
    entry.count++;
    if (entry.tenants.length < limit) entry.tenants.push({ schema: row.schema, workspaceId: row.workspaceId });
  }
  return [...groups.values()].sort((a, b) => b.count - a.count).map((g) => ({ ...g.group, count: g.count, tenants: g.tenants }));
}

/** The slowest finished tenants, slowest first. */
export function slowest(rows: readonly LedgerTenant[], n = 10): SlowTenant[] {
  return rows
    .filter((r) => r.durationMs !== null && (r.status === 'succeeded' || r.status === 'failed'))
    .sort((a, b) => b.durationMs! - a.durationMs!)
    .slice(0, n)
    .map((r) => ({ schema: r.schema, workspaceId: r.workspaceId, durationMs: r.durationMs!, status: r.status }));
}

/** One ledger run and its (run, tenant) rows → what the Runs section shows. */
export function summarizeRun(run: LedgerRun, rows: readonly LedgerTenant[], options: { slowest?: number } = {}): RunSummary {
  const durations = rows
    .filter((r) => r.durationMs !== null && (r.status === 'succeeded' || r.status === 'failed'))
    .map((r) => r.durationMs!)
    .sort((a, b) => a - b);
  const sum = durations.reduce((a, b) => a + b, 0);
  const waves = new Map<number, { wave: number; total: number; succeeded: number; failed: number }>();
  const workers = new Map<string, number>();
  const counts = { total: 0, succeeded: 0, failed: 0, skipped: 0, pending: 0, running: 0 };
  for (const r of rows) {
    counts.total++;
    counts[r.status]++;
    const w = waves.get(r.wave) ?? { wave: r.wave, total: 0, succeeded: 0, failed: 0 };
    w.total++;
    if (r.status === 'succeeded') w.succeeded++;
    if (r.status === 'failed') w.failed++;
    waves.set(r.wave, w);
    if (r.claimedBy) workers.set(r.claimedBy, (workers.get(r.claimedBy) ?? 0) + 1);
  }
  const end = run.finishedUtc ?? (run.heartbeatUtc && run.heartbeatUtc > run.startedUtc ? run.heartbeatUtc : null);
  return {
    runId: run.runId,
    status: run.status,
    target: run.target,
    startedBy: run.startedBy,
    startedUtc: run.startedUtc.toISOString(),
    finishedUtc: run.finishedUtc?.toISOString() ?? null,
    durationMs: end ? end.getTime() - run.startedUtc.getTime() : null,
    counts,
    options: run.options,
    durations: {
      n: durations.length,
      p50: percentile(durations, 50),
      p95: percentile(durations, 95),
      p99: percentile(durations, 99),
      max: durations.at(-1) ?? 0,
      mean: durations.length ? Math.round(sum / durations.length) : 0,
    },
    histogram: histogram(durations),
    throughput: throughput(rows),
    slowest: slowest(rows, options.slowest ?? 10),
    waves: [...waves.values()].sort((a, b) => a.wave - b.wave),
    workers: [...workers.entries()].map(([worker, tenants]) => ({ worker, tenants })).sort((a, b) => b.tenants - a.tenants),
    failures: groupFailures(rows),
  };
}

/** The last applied migration of a plan in file order (`(none)` when none is applied). */
export function versionOf(plan: Pick<SchemaPlan, 'applied'>, order: ReadonlyMap<string, number>): string {
  let best = -1;
  let id: string = NO_VERSION;
  for (const a of plan.applied) {
    const i = order.get(a);
    if (i !== undefined && i > best) {
      best = i;
      id = a;
    }
  }
  return id;
}

/** A tenant's state in the report; `failedLast`: it failed in the newest run. */
export function stateOf(tenant: Pick<Tenant, 'status'>, plan: Pick<SchemaPlan, 'state'>, failedLast = false): TenantState {
  if (tenant.status !== 'Active') return 'archived';
  if (plan.state === 'behind' && failedLast) return 'failed';
  return plan.state;
}

const STATE_CODE = Object.fromEntries(TENANT_STATES.map((s, i) => [s, i])) as Record<TenantState, number>;

/** Replace the separators of the compact index in a field (names are free text). */
const SEPARATORS = /[\t\n\r]/;
const field = (s: string | null | undefined) => (s == null ? '' : SEPARATORS.test(s) ? s.replace(/[\t\n\r]/g, ' ') : s);

/**
 * The compact tenant index (see {@link TenantIndex}) and the per-version counts of Active tenants
 * per target, in one pass over the tenants.
 */
export function indexTenants(
  tenants: readonly Tenant[],
  plans: ReadonlyMap<string, SchemaPlan>,
  migrations: readonly string[],
  targetOf: (t: Tenant) => string,
  targetNames: readonly string[],
  maxIndexed: number,
  failedLast: ReadonlySet<string> = new Set(),
): {
  rows: string;
  indexed: number;
  versions: string[];
  pendingGroups: string[][];
  counts: number[][];
} {
  const order = new Map(migrations.map((m, i) => [m, i]));
  const versions = [NO_VERSION, ...migrations];
  const versionIndex = new Map(versions.map((v, i) => [v, i]));
  const targetIndex = new Map(targetNames.map((t, i) => [t, i]));
  const counts = targetNames.map(() => new Array<number>(versions.length).fill(0));
  const groupIndex = new Map<string, number>();
  const pendingGroups: string[][] = [];
  const lines: string[] = [];
  for (const t of tenants) {
    const plan = plans.get(t.schema);
    const version = plan ? versionOf(plan, order) : NO_VERSION;
    const v = versionIndex.get(version)!;
    const target = targetIndex.get(targetOf(t)) ?? 0;
    const state = plan ? stateOf(t, plan, failedLast.has(t.schema)) : t.status !== 'Active' ? 'archived' : 'behind';
    if (state !== 'archived') counts[target]![v]!++;
    if (lines.length >= maxIndexed) continue;
    let group = -1;
    if (plan && plan.pending.length > 0 && state !== 'up-to-date') {
      const key = plan.pending.join(',');
      group = groupIndex.get(key) ?? -1;
      if (group < 0) {
        group = pendingGroups.push([...plan.pending]) - 1;
        groupIndex.set(key, group);
      }
    }
    const derived = t.schema.length === 35 && t.schema === `ws_${t.workspaceId.split('-').join('').toLowerCase()}`;
    lines.push(`${field(t.workspaceId)}\t${field(t.name)}\t${v - 1}\t${STATE_CODE[state]}\t${target}\t${group}\t${derived ? '' : field(t.schema)}`);
  }
  return { rows: lines.join('\n'), indexed: lines.length, versions: migrations.slice(), pendingGroups, counts };
}
