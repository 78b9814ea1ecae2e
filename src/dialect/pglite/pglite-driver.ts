import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pLimit from 'p-limit';
import type { Driver, ErrorClassification, SqlSession } from '../contracts/driver.js';
import { DriverSession } from '../sql-session.js';
import { pgPosition } from '../postgres/postgres-driver.js';
import { classifyPostgresError } from '../postgres/postgres-errors.js';
import { pgliteSyntax } from '../postgres/postgres-syntax.js';
import { postgresHygiene } from '../postgres/postgres-session.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';

/**
 * Embedded PostgreSQL (WASM). One connection in-process: sessions are handed out one at a time,
 * so a tenant's transaction never interleaves with another's. A nested `withSession` in the same
 * async call chain reuses the open session instead of deadlocking. A data directory is guarded
 * by a lock file, because two processes opening one PGlite directory would corrupt it.
 */
export class PgliteDriver implements Driver {
  readonly maxConnections = 1;

  /** One in-process connection: tasks are serialized whatever is asked. */
  ensureCapacity(): void {}
  readonly #dataDir: string | undefined;
  #db: Promise<PGlite> | undefined;
  #dirLock: DirLock | undefined;
  readonly #exclusive = pLimit(1);
  readonly #current = new AsyncLocalStorage<SqlSession>();
  /** The one connection ran a script in its last session: the next one resets it first. */
  #dirty = false;

  /** `dataDir`: absolute data directory, or undefined for an in-memory database. */
  constructor(dataDir: string | undefined) {
    this.#dataDir = dataDir;
  }

  #open(): Promise<PGlite> {
    this.#db ??= (async () => {
      if (this.#dataDir) {
        mkdirSync(this.#dataDir, { recursive: true });
        this.#dirLock = await acquireDirLock(this.#dataDir);
      }
      const db = new PGlite(this.#dataDir);
      await db.waitReady;
      return db;
    })();
    return this.#db;
  }

  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const open = this.#current.getStore();
    if (open) return fn(open);
    const db = await this.#open();
    return this.#exclusive(async () => {
      const run = async (sql: string) => ((await db.exec(sql))[0]?.rows ?? []) as Record<string, unknown>[];
      const resetPending = this.#dirty;
      this.#dirty = false;
      const session = new DriverSession(
        {
          query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params as unknown[])).rows,
          exec: async (sql) => (await db.exec(sql)).flatMap((r) => r.rows as Record<string, unknown>[]),
          errorPosition: pgPosition,
        },
        pgliteSyntax,
        'BEGIN',
        postgresHygiene(resetPending, run),
      );
      try {
        return await this.#current.run(session, () => fn(session));
      } finally {
        if (session.inTransaction) await session.rollback().catch(() => undefined);
        // One connection, nothing to destroy: an unknown state is reset before the next session.
        this.#dirty = session.resetPending || session.unusable;
        if (session.unusable) await db.exec('ROLLBACK').catch(() => undefined);
        // Session-scoped advisory locks would outlive the "session" on the single connection.
        await db.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      }
    });
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db) await (await db).close();
    this.#dirLock?.release();
    this.#dirLock = undefined;
  }

  classifyError(err: unknown): ErrorClassification {
    return classifyPostgresError(err);
  }
}
