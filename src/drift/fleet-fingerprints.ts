/**
 * Fingerprint a fleet: applied versions from the meta tables (batched) and catalogs from the
 * set-based reader, grouped by (version, fingerprint). Only one catalog per distinct fingerprint
 * is kept, so memory grows with the number of distinct schemas, not with the fleet.
 */
import type { Catalog } from '../catalog/catalog-model.js';
import { fingerprint } from '../catalog/fingerprint.js';
import { createCatalogReader } from '../dialect/create-catalog-reader.js';
import type { Dialect } from '../dialect/dialect.js';
import type { OperationContext } from '../operations/context.js';
import { MASTER_TARGET, type Placed, groupByTarget } from '../operations/targets.js';
import type { MigrationFile } from '../types.js';

export interface FingerprintGroup {
  readonly version: string | null;
  readonly fingerprint: string;
  readonly schemas: string[];
  /** Tenants whose applied ids are not the prefix of the files up to their version. */
  readonly gaps: string[];
}

export interface FleetFingerprints {
  readonly groups: FingerprintGroup[];
  /** One catalog per distinct fingerprint. */
  readonly catalogs: Map<string, Catalog>;
  readonly tenants: number;
  /** Schemas not read because in-flight DDL held their catalog rows (SQL Server); re-run later. */
  readonly busy: string[];
}

export interface FingerprintOptions {
  /** Called after each chunk of schemas is read: (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Last applied id and whether the applied ids are exactly the files' prefix up to it. */
export function versionOf(applied: readonly string[], fileIds: readonly string[]): { version: string | null; gap: boolean } {
  if (applied.length === 0) return { version: null, gap: false };
  const version = applied[applied.length - 1]!;
  const at = fileIds.indexOf(version);
  const gap = at < 0 || at + 1 !== applied.length || applied.some((id, i) => fileIds[i] !== id);
  return { version, gap };
}

export async function fingerprintFleet(
  adapter: Dialect,
  tenants: readonly Placed[],
  files: readonly MigrationFile[],
  options: FingerprintOptions = {},
): Promise<FleetFingerprints> {
  const schemas = tenants.map((t) => t.schema);
  const fileIds = files.map((f) => f.id);
  const reader = await createCatalogReader(adapter);
  // The applied versions and the catalogs are independent reads: run them side by side.
  const applied = adapter.meta.readAppliedMany(schemas);
  applied.catch(() => undefined); // awaited below; a failure is thrown there
  const catalogs = new Map<string, Catalog>();
  // A reader hands schemas with equal catalogs the same object: fingerprint each object once.
  const printed = new WeakMap<Catalog, string>();
  const printOf = new Map<string, string>();
  let done = 0;
  const busy: string[] = [];
  await reader.readCatalogs(schemas, (schema, catalog) => {
    let fp = printed.get(catalog);
    if (fp === undefined) printed.set(catalog, (fp = fingerprint(catalog)));
    printOf.set(schema, fp);
    if (!catalogs.has(fp)) catalogs.set(fp, catalog);
    if (++done % 500 === 0 || done === schemas.length) options.onProgress?.(done, schemas.length);
  }, (schema) => busy.push(schema));
  const appliedBySchema = await applied;
  const groups = new Map<string, FingerprintGroup>();
  for (const schema of schemas) {
    const fp = printOf.get(schema);
    if (fp === undefined) continue; // busy (SQL Server): not read
    const { version, gap } = versionOf((appliedBySchema.get(schema) ?? []).map((a) => a.id), fileIds);
    const key = `${version ?? ''}\u0000${fp}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { version, fingerprint: fp, schemas: [], gaps: [] }));
    group.schemas.push(schema);
    if (gap) group.gaps.push(schema);
  }
  return { groups: [...groups.values()], catalogs, tenants: schemas.length, busy };
}

/**
 * The same over a fleet spread across databases (config `targets`, docs/fleet.md): each tenant is
 * read in its own database, and the groups of all databases are merged by (version, fingerprint) —
 * fingerprints are schema-relative, so equal schemas in two databases of one family print alike.
 * Progress counts over the whole fleet. `byTarget` keeps each database's own result.
 */
export async function fingerprintPlaced(
  ctx: OperationContext,
  tenants: readonly Placed[],
  files: readonly MigrationFile[],
  options: FingerprintOptions = {},
): Promise<FleetFingerprints & { readonly byTarget: ReadonlyMap<string, FleetFingerprints> }> {
  const byTarget = new Map<string, FleetFingerprints>();
  let before = 0;
  for (const [key, group] of groupByTarget(tenants)) {
    const dialect = await ctx.targets.dialectOf(key === MASTER_TARGET ? null : key);
    const offset = before;
    const progress = options.onProgress;
    byTarget.set(key, await fingerprintFleet(dialect, group, files, progress ? { onProgress: (done) => progress(offset + done, tenants.length) } : {}));
    before += group.length;
  }
  return { ...mergeFingerprints([...byTarget.values()]), byTarget };
}

/** Several databases' fingerprints as one fleet's: groups with the same (version, fingerprint) joined. */
export function mergeFingerprints(parts: readonly FleetFingerprints[]): FleetFingerprints {
  if (parts.length === 1) return parts[0]!;
  const groups = new Map<string, FingerprintGroup>();
  const catalogs = new Map<string, Catalog>();
  for (const part of parts) {
    for (const g of part.groups) {
      const key = `${g.version ?? ''}\u0000${g.fingerprint}`;
      const have = groups.get(key);
      if (have) groups.set(key, { ...have, schemas: [...have.schemas, ...g.schemas], gaps: [...have.gaps, ...g.gaps] });
      else groups.set(key, g);
    }
    for (const [fp, catalog] of part.catalogs) if (!catalogs.has(fp)) catalogs.set(fp, catalog);
  }
  return {
    groups: [...groups.values()],
    catalogs,
    tenants: parts.reduce((n, p) => n + p.tenants, 0),
    busy: parts.flatMap((p) => p.busy),
  };
}
