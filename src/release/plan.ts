/**
 * `plan`: what the next `up` would do to master and every tenant, computed without changing
 * anything. Reads the registry and the meta tables (in batches, like `up`), renders every pending
 * migration for every tenant that would get it (so template errors surface before the deploy)
 * and returns a {@link ReleasePlan}: plain data the reporters (text, Markdown, JSON, SQL) print.
 */
import { TenantMigrateError, describeError } from '../errors.js';
import type { OperationContext } from '../operations/context.js';
import { MASTER_TARGET, targetKey } from '../operations/targets.js';
import { planSchema, type SchemaPlan } from '../planner/plan.js';
import type { MigrationFile, Tenant } from '../types.js';
import { contextFor, discoverTenants, selectTenants } from './release-context.js';

export type ProblemKind =
  | 'render-error'
  | 'checksum-mismatch'
  | 'unknown-applied'
  | 'invalid-tenant'
  /** A target database (config `targets`) whose meta tables could not be read: its tenants would fail. */
  | 'target-unreachable';

/** Something the plan found. `error`s would make `up` fail or refuse; `warning`s would not. */
export interface PlanProblem {
  readonly kind: ProblemKind;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** `master` or `tenant`. */
  readonly scope: 'master' | 'tenant';
  readonly migrationId?: string;
  readonly file?: string;
  /** Schemas affected (tenant schemas, or the master schema). */
  readonly schemas: readonly string[];
  readonly workspaceId?: string;
}

export interface PendingMigration {
  readonly id: string;
  readonly file: string;
  /** Tenants that would get it (1 for master when pending). */
  readonly tenants: number;
  readonly noTransaction: boolean;
  readonly afterTenants: boolean;
  readonly hasDown: boolean;
}

/** Tenants with the same pending list. */
export interface TenantGroup {
  readonly pending: readonly string[];
  readonly count: number;
  readonly schemas: readonly string[];
}

export interface TenantPlanRow {
  readonly workspaceId: string;
  readonly schema: string;
  readonly name: string | null;
  readonly state: SchemaPlan['state'];
  readonly pending: readonly string[];
  readonly unknownApplied: readonly string[];
  readonly checksumMismatches: readonly string[];
  /** The registry has no db_schema_name yet; `up` would record the derived one. */
  readonly needsBackfill: boolean;
  /** The target database the schema lives on (absent: the master's own). */
  readonly target?: string;
}

/** One target database's share of the plan (`(master)`: the master's own database). */
export interface TargetPlan {
  readonly total: number;
  readonly upToDate: number;
  readonly behind: number;
  readonly blocked: number;
  /** The error when the target's meta tables could not be read. */
  readonly unreachable?: string;
}

/** The JSON of `plan --format json` (contract: `version` changes when a field is removed or renamed). */
export interface ReleasePlan {
  readonly version: 1;
  readonly generatedUtc: string;
  readonly dialect: string;
  readonly masterSchema: string;
  /** No errors: `up` would run without refusing or failing on anything known in advance. */
  readonly clean: boolean;
  readonly counts: {
    readonly errors: number;
    readonly warnings: number;
  };
  readonly master: {
    readonly applied: readonly string[];
    readonly pending: readonly PendingMigration[];
    readonly unknownApplied: readonly string[];
  };
  readonly tenants: {
    readonly total: number;
    readonly upToDate: number;
    readonly behind: number;
    readonly blocked: number;
    readonly archivedSkipped: number;
    readonly invalid: number;
    readonly needsBackfill: number;
  };
  /** Each pending tenant migration with how many tenants would get it, in file order. */
  readonly pending: readonly PendingMigration[];
  readonly groups: readonly TenantGroup[];
  readonly problems: readonly PlanProblem[];
  readonly archived: readonly { readonly workspaceId: string; readonly schema: string }[];
  readonly schemas: readonly TenantPlanRow[];
  /** Per target database, present when config `targets` is not empty (docs/fleet.md). */
  readonly targets?: Readonly<Record<string, TargetPlan>>;
}

export interface PlanOptions {
  /** Plan for this workspace only (any status). */
  readonly workspaceId?: string | undefined;
  /** Plan as `up --include-archived` would (archived tenants are otherwise listed as skipped). */
  readonly includeArchived?: boolean | undefined;
  /** Clock for the report header (tests). */
  readonly now?: Date;
}

/** Compute the release plan. Reads only: takes no locks, writes nothing, creates nothing. */
export async function buildReleasePlan(ctx: OperationContext, options: PlanOptions = {}): Promise<ReleasePlan> {
  const dialect = await ctx.dialect();
  const files = await ctx.files();
  const engine = await ctx.templates();
  const { masterSchema } = ctx.config;
  const problems: PlanProblem[] = [];

  const { masterApplied, selection } = await dialect.withSession(async (session) => ({
    masterApplied: await dialect.meta.readApplied(session, masterSchema),
    selection: options.workspaceId
      ? await selectTenants(ctx, dialect.registry, session, { workspaceId: options.workspaceId })
      : await discoverTenants(ctx, dialect.registry, session, true),
  }));

  // Master.
  const masterPlan = planSchema(masterSchema, files.master, masterApplied);
  const masterContext = contextFor(ctx.config, dialect.syntax);
  for (const mismatch of masterPlan.checksumMismatches) {
    const file = files.master.find((f) => f.id === mismatch.id)!;
    problems.push({
      kind: 'checksum-mismatch',
      severity: 'error',
      scope: 'master',
      migrationId: mismatch.id,
      file: file.path,
      schemas: [masterSchema],
      message: `${file.path} changed after it was applied to ${masterSchema}; up would refuse (revert, or \`repair\` if cosmetic)`,
    });
  }
  if (masterPlan.unknownApplied.length > 0) {
    problems.push({
      kind: 'unknown-applied',
      severity: 'warning',
      scope: 'master',
      schemas: [masterSchema],
      message: `${masterSchema} has applied migrations that are not on disk: ${masterPlan.unknownApplied.join(', ')} (the database is ahead of this code)`,
    });
  }
  for (const id of masterPlan.pending) {
    const file = files.master.find((f) => f.id === id)!;
    try {
      engine.render(file, masterContext);
    } catch (err) {
      problems.push({ kind: 'render-error', severity: 'error', scope: 'master', migrationId: id, file: file.path, schemas: [masterSchema], message: describeError(err) });
    }
  }

  // Tenants: archived ones are skipped by up (listed), invalid rows are never executed.
  const active = options.workspaceId || options.includeArchived ? selection.tenants : selection.tenants.filter((t) => t.status === 'Active');
  const archived = selection.tenants.filter((t) => !active.includes(t)).map((t) => ({ workspaceId: t.workspaceId, schema: t.schema }));
  for (const bad of selection.invalid) {
    problems.push({
      kind: 'invalid-tenant',
      severity: 'error',
      scope: 'tenant',
      workspaceId: bad.workspaceId,
      schemas: bad.dbSchemaName ? [bad.dbSchemaName] : [],
      message: `registry row ${bad.workspaceId}: ${bad.reason} (up skips it; it is never migrated)`,
    });
  }
  const { applied, unreachable } = await ctx.targets.readPlanned(active, files.tenant, { emit: ctx.emit }); // summary first, per target database
  for (const [target, error] of unreachable) {
    problems.push({
      kind: 'target-unreachable',
      severity: 'error',
      scope: 'tenant',
      schemas: active.filter((t) => targetKey(t) === target).map((t) => t.schema),
      message: `target ${target} could not be read (${error}); up would fail its tenants`,
    });
  }
  const plans = active.map((t) => ({ tenant: t, plan: planSchema(t.schema, files.tenant, applied.get(t.schema) ?? []) }));
  const byId = new Map(files.tenant.map((f) => [f.id, f]));

  // Problems are grouped per migration (and message), not repeated for each of 10,000 tenants.
  const grouped = new Map<string, { problem: Omit<PlanProblem, 'schemas'>; schemas: string[] }>();
  const add = (key: string, problem: Omit<PlanProblem, 'schemas'>, schema: string) => {
    const entry = grouped.get(key) ?? { problem, schemas: [] };
    entry.schemas.push(schema);
    grouped.set(key, entry);
  };
  for (const { tenant, plan } of plans) {
    for (const mismatch of plan.checksumMismatches) {
      const file = byId.get(mismatch.id)!;
      add(`checksum\0${mismatch.id}`, {
        kind: 'checksum-mismatch',
        severity: 'error',
        scope: 'tenant',
        migrationId: mismatch.id,
        file: file.path,
        message: `${file.path} changed after it was applied; up would refuse these tenants (revert, or \`repair\` if cosmetic)`,
      }, tenant.schema);
    }
    for (const id of plan.unknownApplied) {
      add(`unknown\0${id}`, {
        kind: 'unknown-applied',
        severity: 'warning',
        scope: 'tenant',
        migrationId: id,
        message: `${id} is applied but not on disk (the database is ahead of this code)`,
      }, tenant.schema);
    }
    if (plan.state === 'blocked') continue;
    for (const id of plan.pending) {
      const file = byId.get(id)!;
      try {
        engine.render(file, contextFor(ctx.config, dialect.syntax, tenant));
      } catch (err) {
        const message = describeError(err);
        // A refusal names its tenant in the message; group by what failed (file, line, statement), not by tenant.
        const what = err instanceof TenantMigrateError ? `${err.code}\0${err.context.line ?? ''}\0${err.context.key ?? ''}` : message;
        add(`render\0${id}\0${what}`, { kind: 'render-error', severity: 'error', scope: 'tenant', migrationId: id, file: file.path, message }, tenant.schema);
      }
    }
  }
  for (const { problem, schemas } of grouped.values()) problems.push({ ...problem, schemas });

  const pendingCounts = new Map<string, number>();
  const groups = new Map<string, { pending: readonly string[]; schemas: string[] }>();
  for (const { tenant, plan } of plans) {
    if (plan.state !== 'behind') continue;
    for (const id of plan.pending) pendingCounts.set(id, (pendingCounts.get(id) ?? 0) + 1);
    const key = plan.pending.join(',');
    const group = groups.get(key) ?? { pending: plan.pending, schemas: [] };
    group.schemas.push(tenant.schema);
    groups.set(key, group);
  }
  const pendingOf = (file: MigrationFile, tenants: number): PendingMigration => ({
    id: file.id,
    file: file.path,
    tenants,
    noTransaction: file.directives.noTransaction,
    afterTenants: file.directives.afterTenants,
    hasDown: file.down !== undefined,
  });

  const errors = problems.filter((p) => p.severity === 'error').length;
  const count = (state: SchemaPlan['state']) => plans.filter((p) => p.plan.state === state).length;
  return {
    version: 1,
    generatedUtc: (options.now ?? new Date()).toISOString(),
    dialect: dialect.name,
    masterSchema,
    clean: errors === 0,
    counts: { errors, warnings: problems.length - errors },
    master: {
      applied: masterPlan.applied,
      pending: masterPlan.pending.map((id) => pendingOf(files.master.find((f) => f.id === id)!, 1)),
      unknownApplied: masterPlan.unknownApplied,
    },
    tenants: {
      total: plans.length,
      upToDate: count('up-to-date'),
      behind: count('behind'),
      blocked: count('blocked'),
      archivedSkipped: archived.length,
      invalid: selection.invalid.length,
      needsBackfill: active.filter((t) => t.needsBackfill).length,
    },
    pending: files.tenant.filter((f) => pendingCounts.has(f.id)).map((f) => pendingOf(f, pendingCounts.get(f.id)!)),
    groups: [...groups.values()]
      .map((g) => ({ pending: g.pending, count: g.schemas.length, schemas: g.schemas }))
      .sort((a, b) => b.count - a.count),
    problems,
    archived,
    schemas: plans.map(({ tenant, plan }) => tenantRow(tenant, plan)),
    ...(ctx.targets.names.length > 0 ? { targets: targetPlans(ctx.targets.names, plans, unreachable) } : {}),
  };
}

function targetPlans(
  names: readonly string[],
  plans: readonly { tenant: Tenant; plan: SchemaPlan }[],
  unreachable: ReadonlyMap<string, string>,
): Record<string, TargetPlan> {
  const out: Record<string, TargetPlan> = {};
  for (const key of [MASTER_TARGET, ...names]) {
    const mine = plans.filter((p) => targetKey(p.tenant) === key);
    const count = (state: SchemaPlan['state']) => mine.filter((p) => p.plan.state === state).length;
    out[key] = {
      total: mine.length,
      upToDate: count('up-to-date'),
      behind: count('behind'),
      blocked: count('blocked'),
      ...(unreachable.has(key) ? { unreachable: unreachable.get(key)! } : {}),
    };
  }
  return out;
}

function tenantRow(tenant: Tenant, plan: SchemaPlan): TenantPlanRow {
  return {
    workspaceId: tenant.workspaceId,
    schema: tenant.schema,
    name: tenant.name,
    state: plan.state,
    pending: plan.pending,
    unknownApplied: plan.unknownApplied,
    checksumMismatches: plan.checksumMismatches.map((m) => m.id),
    needsBackfill: tenant.needsBackfill,
    ...(tenant.target ? { target: tenant.target } : {}),
  };
}
