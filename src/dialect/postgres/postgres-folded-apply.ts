import { randomUUID } from 'node:crypto';
import { ScriptExecutionError, type SqlSession, TransactionEndedError } from '../contracts/driver.js';
import { DriverSession } from '../sql-session.js';
import { type FoldedApply, type FoldedMigration, type FoldedOutcome, recordingSession, tenantTimes } from '../contracts/folded-apply.js';
import type { AdapterNames } from '../dialect.js';
import { appliedFingerprint, summaryOf } from '../../planner/applied-summary.js';
import { advisoryKey } from './postgres-locks.js';
import { POSTGRES_RELEASE_LOCKS, POSTGRES_SESSION_RESET, postgresTransactionGuard } from './postgres-session.js';
import { type PostgresSql, appliedDigest } from './postgres-sql.js';
import { doBlock, quotePostgresIdent as q, quotePostgresString as lit } from './postgres-syntax.js';

/** SQLSTATEs the send raises itself (class `TM` is not used by PostgreSQL). */
const BUSY = 'TM001';
const STALE = 'TM002';
/** When the row is written (not now(): a shared send is one request, stamped once at its start). */
const NOW = "(clock_timestamp() at time zone 'utc')";
/** A transaction-local setting holding the clock when the migration's transaction began. */
const STARTED = 'tenant_migrate.started';

/** A parameter as a PostgreSQL literal (the simple query protocol takes no parameters). */
export function postgresLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`Cannot inline ${value} as a literal`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return lit(value.toISOString());
  if (Array.isArray(value)) return `ARRAY[${value.map(postgresLiteral).join(', ')}]`;
  return lit(String(value));
}

/** `$n` placeholders replaced by literals (our own SQL texts only: none has `$n` inside a string). */
export function inlineParams(sql: string, params: readonly unknown[] = []): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => postgresLiteral(params[Number(n) - 1]));
}

const lineCount = (text: string) => text.split('\n').length - 1;

/**
 * The folded send on PostgreSQL and PGlite: one multi-statement simple query (pg's
 * `client.query(text)` without parameters; PGlite's `exec`), values as escaped literals.
 * The lock is `pg_try_advisory_xact_lock` on the key the session lock uses, so the two exclude
 * each other and the transaction lock ends with COMMIT or ROLLBACK (or with a killed connection).
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-MULTI-STATEMENT
 */
export class PostgresFoldedApply implements FoldedApply {
  readonly #names: AdapterNames;
  readonly #sql: PostgresSql;

  constructor(names: AdapterNames, sql: PostgresSql) {
    this.#names = names;
    this.#sql = sql;
  }

  recorder(): { session: SqlSession; statements: string[] } {
    return recordingSession(inlineParams);
  }

  /**
   * The text sent: head (BEGIN, transaction mark, lock, check, prelude), the script, tail (the mark
   * checked, meta row, summary row, COMMIT). The mark is a transaction-local setting: if the script
   * committed or rolled back (and perhaps began again) on its own, the check raises before the meta
   * row, so a bypass is reported and never recorded as applied.
   */
  build(m: FoldedMigration, token: string = randomUUID(), options: { readonly reportTime?: boolean } = {}): { head: string; text: string } {
    const meta = `${q(m.schema)}.${q(this.#names.metaTable)}`;
    const raise = (code: string, message: string) => `RAISE EXCEPTION ${lit(message)} USING ERRCODE = '${code}'`;
    const body = (plpgsql: string) => `${doBlock(`BEGIN ${plpgsql} END`)};`;
    // Lock and check first, in one block: the check accepts a missing meta table only when the
    // plan read none (a fresh tenant; the prelude creates it). Then the prelude, then the script.
    // The script starts early in the text, which also keeps it inside pg_stat_activity's query.
    const empty = m.expected.length === 0;
    const guard = postgresTransactionGuard;
    const head = [
      `BEGIN; ${guard.begin(token)}; SELECT set_config('${STARTED}', clock_timestamp()::text, true);`,
      body(
        `IF NOT pg_try_advisory_xact_lock(hashtextextended(${lit(advisoryKey(m.schema))}, 0)) THEN ${raise(BUSY, 'tenant is locked')}; END IF; ` +
          `IF to_regclass(${lit(meta)}) IS NULL THEN ${empty ? 'NULL' : `${raise(STALE, 'no meta table')}`}; ` +
          `ELSIF (SELECT ${appliedDigest} FROM ${meta}) <> ${lit(appliedFingerprint(m.expected))} ` +
          `THEN ${raise(STALE, 'meta table changed since the plan')}; END IF;`,
      ),
      ...m.prelude.map((s) => `${s};`),
      '',
    ].join('\n');
    const { row } = m;
    // From this transaction's own start: now() is the start of the whole request, which a shared
    // send spans (PostgreSQL stamps a multi-statement message once).
    const elapsed = `(extract(epoch from clock_timestamp() - COALESCE(NULLIF(current_setting('${STARTED}', true), '')::timestamptz, now())) * 1000)::integer`;
    const tail =
      `\n;\n${guard.check(token)};\nINSERT INTO ${meta} (id, checksum, rendered_checksum, applied_utc, duration_ms, run_id) VALUES (` +
      `${lit(row.id)}, ${lit(row.checksum)}, ${lit(row.renderedChecksum)}, ${NOW}, ${elapsed}, ${postgresLiteral(row.runId)})` +
      (options.reportTime ? ` RETURNING ${lit(m.schema)}::text AS tm_tenant, duration_ms AS tm_ms` : '') +
      `;\n${this.#sql.upsertSummary(summaryOf(m.schema, [...m.expected, row]))};\nCOMMIT;`;
    return { head, text: head + m.script + tail };
  }

  /**
   * {@link FoldedApply.applyMany}: the texts of {@link build} one after the other in one simple
   * query, the session reset between them. PostgreSQL runs a multi-statement query to its first
   * error and skips the rest, and each text's own BEGIN … COMMIT decides its tenant alone: what
   * committed before the error stays committed, the failing one is rolled back here.
   */
  async applyMany(session: SqlSession, migrations: readonly FoldedMigration[]): Promise<ReadonlyMap<string, number>> {
    // The fast path holds no session lock, so what a script left (advisory locks included) goes too.
    // Each text reports its tenant's time just before its COMMIT: the request's rows say who took how long.
    const text = migrations
      .map((m) => this.build(m, undefined, { reportTime: true }).text)
      .join(`\n${POSTGRES_SESSION_RESET};\n${POSTGRES_RELEASE_LOCKS};\n`);
    const own = session instanceof DriverSession ? session : undefined;
    try {
      if (own) return tenantTimes(await own.sendFolded(text));
      await session.runScript(text);
      return new Map();
    } catch (err) {
      await (own ? own.rollbackRequest() : session.query('ROLLBACK')).catch(() => undefined);
      throw err;
    }
  }

  async apply(session: SqlSession, m: FoldedMigration): Promise<FoldedOutcome> {
    const { head, text } = this.build(m);
    const own = session instanceof DriverSession ? session : undefined;
    try {
      if (own) await own.sendFolded(text);
      else await session.runScript(text);
      return 'applied';
    } catch (err) {
      // A failed statement leaves the transaction aborted (or the connection gone): end it.
      await (own ? own.rollbackRequest() : session.query('ROLLBACK')).catch(() => undefined);
      if (err instanceof TransactionEndedError) throw err;
      const cause = err instanceof ScriptExecutionError ? err.cause : err;
      const code = (cause as { code?: unknown } | null)?.code;
      if (code === BUSY) return 'busy';
      if (code === STALE) return 'stale';
      if (!(err instanceof ScriptExecutionError)) throw err;
      // Lines of the whole text → lines of the script (position is relative to the whole query string).
      const offset = lineCount(head);
      const line = err.line !== undefined ? err.line - offset : undefined;
      const inScript = line !== undefined && line >= 1 && line <= lineCount(m.script) + 1;
      throw new ScriptExecutionError(err.message, 0, inScript ? line : undefined, inScript ? err.column : undefined, { cause });
    }
  }
}
