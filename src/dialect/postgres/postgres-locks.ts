import type { SqlSession } from '../contracts/driver.js';
import type { Locks } from '../contracts/locks.js';
import type { PostgresSql } from './postgres-sql.js';

/** The advisory lock's key text; the folded send's transaction lock uses the same one. */
export const advisoryKey = (key: string) => `tenant-migrate:${key}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Session-level advisory locks on `tenant-migrate:<key>`: `pg_try_advisory_lock` polled with
 * backoff (25 ms doubling to 500 ms) until the deadline.
 * https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
export class PostgresLocks implements Locks {
  readonly #sql: PostgresSql;

  constructor(sql: PostgresSql) {
    this.#sql = sql;
  }

  async acquireLock(session: SqlSession, key: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let wait = 25;
    for (;;) {
      const [row] = await session.query<{ locked: boolean }>(this.#sql.tryLock, [advisoryKey(key)]);
      if (row?.locked) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(wait, Math.max(1, deadline - Date.now())));
      wait = Math.min(wait * 2, 500);
    }
  }

  async releaseLock(session: SqlSession, key: string): Promise<void> {
    await session.query(this.#sql.unlock, [advisoryKey(key)]);
  }
}
