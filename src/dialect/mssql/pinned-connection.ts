import sql from 'mssql';

/** The tedious connection object the mssql pool hands out (opaque to us but for `close`/`closed`). */
export interface TediousConnection {
  readonly closed?: boolean;
  close(): void;
  /** tedious `Connection#reset`: the next request carries the TDS reset flag (sp_reset_connection). */
  reset(callback: (err?: Error | null) => void): void;
}

/** The parts of mssql's ConnectionPool this file uses beyond the typed API. */
interface PoolInternals {
  readonly config: sql.config;
  readonly connected: boolean;
  readonly collation?: unknown;
  acquire(requester: unknown): Promise<TediousConnection>;
  release(connection: TediousConnection): void;
}

type Callback = (err: Error | null, connection?: TediousConnection, config?: sql.config) => void;

/**
 * One pooled connection, kept for the life of a session: every `Request` created by
 * {@link request} runs on it.
 *
 * The `mssql` package lets a `Request` run on any "parent" that can hand it a connection —
 * `ConnectionPool`, `Transaction`, `PreparedStatement` (see `Request` constructor docs and
 * `Transaction#acquire`/`#release` in node-mssql's lib/base/transaction.js). This class is such a
 * parent for a connection taken with `ConnectionPool#acquire()`: the public, documented way to
 * borrow one connection without starting a transaction, which the package itself does not offer
 * (https://github.com/tediousjs/node-mssql/issues/1517). Like a Transaction, it refuses a second
 * concurrent request, because TDS runs one request at a time per connection.
 */
export class PinnedConnection {
  readonly #pool: PoolInternals;
  readonly #connection: TediousConnection;
  #busy = false;
  #released = false;

  private constructor(pool: PoolInternals, connection: TediousConnection) {
    this.#pool = pool;
    this.#connection = connection;
  }

  static async acquire(pool: sql.ConnectionPool): Promise<PinnedConnection> {
    const internals = pool as unknown as PoolInternals;
    // Nagle's algorithm is already off: toMssqlConfig turns it off on every connection at login.
    const connection = await internals.acquire(pool);
    return new PinnedConnection(internals, connection);
  }

  /** A new Request bound to this connection. */
  request(): sql.Request {
    if (this.#released) throw new Error('session already ended: its connection went back to the pool');
    return new sql.Request(this as unknown as sql.ConnectionPool);
  }

  // — the parent contract mssql's Request uses —

  get config(): sql.config {
    return this.#pool.config;
  }

  get connected(): boolean {
    return this.#pool.connected && !this.#released && !this.#connection.closed;
  }

  /** Used by mssql to validate string parameters against the server collation. */
  get collation(): unknown {
    return this.#pool.collation;
  }

  acquire(_request: unknown, callback: Callback): this {
    if (this.#released || this.#connection.closed) {
      setImmediate(callback, Object.assign(new Error('The session connection is closed'), { code: 'ECONNCLOSED' }));
    } else if (this.#busy) {
      setImmediate(callback, Object.assign(new Error('Another request is in progress on this session'), { code: 'EREQINPROG' }));
    } else {
      this.#busy = true;
      setImmediate(callback, null, this.#connection, this.#pool.config);
    }
    return this;
  }

  release(connection: TediousConnection): this {
    if (connection === this.#connection) this.#busy = false;
    return this;
  }

  /**
   * Reset the server session to its state after login, as ADO.NET does between pooled uses:
   * tedious' public `Connection#reset` sends its initial SET options in a batch flagged
   * RESETCONNECTION (the server runs sp_reset_connection first). That drops #temp tables, resets
   * SET options (XACT_ABORT, IDENTITY_INSERT, LOCK_TIMEOUT, …) and the database context.
   * Babelfish honours the flag for SET options and #temp tables but keeps an open transaction,
   * so callers check @@TRANCOUNT first and discard a connection that still has one.
   */
  reset(): Promise<void> {
    if (this.#released || this.#connection.closed) return Promise.reject(Object.assign(new Error('The session connection is closed'), { code: 'ECONNCLOSED' }));
    if (this.#busy) return Promise.reject(Object.assign(new Error('Another request is in progress on this session'), { code: 'EREQINPROG' }));
    this.#busy = true;
    return new Promise<void>((resolve, reject) => {
      this.#connection.reset((err) => {
        this.#busy = false;
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /**
   * Give the connection back to the pool. With `discard`, close it first: the pool's validation
   * then destroys it instead of handing it out, and the server ends its session (releasing any
   * application lock or open transaction it still held).
   */
  end(options: { discard: boolean }): void {
    if (this.#released) return;
    this.#released = true;
    if (options.discard && !this.#connection.closed) {
      try {
        this.#connection.close();
      } catch {
        // already closing
      }
    }
    this.#pool.release(this.#connection);
  }
}

/** The parts of mssql's tedious ConnectionPool that make and end its connections. */
interface PoolLifecycle {
  _poolCreate(): Promise<TediousConnection>;
  _poolDestroy(connection: TediousConnection): Promise<void>;
  _close(callback: (err?: Error | null) => void): void;
}

const lifecycle = sql.ConnectionPool.prototype as unknown as PoolLifecycle;

/**
 * A pool that keeps the connection mssql opens to test the settings. `ConnectionPool#connect`
 * creates one connection, closes it, then builds the pool, whose first request logs in again: a
 * login thrown away by every process (a TLS handshake and an authentication against Azure SQL; on
 * Babelfish ~60 ms and a new backend). Here that connection is kept and becomes the pool's first,
 * unless it was closed meanwhile. mssql is pinned to an exact version; a unit test checks these
 * methods exist in it.
 */
export class ReusingConnectionPool extends sql.ConnectionPool {
  #spare: TediousConnection | undefined;
  #tested = false;

  _poolDestroy(connection: TediousConnection): Promise<void> {
    // The first connection ended is the test connection of connect(): keep it.
    if (!this.#tested) {
      this.#tested = true;
      if (connection && !connection.closed) {
        this.#spare = connection;
        return Promise.resolve();
      }
    }
    return lifecycle._poolDestroy.call(this, connection);
  }

  _poolCreate(): Promise<TediousConnection> {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare && !spare.closed && !(spare as { hasError?: boolean }).hasError) return Promise.resolve(spare);
    if (spare) void lifecycle._poolDestroy.call(this, spare).catch(() => undefined);
    return lifecycle._poolCreate.call(this);
  }

  _close(callback: (err?: Error | null) => void): void {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare) void lifecycle._poolDestroy.call(this, spare).catch(() => undefined);
    lifecycle._close.call(this, callback);
  }
}
