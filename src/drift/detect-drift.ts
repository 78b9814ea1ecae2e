/**
 * `drift`: is every tenant schema what its applied migrations make? Fingerprint the fleet, build
 * the expected catalog of each applied version once (scratch-schema replay, or offline PGlite),
 * and diff each distinct fingerprint once — not each tenant.
 */
import type { Catalog } from '../catalog/catalog-model.js';
import { diffCatalogs } from '../catalog/catalog-diff.js';
import { fingerprint } from '../catalog/fingerprint.js';
import { TenantMigrateError } from '../errors.js';
import type { OperationContext } from '../operations/context.js';
import { selectTenants } from '../operations/discover.js';
import { type GrantDrift, grantDrift } from '../operations/grants.js';
import { MASTER_TARGET, groupByTarget, targetKey } from '../operations/targets.js';
import { type Shard, parseShard } from '../runner/fleet-options.js';
import { inShard } from '../runner/run-ledger.js';
import type { DriftGroup, DriftReport, DriftTargetSummary } from './drift-report.js';
import { expectedOffline, expectedOnServer } from './expected-catalogs.js';
import { type FleetFingerprints, fingerprintPlaced } from './fleet-fingerprints.js';

export interface DriftOptions {
  /** Only this workspace (any status). */
  readonly workspaceId?: string;
  /** Only the tenants of this shard, `"2/4"`. */
  readonly shard?: string | Shard;
  /** Archived tenants too. */
  readonly includeArchived?: boolean;
  /** Build expected catalogs in an in-memory PGlite instead of a scratch schema (PostgreSQL only). */
  readonly offline?: boolean;
  /** Only the tenants placed on this target database (a name of config `targets`, or `(master)`). */
  readonly target?: string;
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
  return sortGroups(groups);
}

/** Drifted groups first (most tenants first), then unknown versions, then the rest by version. */
function sortGroups(groups: DriftGroup[]): DriftGroup[] {
  const rank = (g: DriftGroup) => (g.state === 'drifted' ? 0 : g.state === 'unknown-version' ? 1 : 2);
  return groups.sort((a, b) => rank(a) - rank(b) || b.tenantCount - a.tenantCount || String(a.version).localeCompare(String(b.version)));
}

/** Grant comparisons of several databases as one (counts summed, the listed tenants joined). */
function mergeGrants(parts: readonly (readonly [string, GrantDrift])[], limit = 50): GrantDrift | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0]![1];
  const unavailable = parts.filter(([, g]) => g.unavailable).map(([key, g]) => `${key}: ${g.unavailable}`);
  return {
    checkedTenants: parts.reduce((n, [, g]) => n + g.checkedTenants, 0),
    driftedTenants: parts.reduce((n, [, g]) => n + g.driftedTenants, 0),
    tenants: parts.flatMap(([, g]) => g.tenants).slice(0, limit),
    ...(unavailable.length > 0 ? { unavailable: unavailable.join('; ') } : {}),
  };
}

/**
 * Fingerprint the selected tenants in their own databases, build each database's expected catalogs
 * in a scratch schema on that database (or once offline), compare per database. With config
 * `targets`, every group names its database and the report sums up per database.
 */
export async function detectDrift(ctx: OperationContext, options: DriftOptions = {}): Promise<DriftReport> {
  const started = Date.now();
  const shard = typeof options.shard === 'string' ? parseShard(options.shard) : options.shard;
  const named = ctx.targets.names;
  if (options.target !== undefined && options.target !== MASTER_TARGET && !named.includes(options.target)) {
    throw new TenantMigrateError('USAGE', `--target ${options.target}: not a name in config targets (${named.join(', ') || 'none configured'}) or ${MASTER_TARGET}`, { key: 'target' });
  }
  const adapter = await ctx.dialect();
  const files = await ctx.files();
  const { tenants } = await adapter.withSession((s) =>
    selectTenants(ctx, adapter.registry, s, { workspaceId: options.workspaceId, includeArchived: options.includeArchived }),
  );
  const selected = (options.workspaceId ? tenants : tenants.filter((t) => inShard(t, shard))).filter(
    (t) => options.target === undefined || targetKey(t) === options.target,
  );
  const fleet = await fingerprintPlaced(ctx, selected, files.tenant, options.onProgress ? { onProgress: options.onProgress } : {});
  const knownVersions = new Set(files.tenant.map((f) => f.id));
  const versionsIn = (f: FleetFingerprints) => new Set(f.groups.map((g) => g.version).filter((v): v is string => v !== null && knownVersions.has(v)));
  const offline = options.offline ? await expectedOffline(ctx, files, versionsIn(fleet)) : undefined;
  const perTarget = named.length > 0;
  const groups: DriftGroup[] = [];
  const grants: [string, GrantDrift][] = [];
  const targets: Record<string, DriftTargetSummary> = {};
  const byTarget = groupByTarget(selected);
  for (const [key, part] of fleet.byTarget) {
    const dialect = await ctx.targets.dialectOf(key === MASTER_TARGET ? null : key);
    // A scratch schema on this database: the expected schema as this server makes it.
    const expected = offline ?? (await expectedOnServer(ctx, dialect, files.tenant, versionsIn(part)));
    const compared = compareGroups(part, expected, knownVersions, dialect.syntax.family, options.sampleSize);
    groups.push(...(perTarget ? compared.map((g) => ({ ...g, target: key })) : compared));
    const granted = await grantDrift(ctx, dialect, byTarget.get(key) ?? []);
    if (granted) grants.push([key, granted]);
    targets[key] = {
      tenants: part.tenants,
      driftedTenants: compared.filter((g) => g.state === 'drifted').reduce((n, g) => n + g.tenantCount, 0),
      busyTenants: part.busy.length,
    };
  }
  const grantReport = mergeGrants(grants);
  return {
    dialect: adapter.name,
    expectedFrom: options.offline ? 'offline-pglite' : 'scratch-schema',
    tenants: fleet.tenants,
    driftedTenants: groups.filter((g) => g.state === 'drifted').reduce((n, g) => n + g.tenantCount, 0),
    versions: files.tenant.filter((f) => versionsIn(fleet).has(f.id)).map((f) => f.id),
    groups: sortGroups(groups),
    busyTenants: fleet.busy,
    ...(perTarget ? { targets: Object.fromEntries([MASTER_TARGET, ...named].filter((k) => k in targets).map((k) => [k, targets[k]!])) } : {}),
    ...(grantReport ? { grants: grantReport } : {}),
    durationMs: Date.now() - started,
  };
}
