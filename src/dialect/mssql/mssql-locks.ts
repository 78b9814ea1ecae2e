import type { SqlSession } from '../contracts/driver.js';
import type { Locks } from '../contracts/locks.js';
import type { MssqlDriver } from './mssql-driver.js';
import { type MssqlSql, lockResource } from './mssql-sql.js';

/** Longest single sp_getapplock wait; longer timeouts are waited in slices of this size. */
const LOCK_WAIT_SLICE_MS = 10_000;

/** sp_getapplock return codes (>= 0 means granted). */
const APPLOCK_TIMEOUT = -1;
const APPLOCK_DEADLOCK = -3;

/**
 * Session-owned `sp_getapplock` on `tenant-migrate:<key>`. The driver is told which resources a
 * session holds, so that it never hands a connection back to the pool still holding one.
 * https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql
 */
export class MssqlLocks implements Locks {
  readonly #driver: MssqlDriver;
  readonly #sql: MssqlSql;

  constructor(driver: MssqlDriver, statements: MssqlSql) {
    this.#driver = driver;
    this.#sql = statements;
  }

  /**
   * A long timeout is waited in slices so that no single request outlives a configured request
   * timeout; a deadlock-victim return (-3) is retried within the same deadline. -999 (bad call) throws.
   */
  async acquireLock(session: SqlSession, key: string, timeoutMs: number): Promise<boolean> {
    const resource = lockResource(key);
    const requestTimeout = this.#driver.requestTimeoutMs;
    const slice = requestTimeout > 0 ? Math.max(1, Math.min(LOCK_WAIT_SLICE_MS, Math.floor(requestTimeout / 2))) : LOCK_WAIT_SLICE_MS;
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      const wait = Math.max(0, Math.min(slice, deadline - Date.now()));
      const [row] = await session.query<{ result: number }>(this.#sql.getAppLock, [resource, wait]);
      const code = Number(row?.result);
      if (code >= 0) {
        this.#driver.heldLocks(session)?.add(resource);
        return true;
      }
      if (code !== APPLOCK_TIMEOUT && code !== APPLOCK_DEADLOCK) {
        throw new Error(`sp_getapplock on ${resource} failed with return code ${code}`);
      }
      if (Date.now() >= deadline) return false;
    }
  }

  async releaseLock(session: SqlSession, key: string): Promise<void> {
    const resource = lockResource(key);
    const [row] = await session.query<{ result: number }>(this.#sql.releaseAppLock, [resource]);
    this.#driver.heldLocks(session)?.delete(resource);
    const code = Number(row?.result ?? 0);
    if (code < 0) throw new Error(`sp_releaseapplock on ${resource} failed with return code ${code}`);
  }
}
