import type { DialectCapabilities, Driver } from '../contracts/driver.js';
import type { FoldedApply } from '../contracts/folded-apply.js';
import type { LedgerStore } from '../contracts/ledger-store.js';
import type { Locks } from '../contracts/locks.js';
import type { MetaStore } from '../contracts/meta-store.js';
import type { Registry } from '../contracts/registry.js';
import type { WorkspaceStore } from '../contracts/workspace-store.js';
import { type AdapterNames, type Dialect, DriverDelegation } from '../dialect.js';
import type { DialectName, DialectSyntax } from '../dialect-syntax.js';
import { PostgresDriver } from './postgres-driver.js';
import { PostgresFoldedApply } from './postgres-folded-apply.js';
import { PostgresLedgerStore } from './postgres-ledger-store.js';
import { PostgresLocks } from './postgres-locks.js';
import { PostgresMetaStore } from './postgres-meta-store.js';
import { PostgresRegistry } from './postgres-registry.js';
import { postgresSql } from './postgres-sql.js';
import { postgresSyntax } from './postgres-syntax.js';
import { PostgresWorkspaceStore } from './postgres-workspace-store.js';

export { META_READ_BATCH, META_READ_PARALLEL } from './postgres-meta-store.js';
export { pgPosition } from './postgres-driver.js';

export interface PostgresAdapterOptions {
  readonly url: string;
  readonly names: AdapterNames;
  readonly maxConnections: number;
}

/**
 * PostgreSQL over `pg`: the PostgreSQL contracts composed over one driver. Every contract is written
 * in terms of a {@link SqlSession}, so the PGlite dialect passes its own driver and keeps the rest.
 */
export class PostgresAdapter extends DriverDelegation implements Dialect {
  readonly name: DialectName = 'postgres';
  readonly syntax: DialectSyntax = postgresSyntax;
  readonly capabilities: DialectCapabilities = { transactionalDdl: true, multipleConnections: true };
  readonly names: AdapterNames;
  readonly driver: Driver;
  readonly locks: Locks;
  readonly meta: MetaStore;
  readonly registry: Registry;
  readonly workspaces: WorkspaceStore;
  readonly ledger: LedgerStore;
  readonly folded: FoldedApply;

  constructor(options: PostgresAdapterOptions, driver: Driver = new PostgresDriver(options)) {
    super();
    const sql = postgresSql(options.names);
    this.names = options.names;
    this.driver = driver;
    this.locks = new PostgresLocks(sql);
    this.meta = new PostgresMetaStore(driver, sql, options.names);
    this.registry = new PostgresRegistry(sql, options.names);
    this.workspaces = new PostgresWorkspaceStore(sql);
    this.folded = new PostgresFoldedApply(options.names, sql);
    this.ledger = new PostgresLedgerStore({ driver, locks: this.locks, meta: this.meta, sql, names: options.names });
  }
}
