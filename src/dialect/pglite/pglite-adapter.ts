import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pLimit from 'p-limit';
import type { AdapterNames, DialectCapabilities, SqlSession } from '../dialect-adapter.js';
import type { DialectName, DialectSyntax } from '../dialect-syntax.js';
import { DriverSession } from '../sql-session.js';
import { PostgresAdapter, pgPosition } from '../postgres/postgres-adapter.js';
import { pgliteSyntax } from '../postgres/postgres-syntax.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';

export interface PgliteAdapterOptions {
  /** Absolute data directory, or undefined for an in-memory database. */
  readonly dataDir: string | undefined;
  readonly names: AdapterNames;
}

/**
 * Embedded PostgreSQL (WASM). One connection in-process: sessions are handed out one at a time,
 * so a tenant's transaction never interleaves with another's. A nested `withSession` in the same
 * async call chain reuses the open session instead of deadlocking. A data directory is guarded
 * by a lock file, because two processes opening one PGlite directory would corrupt it.
 */
export class PgliteAdapter extends PostgresAdapter {
  override readonly name: DialectName = 'pglite';
  override readonly syntax: DialectSyntax = pgliteSyntax;
  override readonly capabilities: DialectCapabilities = { transactionalDdl: true, multipleConnections: false };
  readonly #dataDir: string | undefined;
  #db: Promise<PGlite> | undefined;
  #dirLock: DirLock | undefined;
  readonly #exclusive = pLimit(1);
  readonly #current = new AsyncLocalStorage<SqlSession>();

  constructor(options: PgliteAdapterOptions) {
    super({ url: 'pglite:', names: options.names, maxConnections: 1 });
    this.#dataDir = options.dataDir;
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

  override async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const open = this.#current.getStore();
    if (open) return fn(open);
    const db = await this.#open();
    return this.#exclusive(async () => {
      const session = new DriverSession(
        {
          query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params as unknown[])).rows,
          exec: async (sql) => {
            await db.exec(sql);
          },
          errorPosition: pgPosition,
        },
        this.syntax,
      );
      try {
        return await this.#current.run(session, () => fn(session));
      } finally {
        if (session.inTransaction) await session.rollback().catch(() => undefined);
        // Session-scoped advisory locks would outlive the "session" on the single connection.
        await db.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      }
    });
  }

  override async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db) await (await db).close();
    this.#dirLock?.release();
    this.#dirLock = undefined;
  }
}
