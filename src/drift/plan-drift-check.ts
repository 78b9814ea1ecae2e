/**
 * The drift hint of `plan`, at a cost that follows the plan's work: only the catalogs of the tenants
 * the plan would migrate are read (a plan with nothing to do reads none), each in its own database.
 * They are grouped by version and fingerprint; a tenant whose fingerprint is not the most common one
 * at its version is a suspect. That is a hint, not a verdict — `drift` compares with the schema the
 * migrations make.
 *
 * A group of one cannot show an outlier, so when fewer than {@link MIN_GROUP} tenants are to be
 * migrated (`plan --workspace`), up to {@link PEERS} other tenants of the same databases are read
 * beside them as peers (only ever named as suspects themselves if they were to be migrated).
 */
import type { OperationContext } from '../operations/context.js';
import { type Placed, targetKey } from '../operations/targets.js';
import { fingerprintPlaced } from './fleet-fingerprints.js';
import { summarizeByVersion } from './fingerprint-summary.js';

export const MIN_GROUP = 3;
export const PEERS = 10;

export interface PlanDriftCheck {
  /** Tenant schemas whose catalogs were read: the tenants to migrate, plus peers. */
  readonly introspected: number;
  /** Tenants to migrate whose fingerprint is not the most common at their version. */
  readonly suspects: readonly string[];
}

/**
 * `toMigrate`: the plan's tenants with pending migrations. `others`: candidates for peers (e.g. the
 * discovered fleet), read only when fewer than {@link MIN_GROUP} tenants are to be migrated.
 */
export async function planDriftCheck(
  ctx: OperationContext,
  toMigrate: readonly Placed[],
  others: readonly Placed[] = [],
): Promise<PlanDriftCheck> {
  if (toMigrate.length === 0) return { introspected: 0, suspects: [] };
  const wanted = new Set(toMigrate.map((t) => t.schema));
  const targets = new Set(toMigrate.map(targetKey));
  const peers =
    toMigrate.length < MIN_GROUP ? others.filter((t) => !wanted.has(t.schema) && targets.has(targetKey(t))).slice(0, PEERS) : [];
  const files = await ctx.files();
  const fleet = await fingerprintPlaced(ctx, [...toMigrate, ...peers], files.tenant);
  const rows = summarizeByVersion(fleet, files.tenant, Number.POSITIVE_INFINITY);
  return {
    introspected: fleet.tenants,
    suspects: rows.flatMap((r) => r.outliers.filter((s) => wanted.has(s))),
  };
}
