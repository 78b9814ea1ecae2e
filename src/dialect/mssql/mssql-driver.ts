import sql from 'mssql';
import type { Driver, ErrorClassification, SqlSession } from '../contracts/driver.js';
import { MssqlSession, type MssqlSessionDriver, OpenTransactionError } from './mssql-session.js';
import { PinnedConnection, ReusingConnectionPool } from './pinned-connection.js';
import { caughtLineOf, classifyMssqlError, mssqlErrorLine } from './mssql-errors.js';
import { type MssqlSql, rewritePlaceholders } from './mssql-sql.js';
import { mssqlSyntax } from './mssql-syntax.js';
import { parseMssqlUrl, toMssqlConfig } from './mssql-url.js';

export interface MssqlDriverOptions {
  /** `mssql://…`, `sqlserver://…` or an ADO-style `Server=…;Database=…` string. */
  readonly url: string;
  /** Pool size: the tenant concurrency. */
  readonly maxConnections: number;
  /**
   * Per-request timeout. Default: the URL's `requestTimeout`, else none (0) — a migration that
   * builds an index on a big table may legitimately run for minutes.
   */
  readonly requestTimeoutMs?: number;
}

/**
 * SQL Server sessions over the `mssql` package (tedious).
 *
 * A session-owned `sp_getapplock` is held by one connection, and a tenant's migrations each run
 * in their own transaction while that lock is held, so a session must keep one connection across
 * many requests. The `mssql` package has no public API for that (everything is a pool; see
 * https://github.com/tediousjs/node-mssql/issues/1517), and a `Transaction` would hold the
 * connection only until its single commit. We therefore take a connection from the pool with
 * `ConnectionPool#acquire()` and bind `Request`s to it through {@link PinnedConnection}, which
 * implements the same parent contract a `Transaction` gives its requests (mssql is pinned to an
 * exact version for that; a unit test checks the internals used). The connection returns to the
 * pool when the session ends, checked and reset ({@link withSession}) — or is closed instead when
 * it may still hold a lock or a transaction.
 *
 * Transactions are plain `SET XACT_ABORT ON; BEGIN TRANSACTION` / `COMMIT` batches on that
 * connection: with XACT_ABORT any run-time error rolls back the whole transaction, so a
 * migration and its meta row commit together or not at all.
 * https://learn.microsoft.com/en-us/sql/t-sql/statements/set-xact-abort-transact-sql
 */
export class MssqlDriver implements Driver {
  maxConnections: number;
  readonly #sql: MssqlSql;
  readonly #config: sql.config;
  #pool: Promise<sql.ConnectionPool> | undefined;
  /** Locks each live session holds, so that a session never goes back to the pool holding one. */
  readonly #locks = new WeakMap<SqlSession, Set<string>>();

  constructor(options: MssqlDriverOptions, statements: MssqlSql) {
    this.maxConnections = options.maxConnections;
    this.#sql = statements;
    const settings = parseMssqlUrl(options.url);
    this.#config = toMssqlConfig(settings, {
      poolMax: options.maxConnections,
      requestTimeoutMs: options.requestTimeoutMs ?? settings.requestTimeoutMs ?? 0,
    });
  }

  ensureCapacity(n: number): void {
    if (n <= this.maxConnections) return;
    this.maxConnections = n;
    if (this.#config.pool) this.#config.pool.max = n;
    // An open pool: mssql has no public resize; its tarn pool reads `max` on every acquire. Without
    // that field (another mssql version), the pool keeps its size and tasks wait their turn.
    void this.#pool?.then((pool) => {
      const tarnPool = (pool as unknown as { pool?: { max?: unknown } }).pool;
      if (tarnPool && typeof tarnPool.max === 'number') tarnPool.max = n;
    }).catch(() => undefined);
  }

  /** The configured per-request timeout in ms (0: none). */
  get requestTimeoutMs(): number {
    return this.#config.requestTimeout ?? 0;
  }

  /** The set of applock resources `session` holds (the locks contract keeps it up to date). */
  heldLocks(session: SqlSession): Set<string> | undefined {
    return this.#locks.get(session);
  }

  #getPool(): Promise<sql.ConnectionPool> {
    if (!this.#pool) {
      const pool = new ReusingConnectionPool(this.#config);
      // A connection dropped while idle (failover, KILL) must not crash the process; the pool
      // validates connections on checkout and replaces dead ones.
      pool.on('error', () => undefined);
      this.#pool = pool.connect().catch((err: unknown) => {
        this.#pool = undefined;
        throw err;
      });
    }
    return this.#pool;
  }

  /**
   * One pinned connection for `fn`, then hygiene before it goes back to the pool — mssql never
   * resets pooled connections (no sp_reset_connection) and tedious' client-side transaction flag
   * cannot see a BEGIN TRANSACTION inside a script:
   * - @@TRANCOUNT is checked on the server (folded into the lock release or the COMMIT when one
   *   ran last; otherwise one `SELECT @@TRANCOUNT` for sessions that ran batches); a connection
   *   with a transaction still open is closed, never pooled;
   * - a session that ran a migration script is reset (RESETCONNECTION), so #temp tables, SET
   *   options, IDENTITY_INSERT or a USE do not leak into the next tenant.
   * Sessions that only ran the dialect's own single statements need neither.
   */
  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const pool = await this.#getPool();
    const pinned = await PinnedConnection.acquire(pool);
    /** @@TRANCOUNT as the last request reported it; undefined when the last request did not say. */
    let knownOpen: number | undefined = 0;
    let ranBatches = false;
    const openTransactions = async () => {
      const result = await pinned.request().query(this.#sql.openTransactions);
      return (knownOpen = Number(result.recordset?.[0]?.open_transactions ?? 0));
    };
    const driver: MssqlSessionDriver = {
      query: async (text, params) => {
        const request = pinned.request();
        params.forEach((value, i) => bindInput(request, `p${i + 1}`, value));
        knownOpen = undefined;
        const rows = ((await request.query(params.length > 0 ? rewritePlaceholders(text) : text)).recordset ?? []) as Record<string, unknown>[];
        const reported = rows[0]?.open_transactions;
        if (typeof reported === 'number') knownOpen = reported;
        return rows;
      },
      // Batches, not sp_executesql: SET options and BEGIN TRANSACTION must outlive the request.
      exec: async (text) => {
        ranBatches = true;
        knownOpen = undefined;
        if (text === 'COMMIT') {
          const open = Number((await pinned.request().batch(this.#sql.commit)).recordset?.[0]?.open_transactions ?? 0);
          if (open > 0) {
            // The migration nested a BEGIN TRANSACTION: COMMIT only decremented the count.
            await pinned.request().batch(this.#sql.rollback);
            knownOpen = 0;
            throw new OpenTransactionError(
              `the migration left ${open} nested transaction(s) open (BEGIN TRANSACTION without COMMIT): nothing was committed`,
            );
          }
          knownOpen = 0;
          return;
        }
        await pinned.request().batch(text === 'ROLLBACK' ? this.#sql.rollback : text);
      },
      batch: async (text) => {
        ranBatches = true;
        knownOpen = undefined;
        const request = pinned.request();
        let caughtLine: number | undefined;
        request.on('info', (info: { message?: string }) => {
          caughtLine = caughtLineOf(info.message) ?? caughtLine;
        });
        let sets: Record<string, unknown>[][];
        try {
          sets = ((await request.batch(text)).recordsets ?? []) as unknown as Record<string, unknown>[][];
        } catch (err) {
          // The line an engine CATCH block caught (see CAUGHT_LINE_PREFIX), for the error it re-raised.
          if (caughtLine !== undefined && err !== null && typeof err === 'object') Object.assign(err, { caughtLine });
          throw err;
        }
        const rows = sets.at(-1) ?? [];
        const reported = rows[0]?.open_transactions;
        if (typeof reported === 'number') knownOpen = reported;
        return rows;
      },
      openTransactions,
      errorPosition: () => undefined,
      errorLine: mssqlErrorLine,
    };
    const session = new MssqlSession(driver, mssqlSyntax, this.#sql.begin);
    const locks = new Set<string>();
    this.#locks.set(session, locks);
    let discard = false;
    try {
      return await fn(session);
    } catch (err) {
      if (classifyMssqlError(err).transient) discard = true;
      throw err;
    } finally {
      if (!discard && session.inTransaction) await session.rollback().catch(() => (discard = true));
      // The caller releases its locks in a finally; this is the safety net for one that could not.
      for (const resource of [...locks]) {
        if (discard) break;
        try {
          await session.query(this.#sql.releaseAppLock, [resource]);
          locks.delete(resource);
        } catch {
          discard = true;
        }
      }
      if (!discard && locks.size === 0 && (ranBatches || session.ranScript)) {
        try {
          const open = knownOpen ?? (await openTransactions());
          if (open > 0) discard = true;
          else if (session.ranScript) await pinned.reset();
        } catch {
          discard = true;
        }
      }
      this.#locks.delete(session);
      // Closing the connection ends the server session, which releases its locks and transaction.
      pinned.end({ discard: discard || locks.size > 0 });
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await (await pool.catch(() => undefined))?.close();
  }

  classifyError(err: unknown): ErrorClassification {
    return classifyMssqlError(err);
  }
}

/** The `affected` column of a statement ending in `SELECT @@ROWCOUNT AS affected`. */
export function affected(rows: readonly Record<string, unknown>[]): number {
  return Number(rows[0]?.affected ?? 0);
}

/**
 * Bind a positional parameter with an explicit type, so that plans are reused (one NVARCHAR
 * length for all short strings) and dates keep DATETIME2 precision (mssql would infer DATETIME).
 */
export function bindInput(request: sql.Request, name: string, value: unknown): void {
  if (value === null || value === undefined) request.input(name, sql.NVarChar(4000), null);
  else if (typeof value === 'string') request.input(name, sql.NVarChar(value.length > 4000 ? sql.MAX : 4000), value);
  else if (typeof value === 'number') {
    if (!Number.isInteger(value)) request.input(name, sql.Float, value);
    else if (Math.abs(value) <= 2_147_483_647) request.input(name, sql.Int, value);
    else request.input(name, sql.BigInt, value);
  } else if (typeof value === 'bigint') request.input(name, sql.BigInt, value.toString());
  else if (typeof value === 'boolean') request.input(name, sql.Bit, value);
  else if (value instanceof Date) request.input(name, sql.DateTime2(7), value);
  else if (Buffer.isBuffer(value)) request.input(name, sql.VarBinary(sql.MAX), value);
  else request.input(name, sql.NVarChar(sql.MAX), JSON.stringify(value));
}
