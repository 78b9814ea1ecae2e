import type { DialectName } from '../dialect/dialect-syntax.js';
import { type SchemaPlan, planSchema, summarizePlans } from '../planner/plan.js';
import { assertChecksums } from '../runner/schema-migrator.js';
import type { InvalidTenant } from '../types.js';
import type { OperationContext } from './context.js';
import { discoverTenants } from './discover.js';
import { afterTenantsIds } from './master.js';
import { MASTER_TARGET, targetKey } from './targets.js';

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
    /**
     * Of the behind ones, tenants whose first migration is running right now (SQL Server: the meta
     * table exists but is not committed yet, so the read skipped it); present when not 0.
     */
    readonly migratingNow?: number;
    readonly pendingCounts: Readonly<Record<string, number>>;
  };
  readonly invalid: readonly InvalidTenant[];
  readonly plans: readonly SchemaPlan[];
  /**
   * Per target database (`(master)`: the master's own), present when config `targets` is not
   * empty; `unreachable` carries the error of a target whose meta tables could not be read.
   */
  readonly targets?: Readonly<Record<string, TargetStatus>>;
  /**
   * `verify`: every meta table was read and compared with the applied-version summary
   * (docs/fleet.md). `missing`: no summary row (planning reads the meta table); `stale`: a row that
   * differs from the meta table. Absent without `verify`: `readFromMeta` says how many schemas
   * planning had to read from their meta tables.
   */
  readonly summary: { readonly verified: boolean; readonly readFromMeta: number; readonly missing?: readonly string[]; readonly stale?: readonly string[] };
}

export interface TargetStatus {
  readonly total: number;
  readonly upToDate: number;
  readonly behind: number;
  readonly failed: number;
  readonly invalid: number;
  readonly unreachable?: string;
}

/** Where master and every tenant stand against the files. Reads only (one batched read for the tenants). */
export async function status(
  ctx: OperationContext,
  options: {
    includeArchived?: boolean;
    /** Only tenants on this target (`(master)` allowed). */ dbTarget?: string;
    /** Read every meta table and compare it with the summary (slow: what planning avoids). */ verify?: boolean;
  } = {},
): Promise<StatusResult> {
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
    const keep = <T extends { target?: string | null }>(t: T) => !options.dbTarget || targetKey(t) === options.dbTarget;
    return { masterApplied, tenants: discovered.tenants.filter(keep), invalid: discovered.invalid.filter(keep), activeInvalid };
  });
  assertChecksums(schema, masterApplied, new Map(files.master.map((f) => [f.id, f])));
  const masterPlan = planSchema(schema, files.master, masterApplied);
  const read = options.verify
    ? await ctx.targets.verifySummaries(tenants, ctx.emit)
    : await ctx.targets.readPlanned(tenants, files.tenant, { emit: ctx.emit });
  const { applied, unreachable, unknown } = read;
  const summaryCheck =
    'stale' in read
      ? { verified: true, readFromMeta: tenants.length, missing: read.missing, stale: read.stale }
      : { verified: false, readFromMeta: read.fromMeta };
  const plans = tenants.map((t) => planSchema(t.schema, files.tenant, applied.get(t.schema) ?? []));
  let targets: Record<string, TargetStatus> | undefined;
  if (ctx.targets.names.length > 0) {
    targets = {};
    for (const key of [MASTER_TARGET, ...ctx.targets.names]) {
      if (options.dbTarget && key !== options.dbTarget) continue;
      const mine = plans.filter((_, i) => targetKey(tenants[i]!) === key);
      const s = summarizePlans(mine);
      targets[key] = {
        total: s.total,
        upToDate: s.upToDate,
        behind: s.behind,
        failed: s.blocked,
        invalid: invalid.filter((t) => targetKey(t) === key).length,
        ...(unreachable.has(key) ? { unreachable: unreachable.get(key)! } : {}),
      };
    }
  }
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
      ...(unknown.size > 0 ? { migratingNow: unknown.size } : {}),
      pendingCounts: summary.pendingCounts,
    },
    invalid,
    plans,
    ...(targets ? { targets } : {}),
    summary: summaryCheck,
  };
}
