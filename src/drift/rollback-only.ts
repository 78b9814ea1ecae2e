/**
 * Reads do not write: `drift` replays tenant migrations on a live server to learn what they make,
 * and whatever those migrations do outside their own schema (an insert into `{{master}}.AuditLog`,
 * a grant, a row in a shared table) must not stay. So the whole replay runs inside one transaction
 * that is always rolled back, scratch schema included: the migrations' own transactions become
 * savepoints, a `no-transaction` file's own BEGIN/COMMIT/ROLLBACK become savepoint statements
 * (PostgreSQL) or are refused (SQL Server), and after every migration a probe proves the
 * transaction is still the replay's — if a statement ended it anyway, the replay stops at once.
 *
 * A replay killed mid-way (kill -9, lost connection) leaves nothing either: the server rolls back
 * the open transaction when the session ends.
 */
import type { SqlSession } from '../dialect/contracts/driver.js';
import type { ReplayTransactionSql } from '../dialect/contracts/replay-transaction.js';
import type { DialectFamily } from '../dialect/dialect-syntax.js';
import { mssqlReplaySql } from '../dialect/mssql/mssql-replay.js';
import { postgresReplaySql } from '../dialect/postgres/postgres-replay.js';
import { TenantMigrateError } from '../errors.js';
import { stripComments } from '../release/lint-rules.js';
import { findTransactionControl } from '../release/transaction-control.js';

const STEP = 'tm_replay_step';
const SCRIPT = 'tm_replay_script';

export interface RollbackOnly {
  /** Hand this to the migrator: its transactions are savepoints inside the replay's transaction. */
  readonly session: SqlSession;
  /** Throws when the replay's transaction is no longer open (something in a script ended it). */
  check(): Promise<void>;
}

/**
 * Run `fn` inside one transaction on `session` that is rolled back whatever happens.
 *
 * @example
 * await withRollbackOnly(session, 'postgres', async ({ session: inner, check }) => {
 *   await migrateSchema({ ..., session: inner }); await check();
 * });
 */
export async function withRollbackOnly<T>(session: SqlSession, family: DialectFamily, fn: (r: RollbackOnly) => Promise<T>): Promise<T> {
  const sql = family === 'mssql' ? mssqlReplaySql : postgresReplaySql;
  await session.begin();
  try {
    await session.query(sql.arm);
    const check = async () => {
      const [row] = await session.query<{ ok: number | string }>(sql.probe);
      if (Number(row?.ok) !== 1) {
        throw new TenantMigrateError(
          'MIGRATION_UNSAFE',
          'drift stopped its replay: a migration ended the transaction the replay runs in, so what it did outside the scratch schema may have been committed',
          { dialect: family },
        );
      }
    };
    return await fn({ session: new SavepointSession(session, sql, family), check });
  } finally {
    await session.rollback().catch(() => undefined);
  }
}

/** A session whose transactions are savepoints of the enclosing (replay) transaction. */
class SavepointSession implements SqlSession {
  readonly #real: SqlSession;
  readonly #sql: ReplayTransactionSql;
  readonly #family: DialectFamily;
  #open = false;

  constructor(real: SqlSession, sql: ReplayTransactionSql, family: DialectFamily) {
    this.#real = real;
    this.#sql = sql;
    this.#family = family;
  }

  get inTransaction(): boolean {
    return this.#open;
  }

  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return this.#real.query<R>(text, params);
  }

  runScript(text: string): Promise<void> {
    return this.#real.runScript(replayableScript(text, this.#family, this.#sql));
  }

  async begin(): Promise<void> {
    await this.#real.query(this.#sql.savepoint(STEP));
    this.#open = true;
  }

  async commit(): Promise<void> {
    this.#open = false;
    const release = this.#sql.release(STEP);
    if (release) await this.#real.query(release);
  }

  async rollback(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    await this.#real.query(this.#sql.rollbackTo(STEP));
  }
}

/**
 * A script as the replay may run it inside its transaction. Only a `no-transaction` file can hold
 * top-level transaction control (the render refuses it elsewhere). On PostgreSQL its BEGIN / COMMIT /
 * ROLLBACK become SAVEPOINT / RELEASE / ROLLBACK TO (the catalog it makes is the same) and
 * `CONCURRENTLY` is dropped from index statements (it cannot run in a transaction; the index is the
 * same). On SQL Server such a script is refused: nested transactions there cannot be made safe by rewriting.
 */
export function replayableScript(text: string, family: DialectFamily, sql: ReplayTransactionSql = family === 'mssql' ? mssqlReplaySql : postgresReplaySql): string {
  const src = text.replace(/\r\n?/g, '\n');
  const found = findTransactionControl(src, family).filter((f) => f.severity === 'error');
  if (family === 'mssql') {
    if (found.length > 0) {
      const f = found[0]!;
      throw new TenantMigrateError(
        'MIGRATION_UNSAFE',
        `line ${f.line}: ${f.statement}: drift replays on the server inside one transaction it rolls back, and a script's own transaction control would end it; replay this fleet with --offline or drop the statement from the no-transaction file`,
        { line: f.line, key: f.statement },
      );
    }
    return src;
  }
  const clean = stripComments(src, family, true);
  const edits: { from: number; to: number; text: string }[] = [];
  for (const f of found) {
    const end = clean.indexOf(';', f.offset);
    const to = end < 0 ? src.length : end;
    const word = f.statement.split(' ')[0]!;
    const replacement =
      word === 'BEGIN' || word === 'START' ? sql.savepoint(SCRIPT) : word === 'COMMIT' || word === 'END' ? sql.release(SCRIPT) : word === 'ROLLBACK' || word === 'ABORT' ? sql.rollbackTo(SCRIPT) : undefined;
    if (replacement === undefined || f.statement.includes('PREPARE')) {
      throw new TenantMigrateError('MIGRATION_UNSAFE', `line ${f.line}: ${f.statement} cannot be replayed inside drift's transaction`, { line: f.line, key: f.statement });
    }
    edits.push({ from: f.offset, to, text: replacement });
  }
  for (const m of clean.matchAll(/\bINDEX\s+(CONCURRENTLY)\b/gi)) {
    const from = m.index + m[0].length - m[1]!.length;
    edits.push({ from, to: from + m[1]!.length, text: '' });
  }
  let out = src;
  for (const e of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, e.from) + e.text + out.slice(e.to);
  return out;
}
