import type { DialectName, DialectSyntax } from './dialect-syntax.js';
import type { DialectCapabilities, Driver, SqlSession } from './contracts/driver.js';
import type { FoldedApply } from './contracts/folded-apply.js';
import type { LedgerStore } from './contracts/ledger-store.js';
import type { Locks } from './contracts/locks.js';
import type { MetaStore } from './contracts/meta-store.js';
import type { Registry } from './contracts/registry.js';
import type { WorkspaceStore } from './contracts/workspace-store.js';

/** Identifiers the dialect writes into its own SQL; validated by config before reaching here. */
export interface AdapterNames {
  readonly masterSchema: string;
  readonly metaTable: string;
  readonly registryTable: string;
  /** Prefix of the run ledger tables in the master schema, e.g. `__tm_` → `__tm_runs`. */
  readonly ledgerPrefix: string;
}

/**
 * One open database, composed of small contracts (Atlas-style): the migration algorithm
 * (runner/, planner/, operations/) is written once against these; each dialect folder implements
 * every contract in its own file (`*-driver.ts`, `*-locks.ts`, `*-meta-store.ts`, `*-registry.ts`,
 * `*-workspace-store.ts`, `*-ledger-store.ts`) and composes them in `*-adapter.ts`.
 * Dialect-specific SQL never leaves src/dialect/<name>/.
 *
 * @example
 * const dialect = await migrator.adapter();
 * const applied = await dialect.withSession((s) => dialect.meta.readApplied(s, 'ws_…'));
 */
export interface Dialect {
  readonly name: DialectName;
  readonly syntax: DialectSyntax;
  readonly capabilities: DialectCapabilities;
  readonly names: AdapterNames;
  /** Pool size (1 for PGlite). */
  readonly maxConnections: number;

  readonly driver: Driver;
  readonly locks: Locks;
  readonly meta: MetaStore;
  readonly registry: Registry;
  readonly workspaces: WorkspaceStore;
  readonly ledger: LedgerStore;
  /**
   * Capability: apply one transactional migration of a planned tenant in one round trip (lock and
   * check inside its transaction). Absent: every tenant takes the careful path (session lock,
   * re-read, begin/statements/meta row/commit). PostgreSQL, PGlite and SQL Server all have it.
   */
  readonly folded?: FoldedApply;

  /** Borrow a session from the pool for the duration of `fn` (the driver's). */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** What every composed dialect does the same way: pool size, sessions and close come from its driver. */
export abstract class DriverDelegation {
  abstract readonly driver: Driver;

  get maxConnections(): number {
    return this.driver.maxConnections;
  }

  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return this.driver.withSession(fn);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
