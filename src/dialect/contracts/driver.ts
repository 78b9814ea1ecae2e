/**
 * Sessions, transactions and error classification: the part of a dialect that talks to the
 * database driver. Every other contract is written in terms of a {@link SqlSession}.
 */

/** What the algorithm may rely on. */
export interface DialectCapabilities {
  /** DDL can be rolled back (PostgreSQL yes; SQL Server yes for most DDL). */
  readonly transactionalDdl: boolean;
  /** More than one session can run at once (false for PGlite). */
  readonly multipleConnections: boolean;
}

/** One connection. Not shared between concurrent tasks. */
export interface SqlSession {
  /**
   * Run one statement with positional parameters. Placeholders are written `$1, $2, …` in
   * every dialect; the mssql adapter rewrites them to named inputs.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * Run a rendered migration script. The dialect splits it into batches (`GO` on SQL Server) and
   * throws a {@link ScriptExecutionError} naming the failing batch and the script line.
   */
  runScript(sql: string): Promise<void>;
  /** Start a transaction on this session (SQL Server: with `SET XACT_ABORT ON`). */
  begin(): Promise<void>;
  commit(): Promise<void>;
  /** Roll back if a transaction is open; never throws for "no transaction". */
  rollback(): Promise<void>;
  /** True between begin() and commit()/rollback(). */
  readonly inTransaction: boolean;
  /**
   * Mark the session's state as unknown (e.g. a lock it held could not be released): its connection
   * is destroyed when the session ends, never handed to anyone else.
   */
  invalidate?(): void;
}

/** Run `fn` in a transaction on `session`: commit on success, roll back and rethrow on failure. */
export async function inTransaction<T>(session: SqlSession, fn: () => Promise<T>): Promise<T> {
  await session.begin();
  try {
    const result = await fn();
    await session.commit();
    return result;
  } catch (err) {
    await session.rollback().catch(() => undefined);
    throw err;
  }
}

/** Thrown by `runScript`: where in the script the server failed. Lines are 1-based, script-relative. */
export class ScriptExecutionError extends Error {
  constructor(
    message: string,
    readonly batchIndex: number,
    readonly line: number | undefined,
    readonly column: number | undefined,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'ScriptExecutionError';
  }
}

/**
 * The engine's transaction was gone when the script finished: the script committed or rolled back on
 * its own (and perhaps began another transaction, without the tenant lock). Nothing is recorded; what
 * the script did before its own COMMIT may be committed.
 */
export class TransactionEndedError extends Error {
  constructor(options: { cause: unknown }) {
    super(
      "the migration ended the migration's transaction itself (COMMIT, ROLLBACK or BEGIN in the script): its meta row was not written, " +
        'and what ran before that point may have been committed without it. Remove the transaction control, or mark the file `-- tenant-migrate: no-transaction`',
      options,
    );
    this.name = 'TransactionEndedError';
  }
}

export interface ErrorClassification {
  /** Worth retrying with backoff: deadlock, serialization failure, connection reset, throttling. */
  readonly transient: boolean;
  /** SQLSTATE (PostgreSQL) or error number (SQL Server). */
  readonly code?: string | number;
  readonly message: string;
}

/** A pool of sessions (one for PGlite) and the dialect's error classification. */
export interface Driver {
  /** Pool size (1 for PGlite). */
  readonly maxConnections: number;
  /**
   * Grow the pool to at least `n` connections (never shrinks; a no-op for single-connection
   * dialects). `up({ concurrency })` may ask for more tasks than the configured pool was sized for.
   */
  ensureCapacity(n: number): void;
  /** Borrow a session from the pool for the duration of `fn`. */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Map a driver error to transient/permanent and its server code. */
  classifyError(err: unknown): ErrorClassification;
}
