import type { DialectSyntax } from './dialect-syntax.js';
import { ScriptExecutionError, type SqlSession } from './dialect-adapter.js';

/** The two driver calls a session is built from. */
export interface SessionDriver {
  query(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** Run one batch of a script (possibly several statements). */
  exec(sql: string): Promise<void>;
  /** Character offset (1-based) of the error inside the batch, if the server reports one. */
  errorPosition(err: unknown): number | undefined;
  /** Line (1-based) of the error inside the batch, if the server reports one (SQL Server). */
  errorLine?(err: unknown): number | undefined;
}

/** Line and column of a 1-based character offset in `text`. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, position - 1));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

/**
 * A session over one connection. Transactions are plain BEGIN/COMMIT/ROLLBACK statements (with
 * dialect-specific begin text), which keeps the behaviour identical across drivers.
 */
export class DriverSession implements SqlSession {
  #inTransaction = false;
  readonly #driver: SessionDriver;
  readonly #syntax: DialectSyntax;
  readonly #beginSql: string;

  constructor(driver: SessionDriver, syntax: DialectSyntax, beginSql = 'BEGIN') {
    this.#driver = driver;
    this.#syntax = syntax;
    this.#beginSql = beginSql;
  }

  get inTransaction(): boolean {
    return this.#inTransaction;
  }

  query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.#driver.query(sql, params) as Promise<R[]>;
  }

  async runScript(sql: string): Promise<void> {
    const batches = this.#syntax.splitBatches(sql);
    for (const [index, batch] of batches.entries()) {
      for (let i = 0; i < batch.repeat; i++) {
        try {
          await this.#driver.exec(batch.sql);
        } catch (err) {
          throw this.#locate(err, index, batch.sql, batch.startLine);
        }
      }
    }
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
    await this.#driver.exec(this.#beginSql);
    this.#inTransaction = true;
  }

  async commit(): Promise<void> {
    try {
      await this.#driver.exec('COMMIT');
    } finally {
      this.#inTransaction = false;
    }
  }

  async rollback(): Promise<void> {
    if (!this.#inTransaction) return;
    this.#inTransaction = false;
    await this.#driver.exec('ROLLBACK');
  }
}
