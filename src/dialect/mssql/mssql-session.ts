import type { DialectSyntax } from '../dialect-syntax.js';
import { DriverSession, OpenTransactionError, type SessionDriver, type TransactionGuard } from '../sql-session.js';
import { mssqlErrorNumber } from './mssql-errors.js';
import { applockResource } from './mssql-sql.js';
import { quoteMssqlString as lit } from './mssql-syntax.js';
import { mayJoin } from './mssql-folded-apply.js';

export { OpenTransactionError } from '../sql-session.js';

/** The driver calls of an {@link MssqlSession}: the generic two plus the server's transaction count. */
export interface MssqlSessionDriver extends SessionDriver {
  /** `@@TRANCOUNT` on the server, in one round trip. */
  openTransactions(): Promise<number>;
  /** Run one batch as it is and return the rows of its last result set. */
  batch(sql: string): Promise<Record<string, unknown>[]>;
}


/**
 * A session on one SQL Server connection that checks the server's @@TRANCOUNT rather than trusting
 * its own flag. The client cannot see a BEGIN TRANSACTION inside a migration's script; without the
 * check, the meta row of a no-transaction migration (and, once the connection is back in the pool,
 * the next tenant's work and meta row) would "commit" into that open transaction and be rolled
 * back when the connection closes, while the ledger says succeeded.
 * https://learn.microsoft.com/en-us/sql/t-sql/functions/trancount-transact-sql
 */
export class MssqlSession extends DriverSession {
  readonly #driver: MssqlSessionDriver;
  #ranScript = false;

  constructor(driver: MssqlSessionDriver, syntax: DialectSyntax, beginSql: string) {
    super(driver, syntax, beginSql, { guard: mssqlTransactionGuard });
    this.#driver = driver;
  }

  /** Whether a migration script ran on this session (its session state may have changed). */
  override get ranScript(): boolean {
    return this.#ranScript;
  }

  /**
   * One batch sent as it is, outside the session's transaction bookkeeping: the folded send, which
   * opens and commits its own transaction in the text and reports `@@TRANCOUNT` in its last result
   * set. Counts as a script (the connection is reset before it goes back to the pool).
   */
  sendBatch(sql: string): Promise<Record<string, unknown>[]> {
    this.#ranScript = true;
    return this.#driver.batch(sql);
  }

  /**
   * Inside the session's own transaction the COMMIT checks the count. Outside one (a no-transaction
   * migration) the script runs in autocommit, so it must end with no transaction open: checked here
   * after it ran — also after it failed — and rolled back if one is. It starts with `XACT_ABORT ON`,
   * set here, never inherited from whatever the pooled connection ran before (an error then ends the
   * batch and rolls back the script's own transaction; the script may `SET XACT_ABORT OFF` itself).
   */
  override async runScript(sql: string): Promise<void> {
    this.#ranScript = true;
    if (this.inTransaction) return super.runScript(sql);
    let failure: { error: unknown } | undefined;
    try {
      await this.#driver.exec('SET XACT_ABORT ON');
      await super.runScript(sql);
    } catch (error) {
      failure = { error };
    }
    const open = await this.#driver.openTransactions();
    if (open > 0) {
      await this.#driver.exec('ROLLBACK');
      if (!failure) {
        throw new OpenTransactionError(
          `the script left ${open} transaction(s) open (BEGIN TRANSACTION without COMMIT); it was rolled back and the migration is not recorded`,
        );
      }
    }
    if (failure) throw failure.error;
  }
}

/** Error number of a failed transaction check (user-defined range; the folded send uses the same). */
export const MSSQL_TRANSACTION_ENDED = 50_003;

/**
 * The transaction mark on SQL Server: an application lock owned by the transaction on a resource
 * named by the token. COMMIT or ROLLBACK in the script releases it (a new BEGIN TRANSACTION does not
 * bring it back), so the check — XACT_STATE() = 1 and the lock still held — fails before the meta row.
 */
export const mssqlTransactionGuard: TransactionGuard = {
  begin: (token) =>
    `DECLARE @tm_txn INT, @tm_txn_resource NVARCHAR(255) = ${applockResource(lit(`tenant-migrate:txn:${token}`))};\n` +
    "EXEC @tm_txn = sp_getapplock @Resource = @tm_txn_resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 0, @DbPrincipal = N'public';",
  check: (token) =>
    `IF XACT_STATE() <> 1 OR APPLOCK_MODE(N'public', ${applockResource(lit(`tenant-migrate:txn:${token}`))}, N'Transaction') <> N'Exclusive' ` +
    `THROW ${MSSQL_TRANSACTION_ENDED}, ${lit("the migration ended the engine's transaction")}, 1;`,
  isViolation: (err) => mssqlErrorNumber(err) === MSSQL_TRANSACTION_ENDED,
  joinable: (batchSql) => mayJoin({ sql: batchSql, startLine: 1, repeat: 1 }, 'tail'),
};
