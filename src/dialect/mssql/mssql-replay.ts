import type { ReplayTransactionSql } from '../contracts/replay-transaction.js';

/**
 * SQL Server: `SAVE TRANSACTION` marks a savepoint (there is no release); the replay's transaction
 * is open while `@@TRANCOUNT` is at least 1.
 * https://learn.microsoft.com/en-us/sql/t-sql/language-elements/save-transaction-transact-sql
 */
export const mssqlReplaySql: ReplayTransactionSql = {
  arm: 'SELECT 1 AS armed',
  probe: 'SELECT CASE WHEN @@TRANCOUNT > 0 AND XACT_STATE() = 1 THEN 1 ELSE 0 END AS ok',
  savepoint: (name) => `SAVE TRANSACTION ${name}`,
  release: () => '',
  rollbackTo: (name) => `ROLLBACK TRANSACTION ${name}`,
};
