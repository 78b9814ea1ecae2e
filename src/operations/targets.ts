import { attachTenantGrants, tenantGrantsOf } from '../dialect/contracts/access.js';
import type { Registry } from '../dialect/contracts/registry.js';
import { AppliedReads, unknownOf } from '../dialect/contracts/meta-store.js';
import type { Dialect } from '../dialect/dialect.js';
import { describeError } from '../errors.js';
import type { MigratorListener } from '../events.js';
import { type AppliedRef, type SchemaSummary, SummaryDecoder, sameSummary, summaryOf } from '../planner/applied-summary.js';
import type { AppliedMigration, MigrationFile } from '../types.js';

/** The master's own database in reports and groupings (a registry row without `db_target`). */
export const MASTER_TARGET = '(master)';

/** Anything that says where its schema lives (a tenant, an invalid row). */
export interface Placed {
  readonly schema: string;
  readonly target?: string | null | undefined;
}

/** Report key of a tenant's target: its name, or {@link MASTER_TARGET}. */
export function targetKey(t: { readonly target?: string | null | undefined }): string {
  return t.target ?? MASTER_TARGET;
}

/** Tenants grouped by target (report key), in first-seen order. */
export function groupByTarget<T extends { readonly target?: string | null | undefined }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = targetKey(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/**
 * A target database's dialect as tenant work sees it: sessions, locks, meta tables and provisioning
 * on the target; the registry and the ledger on the master (a derived schema name recorded by
 * `runTenant` goes to the master's registry on a master session of its own — idempotent, so it need
 * not share the tenant's transaction).
 */
export function onTarget(target: Dialect, master: Dialect): Dialect {
  const registry: Registry = {
    registryExists: () => master.withSession((s) => master.registry.registryExists(s)),
    listTenants: (_s, options) => master.withSession((s) => master.registry.listTenants(s, options)),
    getTenant: (_s, workspaceId) => master.withSession((s) => master.registry.getTenant(s, workspaceId)),
    setSchemaName: (_s, workspaceId, schema) => master.withSession((s) => master.registry.setSchemaName(s, workspaceId, schema)),
  };
  const composed: Dialect = {
    name: target.name,
    syntax: target.syntax,
    capabilities: target.capabilities,
    names: target.names,
    get maxConnections() {
      return target.maxConnections;
    },
    driver: target.driver,
    locks: target.locks,
    meta: target.meta,
    registry,
    workspaces: target.workspaces,
    ledger: master.ledger,
    // The fast path folds a migration into one send on the target (its prelude holds only schema,
    // meta table and grants; the registry name is recorded after the commit, on the master).
    ...(target.folded ? { folded: target.folded } : {}),
    withSession: (fn) => target.withSession(fn),
    close: () => target.close(),
  };
  const grants = tenantGrantsOf(target);
  if (grants) attachTenantGrants(composed, grants);
  return composed;
}

/**
 * The databases of a fleet (docs/fleet.md, "Fleets beyond one database"): the master's dialect
 * (registry, ledger, master lock, tenants without a target) and one lazily opened dialect per named
 * target of config `targets` (its own pool; tenant locks, meta tables and migrations of the
 * tenants placed there). A target that fails to open is not cached: the next call tries again.
 */
export class TargetSet {
  readonly #master: () => Promise<Dialect>;
  readonly #open: (name: string) => Promise<Dialect>;
  readonly #names: readonly string[];
  readonly #dialects = new Map<string, Promise<Dialect>>();

  constructor(names: readonly string[], master: () => Promise<Dialect>, open: (name: string) => Promise<Dialect>) {
    this.#names = names;
    this.#master = master;
    this.#open = open;
  }

  /** Configured target names (the master's database is implicit). */
  get names(): readonly string[] {
    return this.#names;
  }

  /** The dialect of a tenant's target (none/null: the master's). Names were validated at discovery. */
  dialectOf(target: string | null | undefined): Promise<Dialect> {
    if (!target) return this.#master();
    let dialect = this.#dialects.get(target);
    if (!dialect) {
      dialect = Promise.all([this.#open(target), this.#master()]).then(([opened, master]) => onTarget(opened, master));
      this.#dialects.set(target, dialect);
      dialect.catch(() => this.#dialects.delete(target));
    }
    return dialect;
  }

  /**
   * Batched meta reads per target (one `readAppliedMany` per database). A target that cannot be read
   * does not fail the others: its tenants are reported in `unreachable` (with the error) and get no
   * applied rows, so they are planned as pending and fail (or succeed) one by one in the fan-out.
   */
  readAppliedMany(
    tenants: readonly Placed[],
    emit?: MigratorListener,
  ): Promise<{ applied: Map<string, AppliedMigration[]>; unreachable: Map<string, string>; unknown: Set<string> }> {
    return this.#perTarget(tenants, emit, (dialect, schemas) => dialect.meta.readAppliedMany(schemas));
  }

  /**
   * The planning read (`status`, `plan`, `up`): per database, the applied-version summary decodes to
   * each schema's applied list without opening its meta table; a schema with no usable row (none
   * yet, or a state that is not "the first k files", see SummaryDecoder) is read from its meta table,
   * and a missing row is backfilled from what was read. `ensure`: create the summary table first
   * (`up`, which may create tables). Unreachable targets as in {@link readAppliedMany}.
   */
  async readPlanned(
    tenants: readonly Placed[],
    files: readonly MigrationFile[],
    options: { readonly emit?: MigratorListener | undefined; readonly ensure?: boolean } = {},
  ): Promise<{ applied: Map<string, AppliedRef[]>; unreachable: Map<string, string>; unknown: Set<string>; fromMeta: number }> {
    const decoder = new SummaryDecoder(files);
    let fromMeta = 0;
    let warned = false;
    const result = await this.#perTarget(tenants, options.emit, async (dialect, schemas) => {
      if (options.ensure) await dialect.withSession((s) => dialect.meta.ensureSummary(s));
      const summaries = await dialect.meta.readSummaries(schemas);
      const applied = new Map<string, AppliedRef[]>();
      const rest: string[] = [];
      for (const schema of schemas) {
        const row = summaries?.get(schema);
        const decoded = row && decoder.decode(row);
        if (decoded) applied.set(schema, decoded);
        else rest.push(schema);
      }
      if (rest.length === 0) return applied;
      fromMeta += rest.length;
      const read = await dialect.meta.readAppliedMany(rest);
      for (const [schema, rows] of read) applied.set(schema, rows);
      if (summaries) {
        const backfill = rest.filter((s) => !summaries.has(s) && (read.get(s)?.length ?? 0) > 0).map((s) => summaryOf(s, read.get(s)!));
        await dialect.meta.backfillSummaries(backfill).catch((err: unknown) => {
          // A login that may read but not write (a read-only `status`): planning is still right.
          if (!warned) options.emit?.({ type: 'warning', message: `applied-version summary not backfilled (${describeError(err)}); planning reads those meta tables until an \`up\` does` });
          warned = true;
        });
      }
      // Schemas the read could not read (a first migration in flight) stay known as such.
      if (unknownOf(read).size === 0) return applied;
      const withUnknown = new AppliedReads<AppliedRef>(applied);
      for (const schema of unknownOf(read)) withUnknown.unknown.add(schema);
      return withUnknown;
    });
    return { ...result, fromMeta };
  }

  /**
   * `status --verify`: every schema's meta table read (the truth) and compared with its summary row.
   * `missing`: meta rows but no summary row (planning falls back and backfills); `stale`: a row that
   * differs from the meta table (written by hand, or by an older version's `down`); `repair --yes`
   * rebuilds both kinds.
   */
  async verifySummaries(
    tenants: readonly Placed[],
    emit?: MigratorListener,
  ): Promise<{ applied: Map<string, AppliedMigration[]>; unreachable: Map<string, string>; unknown: Set<string>; missing: string[]; stale: string[] }> {
    const missing: string[] = [];
    const stale: string[] = [];
    const result = await this.#perTarget(tenants, emit, async (dialect, schemas) => {
      const [read, summaries] = await Promise.all([dialect.meta.readAppliedMany(schemas), dialect.meta.readSummaries(schemas)]);
      for (const [schema, rows] of read) {
        const row: SchemaSummary | undefined = summaries?.get(schema);
        if (!row) {
          if (rows.length > 0) missing.push(schema);
        } else if (!sameSummary(row, summaryOf(schema, rows))) stale.push(schema);
      }
      return read;
    });
    return { ...result, missing, stale };
  }

  /** `fn` once per database over its tenants' schemas; an unreachable target's tenants get no rows. */
  async #perTarget<T>(
    tenants: readonly Placed[],
    emit: MigratorListener | undefined,
    fn: (dialect: Dialect, schemas: string[]) => Promise<Map<string, T[]>>,
  ): Promise<{ applied: Map<string, T[]>; unreachable: Map<string, string>; unknown: Set<string> }> {
    const applied = new Map<string, T[]>();
    const unreachable = new Map<string, string>();
    const unknown = new Set<string>();
    await Promise.all(
      [...groupByTarget(tenants)].map(async ([key, group]) => {
        try {
          const dialect = await this.dialectOf(key === MASTER_TARGET ? null : key);
          const read = await fn(dialect, group.map((t) => t.schema));
          for (const [schema, rows] of read) applied.set(schema, rows);
          for (const schema of unknownOf(read)) unknown.add(schema);
        } catch (err) {
          if (key === MASTER_TARGET) throw err; // the master's database down fails the whole command
          unreachable.set(key, describeError(err));
          emit?.({ type: 'warning', message: `target ${key} could not be read (${describeError(err)}); its ${group.length} tenant(s) are planned as pending` });
        }
      }),
    );
    return { applied, unreachable, unknown };
  }

  /** Close every opened target pool (the master's is the context's). */
  async close(): Promise<void> {
    const opened = [...this.#dialects.values()];
    this.#dialects.clear();
    await Promise.all(opened.map((d) => d.then((x) => x.close()).catch(() => undefined)));
  }
}

/**
 * The placement rule of a new workspace (docs/fleet.md, "Placement"): among the configured targets
 * not in `fullTargets`, the one with the fewest workspaces counted by `countPlaced` (Active and
 * Provisioning); ties go to the name that sorts first (code-unit order), so the choice is the same
 * on every machine. The master's own database is not a candidate once targets are configured (name
 * it explicitly). Best effort under concurrency: two provisionings that count at the same moment
 * may pick the same target.
 * @returns the target name, or undefined when every target is full.
 */
export function placeByRule(names: readonly string[], full: readonly string[], counts: ReadonlyMap<string | null, number>): string | undefined {
  const open = names.filter((n) => !full.includes(n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let best: string | undefined;
  for (const name of open) if (best === undefined || (counts.get(name) ?? 0) < (counts.get(best) ?? 0)) best = name;
  return best;
}
