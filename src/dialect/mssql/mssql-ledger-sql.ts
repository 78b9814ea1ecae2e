import { mssqlIdent as q } from './mssql-sql.js';

/**
 * T-SQL of the run ledger (`<prefix>runs`, `<prefix>run_tenants` in the master schema) and of the
 * workspace-provisioning statements. Same tables and semantics as the PostgreSQL adapter's.
 *
 * Claims use `WITH (UPDLOCK, READPAST, ROWLOCK)`: a claimer locks the rows it takes and skips rows
 * another claimer has locked, so workers never get the same tenant and never queue on each other.
 * https://learn.microsoft.com/en-us/sql/t-sql/queries/hints-transact-sql-table
 *
 * Bulk statements bind rows as `(VALUES ($n, …), …)` parameters rather than OPENJSON, which needs
 * database compatibility level 130+; SQL Server allows 2,100 parameters per request.
 */
export const MAX_PARAMS = 2000;

const NOW = 'SYSUTCDATETIME()';
/** Milliseconds since the run's last heartbeat on the server clock (second resolution: DATEDIFF in ms overflows int after 24 days). */
const HEARTBEAT_AGE = `CAST(DATEDIFF(SECOND, heartbeat_utc, ${NOW}) AS BIGINT) * 1000 AS heartbeat_age_ms`;

/** `($first, $first+1, …), (…)` for `rows` rows of `width` placeholders. */
export function valuesPlaceholders(rows: number, width: number, first: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < width; c++) cells.push(`$${first + r * width + c}`);
    out.push(`(${cells.join(', ')})`);
  }
  return out.join(', ');
}

export function mssqlLedgerSql(masterSchema: string, prefix: string) {
  const master = q(masterSchema);
  const runsName = `${prefix}runs`;
  const tenantsName = `${prefix}run_tenants`;
  const runs = `${master}.${q(runsName)}`;
  const tenants = `${master}.${q(tenantsName)}`;
  const objectId = (qualified: string) => `OBJECT_ID(N'${qualified.replace(/'/g, "''")}', N'U')`;
  const tenantColumns =
    'schema_name, workspace_id, seq, wave, status, attempts, claimed_by, lease_until, started_utc, finished_utc, duration_ms, applied, error';
  // Each table is created together with its index, in one transaction, under IF OBJECT_ID: index
  // existence is never probed by name. Babelfish stores an index as <name><table><md5> and
  // sys.indexes reports that internal name (INDEXPROPERTY answers NULL), so a
  // `sys.indexes WHERE name = …` probe re-created the index on every run there.
  const createTable = (table: string, body: string, index: { name: string; columns: string }) => `SET XACT_ABORT ON;
BEGIN TRANSACTION;
IF ${objectId(table)} IS NULL
BEGIN
  CREATE TABLE ${table} (${body});
  CREATE INDEX ${q(index.name)} ON ${table} (${index.columns});
END;
COMMIT TRANSACTION;`;

  return {
    createLedger: [
      createTable(
        runs,
        `
  run_id NVARCHAR(64) NOT NULL PRIMARY KEY,
  run_key NVARCHAR(450) NOT NULL,
  target NVARCHAR(255) NOT NULL,
  options NVARCHAR(MAX) NOT NULL,
  status NVARCHAR(20) NOT NULL,
  started_by NVARCHAR(255) NOT NULL,
  started_utc DATETIME2 NOT NULL DEFAULT ${NOW},
  finished_utc DATETIME2 NULL,
  heartbeat_utc DATETIME2 NULL,
  total INT NOT NULL DEFAULT 0,
  succeeded INT NOT NULL DEFAULT 0,
  failed INT NOT NULL DEFAULT 0,
  skipped INT NOT NULL DEFAULT 0
`,
        { name: `${prefix}runs_key`, columns: 'run_key, started_utc' },
      ),
      createTable(
        tenants,
        `
  run_id NVARCHAR(64) NOT NULL,
  schema_name NVARCHAR(128) NOT NULL,
  workspace_id NVARCHAR(64) NOT NULL,
  seq INT NOT NULL,
  wave INT NOT NULL DEFAULT 0,
  status NVARCHAR(20) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  claimed_by NVARCHAR(255) NULL,
  lease_until DATETIME2 NULL,
  started_utc DATETIME2 NULL,
  finished_utc DATETIME2 NULL,
  duration_ms INT NULL,
  applied NVARCHAR(MAX) NULL,
  error NVARCHAR(MAX) NULL,
  PRIMARY KEY (run_id, schema_name)
`,
        { name: `${prefix}run_tenants_claim`, columns: 'run_id, status, wave, seq' },
      ),
    ],
    /** Whether both ledger tables exist (each was created with its index in one transaction): then nothing is created. */
    ledgerPresent: `SELECT CASE WHEN ${objectId(runs)} IS NULL OR ${objectId(tenants)} IS NULL THEN 0 ELSE 1 END AS present;`,
    createRun: `INSERT INTO ${runs} (run_id, run_key, target, options, status, started_by, heartbeat_utc)
VALUES ($1, $2, $3, $4, N'running', $5, ${NOW});`,
    findResumableRun: `SELECT TOP (1) *, ${HEARTBEAT_AGE} FROM ${runs} WHERE run_key = $1 AND status IN (N'running', N'interrupted', N'failed')
ORDER BY started_utc DESC;`,
    reopenRun: `UPDATE ${runs} SET status = N'running', finished_utc = NULL, heartbeat_utc = ${NOW} WHERE run_id = $1;`,
    getRun: `SELECT *, ${HEARTBEAT_AGE} FROM ${runs} WHERE run_id = $1;`,
    latestRun: `SELECT TOP (1) *, ${HEARTBEAT_AGE} FROM ${runs} ORDER BY started_utc DESC;`,
    /** The newest $1 runs, none (not an error) while the ledger tables do not exist yet. */
    recentRuns: `IF OBJECT_ID(N'${runs.replace(/'/g, "''")}', N'U') IS NOT NULL
  SELECT TOP ($1) *, ${HEARTBEAT_AGE} FROM ${runs} ORDER BY started_utc DESC;`,
    /** `rows` tenants as ($2..): schema, workspace id, seq, wave. Existing rows are kept. */
    addRunTenants: (rows: number) => `INSERT INTO ${tenants} (run_id, schema_name, workspace_id, seq, wave, status)
SELECT $1, v.schema_name, v.workspace_id, v.seq, v.wave, N'pending'
FROM (VALUES ${valuesPlaceholders(rows, 4, 2)}) AS v (schema_name, workspace_id, seq, wave)
WHERE NOT EXISTS (SELECT 1 FROM ${tenants} AS t WITH (UPDLOCK, HOLDLOCK) WHERE t.run_id = $1 AND t.schema_name = v.schema_name);
SELECT @@ROWCOUNT AS affected;`,
    requeueRunTenants: `UPDATE ${tenants} SET status = N'pending', claimed_by = NULL, lease_until = NULL
WHERE run_id = $1 AND status IN (N'failed', N'skipped');
SELECT @@ROWCOUNT AS affected;`,
    /**
     * $1 run, $2 worker, $3 n, $4 lease ms, $5 max wave. In one transaction: the next `n` claimable
     * rows in `seq` order into a table variable (UPDLOCK + READPAST + ROWLOCK: concurrent claimers
     * skip each other's rows and hold theirs until COMMIT), the UPDATE of those rows, and a SELECT of
     * what this claim took. No OUTPUT clause: on Babelfish 4.2 `UPDATE … OUTPUT inserted.*` made a
     * claim over 1,000 ledger rows take 120–1,000 ms instead of ~6 ms (measured), and OUTPUT without
     * INTO fails on a table with triggers on SQL Server (error 334). No updatable CTE either
     * (Babelfish does not support updating through one). The claimable condition is repeated on the
     * target row: on an engine that ignores READPAST and UPDLOCK (Babelfish by default), a second
     * claimer waits for the first one's row locks and then re-checks the row (PostgreSQL's
     * EvalPlanQual), so a row claimed meanwhile is not taken twice; the worker then simply claims again.
     */
    claimTenants: `SET XACT_ABORT ON; BEGIN TRANSACTION;
DECLARE @claim TABLE (schema_name NVARCHAR(128) NOT NULL PRIMARY KEY);
DECLARE @now DATETIME2 = ${NOW};
INSERT INTO @claim (schema_name)
SELECT TOP ($3) schema_name FROM ${tenants} WITH (UPDLOCK, READPAST, ROWLOCK)
WHERE run_id = $1 AND wave <= $5 AND (status = N'pending' OR (status = N'running' AND lease_until < @now))
ORDER BY seq;
UPDATE t
SET status = N'running', claimed_by = $2, lease_until = DATEADD(MILLISECOND, $4, @now),
    attempts = t.attempts + 1, started_utc = @now, error = NULL
FROM ${tenants} AS t JOIN @claim AS c ON c.schema_name = t.schema_name
WHERE t.run_id = $1 AND (t.status = N'pending' OR (t.status = N'running' AND t.lease_until < @now));
SELECT ${tenantColumns.split(', ').map((c) => `t.${c}`).join(', ')}
FROM ${tenants} AS t JOIN @claim AS c ON c.schema_name = t.schema_name
WHERE t.run_id = $1 AND t.claimed_by = $2 AND t.status = N'running'
ORDER BY t.seq;
COMMIT TRANSACTION;`,
    renewLease: `UPDATE ${tenants} SET lease_until = DATEADD(MILLISECOND, $3, ${NOW})
WHERE run_id = $1 AND claimed_by = $2 AND status = N'running';
UPDATE ${runs} SET heartbeat_utc = ${NOW} WHERE run_id = $1;`,
    /** `rows` outcomes as ($3..): schema, status, duration ms, extra attempts, applied JSON, error JSON. */
    completeTenants: (rows: number) => `UPDATE t
SET status = o.status, finished_utc = ${NOW}, duration_ms = o.duration_ms, attempts = t.attempts + o.extra,
    applied = o.applied, error = o.error, lease_until = NULL
FROM ${tenants} AS t
JOIN (VALUES ${valuesPlaceholders(rows, 6, 3)}) AS o (schema_name, status, duration_ms, extra, applied, error)
  ON t.schema_name = o.schema_name
WHERE t.run_id = $1
  AND ((t.claimed_by = $2 AND t.status = N'running')
    -- A success is the truth whoever claims the row now (see the PostgreSQL twin); failures of a lost claim are dropped.
    OR (o.status = N'succeeded' AND t.status <> N'succeeded'));`,
    /** `count` schemas as $2.. */
    reconcileTenants: (count: number) => `UPDATE ${tenants} SET status = N'succeeded', lease_until = NULL,
  error = NULL, finished_utc = COALESCE(finished_utc, ${NOW})
WHERE run_id = $1 AND status = N'failed'
  AND schema_name IN (${Array.from({ length: count }, (_, i) => `$${i + 2}`).join(', ')});`,
    /** `count` schemas as $3.. */
    releaseTenants: (count: number) => `UPDATE ${tenants} SET status = N'pending', claimed_by = NULL, lease_until = NULL,
  attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
WHERE run_id = $1 AND claimed_by = $2 AND status = N'running'
  AND schema_name IN (${Array.from({ length: count }, (_, i) => `$${i + 3}`).join(', ')});`,
    countRunTenants: `SELECT status, COUNT(*) AS n FROM ${tenants} WHERE run_id = $1 AND wave <= $2 GROUP BY status;`,
    finishRun: `UPDATE ${runs} SET status = $2, finished_utc = ${NOW}, heartbeat_utc = ${NOW},
  total = $3, succeeded = $4, failed = $5, skipped = $6 WHERE run_id = $1;`,
    listRunTenants: `SELECT TOP ($3) ${tenantColumns} FROM ${tenants}
WHERE run_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY seq;`,
  };
}

/** Provisioning statements on the registry and member tables. */
export function mssqlWorkspaceSql(masterSchema: string, registryTable: string) {
  const master = q(masterSchema);
  const registry = `${master}.${q(registryTable)}`;
  const byId = 'workspace_id = TRY_CONVERT(UNIQUEIDENTIFIER, $1)';
  return {
    /** Insert unless present; UPDLOCK+HOLDLOCK make check-and-insert atomic against a racing insert. */
    /** `withTarget`: also record `db_target` ($5; master migration 0004), for a workspace placed on a target. */
    insertWorkspace: (withTarget: boolean) => `INSERT INTO ${registry} (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc${withTarget ? ', db_target' : ''})
SELECT CONVERT(UNIQUEIDENTIFIER, $1), $2, $3, $4, ${NOW}, ${NOW}${withTarget ? ', $5' : ''}
WHERE NOT EXISTS (SELECT 1 FROM ${registry} WITH (UPDLOCK, HOLDLOCK) WHERE ${byId});
SELECT @@ROWCOUNT AS affected;`,
    /** Workspaces per target (NULL: the master's database) that count for placement: Active and being provisioned. */
    countPlaced: `SELECT db_target, COUNT(*) AS n FROM ${registry} WHERE status IN (N'Active', N'Provisioning') GROUP BY db_target;`,
    transitionStatus: `UPDATE ${registry} SET status = $3, last_seen_utc = ${NOW} WHERE ${byId} AND status = $2;
SELECT @@ROWCOUNT AS affected;`,
    deleteWorkspace: `DELETE FROM ${registry} WHERE ${byId} AND status = $2;
SELECT @@ROWCOUNT AS affected;`,
    addMember: (table: string) => `INSERT INTO ${master}.${q(table)} (workspace_id, user_id, role, added_utc)
SELECT CONVERT(UNIQUEIDENTIFIER, $1), $2, $3, ${NOW}
WHERE NOT EXISTS (SELECT 1 FROM ${master}.${q(table)} WITH (UPDLOCK, HOLDLOCK) WHERE ${byId} AND user_id = $2);`,
    /**
     * SQL Server has no DROP SCHEMA … CASCADE. In dependency order:
     * 1. foreign keys of the schema's tables and those pointing into them;
     * 2. CHECK and DEFAULT constraints (they may call the schema's functions or take NEXT VALUE FOR
     *    its sequences, which then cannot be dropped: error 3729). Not DEFAULTs on Babelfish: they
     *    are PostgreSQL column defaults there, listed under a made-up name (DF_<table>_<id>) that
     *    ALTER TABLE … DROP CONSTRAINT does not know; DROP TABLE removes them;
     * 3. views, procedures, synonyms, functions, tables, sequences — an object before every object
     *    it references: by the depth of its chain of referencing objects in
     *    sys.sql_expression_dependencies (a schema-bound view or function before its tables), then
     *    by kind, then newest first (an object can only reference what existed when it was created;
     *    Babelfish, whose views are PostgreSQL views with hard dependencies, reports no rows in
     *    sys.sql_expression_dependencies, so this last key is what orders it there);
     *    Sequences with IF EXISTS: Babelfish lists an IDENTITY column's PostgreSQL sequence
     *    (`<table>_<column>_seq`) as one, and DROP TABLE has already dropped it;
     * 4. user-defined types (tables and routines use them), then the schema.
     * The statements are numbered by an IDENTITY in ORDER BY order (guaranteed for INSERT … SELECT,
     * unlike `SELECT @s += … ORDER BY`) and run one by one. Names are quoted server-side with
     * QUOTENAME; the schema name arrives as a parameter.
     */
    dropSchema: `IF SCHEMA_ID($1) IS NOT NULL
BEGIN
  DECLARE @drops TABLE (n INT IDENTITY(1, 1) PRIMARY KEY, stmt NVARCHAR(MAX) NOT NULL);
  INSERT INTO @drops (stmt)
  SELECT N'ALTER TABLE ' + QUOTENAME(ps.name) + N'.' + QUOTENAME(pt.name) + N' DROP CONSTRAINT ' + QUOTENAME(fk.name) + N';'
  FROM sys.foreign_keys AS fk
  JOIN sys.tables AS pt ON pt.object_id = fk.parent_object_id JOIN sys.schemas AS ps ON ps.schema_id = pt.schema_id
  JOIN sys.tables AS rt ON rt.object_id = fk.referenced_object_id
  WHERE pt.schema_id = SCHEMA_ID($1) OR rt.schema_id = SCHEMA_ID($1);
  INSERT INTO @drops (stmt)
  SELECT N'ALTER TABLE ' + QUOTENAME(SCHEMA_NAME(t.schema_id)) + N'.' + QUOTENAME(t.name) + N' DROP CONSTRAINT ' + QUOTENAME(c.name) + N';'
  FROM sys.objects AS c JOIN sys.tables AS t ON t.object_id = c.parent_object_id
  WHERE t.schema_id = SCHEMA_ID($1) AND (c.type = 'C' OR (c.type = 'D' AND SERVERPROPERTY('Babelfish') IS NULL));
  WITH objs AS (
    SELECT o.object_id, o.name, o.type FROM sys.objects AS o
    WHERE o.schema_id = SCHEMA_ID($1) AND o.type IN ('V', 'P', 'SN', 'FN', 'IF', 'TF', 'U', 'SO')
  ), refs AS (
    SELECT DISTINCT d.referencing_id, d.referenced_id FROM sys.sql_expression_dependencies AS d
    JOIN objs AS a ON a.object_id = d.referencing_id JOIN objs AS b ON b.object_id = d.referenced_id
    WHERE d.referencing_id <> d.referenced_id
  ), chain AS (
    SELECT object_id, 0 AS depth FROM objs
    UNION ALL
    SELECT r.referenced_id, c.depth + 1 FROM chain AS c JOIN refs AS r ON r.referencing_id = c.object_id WHERE c.depth < 32
  )
  INSERT INTO @drops (stmt)
  SELECT N'DROP ' + CASE o.type WHEN 'V' THEN N'VIEW' WHEN 'P' THEN N'PROCEDURE' WHEN 'SN' THEN N'SYNONYM' WHEN 'U' THEN N'TABLE'
      WHEN 'SO' THEN N'SEQUENCE IF EXISTS' ELSE N'FUNCTION' END + N' ' + QUOTENAME($1) + N'.' + QUOTENAME(o.name) + N';'
  FROM objs AS o JOIN (SELECT object_id, MAX(depth) AS depth FROM chain GROUP BY object_id) AS x ON x.object_id = o.object_id
  ORDER BY x.depth,
    CASE o.type WHEN 'V' THEN 0 WHEN 'P' THEN 0 WHEN 'SN' THEN 0 WHEN 'U' THEN 2 WHEN 'SO' THEN 3 ELSE 1 END,
    o.object_id DESC;
  INSERT INTO @drops (stmt)
  SELECT N'DROP TYPE ' + QUOTENAME($1) + N'.' + QUOTENAME(ty.name) + N';'
  FROM sys.types AS ty WHERE ty.is_user_defined = 1 AND ty.schema_id = SCHEMA_ID($1);
  INSERT INTO @drops (stmt) VALUES (N'DROP SCHEMA ' + QUOTENAME($1) + N';');
  DECLARE @n INT = 1, @last INT = (SELECT MAX(n) FROM @drops), @stmt NVARCHAR(MAX);
  WHILE @n <= @last
  BEGIN
    SELECT @stmt = stmt FROM @drops WHERE n = @n;
    EXEC sys.sp_executesql @stmt;
    SET @n += 1;
  END;
END;`,
  };
}
