import type { Dialect } from '../dialect/dialect.js';
import { LockTimeoutError } from '../errors.js';
import { planSchema } from '../planner/plan.js';
import { assertChecksums, migrateSchema } from '../runner/schema-migrator.js';
import type { MigrationFile } from '../types.js';
import { MASTER_LOCK, type OperationContext } from './context.js';
import { discoverTenants } from './discover.js';

/** Run `fn` holding the master lock (one session for the lock; `fn` may borrow others). */
export function withMasterLock<T>(ctx: OperationContext, fn: () => Promise<T>): Promise<T> {
  const { lockTimeoutMs, masterSchema } = ctx.config;
  return ctx.withLock(MASTER_LOCK, () => fn(), {
    onBusy: () => {
      throw new LockTimeoutError(`Could not take the master migration lock within ${lockTimeoutMs} ms`, { tenant: masterSchema });
    },
  });
}

/** Ids of the master migrations marked `after-tenants` (expand/contract: they wait for the fleet). */
export function afterTenantsIds(master: readonly MigrationFile[]): Set<string> {
  return new Set(master.filter((f) => f.directives.afterTenants).map((f) => f.id));
}

/** Apply master migrations; the caller holds the master lock ({@link withMasterLock}). */
export async function migrateMaster(
  ctx: OperationContext,
  dialect: Dialect,
  files: readonly MigrationFile[],
  render: (file: MigrationFile) => string,
  runId: string,
  options: { only?: ReadonlySet<string>; to?: string },
): Promise<string[]> {
  const schema = ctx.config.masterSchema;
  return dialect.withSession(async (session) => {
    await dialect.meta.ensureSchema(session, schema);
    await dialect.meta.ensureMetaTable(session, schema);
    const applied = await dialect.meta.readApplied(session, schema);
    // An edited applied master migration is refused here too when nothing is pending (umzug is then not run).
    assertChecksums(schema, applied, new Map(files.map((f) => [f.id, f])));
    const pending = planSchema(schema, files, applied).pending.filter(
      (id) => !options.only || options.only.has(id),
    );
    ctx.emit({ type: 'master:start', pending });
    if (pending.length === 0 && (!options.to || files.some((f) => f.id === options.to))) {
      ctx.emit({ type: 'master:done', applied: [], waiting: [] });
      return [];
    }
    const result = await migrateSchema({
      dialect,
      session,
      schema,
      files,
      render,
      runId,
      ...options,
      onMigrated: (id, durationMs) => ctx.emit({ type: 'master:migrated', id, durationMs }),
    });
    ctx.emit({ type: 'master:done', applied: result.applied, waiting: [] });
    return result.applied;
  });
}

/** after-tenants master migrations not applied yet. */
export async function pendingAfterTenants(
  ctx: OperationContext,
  dialect: Dialect,
  master: readonly MigrationFile[],
  afterTenants: ReadonlySet<string>,
): Promise<string[]> {
  if (afterTenants.size === 0) return [];
  const applied = await dialect.withSession((s) => dialect.meta.readApplied(s, ctx.config.masterSchema));
  const done = new Set(applied.map((a) => a.id));
  return master.filter((f) => afterTenants.has(f.id) && !done.has(f.id)).map((f) => f.id);
}

/**
 * How many Active tenants (all shards) are not at the last tenant migration: one batched read.
 * `truth`: read every meta table (the gate of an after-tenants migration, which typically drops
 * what tenants still behind would need, never rests on the applied-version summary alone); without
 * it the planning read (the summary where it proves it describes the meta table, `status`).
 */
export async function tenantsBehind(
  ctx: OperationContext,
  dialect: Dialect,
  files: readonly MigrationFile[],
  includeInvalid: boolean,
  options: { readonly truth?: boolean } = {},
): Promise<number> {
  const { tenants, invalid } = await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s, false));
  // Per target database; an unreachable target's tenants count as behind.
  const { applied } = options.truth ? await ctx.targets.readAppliedMany(tenants) : await ctx.targets.readPlanned(tenants, files);
  const behind = tenants.filter((t) => planSchema(t.schema, files, applied.get(t.schema) ?? []).state !== 'up-to-date').length;
  return behind + (includeInvalid ? invalid.length : 0);
}
