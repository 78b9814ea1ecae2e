import type { ReplayTransactionSql } from '../contracts/replay-transaction.js';

/**
 * PostgreSQL (and PGlite): a transaction-local setting marks the replay's transaction; once that
 * transaction ends (a COMMIT that slipped through), `current_setting` no longer returns it.
 * https://www.postgresql.org/docs/current/sql-savepoint.html
 */
export const postgresReplaySql: ReplayTransactionSql = {
  arm: "SELECT set_config('tenant_migrate.replay', 'on', true)",
  probe: "SELECT CASE WHEN current_setting('tenant_migrate.replay', true) = 'on' THEN 1 ELSE 0 END AS ok",
  savepoint: (name) => `SAVEPOINT ${name}`,
  release: (name) => `RELEASE SAVEPOINT ${name}`,
  rollbackTo: (name) => `ROLLBACK TO SAVEPOINT ${name}`,
};
