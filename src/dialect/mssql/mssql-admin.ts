import { ReusingConnectionPool } from './pinned-connection.js';
import { quoteMssqlIdent, quoteMssqlString } from './mssql-syntax.js';
import { type MssqlConnectionSettings, toMssqlConfig } from './mssql-url.js';

/**
 * Server-level chores for the test harness and the benchmark: a short-lived one-connection pool
 * on the login's default database (or master) that runs one batch and closes.
 */
export async function mssqlAdminBatch(settings: MssqlConnectionSettings, text: string): Promise<Record<string, unknown>[]> {
  const pool = new ReusingConnectionPool(
    toMssqlConfig({ ...settings, database: settings.database ?? 'master' }, { poolMax: 1, requestTimeoutMs: 120_000 }),
  );
  pool.on('error', () => undefined);
  await pool.connect();
  try {
    return ((await pool.request().batch(text)).recordset ?? []) as Record<string, unknown>[];
  } finally {
    await pool.close();
  }
}

/**
 * Create a database and return how to drop it. `database` must be a plain identifier chosen by the
 * caller (e.g. `tm_test_<hex>`).
 */
export async function createMssqlDatabase(
  settings: MssqlConnectionSettings,
  database: string,
): Promise<{ drop(): Promise<void> }> {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(database)) throw new Error(`invalid database name ${JSON.stringify(database)}`);
  // Babelfish: two CREATE DATABASE at once (parallel test files) can fail with PostgreSQL's
  // "tuple concurrently updated" on its catalog; a retry succeeds.
  await retrying(async () => void (await mssqlAdminBatch(settings, `CREATE DATABASE ${quoteMssqlIdent(database)};`)), (err) =>
    /tuple concurrently updated/i.test((err as Error).message),
  );
  return { drop: () => dropMssqlDatabase(settings, database) };
}

/** How long a drop keeps retrying while killed sessions are still going away. */
const DROP_RETRY_MS = 15_000;

/**
 * Drop a database, first ending the sessions still in it.
 * - SQL Server / Azure SQL: `ALTER DATABASE … SET SINGLE_USER WITH ROLLBACK IMMEDIATE` rolls back
 *   and disconnects every other session (https://learn.microsoft.com/sql/t-sql/statements/drop-database-transact-sql).
 * - Babelfish has no ALTER DATABASE, and DROP DATABASE fails while any session is in the database:
 *   `KILL` each session whose `database_id` is that database. KILL there ends the PostgreSQL backend
 *   asynchronously, so the DROP is retried for a while on "currently in use" (SQL Server: error 3702).
 * The ALTER runs through EXEC so that Babelfish, which refuses it at parse time, never parses it.
 */
export async function dropMssqlDatabase(settings: MssqlConnectionSettings, database: string): Promise<void> {
  const name = quoteMssqlIdent(database);
  const literal = quoteMssqlString(database);
  const batch = `IF DB_ID(${literal}) IS NOT NULL
BEGIN
  IF SERVERPROPERTY('Babelfish') IS NULL
    EXEC(${quoteMssqlString(`ALTER DATABASE ${name} SET SINGLE_USER WITH ROLLBACK IMMEDIATE`)});
  ELSE
  BEGIN
    DECLARE @kill NVARCHAR(MAX) = N'';
    SELECT @kill += N'KILL ' + CAST(session_id AS NVARCHAR(10)) + N';'
    FROM sys.dm_exec_sessions WHERE database_id = DB_ID(${literal}) AND session_id <> @@SPID;
    IF @kill <> N'' EXEC(@kill);
  END;
  DROP DATABASE ${name};
END;`;
  await retrying(
    async () => void (await mssqlAdminBatch(settings, batch)),
    (err) =>
      /currently in use|tuple concurrently updated/i.test((err as Error).message) || (err as { number?: unknown }).number === 3702,
  );
}

async function retrying(fn: () => Promise<void>, retryable: (err: unknown) => boolean): Promise<void> {
  const deadline = Date.now() + DROP_RETRY_MS;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!retryable(err) || Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Which T-SQL engine answers: Babelfish (Aurora PostgreSQL's SQL Server compatibility) or SQL Server / Azure SQL. */
export type MssqlEngine = 'sqlserver' | 'babelfish';

/** `SERVERPROPERTY('Babelfish')` is 1 on Babelfish and NULL on SQL Server (unknown properties are NULL). */
export async function detectMssqlEngine(settings: MssqlConnectionSettings): Promise<MssqlEngine> {
  const [row] = await mssqlAdminBatch(settings, "SELECT CAST(SERVERPROPERTY('Babelfish') AS INT) AS babelfish;");
  return Number(row?.babelfish) === 1 ? 'babelfish' : 'sqlserver';
}
