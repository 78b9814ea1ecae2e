import type { SqlSession } from './driver.js';

/**
 * Named locks owned by a session (SQL Server `sp_getapplock`, PostgreSQL advisory locks): released
 * by {@link Locks.releaseLock} or when the session ends. One lock per tenant schema, a separate one
 * for master migrations.
 */
export interface Locks {
  /** Try to take the named lock within `timeoutMs`; false on timeout. */
  acquireLock(session: SqlSession, key: string, timeoutMs: number): Promise<boolean>;
  releaseLock(session: SqlSession, key: string): Promise<void>;
}

/**
 * Run `fn` while `session` holds `key`; always released afterwards. A failed release marks the
 * session unusable: its connection is destroyed (which releases the lock on the server), never
 * handed to the next tenant or the ledger still holding it. When the lock is busy for `timeoutMs`, the result is `onBusy()`
 * (throw a LockTimeoutError, or return a "skipped" value).
 */
export async function holdLock<T>(
  locks: Locks,
  session: SqlSession,
  key: string,
  timeoutMs: number,
  fn: () => Promise<T>,
  onBusy: () => T | Promise<T>,
): Promise<T> {
  if (!(await locks.acquireLock(session, key, timeoutMs))) return onBusy();
  try {
    return await fn();
  } finally {
    await locks.releaseLock(session, key).catch(() => session.invalidate?.());
  }
}
