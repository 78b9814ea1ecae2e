import { attachTenantGrants, tenantGrantsOf } from '../dialect/contracts/access.js';
import type { Registry } from '../dialect/contracts/registry.js';
import type { Dialect } from '../dialect/dialect.js';
import { describeError } from '../errors.js';
import type { MigratorListener } from '../events.js';
import type { AppliedMigration } from '../types.js';

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
  async readAppliedMany(
    tenants: readonly Placed[],
    emit?: MigratorListener,
  ): Promise<{ applied: Map<string, AppliedMigration[]>; unreachable: Map<string, string> }> {
    const applied = new Map<string, AppliedMigration[]>();
    const unreachable = new Map<string, string>();
    await Promise.all(
      [...groupByTarget(tenants)].map(async ([key, group]) => {
        try {
          const dialect = await this.dialectOf(key === MASTER_TARGET ? null : key);
          const read = await dialect.meta.readAppliedMany(group.map((t) => t.schema));
          for (const [schema, rows] of read) applied.set(schema, rows);
        } catch (err) {
          if (key === MASTER_TARGET) throw err; // the master's database down fails the whole command
          unreachable.set(key, describeError(err));
          emit?.({ type: 'warning', message: `target ${key} could not be read (${describeError(err)}); its ${group.length} tenant(s) are planned as pending` });
        }
      }),
    );
    return { applied, unreachable };
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
