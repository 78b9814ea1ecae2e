/**
 * `drift`: is every tenant schema what its applied migrations make? Fingerprint the fleet, build
 * the expected catalog of each applied version once (scratch-schema replay, or offline PGlite),
 * and diff each distinct fingerprint once — not each tenant.
 */
import type { Catalog } from '../catalog/catalog-model.js';
import { diffCatalogs } from '../catalog/catalog-diff.js';
import { fingerprint } from '../catalog/fingerprint.js';
import type { OperationContext } from '../operations/context.js';
import { selectTenants } from '../operations/discover.js';
import { grantDrift } from '../operations/grants.js';
import { type Shard, parseShard } from '../runner/fleet-options.js';
import { inShard } from '../runner/run-ledger.js';
import type { DriftGroup, DriftReport } from './drift-report.js';
import { expectedOffline, expectedOnServer } from './expected-catalogs.js';
import { type FleetFingerprints, fingerprintFleet } from './fleet-fingerprints.js';

export interface DriftOptions {
  /** Only this workspace (any status). */
  readonly workspaceId?: string;
  /** Only the tenants of this shard, `"2/4"`. */
  readonly shard?: string | Shard;
  /** Archived tenants too. */
  readonly includeArchived?: boolean;
  /** Build expected catalogs in an in-memory PGlite instead of a scratch schema (PostgreSQL only). */
  readonly offline?: boolean;
  /** Sample tenants named per group (default 5). */
  readonly sampleSize?: number;
  /** Progress of the fingerprint read: (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

const EMPTY = (family: Catalog['family']): Catalog => ({ family, tables: [] });

/** Group fingerprints → report groups, given the expected catalog per version. */
export function compareGroups(
  fleet: FleetFingerprints,
  expected: ReadonlyMap<string, Catalog>,
  knownVersions: ReadonlySet<string>,
  family: Catalog['family'],
  sampleSize = 5,
): DriftGroup[] {
  const expectedPrints = new Map<string, string>();
  const diffCache = new Map<string, DriftGroup['differences']>();
  const groups = fleet.groups.map((g): DriftGroup => {
    const base = { version: g.version, fingerprint: g.fingerprint, tenantCount: g.schemas.length, sampleTenants: g.schemas.slice(0, sampleSize) };
    const note =
      g.gaps.length > 0
        ? { note: `${g.gaps.length} tenant(s) (e.g. ${g.gaps[0]}) have applied migrations that are not the files' prefix up to ${g.version}; compared with that prefix` }
        : {};
    if (g.version !== null && !knownVersions.has(g.version)) return { ...base, state: 'unknown-version', differences: [] };
    const key = g.version ?? '';
    const want = g.version === null ? EMPTY(family) : expected.get(g.version)!;
    let wantPrint = expectedPrints.get(key);
    if (wantPrint === undefined) expectedPrints.set(key, (wantPrint = fingerprint(want)));
    if (wantPrint === g.fingerprint) return { ...base, state: 'ok', differences: [], ...note };
    const cacheKey = `${key}\u0000${g.fingerprint}`;
    let differences = diffCache.get(cacheKey);
    if (!differences) diffCache.set(cacheKey, (differences = diffCatalogs(want, fleet.catalogs.get(g.fingerprint)!)));
    return { ...base, state: differences.length > 0 ? 'drifted' : 'ok', differences, ...note };
  });
  const rank = (g: DriftGroup) => (g.state === 'drifted' ? 0 : g.state === 'unknown-version' ? 1 : 2);
  return groups.sort((a, b) => rank(a) - rank(b) || b.tenantCount - a.tenantCount || String(a.version).localeCompare(String(b.version)));
}

export async function detectDrift(ctx: OperationContext, options: DriftOptions = {}): Promise<DriftReport> {
  const started = Date.now();
  const shard = typeof options.shard === 'string' ? parseShard(options.shard) : options.shard;
  const adapter = await ctx.dialect();
  const files = await ctx.files();
  const { tenants } = await adapter.withSession((s) =>
    selectTenants(ctx, adapter.registry, s, { workspaceId: options.workspaceId, includeArchived: options.includeArchived }),
  );
  const selected = options.workspaceId ? tenants : tenants.filter((t) => inShard(t, shard));
  const fleet = await fingerprintFleet(adapter, selected, files.tenant, options.onProgress ? { onProgress: options.onProgress } : {});
  const knownVersions = new Set(files.tenant.map((f) => f.id));
  const versions = new Set(fleet.groups.map((g) => g.version).filter((v): v is string => v !== null && knownVersions.has(v)));
  const expected = options.offline ? await expectedOffline(ctx, files, versions) : await expectedOnServer(ctx, files.tenant, versions);
  const groups = compareGroups(fleet, expected, knownVersions, adapter.syntax.family, options.sampleSize);
  const grants = await grantDrift(ctx, adapter, selected);
  return {
    dialect: adapter.name,
    expectedFrom: options.offline ? 'offline-pglite' : 'scratch-schema',
    tenants: fleet.tenants,
    driftedTenants: groups.filter((g) => g.state === 'drifted').reduce((n, g) => n + g.tenantCount, 0),
    versions: files.tenant.filter((f) => versions.has(f.id)).map((f) => f.id),
    groups,
    busyTenants: fleet.busy,
    ...(grants ? { grants } : {}),
    durationMs: Date.now() - started,
  };
}
