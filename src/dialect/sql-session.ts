import { randomUUID } from 'node:crypto';
import type { DialectSyntax } from './dialect-syntax.js';
import { ScriptExecutionError, type SqlSession, TransactionEndedError } from './contracts/driver.js';

/**
 * How a dialect proves, before the meta row is written, that the transaction the engine opened is
 * still the one the script runs in: `begin` marks the transaction (a transaction-local value), `check`
 * raises an error `isViolation` recognises when the mark is gone — the script committed or rolled
 * back (and maybe began again) on its own.
 */
export interface TransactionGuard {
  begin(token: string): string;
  check(token: string): string;
  isViolation(err: unknown): boolean;
  /** Whether the check may be appended to this script batch (else it is sent alone); default yes. */
  joinable?(batchSql: string): boolean;
}

/** The two driver calls a session is built from. */
export interface SessionDriver {
  query(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * Run one batch of a script (possibly several statements). May resolve to the rows every
   * statement returned, in order (PostgreSQL, PGlite), which a folded send reads its results from.
   */
  exec(sql: string): Promise<readonly Record<string, unknown>[] | void>;
  /** Character offset (1-based) of the error inside the batch, if the server reports one. */
  errorPosition(err: unknown): number | undefined;
  /** Line (1-based) of the error inside the batch, if the server reports one (SQL Server). */
  errorLine?(err: unknown): number | undefined;
}

/** What a dialect adds to a session so that a script cannot leave it changed (PostgreSQL, PGlite). */
export interface SessionHygiene {
  /**
   * Statements that return the session to its state after login, valid inside a transaction and in
   * a multi-statement request, so they can ride in front of the next request instead of costing one.
   */
  readonly reset?: string;
  /** The connection ran a script in its previous session: reset before anything else runs. */
  readonly resetPending?: boolean;
  /**
   * Releases session-level locks a script took and left (PostgreSQL: advisory locks). Never part of
   * {@link reset}, which may run while the engine holds its own session lock on a tenant: it runs
   * only where the engine holds none — first on a connection inherited dirty, and at the end of a
   * folded send (the fast path takes only transaction-scoped locks).
   */
  readonly releaseLocks?: string;
  readonly guard: TransactionGuard;
  /**
   * After a script ran outside the engine's transaction: is a transaction still open on the server
   * (`aborted`: one that failed and accepts only ROLLBACK)? Ends it either way. (SQL Server's
   * session checks @@TRANCOUNT itself.)
   */
  endOpenTransaction?(): Promise<'none' | 'open' | 'aborted'>;
}

/** Line and column of a 1-based character offset in `text`. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, position - 1));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

/**
 * Raised when a migration leaves a transaction open: a no-transaction migration with its own
 * BEGIN and no COMMIT, or a nested BEGIN TRANSACTION inside a transactional migration (SQL Server).
 * The open transaction is rolled back.
 */
export class OpenTransactionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpenTransactionError';
  }
}

/**
 * A session over one connection. Transactions are plain BEGIN/COMMIT/ROLLBACK statements (with
 * dialect-specific begin text), which keeps the behaviour identical across drivers.
 *
 * With {@link SessionHygiene} (PostgreSQL, PGlite) the session also keeps the promise "a session
 * carries nothing" (DESIGN.md, safety invariant 2): every script starts on a reset session — the
 * reset rides in front of the next BEGIN or folded send, or goes alone before a plain query — and a
 * transactional script's end is checked for the engine's transaction mark before its meta row.
 */
export class DriverSession implements SqlSession {
  #inTransaction = false;
  /** The guard's token of the open transaction (hygiene only). */
  #token: string | undefined;
  /** The reset has to run before the next statement (a script ran since the last one). */
  #resetPending: boolean;
  /** The connection came from the pool with its reset pending (no lock of this session held yet). */
  #inheritedDirty: boolean;
  /** The open transaction's BEGIN carried the reset: a rollback undoes it. */
  #resetInTransaction = false;
  #ranScript = false;
  #ranAutocommitScript = false;
  #unusable = false;
  readonly #driver: SessionDriver;
  readonly #syntax: DialectSyntax;
  readonly #beginSql: string;
  readonly #hygiene: SessionHygiene | undefined;

  constructor(driver: SessionDriver, syntax: DialectSyntax, beginSql = 'BEGIN', hygiene?: SessionHygiene) {
    this.#driver = driver;
    this.#syntax = syntax;
    this.#beginSql = beginSql;
    this.#hygiene = hygiene;
    this.#resetPending = hygiene?.resetPending ?? false;
    this.#inheritedDirty = this.#resetPending;
  }

  get inTransaction(): boolean {
    return this.#inTransaction;
  }

  /** A script ran on this session: its connection must be reset before anyone else uses it. */
  get ranScript(): boolean {
    return this.#ranScript;
  }

  /** A script ran outside the engine's transaction (it may have left one open). */
  get ranAutocommitScript(): boolean {
    return this.#ranAutocommitScript;
  }

  /** The session's state is unknown (a lock it held could not be released): destroy, never pool. */
  get unusable(): boolean {
    return this.#unusable;
  }

  /** The connection must be reset before its next use (a script ran since its last reset). */
  get resetPending(): boolean {
    return this.#resetPending;
  }

  invalidate(): void {
    this.#unusable = true;
  }

  /** The pending reset as a prefix of the next request ('' when none). */
  #takeReset(): string {
    if (!this.#hygiene?.reset || !this.#resetPending) return '';
    this.#resetPending = false;
    // A connection inherited dirty holds no lock of this session's engine yet.
    const locks = this.#inheritedDirty && this.#hygiene.releaseLocks ? `${this.#hygiene.releaseLocks};\n` : '';
    this.#inheritedDirty = false;
    return `${this.#hygiene.reset};\n${locks}`;
  }

  async #resetAlone(): Promise<void> {
    const prefix = this.#takeReset();
    if (prefix) {
      try {
        await this.#driver.exec(prefix);
      } catch (err) {
        // A connection that cannot be reset is never handed to anyone again.
        this.#resetPending = true;
        this.#unusable = true;
        throw err;
      }
    }
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    // Outside a transaction the reset runs first (inside one, the BEGIN carried it).
    if (!this.#inTransaction) await this.#resetAlone();
    return this.#driver.query(sql, params) as Promise<R[]>;
  }

  async runScript(sql: string): Promise<void> {
    const guarded = this.#hygiene !== undefined && this.#inTransaction && this.#token !== undefined;
    if (!this.#inTransaction) {
      // A no-transaction script runs alone (CREATE INDEX CONCURRENTLY must be a request of its own).
      await this.#resetAlone();
      this.#ranAutocommitScript = true;
    }
    let failure: { error: unknown } | undefined;
    try {
      const batches = this.#syntax.splitBatches(sql);
      for (const [index, batch] of batches.entries()) {
        // The guard's check rides at the end of the script's last request: no round trip of its own.
        const guard = this.#hygiene?.guard;
        const last = index === batches.length - 1;
        const join = guarded && last && batch.repeat === 1 && (guard!.joinable?.(batch.sql) ?? true);
        const text = join ? `${batch.sql}\n;\n${guard!.check(this.#token!)}` : batch.sql;
        for (let i = 0; i < batch.repeat; i++) {
          try {
            await this.#driver.exec(text);
          } catch (err) {
            if (guarded && guard!.isViolation(err)) throw transactionEnded(err);
            throw this.#locate(err, index, batch.sql, batch.startLine);
          }
        }
        if (guarded && last && !join) {
          try {
            await this.#driver.exec(guard!.check(this.#token!));
          } catch (err) {
            throw guard!.isViolation(err) ? transactionEnded(err) : err;
          }
        }
      }
    } catch (error) {
      failure = { error };
    }
    this.#scriptRan();
    if (!this.#inTransaction && this.#hygiene?.endOpenTransaction) {
      // A no-transaction script may have left a transaction open (BEGIN without COMMIT) or aborted
      // (an error between its BEGIN and COMMIT): end it now, before the meta row or anything else.
      const state = await this.#hygiene.endOpenTransaction();
      if (state === 'open' && !failure) {
        throw new OpenTransactionError('the script left a transaction open (BEGIN without COMMIT); it was rolled back and the migration is not recorded');
      }
    }
    if (failure) throw failure.error;
  }

  /** The script may have changed the session: the next script (or the next user) starts from a reset. */
  #scriptRan(): void {
    this.#ranScript = true;
    if (this.#hygiene?.reset) this.#resetPending = true;
  }

  /**
   * Send `text` as one request that opens and ends its own transaction (the folded send). A pending
   * reset rides in front of it; error positions stay relative to `text`.
   */
  async sendFolded(text: string): Promise<readonly Record<string, unknown>[]> {
    const prefix = this.#takeReset();
    // The reset rides at the end as well: a send that ran to its end leaves the session clean, so the
    // next user of the connection (usually a ledger write) needs no request of its own for it.
    const release = this.#hygiene?.releaseLocks ? `\n${this.#hygiene.releaseLocks};` : '';
    const suffix = this.#hygiene?.reset ? `;\n${this.#hygiene.reset};${release}` : '';
    let clean = false;
    try {
      const rows = await this.#driver.exec(prefix + text + suffix);
      clean = suffix !== '';
      return rows ?? [];
    } catch (err) {
      if (this.#hygiene?.guard.isViolation(err)) throw transactionEnded(err);
      const position = this.#driver.errorPosition(err);
      const shifted = position !== undefined ? position - prefix.length : undefined;
      if (shifted !== undefined && shifted >= 1) {
        const { line, column } = lineAndColumn(text, shifted);
        throw new ScriptExecutionError(err instanceof Error ? err.message : String(err), 0, line, column, { cause: err });
      }
      throw new ScriptExecutionError(err instanceof Error ? err.message : String(err), 0, undefined, undefined, { cause: err });
    } finally {
      this.#scriptRan();
      if (clean) this.#resetPending = false;
    }
  }

  /** ROLLBACK whatever this session's own bookkeeping says: after a request that opened its own transaction. */
  async rollbackRequest(): Promise<void> {
    await this.#driver.exec('ROLLBACK');
  }

  /** The transaction guard of this session's dialect (PostgreSQL, PGlite), for a request that opens its own transaction. */
  get guard(): TransactionGuard | undefined {
    return this.#hygiene?.guard;
  }

  #locate(err: unknown, batchIndex: number, batchSql: string, startLine: number): ScriptExecutionError {
    const message = err instanceof Error ? err.message : String(err);
    const position = this.#driver.errorPosition(err);
    if (position !== undefined) {
      const { line, column } = lineAndColumn(batchSql, position);
      return new ScriptExecutionError(message, batchIndex, startLine + line - 1, column, { cause: err });
    }
    const line = this.#driver.errorLine?.(err);
    return new ScriptExecutionError(
      message,
      batchIndex,
      line !== undefined ? startLine + line - 1 : undefined,
      undefined,
      { cause: err },
    );
  }

  async begin(): Promise<void> {
    if (this.#hygiene) {
      const prefix = this.#takeReset();
      const token = randomUUID();
      try {
        await this.#driver.exec(`${prefix}${this.#beginSql.replace(/;\s*$/, '')};\n${this.#hygiene.guard.begin(token)}`);
      } catch (err) {
        if (prefix) {
          this.#resetPending = true;
          this.#unusable = true;
        }
        throw err;
      }
      this.#token = token;
      this.#resetInTransaction = prefix !== '';
    } else await this.#driver.exec(this.#beginSql);
    this.#inTransaction = true;
  }

  async commit(): Promise<void> {
    try {
      await this.#driver.exec('COMMIT');
    } finally {
      this.#endTransaction(false);
    }
  }

  async rollback(): Promise<void> {
    if (!this.#inTransaction) return;
    this.#endTransaction(true);
    await this.#driver.exec('ROLLBACK');
  }

  #endTransaction(rolledBack: boolean): void {
    this.#inTransaction = false;
    this.#token = undefined;
    // A rolled-back reset did not happen.
    if (rolledBack && this.#resetInTransaction) this.#resetPending = true;
    this.#resetInTransaction = false;
  }
}

/** The guard found the engine's transaction gone after the script. */
function transactionEnded(cause: unknown): TransactionEndedError {
  return new TransactionEndedError({ cause });
}
