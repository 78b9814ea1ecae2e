/**
 * The cheap fingerprint view for `status --drift` and the `plan` warning: read-only (no scratch
 * schema, no replay), it groups tenants by version and fingerprint and calls a tenant an outlier
 * when its fingerprint is not the most common one at its version. That is a hint, not a verdict —
 * `drift` compares with the schema the migrations make.
 */
import type { OperationContext } from '../operations/context.js';
import { discoverTenants } from '../operations/discover.js';
import type { MigrationFile, Tenant } from '../types.js';
import { type FingerprintGroup, type FleetFingerprints, fingerprintPlaced } from './fleet-fingerprints.js';

export interface VersionFingerprints {
  readonly version: string | null;
  readonly tenants: number;
  readonly fingerprints: number;
  /** The most common fingerprint at this version and how many tenants have it. */
  readonly common: { readonly fingerprint: string; readonly tenants: number };
  /** Tenants with another fingerprint (schema names, at most `sampleSize`). */
  readonly outliers: readonly string[];
  readonly outlierCount: number;
}

export async function fingerprintSummary(
  ctx: OperationContext,
  options: { readonly tenants?: readonly Tenant[]; readonly sampleSize?: number } = {},
): Promise<VersionFingerprints[]> {
  const adapter = await ctx.dialect();
  const files = await ctx.files();
  const tenants = options.tenants ?? (await adapter.withSession((s) => discoverTenants(ctx, adapter.registry, s))).tenants;
  return summarizeByVersion(await fingerprintPlaced(ctx, tenants, files.tenant), files.tenant, options.sampleSize);
}

/** Groups → one row per version, most common fingerprint first, the others as outliers. */
export function summarizeByVersion(fleet: FleetFingerprints, files: readonly MigrationFile[], sampleSize = 5): VersionFingerprints[] {
  const byVersion = new Map<string | null, FingerprintGroup[]>();
  for (const g of fleet.groups) byVersion.set(g.version, [...(byVersion.get(g.version) ?? []), g]);
  const order = new Map(files.map((f, i) => [f.id, i]));
  return [...byVersion.entries()]
    .sort(([a], [b]) => (a === null ? -1 : (order.get(a) ?? 1e9)) - (b === null ? -1 : (order.get(b) ?? 1e9)))
    .map(([version, groups]) => {
      const sorted = [...groups].sort((a, b) => b.schemas.length - a.schemas.length);
      const others = sorted.slice(1).flatMap((g) => g.schemas);
      return {
        version,
        tenants: groups.reduce((n, g) => n + g.schemas.length, 0),
        fingerprints: groups.length,
        common: { fingerprint: sorted[0]!.fingerprint, tenants: sorted[0]!.schemas.length },
        outliers: others.slice(0, sampleSize),
        outlierCount: others.length,
      };
    });
}

export function formatFingerprintSummary(rows: readonly VersionFingerprints[]): string {
  const lines = ['fingerprints (read-only; `tenant-migrate drift` compares with what the migrations make):'];
  for (const r of rows) {
    lines.push(
      `  ${r.version ?? 'no migrations'}: ${r.tenants} tenant(s), ${r.fingerprints} fingerprint(s); ${r.common.tenants} share ${r.common.fingerprint.slice(0, 12)}` +
        (r.outlierCount > 0 ? `; ${r.outlierCount} differ (e.g. ${r.outliers.join(', ')})` : ''),
    );
  }
  return lines.join('\n');
}
