import type { DialectName, DialectSyntax } from './dialect-syntax.js';
import type { AppliedMigration, TenantRow } from '../types.js';
import type {
  LedgerRun,
  LedgerRunCounts,
  LedgerTenant,
  LedgerTenantOutcome,
  NewLedgerRun,
  NewLedgerTenant,
  RunStatus,
} from './ledger-types.js';

export type * from './ledger-types.js';

/**
 * The connection-bound half of a dialect. The migration algorithm (runner/, planner/) is written
 * once against this interface; a dialect supplies capabilities, its own SQL, locks, batched reads
 * and error classification. Dialect-specific SQL never leaves src/dialect/<name>/.
 */
export interface DialectCapabilities {
  /** DDL can be rolled back (PostgreSQL yes; SQL Server yes for most DDL). */
  readonly transactionalDdl: boolean;
  /** More than one session can run at once (false for PGlite). */
  readonly multipleConnections: boolean;
}

/** One connection. Not shared between concurrent tasks. */
export interface SqlSession {
  /**
   * Run one statement with positional parameters. Placeholders are written `$1, $2, …` in
   * every dialect; the mssql adapter rewrites them to named inputs.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * Run a rendered migration script. The dialect splits it into batches (`GO` on SQL Server) and
   * throws a {@link ScriptExecutionError} naming the failing batch and the script line.
   */
  runScript(sql: string): Promise<void>;
  /** Start a transaction on this session (SQL Server: with `SET XACT_ABORT ON`). */
  begin(): Promise<void>;
  commit(): Promise<void>;
  /** Roll back if a transaction is open; never throws for "no transaction". */
  rollback(): Promise<void>;
  /** True between begin() and commit()/rollback(). */
  readonly inTransaction: boolean;
}

/** Run `fn` in a transaction on `session`: commit on success, roll back and rethrow on failure. */
export async function inTransaction<T>(session: SqlSession, fn: () => Promise<T>): Promise<T> {
  await session.begin();
  try {
    const result = await fn();
    await session.commit();
    return result;
  } catch (err) {
    await session.rollback().catch(() => undefined);
    throw err;
  }
}

/** Thrown by `runScript`: where in the script the server failed. Lines are 1-based, script-relative. */
export class ScriptExecutionError extends Error {
  constructor(
    message: string,
    readonly batchIndex: number,
    readonly line: number | undefined,
    readonly column: number | undefined,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'ScriptExecutionError';
  }
}

export interface ErrorClassification {
  /** Worth retrying with backoff: deadlock, serialization failure, connection reset, throttling. */
  readonly transient: boolean;
  /** SQLSTATE (PostgreSQL) or error number (SQL Server). */
  readonly code?: string | number;
  readonly message: string;
}

/** Identifiers the adapter writes into its own SQL; validated by config before reaching here. */
export interface AdapterNames {
  readonly masterSchema: string;
  readonly metaTable: string;
  readonly registryTable: string;
  /** Prefix of the run ledger tables in the master schema, e.g. `__tm_` → `__tm_runs`. */
  readonly ledgerPrefix: string;
}

export interface RegistryQueryOptions {
  readonly includeArchived: boolean;
  /** Optional custom SELECT returning workspace_id, name, db_schema_name, status, last_seen_utc, created_utc. */
  readonly customQuery?: string;
}

export interface WorkspaceUpsert {
  readonly workspaceId: string;
  readonly name: string;
  readonly schema: string;
  readonly status: string;
}

export interface WorkspaceMemberInsert {
  readonly workspaceId: string;
  readonly userId: string;
  readonly role: 'OWNER' | 'ADMIN' | 'MEMBER';
  /** Member table in the master schema (validated identifier; pmassist: `WorkspaceMember`). */
  readonly table: string;
}

export interface DialectAdapter {
  readonly name: DialectName;
  readonly syntax: DialectSyntax;
  readonly capabilities: DialectCapabilities;
  readonly names: AdapterNames;
  /** Pool size (1 for PGlite). */
  readonly maxConnections: number;

  /** Borrow a session from the pool for the duration of `fn`. */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;

  // — schemas and meta tables —
  ensureSchema(session: SqlSession, schema: string): Promise<void>;
  schemaExists(session: SqlSession, schema: string): Promise<boolean>;
  ensureMetaTable(session: SqlSession, schema: string): Promise<void>;
  /** Applied rows of one schema; [] when the schema or the meta table does not exist yet. */
  readApplied(session: SqlSession, schema: string): Promise<AppliedMigration[]>;
  /**
   * Applied rows of many schemas in as few round trips as possible (one query per few hundred
   * schemas). Schemas without a meta table map to [].
   */
  readAppliedMany(schemas: readonly string[]): Promise<Map<string, AppliedMigration[]>>;
  insertApplied(session: SqlSession, schema: string, row: AppliedMigration): Promise<void>;
  deleteApplied(session: SqlSession, schema: string, id: string): Promise<void>;
  updateChecksums(session: SqlSession, schema: string, id: string, checksum: string, renderedChecksum: string): Promise<void>;

  // — locks (session-scoped; released by unlock or when the session ends) —
  /** Try to take the named lock within `timeoutMs`; false on timeout. */
  acquireLock(session: SqlSession, key: string, timeoutMs: number): Promise<boolean>;
  releaseLock(session: SqlSession, key: string): Promise<void>;

  // — tenant registry (master Workspace table) —
  /** Whether the registry table exists yet (false before the first master migration). */
  registryExists(session: SqlSession): Promise<boolean>;
  listTenants(session: SqlSession, options: RegistryQueryOptions): Promise<TenantRow[]>;
  getTenant(session: SqlSession, workspaceId: string): Promise<TenantRow | undefined>;
  /** Record a derived schema name for a workspace whose db_schema_name was NULL. */
  setSchemaName(session: SqlSession, workspaceId: string, schema: string): Promise<void>;
  upsertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<void>;
  setWorkspaceStatus(session: SqlSession, workspaceId: string, status: string): Promise<boolean>;
  touchWorkspace(session: SqlSession, workspaceId: string): Promise<boolean>;
  /**
   * Insert a registry row (last_seen_utc and created_utc = now) unless one exists for the id;
   * true when this call inserted it. Never overwrites: provisioning relies on that to learn
   * whether it created the row (and may therefore remove it again on failure).
   */
  insertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<boolean>;
  /**
   * Compare-and-set of the status (`from` → `to`), also setting last_seen_utc = now; false when
   * the row is missing or not in `from`. Provisioning → Active must not resurrect an archived row.
   */
  transitionWorkspaceStatus(session: SqlSession, workspaceId: string, from: string, to: string): Promise<boolean>;
  /** Delete the registry row only while it has `status`; true when deleted. */
  deleteWorkspace(session: SqlSession, workspaceId: string, status: string): Promise<boolean>;
  /** Add a member row unless (workspace_id, user_id) exists; role unchanged for an existing member. */
  addWorkspaceMember(session: SqlSession, member: WorkspaceMemberInsert): Promise<void>;
  /**
   * Drop a tenant schema and everything in it (PostgreSQL `DROP SCHEMA … CASCADE`; SQL Server has
   * no CASCADE, so the adapter drops the schema's objects first). Only called by provisioning to
   * undo a schema it created itself in the same call; a missing schema is not an error.
   */
  dropSchema(session: SqlSession, schema: string): Promise<void>;

  // — run ledger (master schema, tables `<ledgerPrefix>runs` and `<ledgerPrefix>run_tenants`) —
  // Each method borrows its own session (the ledger is written beside the tenant sessions, never
  // inside their transactions, so a tenant's rollback never loses its ledger record). Times are the
  // database's clock (UTC), so leases do not depend on the workers' clocks agreeing.
  /** Create both ledger tables and their indexes if missing. Idempotent; safe to race. */
  ensureLedger(): Promise<void>;
  /** Insert a run row with status `running` and heartbeat = now. */
  createRun(run: NewLedgerRun): Promise<void>;
  /**
   * The newest run with this `runKey` (target + shard + scope) that did not finish cleanly:
   * status `running`, `interrupted` or `failed`. undefined when there is none.
   */
  findResumableRun(runKey: string): Promise<LedgerRun | undefined>;
  /** Set a resumed run back to `running` (finished time cleared, heartbeat now). */
  reopenRun(runId: string): Promise<void>;
  /** A run by id, or the newest run when `runId` is undefined. */
  getRun(runId?: string): Promise<LedgerRun | undefined>;
  /**
   * Add (run, tenant) rows as `pending` in bulk (one statement per few thousand rows). Rows that
   * exist already are left as they are. Returns how many were new.
   */
  addRunTenants(runId: string, tenants: readonly NewLedgerTenant[]): Promise<number>;
  /**
   * Put `failed` and `skipped` rows of a run back to `pending` (a resumed run retries them);
   * returns how many.
   */
  requeueRunTenants(runId: string): Promise<number>;
  /**
   * Claim up to `n` tenants of a run for `workerId`: rows that are `pending`, or `running` with an
   * expired lease (a crashed worker's), with `wave <= maxWave`, in `seq` order. Sets status
   * `running`, claimed_by, lease_until = now + leaseMs, attempts + 1. Concurrent claimers never get
   * the same row and never wait for each other: PostgreSQL `FOR UPDATE SKIP LOCKED`, SQL Server
   * `WITH (UPDLOCK, READPAST, ROWLOCK)`.
   */
  claimTenants(runId: string, workerId: string, n: number, leaseMs: number, maxWave: number): Promise<LedgerTenant[]>;
  /** Extend the leases of every `running` row `workerId` holds in the run, and the run's heartbeat. */
  renewLease(runId: string, workerId: string, leaseMs: number): Promise<void>;
  /**
   * Record outcomes (bulk). Only rows still claimed by `workerId` are updated, so a worker whose
   * lease was taken over cannot overwrite the new owner's record.
   */
  completeTenants(runId: string, workerId: string, outcomes: readonly LedgerTenantOutcome[]): Promise<void>;
  /** Give claimed-but-unstarted rows back (`pending`, lease cleared), e.g. on SIGINT. */
  releaseTenants(runId: string, workerId: string, schemas: readonly string[]): Promise<void>;
  /** Row counts per status, optionally only waves `<= maxWave`. */
  countRunTenants(runId: string, maxWave?: number): Promise<LedgerRunCounts>;
  /** Set the final status, finished time and counts. */
  finishRun(runId: string, status: RunStatus, counts: LedgerRunCounts): Promise<void>;
  /** Rows of a run (optionally one status), in `seq` order, at most `limit`. */
  listRunTenants(runId: string, options?: { status?: LedgerTenant['status']; limit?: number }): Promise<LedgerTenant[]>;

  /** Map a driver error to transient/permanent and its server code. */
  classifyError(err: unknown): ErrorClassification;
}
