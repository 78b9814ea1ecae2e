import type { DialectCapabilities } from '../contracts/driver.js';
import { type AdapterNames, type Dialect, DriverDelegation } from '../dialect.js';
import type { DialectName, DialectSyntax } from '../dialect-syntax.js';
import type { FoldedApply } from '../contracts/folded-apply.js';
import { MssqlDriver } from './mssql-driver.js';
import { MssqlFoldedApply } from './mssql-folded-apply.js';
import { mssqlWorkspaceSql } from './mssql-ledger-sql.js';
import { MssqlLedgerStore } from './mssql-ledger-store.js';
import { MssqlLocks } from './mssql-locks.js';
import { MssqlMetaStore } from './mssql-meta-store.js';
import { MssqlRegistry } from './mssql-registry.js';
import { mssqlSql } from './mssql-sql.js';
import { mssqlSyntax } from './mssql-syntax.js';
import { MssqlWorkspaceStore } from './mssql-workspace-store.js';


export interface MssqlAdapterOptions {
  /** `mssql://…`, `sqlserver://…` or an ADO-style `Server=…;Database=…` string. */
  readonly url: string;
  readonly names: AdapterNames;
  /** Pool size: the tenant concurrency. */
  readonly maxConnections: number;
  /**
   * Per-request timeout. Default: the URL's `requestTimeout`, else none (0) — a migration that
   * builds an index on a big table may legitimately run for minutes.
   */
  readonly requestTimeoutMs?: number;
}

/**
 * SQL Server over the `mssql` package (tedious): the SQL Server contracts composed over one
 * {@link MssqlDriver} (see there for why a session pins one connection). Parses the URL at once,
 * connects lazily.
 */
export class MssqlAdapter extends DriverDelegation implements Dialect {
  readonly name: DialectName = 'mssql';
  readonly syntax: DialectSyntax = mssqlSyntax;
  readonly capabilities: DialectCapabilities = { transactionalDdl: true, multipleConnections: true };
  readonly names: AdapterNames;
  readonly driver: MssqlDriver;
  readonly locks: MssqlLocks;
  readonly meta: MssqlMetaStore;
  readonly registry: MssqlRegistry;
  readonly workspaces: MssqlWorkspaceStore;
  readonly ledger: MssqlLedgerStore;
  readonly folded: FoldedApply;

  constructor(options: MssqlAdapterOptions) {
    super();
    const statements = mssqlSql(options.names);
    const workspaceStatements = mssqlWorkspaceSql(options.names.masterSchema, options.names.registryTable);
    this.names = options.names;
    this.driver = new MssqlDriver(options, statements);
    this.locks = new MssqlLocks(this.driver, statements);
    this.meta = new MssqlMetaStore(this.driver, statements, workspaceStatements, options.names);
    this.registry = new MssqlRegistry(statements, options.names);
    this.workspaces = new MssqlWorkspaceStore(statements, workspaceStatements);
    this.ledger = new MssqlLedgerStore({ driver: this.driver, locks: this.locks, meta: this.meta, names: options.names });
    this.folded = new MssqlFoldedApply(options.names, statements);
  }
}
