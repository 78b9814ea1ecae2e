import type { SessionHygiene, TransactionGuard } from '../sql-session.js';

/**
 * What DISCARD ALL does, minus what it cannot: DISCARD ALL refuses to run inside a transaction
 * block, and a multi-statement request is one, so it could never ride in front of the next request.
 * These statements can: session settings (search_path, lock_timeout, statement_timeout,
 * session_replication_role, role) back to their login values, cursors closed, listeners removed,
 * temporary tables, prepared statements, sequence caches and cached plans dropped. Session advisory
 * locks are not in the list, since this reset may run while the engine holds its own tenant lock on
 * the session: {@link POSTGRES_RELEASE_LOCKS} releases what a script left where the engine holds none.
 * https://www.postgresql.org/docs/current/sql-discard.html
 */
export const POSTGRES_SESSION_RESET =
  'SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; DEALLOCATE ALL; UNLISTEN *; DISCARD TEMP; DISCARD SEQUENCES; DISCARD PLANS';

/** Session advisory locks a script took and left (see SessionHygiene.releaseLocks for when it runs). */
export const POSTGRES_RELEASE_LOCKS = 'SELECT pg_advisory_unlock_all()';

const GUARD_SETTING = 'tenant_migrate.transaction';
/** SQLSTATE of a failed guard (class `TM` is not used by PostgreSQL; the folded send uses TM001/TM002). */
export const TRANSACTION_ENDED = 'TM003';

/**
 * The transaction mark: a transaction-local setting. COMMIT or ROLLBACK in the script ends the
 * transaction and the setting with it (a new BEGIN does not bring it back), so the check fails.
 * Tokens are UUIDs made by the engine.
 */
export const postgresTransactionGuard: TransactionGuard = {
  begin: (token) => `SELECT set_config('${GUARD_SETTING}', '${token}', true)`,
  check: (token) =>
    `DO $tm_guard$BEGIN IF current_setting('${GUARD_SETTING}', true) IS DISTINCT FROM '${token}' THEN ` +
    `RAISE EXCEPTION 'the migration ended the engine''s transaction' USING ERRCODE = '${TRANSACTION_ENDED}'; END IF; END$tm_guard$`,
  isViolation: (err) => (err as { code?: unknown } | null)?.code === TRANSACTION_ENDED,
};

/**
 * After a script that ran outside the engine's transaction: whether it left one open, ended with a
 * ROLLBACK in the same request (an aborted transaction accepts nothing else; a read-only one is
 * ended too). `run` sends a multi-statement request and returns the rows of its first statement.
 */
export async function endOpenTransaction(run: (sql: string) => Promise<Record<string, unknown>[]>): Promise<'none' | 'open' | 'aborted'> {
  try {
    const [row] = await run('SELECT txid_current_if_assigned() IS NOT NULL AS open; ROLLBACK');
    return row?.open === true ? 'open' : 'none';
  } catch (err) {
    // 25P02: in_failed_sql_transaction — the script's transaction failed and is still open.
    if ((err as { code?: unknown } | null)?.code !== '25P02') throw err;
    await run('ROLLBACK');
    return 'aborted';
  }
}

/** The hygiene of one PostgreSQL/PGlite session. */
export function postgresHygiene(resetPending: boolean, run: (sql: string) => Promise<Record<string, unknown>[]>): SessionHygiene {
  return {
    reset: POSTGRES_SESSION_RESET,
    releaseLocks: POSTGRES_RELEASE_LOCKS,
    resetPending,
    guard: postgresTransactionGuard,
    endOpenTransaction: () => endOpenTransaction(run),
  };
}
