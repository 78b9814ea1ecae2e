/**
 * Read what the fleet report shows with the existing read operations — `status` (the
 * applied-version summary and meta tables), the run ledger's newest runs, `drift` and `plan` when
 * asked — and aggregate it into {@link ReportData}. Nothing is created, not even the ledger tables;
 * like `status`, the summary read may write the applied-version summary row of a tenant that has
 * none yet (a cache of its meta table, skipped with a warning for a login that may only read).
 */
import type { LedgerTenant } from '../dialect/ledger-types.js';
import type { DialectName } from '../dialect/dialect-syntax.js';
import { syntaxFor } from '../dialect/syntax-registry.js';
import { describeDifference } from '../catalog/catalog-diff.js';
import { describeError } from '../errors.js';
import type { OperationContext } from '../operations/context.js';
import { discoverTenants } from '../operations/discover.js';
import { afterTenantsIds } from '../operations/master.js';
import { MASTER_TARGET, targetKey } from '../operations/targets.js';
import { type SchemaPlan, planSchema } from '../planner/plan.js';
import { lintMigration } from '../release/lint-rules.js';
import { buildRenderContext, sampleRenderContext } from '../templating/render-context.js';
import type { MigrationFile } from '../types.js';
import { errorOf, indexTenants, stateOf, summarizeRun } from './aggregate.js';
import {
  type DriftSection,
  LIST_LIMIT,
  NO_VERSION,
  type PlanSection,
  type PlannedMigration,
  type ReportData,
  type RunSummary,
  type TargetCounts,
  type TenantDetails,
} from './report-data.js';

export interface ReportOptions {
  /** How many of the newest ledger runs to show (default 5). */
  readonly runs?: number;
  /** Fingerprint every tenant schema and compare it with what its migrations make (reads every catalog: slower). */
  readonly drift?: boolean;
  /** Include the next deploy: what `plan` finds, lint warnings and the rendered SQL. */
  readonly plan?: boolean;
  /** Tenants in the search index at most (default 200,000); the report says when it is capped. */
  readonly maxIndexed?: number;
  /** Slowest tenants listed per run (default 10). */
  readonly slowest?: number;
  /** Clock of the report header (tests). */
  readonly now?: Date;
  /** What is being read now (a phase, and for drift the schemas fingerprinted so far), for a progress line. */
  readonly onProgress?: (phase: string, done?: number, total?: number) => void;
}

export const DEFAULT_REPORT_RUNS = 5;

type Detail = { runs: TenantDetails['runs'][number][]; drift?: TenantDetails['drift'] };

/**
 * What is kept of each ledger row for the details of the tenants a list names: outcome, duration
 * and attempts of every row (in one short string: 100,000 objects would weigh more), the applied
 * list and error of the failed and the slowest rows only.
 */
type KeptRun = { readonly rows: Map<string, string>; readonly failed: Map<string, Pick<LedgerTenant, 'applied' | 'error'>> };

export async function collectReport(ctx: OperationContext, options: ReportOptions = {}): Promise<ReportData> {
  const dialect = await ctx.dialect();
  const files = await ctx.files();
  const migrations = files.tenant.map((f) => f.id);

  // The ledger first, then the fleet: one after the other, so that the rows of a 100,000-tenant run
  // are summarized and dropped before the registry and the plans are in memory (peak RSS).
  const details = new Map<string, Detail>();
  options.onProgress?.('reading the ledger');
  const { summaries: runs, failedLast } = await collectRuns(ctx, options, details);
  options.onProgress?.('reading the registry and the meta tables');
  const fleet = await readFleet(ctx);
  const { tenants, invalid, plans, master, unreachable } = fleet;
  const targetNames = [MASTER_TARGET, ...ctx.targets.names];
  const index = indexTenants(tenants, plans, migrations, targetKey, targetNames, options.maxIndexed ?? 200_000, failedLast);

  const perTarget = new Map<string, { total: number; upToDate: number; behind: number; failed: number; blocked: number; invalid: number; archived: number }>(
    targetNames.map((n) => [n, { total: 0, upToDate: 0, behind: 0, failed: 0, blocked: 0, invalid: 0, archived: 0 }]),
  );
  const blocked: { schema: string; migrations: string[] }[] = [];
  for (const t of tenants) {
    const c = perTarget.get(targetKey(t));
    const plan = plans.get(t.schema);
    if (!c || !plan) continue;
    const state = stateOf(t, plan, failedLast.has(t.schema));
    if (state === 'archived') {
      c.archived++;
      continue;
    }
    c.total++;
    if (state === 'up-to-date') c.upToDate++;
    else if (state === 'behind' || state === 'failed') {
      c.behind++;
      if (state === 'failed') c.failed++;
    } else {
      c.blocked++;
      if (blocked.length < LIST_LIMIT) blocked.push({ schema: t.schema, migrations: plan.checksumMismatches.map((m) => m.id) });
    }
  }
  for (const bad of invalid) {
    const c = perTarget.get(targetKey(bad));
    if (c) c.invalid++;
  }
  const targets: TargetCounts[] = targetNames
    .filter((n) => n === MASTER_TARGET || ctx.targets.names.length > 0)
    .map((name) => {
      const error = unreachable.get(name);
      return { name, ...perTarget.get(name)!, ...(error ? { unreachable: error } : {}) };
    });
  const sum = (k: 'total' | 'upToDate' | 'behind' | 'failed' | 'blocked' | 'invalid' | 'archived') => targets.reduce((n, t) => n + t[k], 0);

  if (options.drift) options.onProgress?.('comparing every tenant schema with its migrations (drift)');
  const drift = options.drift ? await collectDrift(ctx, details, options.onProgress) : undefined;
  if (options.plan) options.onProgress?.('planning the next deploy');
  const named: Record<string, TenantDetails> = {};
  const detailOf = (schema: string, t?: (typeof tenants)[number]): TenantDetails => {
    const d = details.get(schema)!;
    return { workspaceId: t?.workspaceId ?? '', name: t?.name ?? null, target: t ? targetKey(t) : MASTER_TARGET, runs: d.runs, ...(d.drift ? { drift: d.drift } : {}) };
  };
  for (const t of tenants) if (details.has(t.schema)) named[t.schema] = detailOf(t.schema, t);
  // Tenants of a run that are no longer in the registry keep their ledger history.
  for (const schema of details.keys()) named[schema] ??= detailOf(schema);
  const plan = options.plan ? await collectPlan(ctx, files.tenant, files.master, dialect.name) : undefined;

  return {
    format: 1,
    generatedUtc: (options.now ?? new Date()).toISOString(),
    dialect: dialect.name,
    masterSchema: ctx.config.masterSchema,
    migrations,
    fleet: {
      total: sum('total') + sum('archived'),
      active: sum('total'),
      upToDate: sum('upToDate'),
      behind: sum('behind'),
      failed: sum('failed'),
      blocked: sum('blocked'),
      invalid: invalid.length,
      archived: sum('archived'),
      byVersion: {
        versions: [NO_VERSION, ...migrations],
        targets: targetNames.filter((n) => n === MASTER_TARGET || ctx.targets.names.length > 0),
        counts: index.counts.slice(0, ctx.targets.names.length > 0 ? undefined : 1),
      },
      targets,
      master,
      invalidRows: invalid.slice(0, LIST_LIMIT).map((b) => ({ workspaceId: b.workspaceId, reason: b.reason })),
      blockedTenants: blocked,
    },
    runs: { requested: options.runs ?? DEFAULT_REPORT_RUNS, runs },
    ...(drift ? { drift } : {}),
    ...(plan ? { plan } : {}),
    tenants: {
      total: tenants.length,
      indexed: index.indexed,
      versions: index.versions,
      targets: targetNames,
      pendingGroups: index.pendingGroups,
      rows: index.rows,
      details: named,
    },
  };
}

/**
 * What `status` reads, done once for the report: the registry (every row, Archived too: they are
 * counted apart, and the report needs names and placement, which status does not return), the
 * master's meta table and the planning read (applied-version summary first, meta tables where it
 * has no usable row), planned per tenant with the same pure planner. An edited applied master
 * migration is shown, not thrown.
 */
async function readFleet(ctx: OperationContext) {
  const dialect = await ctx.dialect();
  const files = await ctx.files();
  const schema = ctx.config.masterSchema;
  const { masterApplied, tenants, invalid } = await dialect.withSession(async (s) => {
    const masterApplied = await dialect.meta.readApplied(s, schema);
    const { tenants, invalid } = await discoverTenants(ctx, dialect.registry, s, true);
    return { masterApplied, tenants, invalid };
  });
  const read = await ctx.targets.readPlanned(tenants, files.tenant, { emit: ctx.emit });
  const plans = new Map<string, SchemaPlan>(tenants.map((t) => [t.schema, planSchema(t.schema, files.tenant, read.applied.get(t.schema) ?? [])]));
  const masterPlan = planSchema(schema, files.master, masterApplied);
  const afterTenants = afterTenantsIds(files.master);
  const waiting = masterPlan.pending.filter((id) => afterTenants.has(id));
  // The gate of `up`: every Active tenant at the last migration, and no invalid Active registry row.
  let waitingFor = 0;
  if (waiting.length > 0) {
    const activeInvalid = (await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s, false))).invalid.length;
    waitingFor = tenants.filter((t) => t.status === 'Active' && plans.get(t.schema)!.state !== 'up-to-date').length + activeInvalid;
  }
  return {
    tenants,
    invalid,
    plans,
    unreachable: read.unreachable,
    master: {
      schema,
      applied: masterPlan.applied,
      pending: masterPlan.pending,
      waiting,
      waitingFor,
      changed: masterPlan.checksumMismatches.map((m) => m.id),
    },
  };
}

/**
 * The newest runs, summarized one at a time (each run's rows are read, summarized and dropped but
 * for a compact copy), then the ledger history of every tenant a list names.
 */
async function collectRuns(
  ctx: OperationContext,
  options: ReportOptions,
  details: Map<string, Detail>,
): Promise<{ summaries: RunSummary[]; failedLast: Set<string> }> {
  const { ledger } = await ctx.dialect();
  const n = options.runs ?? DEFAULT_REPORT_RUNS;
  if (n <= 0) return { summaries: [], failedLast: new Set() };
  const runs = await ledger.listRuns(n);
  const summaries: RunSummary[] = [];
  const kept: KeptRun[] = [];
  for (const run of runs) {
    const rows = await ledger.listRunTenants(run.runId);
    const summary = summarizeRun(run, rows, { slowest: options.slowest ?? 10 });
    summaries.push(summary);
    const slow = new Set(summary.slowest.map((s) => s.schema));
    const k: KeptRun = { rows: new Map(), failed: new Map() };
    for (const r of rows) {
      k.rows.set(r.schema, `${r.status}|${r.durationMs ?? ''}|${r.attempts}`);
      if (r.status === 'failed' || slow.has(r.schema)) k.failed.set(r.schema, { applied: r.applied, error: r.error });
    }
    kept.push(k);
  }
  const named = new Set<string>();
  for (const s of summaries) {
    for (const t of s.slowest) named.add(t.schema);
    for (const g of s.failures) for (const t of g.tenants) named.add(t.schema);
  }
  for (const schema of named) {
    const history = summaries.flatMap((s, i) => {
      const compact = kept[i]!.rows.get(schema);
      if (!compact) return [];
      const [status = '', duration = '', attempts = '0'] = compact.split('|');
      const full = kept[i]!.failed.get(schema);
      return [
        {
          runId: s.runId,
          status,
          durationMs: duration === '' ? null : Number(duration),
          attempts: Number(attempts),
          applied: full?.applied ?? [],
          ...(status === 'failed' && full ? { error: errorOf(full) } : {}),
        },
      ];
    });
    details.set(schema, { runs: history });
  }
  const failedLast = new Set<string>();
  for (const [schema, row] of kept[0]?.failed ?? []) if (row.error !== undefined && kept[0]!.rows.get(schema)!.startsWith('failed|')) failedLast.add(schema);
  return { summaries, failedLast };
}

async function collectDrift(ctx: OperationContext, details: Map<string, Detail>, onProgress: ReportOptions['onProgress']): Promise<DriftSection> {
  const { detectDrift } = await import('../drift/detect-drift.js');
  const report = await detectDrift(ctx, { sampleSize: 20, ...(onProgress ? { onProgress: (done: number, total: number) => onProgress('fingerprinting tenant schemas', done, total) } : {}) });
  const groups = report.groups.map((g) => ({
    version: g.version,
    state: g.state,
    tenantCount: g.tenantCount,
    sampleTenants: g.sampleTenants,
    differences: g.differences.map(describeDifference),
    ...(g.note ? { note: g.note } : {}),
    ...(g.target ? { target: g.target } : {}),
  }));
  for (const g of groups) {
    if (g.state !== 'drifted') continue;
    for (const schema of g.sampleTenants) {
      const entry = details.get(schema) ?? { runs: [] };
      entry.drift = { version: g.version, differences: g.differences };
      details.set(schema, entry);
    }
  }
  return { tenants: report.tenants, driftedTenants: report.driftedTenants, expectedFrom: report.expectedFrom, busyTenants: report.busyTenants.length, groups };
}

/** Dialect families the rendered SQL is shown for: the configured one first. */
function sqlDialects(current: DialectName): DialectName[] {
  const family: DialectName = current === 'mssql' ? 'mssql' : 'postgres';
  return [family, family === 'mssql' ? 'postgres' : 'mssql'];
}

async function collectPlan(ctx: OperationContext, tenantFiles: readonly MigrationFile[], masterFiles: readonly MigrationFile[], current: DialectName): Promise<PlanSection> {
  const { buildReleasePlan } = await import('../release/plan.js');
  const plan = await buildReleasePlan(ctx);
  const engine = await ctx.templates();
  const { masterSchema, vars } = ctx.config;
  const describe = (file: MigrationFile, scope: 'master' | 'tenant', tenants: number): PlannedMigration => ({
    id: file.id,
    file: file.path,
    tenants,
    sampleTenants: scope === 'tenant' ? plan.groups.filter((g) => g.pending.includes(file.id)).flatMap((g) => g.schemas.slice(0, 20)).slice(0, 20) : [],
    noTransaction: file.directives.noTransaction,
    afterTenants: file.directives.afterTenants,
    lint: lintMigration({ source: file.source, scope, isTemplate: file.isTemplate, noTransaction: file.directives.noTransaction }).map((f) => ({
      rule: f.rule,
      severity: f.severity,
      line: f.line,
      message: f.message,
    })),
    sql: sqlDialects(current).map((d) => {
      try {
        const syntax = syntaxFor(d);
        const context = scope === 'tenant' ? sampleRenderContext(syntax, masterSchema, vars) : buildRenderContext({ syntax, masterSchema, vars });
        return { dialect: d, text: engine.render(file, context) };
      } catch (err) {
        return { dialect: d, error: describeError(err) };
      }
    }),
  });
  return {
    clean: plan.clean,
    errors: plan.counts.errors,
    warnings: plan.counts.warnings,
    behind: plan.tenants.behind,
    masterPending: plan.master.pending.map((p) => describe(masterFiles.find((f) => f.id === p.id)!, 'master', 1)),
    pending: plan.pending.map((p) => describe(tenantFiles.find((f) => f.id === p.id)!, 'tenant', p.tenants)),
    problems: plan.problems.map((p) => ({ severity: p.severity, kind: p.kind, message: p.message, count: p.schemas.length, sample: p.schemas.slice(0, 10) })),
  };
}
