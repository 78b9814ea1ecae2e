import type { DialectName } from '../dialect/dialect-syntax.js';
import { type SchemaPlan, planSchema, summarizePlans } from '../planner/plan.js';
import { assertChecksums } from '../runner/schema-migrator.js';
import type { InvalidTenant } from '../types.js';
import type { OperationContext } from './context.js';
import { discoverTenants } from './discover.js';
import { afterTenantsIds } from './master.js';

export interface StatusResult {
  readonly dialect: DialectName;
  readonly master: {
    readonly applied: readonly string[];
    readonly pending: readonly string[];
    /** after-tenants master migrations still waiting for tenants. */
    readonly waiting: readonly string[];
    /**
     * How many tenants the `waiting` migrations wait for: Active tenants (all shards) not at the
     * last tenant migration, plus Active registry rows that are invalid (they block the contract
     * step too). 0 when nothing waits — or when the waiting ones run on the next `up`.
     */
    readonly waitingFor: number;
  };
  readonly tenants: {
    readonly total: number;
    readonly upToDate: number;
    readonly behind: number;
    /** Tenants that cannot be migrated as they are (checksum mismatch). */
    readonly failed: number;
    readonly invalid: number;
    readonly pendingCounts: Readonly<Record<string, number>>;
  };
  readonly invalid: readonly InvalidTenant[];
  readonly plans: readonly SchemaPlan[];
}

/** Where master and every tenant stand against the files. Reads only (one batched read for the tenants). */
export async function status(ctx: OperationContext, options: { includeArchived?: boolean } = {}): Promise<StatusResult> {
  const dialect = await ctx.dialect();
  const files = await ctx.files();
  const schema = ctx.config.masterSchema;
  const includeArchived = options.includeArchived ?? false;
  const { masterApplied, tenants, invalid, activeInvalid } = await dialect.withSession(async (session) => {
    const masterApplied = await dialect.meta.readApplied(session, schema);
    const discovered = await discoverTenants(ctx, dialect.registry, session, includeArchived);
    // after-tenants waits for Active rows only; re-read them when Archived ones were included.
    const activeInvalid = includeArchived
      ? (await discoverTenants(ctx, dialect.registry, session, false)).invalid.length
      : discovered.invalid.length;
    return { masterApplied, ...discovered, activeInvalid };
  });
  assertChecksums(schema, masterApplied, new Map(files.master.map((f) => [f.id, f])));
  const masterPlan = planSchema(schema, files.master, masterApplied);
  const applied = await dialect.meta.readAppliedMany(tenants.map((t) => t.schema));
  const plans = tenants.map((t) => planSchema(t.schema, files.tenant, applied.get(t.schema) ?? []));
  const summary = summarizePlans(plans);
  const afterTenants = afterTenantsIds(files.master);
  const waiting = masterPlan.pending.filter((id) => afterTenants.has(id));
  // The same gate as `up` (tenantsBehind with invalid rows): every Active tenant at target.
  const waitingFor =
    waiting.length === 0
      ? 0
      : plans.filter((p, i) => p.state !== 'up-to-date' && (!includeArchived || tenants[i]!.status === 'Active')).length + activeInvalid;
  return {
    dialect: dialect.name,
    master: {
      applied: masterPlan.applied,
      pending: masterPlan.pending,
      waiting,
      waitingFor,
    },
    tenants: {
      total: summary.total,
      upToDate: summary.upToDate,
      behind: summary.behind,
      failed: summary.blocked,
      invalid: invalid.length,
      pendingCounts: summary.pendingCounts,
    },
    invalid,
    plans,
  };
}
