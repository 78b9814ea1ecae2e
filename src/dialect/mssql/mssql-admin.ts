import sql from 'mssql';
import { quoteMssqlIdent, quoteMssqlString } from './mssql-syntax.js';
import { type MssqlConnectionSettings, toMssqlConfig } from './mssql-url.js';

/**
 * Server-level chores for the test harness and the benchmark: a short-lived one-connection pool
 * on the login's default database (or master) that runs one batch and closes.
 */
export async function mssqlAdminBatch(settings: MssqlConnectionSettings, text: string): Promise<void> {
  const pool = new sql.ConnectionPool(
    toMssqlConfig({ ...settings, database: settings.database ?? 'master' }, { poolMax: 1, requestTimeoutMs: 120_000 }),
  );
  pool.on('error', () => undefined);
  await pool.connect();
  try {
    await pool.request().batch(text);
  } finally {
    await pool.close();
  }
}

/**
 * Create a database and return how to drop it. `database` must be a plain identifier chosen by the
 * caller (e.g. `tm_test_<hex>`); the drop kicks out open sessions first
 * (https://learn.microsoft.com/sql/t-sql/statements/drop-database-transact-sql).
 */
export async function createMssqlDatabase(
  settings: MssqlConnectionSettings,
  database: string,
): Promise<{ drop(): Promise<void> }> {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(database)) throw new Error(`invalid database name ${JSON.stringify(database)}`);
  const name = quoteMssqlIdent(database);
  await mssqlAdminBatch(settings, `CREATE DATABASE ${name};`);
  return {
    drop: () =>
      mssqlAdminBatch(
        settings,
        `IF DB_ID(${quoteMssqlString(database)}) IS NOT NULL BEGIN
  ALTER DATABASE ${name} SET SINGLE_USER WITH ROLLBACK IMMEDIATE;
  DROP DATABASE ${name};
END`,
      ),
  };
}
