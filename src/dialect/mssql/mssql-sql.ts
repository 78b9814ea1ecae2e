import type { AdapterNames } from '../dialect.js';
import { quoteMssqlIdent, quoteMssqlString as lit } from './mssql-syntax.js';

/**
 * Every T-SQL text the SQL Server adapter runs. Identifiers arrive validated (config schema or the
 * tenant schema-name pattern), are checked once more here and quoted with `[]`; values travel as
 * `$n` parameters, which the session rewrites to `@pn` inputs.
 */

/** Resource prefix of sp_getapplock locks: `tenant-migrate:<schema>` / `tenant-migrate:<key>`. */
export const LOCK_RESOURCE_PREFIX = 'tenant-migrate:';

/** Schemas per UNION ALL query when reading many meta tables: one round trip per this many tenants. */
export const META_READ_BATCH = 250;

/**
 * The applock resource for the lock name `value` (an SQL expression) in this database; the session lock and the folded send use it. SQL Server scopes application locks to the
 * database; Babelfish implements them as PostgreSQL advisory locks, which are cluster-wide, so two
 * databases on one Babelfish/Aurora cluster would make each other wait for `tenant-migrate:__master__`
 * (measured: a lock held in one database times out a request for it in another). There the
 * resource is qualified with the database name; on SQL Server it is unchanged, so processes of an
 * earlier version still exclude this one.
 */
export function applockResource(value: string): string {
  return `CASE WHEN SERVERPROPERTY('Babelfish') IS NULL THEN ${value} ELSE LEFT(${value} + N'@' + DB_NAME(), 255) END`;
}
const APPLOCK_RESOURCE = `@resource NVARCHAR(255) = ${applockResource('$1')}`;

/** sp_getapplock @Resource is NVARCHAR(255). */
const MAX_LOCK_RESOURCE = 255;

/**
 * Quote an identifier after a last check. Callers validate names against the configured patterns;
 * this refuses what no pattern should let through (empty, too long, control characters) so that a
 * bug upstream fails loudly instead of reaching the server.
 */
export function mssqlIdent(name: string): string {
  if (name.length === 0 || name.length > 128 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new Error(`refusing to quote SQL Server identifier ${JSON.stringify(name)}: empty, longer than 128 or with control characters`);
  }
  return quoteMssqlIdent(name);
}

/** The sp_getapplock resource for a lock key (a schema name or e.g. `master`). */
export function lockResource(key: string): string {
  const resource = `${LOCK_RESOURCE_PREFIX}${key}`;
  if (resource.length > MAX_LOCK_RESOURCE) throw new Error(`lock key too long for sp_getapplock (${resource.length} > ${MAX_LOCK_RESOURCE})`);
  return resource;
}

/**
 * Catalog reads that must not wait (never sent inside a transaction: Babelfish refuses SET
 * TRANSACTION ISOLATION LEVEL there) behind a running migration's uncommitted DDL (a tenant's first
 * migration creates its schema and meta table in its transaction). On SQL Server, catalog views
 * read at READ COMMITTED block behind uncommitted DDL (metadata is not versioned, so RCSI does not
 * help), while a catalog view read at READ UNCOMMITTED does not — and metadata *functions*
 * (OBJECT_ID, SCHEMA_ID, …) ask for a schema-stability lock and block even at READ UNCOMMITTED
 * (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/transaction-isolation-levels, the
 * "metadata access" table; Aaron Bertrand, "Bad habits: using (certain) metadata helper functions").
 * So these reads use the catalog views only, at READ UNCOMMITTED (+ NOLOCK, which SQL Server may
 * ignore on catalog views), and set READ COMMITTED back: the query runs in sp_executesql, whose
 * scope already restores the level, but a pooled connection must never keep a dirty level.
 * They may see an object whose CREATE is not committed yet; callers treat that as "maybe". On
 * Babelfish the catalogs are PostgreSQL's (MVCC) and nothing here blocks either way.
 */
function dirtyCatalogRead(select: string): string {
  return `SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;\n${select}\nSET TRANSACTION ISOLATION LEVEL READ COMMITTED;`;
}

/**
 * Prefix of the planning reads of meta rows: no lock waits at all. READPAST skips rows an
 * in-flight migration inserted; a meta table whose CREATE is still uncommitted holds a schema
 * lock that READPAST cannot skip, so the read fails at once with 1222 (Babelfish: its unmapped lock timeout; isMssqlLockTimeout) instead of waiting, and the
 * caller narrows the batch down to that schema (see MssqlMetaStore#readAppliedMany).
 */
export const NO_LOCK_WAIT = 'SET LOCK_TIMEOUT 0;';

/**
 * Whether column $3 of table $2 in schema $1 exists. SQL Server: catalog views with NOLOCK (never
 * waits behind uncommitted DDL, see dirtyCatalogRead). Babelfish: INFORMATION_SCHEMA.COLUMNS — its
 * sys.columns view is built over every database of the cluster (one PostgreSQL database holds them
 * all) and took 0.6–1.8 s against 16–26 ms with 1,000 tenant schemas present (measured, Babelfish
 * 4.2); its catalogs are MVCC, so nothing there waits either.
 */
const COLUMN_PROBE = `IF SERVERPROPERTY('Babelfish') IS NOT NULL
  SELECT 1 AS found FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = $1 AND TABLE_NAME = $2 AND COLUMN_NAME = $3;
ELSE
  SELECT 1 AS found FROM sys.columns AS c WITH (NOLOCK) JOIN sys.tables AS t WITH (NOLOCK) ON t.object_id = c.object_id
  JOIN sys.schemas AS s WITH (NOLOCK) ON s.schema_id = t.schema_id WHERE s.name = $1 AND t.name = $2 AND c.name = $3;`;

export function mssqlSql(names: AdapterNames) {
  const q = mssqlIdent;
  const master = q(names.masterSchema);
  const registry = `${master}.${q(names.registryTable)}`;
  const meta = (schema: string) => `${q(schema)}.${q(names.metaTable)}`;
  const summary = `${master}.${q(`${names.ledgerPrefix}schema_versions`)}`;
  const summaryId = `OBJECT_ID(${lit(summary)}, N'U')`;
  /** object_id of the meta table of the schema named by the T-SQL expression `schemaExpr` (NULL when it has none). */
  const metaObjectId = (schemaExpr: string) => `OBJECT_ID(QUOTENAME(${schemaExpr}) + N'.' + QUOTENAME(${lit(names.metaTable)}), N'U')`;
  const metaColumns = 'id, checksum, rendered_checksum, applied_utc, duration_ms, run_id';
  // UNIQUEIDENTIFIER comes back upper-case from tedious; the contract is the lower-case text form.
  const registryColumns =
    'LOWER(CONVERT(NVARCHAR(36), workspace_id)) AS workspace_id, name, db_schema_name, status, last_seen_utc, created_utc';
  // A workspace id that is not a GUID matches nothing instead of failing the conversion (error 8169).
  const byWorkspaceId = 'workspace_id = TRY_CONVERT(UNIQUEIDENTIFIER, $1)';

  return {
    /**
     * CREATE SCHEMA must be alone in its batch, hence EXEC; the IF makes it idempotent.
     * https://learn.microsoft.com/en-us/sql/t-sql/statements/create-schema-transact-sql
     */
    createSchema: (schema: string) => `IF SCHEMA_ID(${lit(schema)}) IS NULL EXEC(${lit(`CREATE SCHEMA ${q(schema)}`)});`,
    /**
     * Dirty catalog read (never waits): true also while another session's CREATE SCHEMA is
     * uncommitted. NOLOCK only, no SET TRANSACTION ISOLATION LEVEL: this one also runs inside the
     * first migration's transaction, where Babelfish refuses to change the isolation level
     * ("SET TRANSACTION ISOLATION failed, transaction aborted").
     */
    schemaExists: 'SELECT 1 AS found FROM sys.schemas WITH (NOLOCK) WHERE name = $1;',

    createMetaTable: (schema: string) => `IF OBJECT_ID(${lit(meta(schema))}, N'U') IS NULL
CREATE TABLE ${meta(schema)} (
  id NVARCHAR(255) NOT NULL PRIMARY KEY,
  checksum CHAR(64) NOT NULL,
  rendered_checksum CHAR(64) NOT NULL,
  applied_utc DATETIME2 NOT NULL DEFAULT SYSUTCDATETIME(),
  duration_ms INT NOT NULL,
  run_id NVARCHAR(64) NULL
);`,
    /** Whether one schema has the meta table. */
    metaTableExists: (schema: string) => `SELECT CASE WHEN OBJECT_ID(${lit(meta(schema))}, N'U') IS NULL THEN 0 ELSE 1 END AS found;`,
    /**
     * Every schema of the database that has a meta table, in one query whatever the tenant count
     * (10,000 short names is a small result). The caller intersects with its tenants; no list of
     * names has to travel to the server, and no OPENJSON/STRING_SPLIT (compat level 130+) is needed.
     */
    schemasWithMeta: dirtyCatalogRead(
      'SELECT s.name AS schema_name FROM sys.tables AS t WITH (NOLOCK) JOIN sys.schemas AS s WITH (NOLOCK) ON s.schema_id = t.schema_id WHERE t.name = $1;',
    ),
    selectApplied: (schema: string) => `SELECT ${metaColumns} FROM ${meta(schema)} ORDER BY id;`,
    /**
     * UNION ALL over many schemas, only ones known to have a meta table. READPAST skips rows
     * an in-flight migration has inserted but not committed, so planning never waits behind a
     * tenant being migrated (those rows are not applied yet; the runner re-reads under the
     * tenant lock before acting).
     * https://learn.microsoft.com/en-us/sql/t-sql/queries/hints-transact-sql-table#readpast
     */
    selectAppliedMany: (schemas: readonly string[]) =>
      `${NO_LOCK_WAIT}\n${schemas
        .map((s) => `SELECT ${lit(s)} AS schema_name, ${metaColumns} FROM ${meta(s)} WITH (READPAST)`)
        .join('\nUNION ALL\n')};\nSET LOCK_TIMEOUT -1;`,
    insertApplied: (schema: string) => `INSERT INTO ${meta(schema)} (${metaColumns}) VALUES ($1, $2, $3, $4, $5, $6);`,
    deleteApplied: (schema: string) => `DELETE FROM ${meta(schema)} WHERE id = $1;`,
    updateChecksums: (schema: string) => `UPDATE ${meta(schema)} SET checksum = $2, rendered_checksum = $3 WHERE id = $1;`,

    /**
     * The applied-version summary (docs/fleet.md): one row per tenant schema, in a schema named like
     * the master schema in every database. Its digest is computed by the engine from the meta rows it
     * reads in the same transaction (no STRING_AGG/HASHBYTES: one text for SQL Server and Babelfish).
     */
    ensureSummary: [
      `IF SCHEMA_ID(${lit(names.masterSchema)}) IS NULL EXEC(${lit(`CREATE SCHEMA ${master}`)});`,
      `IF ${summaryId} IS NULL
CREATE TABLE ${summary} (
  schema_name NVARCHAR(128) NOT NULL PRIMARY KEY,
  applied_count INT NOT NULL,
  last_id NVARCHAR(255) NULL,
  applied_digest CHAR(64) NOT NULL,
  updated_utc DATETIME2 NOT NULL DEFAULT SYSUTCDATETIME(),
  meta_object_id INT NULL,
  meta_created DATETIME NULL
);`,
      // A summary table made by an older version: rows without the identity are never trusted.
      `IF COL_LENGTH(${lit(summary)}, 'meta_object_id') IS NULL ALTER TABLE ${summary} ADD meta_object_id INT NULL, meta_created DATETIME NULL;`,
    ],
    /** The table exists and carries the meta tables' identity (an older one is read as "no summary"). */
    summaryExists: `SELECT CASE WHEN ${summaryId} IS NULL OR COL_LENGTH(${lit(summary)}, 'meta_object_id') IS NULL THEN 0 ELSE 1 END AS found;`,
    /**
     * Every row whose meta table is still the one it describes (object_id and create_date: a meta
     * table dropped and recreated — a schema restored from a backup, a table rebuilt by hand — is
     * another object, and its row is ignored); no list of names travels to the server. READPAST
     * skips the row of a tenant being migrated right now, which is then read from its meta table
     * like a tenant without a row; the catalog is read without waiting (NOLOCK).
     */
    selectSummaries: `SELECT v.schema_name, v.applied_count, v.last_id, v.applied_digest FROM ${summary} AS v WITH (READPAST)
JOIN sys.schemas AS s WITH (NOLOCK) ON s.name = v.schema_name
JOIN sys.tables AS t WITH (NOLOCK) ON t.schema_id = s.schema_id AND t.name = ${lit(names.metaTable)}
WHERE t.object_id = v.meta_object_id AND t.create_date = v.meta_created;`,
    /**
     * One schema's row, written under the tenant lock (UPDLOCK + HOLDLOCK: a concurrent backfill
     * waits). A row that already names this meta table's object id keeps its creation date, so the
     * catalog view is read only for a new row or another meta table (on Babelfish that read was the
     * largest part of a migration's send). Were an object id reused by a recreated table, the kept
     * date is the old one: the row is then not trusted (planning reads the meta table) until a
     * backfill rewrites it — never trusted wrongly.
     */
    upsertSummary: `IF ${summaryId} IS NOT NULL
BEGIN
  DECLARE @tm_meta INT = ${metaObjectId('$1')};
  UPDATE ${summary} WITH (UPDLOCK, HOLDLOCK) SET applied_count = $2, last_id = $3, applied_digest = $4, updated_utc = SYSUTCDATETIME()
    WHERE schema_name = $1 AND meta_object_id = @tm_meta;
  IF @@ROWCOUNT = 0
  BEGIN
    DECLARE @tm_created DATETIME = (SELECT create_date FROM sys.tables WHERE object_id = @tm_meta);
    UPDATE ${summary} WITH (UPDLOCK, HOLDLOCK) SET applied_count = $2, last_id = $3, applied_digest = $4, updated_utc = SYSUTCDATETIME(),
      meta_object_id = @tm_meta, meta_created = @tm_created WHERE schema_name = $1;
    IF @@ROWCOUNT = 0 INSERT INTO ${summary} (schema_name, applied_count, last_id, applied_digest, meta_object_id, meta_created) VALUES ($1, $2, $3, $4, @tm_meta, @tm_created);
  END
END;`,
    /** Backfill of one row: when there is none, or when it describes another meta table (a row of the same one, written meanwhile, wins). */
    insertSummaryIfMissing: `DECLARE @tm_meta INT = ${metaObjectId('$1')};
DECLARE @tm_created DATETIME = (SELECT create_date FROM sys.tables WHERE object_id = @tm_meta);
IF NOT EXISTS (SELECT 1 FROM ${summary} WITH (UPDLOCK, HOLDLOCK) WHERE schema_name = $1 AND meta_object_id = @tm_meta AND meta_created = @tm_created)
BEGIN
  UPDATE ${summary} SET applied_count = $2, last_id = $3, applied_digest = $4, updated_utc = SYSUTCDATETIME(),
    meta_object_id = @tm_meta, meta_created = @tm_created WHERE schema_name = $1;
  IF @@ROWCOUNT = 0 INSERT INTO ${summary} (schema_name, applied_count, last_id, applied_digest, meta_object_id, meta_created) VALUES ($1, $2, $3, $4, @tm_meta, @tm_created);
END;`,
    deleteSummary: `IF ${summaryId} IS NOT NULL DELETE FROM ${summary} WHERE schema_name = $1;`,
    /** The meta rows the summary is computed from, inside the writer's transaction. */
    selectAppliedRefs: (schema: string) => `SELECT id, checksum FROM ${meta(schema)};`,

    /**
     * Session-owned application lock: held across the several transactions of a tenant and
     * released by sp_releaseapplock or when the connection closes. Return codes: 0 granted at once,
     * 1 granted after waiting, -1 timeout, -2 cancelled, -3 deadlock victim, -999 parameter/other error.
     * https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql
     */
    getAppLock: `DECLARE @result INT, ${APPLOCK_RESOURCE};
EXEC @result = sp_getapplock @Resource = @resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = $2, @DbPrincipal = N'public';
SELECT @result AS result;`,
    /** Releasing a lock this session does not hold raises error 1223; APPLOCK_MODE makes release idempotent. */
    releaseAppLock: `DECLARE @result INT = 0, ${APPLOCK_RESOURCE};
IF APPLOCK_MODE(N'public', @resource, N'Session') <> N'NoLock'
  EXEC @result = sp_releaseapplock @Resource = @resource, @LockOwner = N'Session', @DbPrincipal = N'public';
SELECT @result AS result, @@TRANCOUNT AS open_transactions;`,

    registryReady: dirtyCatalogRead(COLUMN_PROBE),
    /**
     * The same probe with NOLOCK only: it also runs inside provisioning's transaction, where
     * Babelfish refuses SET TRANSACTION ISOLATION LEVEL ("transaction aborted").
     */
    registryColumnExists: COLUMN_PROBE,
    /** `withTarget`: the registry has the optional `db_target` column (master migration 0004). */
    listTenants: (includeArchived: boolean, withTarget = false) =>
      `SELECT ${registryColumns}${withTarget ? ', db_target' : ''} FROM ${registry}${includeArchived ? '' : " WHERE status = N'Active'"} ` +
      'ORDER BY CONVERT(NVARCHAR(36), workspace_id) COLLATE Latin1_General_BIN2;',
    getTenant: (withTarget = false) => `SELECT ${registryColumns}${withTarget ? ', db_target' : ''} FROM ${registry} WHERE ${byWorkspaceId};`,
    setSchemaName: `UPDATE ${registry} SET db_schema_name = $2 WHERE ${byWorkspaceId} AND (db_schema_name IS NULL OR db_schema_name = $2);`,
    /**
     * UPDATE, then INSERT where nothing was updated, in one transaction. No MERGE: Babelfish (Aurora
     * PostgreSQL) does not support it, and on SQL Server MERGE has a long list of concurrency caveats.
     * UPDLOCK + HOLDLOCK on the UPDATE keep the key range locked until COMMIT on SQL Server, so a
     * concurrent upsert of the same id waits instead of inserting twice (the primary key is the
     * final guard on engines that ignore the hints).
     */
    upsertWorkspace: `SET XACT_ABORT ON;
BEGIN TRANSACTION;
UPDATE ${registry} WITH (UPDLOCK, HOLDLOCK)
  SET name = $2, db_schema_name = $3, status = $4, last_seen_utc = SYSUTCDATETIME()
  WHERE ${byWorkspaceId};
IF @@ROWCOUNT = 0
  INSERT INTO ${registry} (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc)
  VALUES (CONVERT(UNIQUEIDENTIFIER, $1), $2, $3, $4, SYSUTCDATETIME(), SYSUTCDATETIME());
COMMIT TRANSACTION;`,
    /** @@ROWCOUNT rather than OUTPUT: OUTPUT without INTO fails on a table with triggers (error 334). */
    setStatus: `UPDATE ${registry} SET status = $2 WHERE ${byWorkspaceId};
SELECT @@ROWCOUNT AS affected;`,
    touch: `UPDATE ${registry} SET last_seen_utc = SYSUTCDATETIME() WHERE ${byWorkspaceId};
SELECT @@ROWCOUNT AS affected;`,

    /** Transactions: XACT_ABORT so any error rolls the whole transaction back, not just the statement. */
    begin: 'SET XACT_ABORT ON; BEGIN TRANSACTION;',
    /**
     * @@TRANCOUNT after COMMIT is 0 unless the migration itself ran an unbalanced BEGIN TRANSACTION:
     * COMMIT then only decremented the count and nothing is durable yet (the driver rolls back and fails).
     */
    commit: 'COMMIT TRANSACTION; SELECT @@TRANCOUNT AS open_transactions;',
    /** Transactions open on this connection, as the server counts them (the client's flag can be wrong). */
    openTransactions: 'SELECT @@TRANCOUNT AS open_transactions;',
    /** XACT_ABORT may already have rolled back; a bare ROLLBACK would then raise error 3903. */
    rollback: 'IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;',
  };
}

export type MssqlSql = ReturnType<typeof mssqlSql>;

/**
 * Rewrite `$1..$n` placeholders to `@p1..@pn`, leaving `'strings'`, `[identifiers]`,
 * `"identifiers"` and comments alone.
 *
 * @example rewritePlaceholders("SELECT '$1', $1") // "SELECT '$1', @p1"
 */
export function rewritePlaceholders(sql: string): string {
  return replacePlaceholders(sql, (n) => `@p${n}`);
}

/** `$n` outside strings, quoted identifiers and comments, replaced by `fn(n)`. */
function replacePlaceholders(sql: string, fn: (n: number) => string): string {
  return sql.replace(
    /'(?:[^']|'')*'|\[(?:[^\]]|\]\])*\]|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|\$(\d+)/g,
    (match, n: string | undefined) => (n === undefined ? match : fn(Number(n))),
  );
}

/**
 * A parameter as a T-SQL literal, typed as {@link bindInput} would bind it (for texts sent as one
 * batch, where parameters cannot travel: the folded send).
 *
 * @example mssqlLiteral("it's") // "N'it''s'"
 */
export function mssqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`Cannot inline ${value} as a literal`);
    return Number.isInteger(value) ? String(value) : `CAST(${value} AS FLOAT)`;
  }
  if (typeof value === 'bigint') return `CAST(${value} AS BIGINT)`;
  if (typeof value === 'boolean') return value ? 'CAST(1 AS BIT)' : 'CAST(0 AS BIT)';
  if (value instanceof Date) return `CONVERT(DATETIME2(7), ${lit(value.toISOString())}, 127)`;
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  return lit(typeof value === 'string' ? value : JSON.stringify(value));
}

/** `$n` placeholders replaced by {@link mssqlLiteral}s (our own SQL texts). */
export function inlineMssqlParams(sql: string, params: readonly unknown[] = []): string {
  return replacePlaceholders(sql, (n) => {
    if (n < 1 || n > params.length) throw new Error(`No value for placeholder $${n}`);
    return mssqlLiteral(params[n - 1]);
  });
}
