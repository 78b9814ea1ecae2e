import { ScriptExecutionError, type SqlSession, TransactionEndedError } from '../contracts/driver.js';
import { type FoldedApply, type FoldedMigration, type FoldedOutcome, recordingSession, tenantTimes } from '../contracts/folded-apply.js';
import type { ScriptBatch } from '../dialect-syntax.js';
import type { AdapterNames } from '../dialect.js';
import { summaryOf } from '../../planner/applied-summary.js';
import { PRINT_CAUGHT_LINE, mssqlErrorLine, mssqlErrorNumber } from './mssql-errors.js';
import { MssqlSession, OpenTransactionError } from './mssql-session.js';
import { type MssqlSql, applockResource, inlineMssqlParams, lockResource, mssqlIdent, mssqlLiteral } from './mssql-sql.js';
import { splitGoBatches } from './go-splitter.js';
import { findTransactionControl } from '../../release/transaction-control.js';
import { quoteMssqlString as lit } from './mssql-syntax.js';

/** What keeps a script out of a batch shared with other tenants (see {@link MssqlFoldedApply.shareable}). */
const SESSION_BOUND = /\bUSE\b|#|\bDECLARE\b|\bGOTO\b|context_info|session_context|^\s*[A-Za-z_]\w*:\s*$/im;

/** Error numbers the send raises itself (user-defined range, ≥ 50000). */
const BUSY = 50_001;
const STALE = 50_002;
/** The tail found the head's transaction (and its tenant lock) gone: the script ended it. */
const TRANSACTION_ENDED = 50_003;

/**
 * A batch's first statement must be the only statement of its batch (CREATE/ALTER of a procedure,
 * function, view or trigger, CREATE SCHEMA, CREATE DEFAULT/RULE: "must be the first statement in a
 * query batch"), so nothing may be put in front of it, and its body runs to the end of the batch,
 * so nothing may be put after it either.
 * https://learn.microsoft.com/en-us/sql/t-sql/statements/create-procedure-transact-sql#limitations-and-restrictions
 */
const MUST_STAND_ALONE = /^(?:create|alter|create\s+or\s+alter)\s+(?:proc|procedure|function|view|trigger|schema|default|rule)\b/i;
/**
 * Statements that may follow other statements in a batch. A batch starting with anything else — a
 * bare procedure name (`sp_rename …` without EXEC is only valid first in a batch) or something we do
 * not know — is sent on its own, which is always correct, only one round trip dearer.
 */
const MAY_FOLLOW =
  /^(?:alter|create|drop|insert|update|delete|merge|exec|execute|if|declare|set|select|print|truncate|grant|revoke|deny|begin|while|with|raiserror|throw|waitfor|dbcc|enable|disable|open|close|fetch|deallocate|;)(?![\w@#$])/i;

/** The batch's text with leading whitespace and comments (`--`, nested block comments) removed. */
export function leadingCode(sql: string): string {
  let i = 0;
  for (;;) {
    while (i < sql.length && /\s/.test(sql[i]!)) i++;
    if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      if (end < 0) return '';
      i = end + 1;
    } else if (sql.startsWith('/*', i)) {
      let depth = 0;
      while (i < sql.length) {
        if (sql.startsWith('/*', i)) (depth++, (i += 2));
        else if (sql.startsWith('*/', i)) {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
      if (depth > 0) return '';
    } else return sql.slice(i);
  }
}

/** Whether our own statements may be put in front of (`head`) or after (`tail`) this script batch. */
export function mayJoin(batch: ScriptBatch, where: 'head' | 'tail'): boolean {
  if (batch.repeat !== 1) return false;
  const code = leadingCode(batch.sql);
  if (code === '' || MUST_STAND_ALONE.test(code)) return false;
  return where === 'tail' || MAY_FOLLOW.test(code);
}

/** One request of the send: its text, and where the script's lines sit inside it. */
interface OutgoingBatch {
  /** Lines of our own statements before the script's text (0 when the batch is only ours or only script). */
  readonly headLines: number;
  /** Script line of the batch's first script line; undefined for a batch of our own statements only. */
  readonly scriptStart: number | undefined;
  /** Index of the script's GO batch it carries (0 for a batch of our own statements). */
  readonly scriptBatch: number;
  /** Text; the tail is added when the batch is sent (it carries the measured duration). */
  readonly sql: string;
  /** Characters of script text at the end of `sql` (0 for a batch of our own statements). */
  readonly scriptLength: number;
  readonly withTail: boolean;
}

const lineCount = (text: string) => text.split('\n').length - 1;

/**
 * The folded send on SQL Server (DESIGN.md "Flow of up", step 5), in as few batches as the script
 * allows — for the usual migration (no procedure or view, no `GO`) one request:
 *
 *   SET XACT_ABORT ON; BEGIN TRANSACTION;
 *   sp_getapplock @LockOwner = 'Transaction', @LockTimeout = 0   → busy: THROW 50001
 *   meta table ≠ what the plan read                              → stale: THROW 50002
 *   <prelude: schema, meta table, grants — fresh tenants only>
 *   <the script's first GO batch>
 *   …each further GO batch as its own request…
 *   BEGIN TRY <last batch> END TRY BEGIN CATCH ROLLBACK (if any); THROW END CATCH
 *   XACT_STATE() = 1 and the tenant lock still this transaction's, else THROW 50003
 *   INSERT meta row; upsert summary row; COMMIT; SELECT @@TRANCOUNT
 *
 * The COMMIT travels in the same request as the script's last batch, and T-SQL does not end a
 * batch at every error: RAISERROR(…, 16, 1), or any error after the script's own
 * `SET XACT_ABORT OFF`, lets the batch go on. The TRY/CATCH around that batch sends every such
 * error to the CATCH, which rolls back and re-raises it (ending the batch before the COMMIT); the
 * check before the meta row proves the transaction is still the head's — a COMMIT or ROLLBACK in
 * the script (and a new BEGIN TRANSACTION after it) released the transaction-owned tenant lock.
 * Errors in an earlier batch fail its own request, and nothing commits before the last one.
 *
 * The transaction-owned applock uses the same resource as the session lock of the careful path, so
 * the two exclude each other; COMMIT, ROLLBACK or a dropped connection release it. XACT_ABORT makes
 * any error roll back the whole transaction, so a failure applies nothing. A batch that must stand
 * alone (CREATE PROCEDURE/VIEW/…, see {@link MUST_STAND_ALONE}) is sent alone, the head and the tail
 * then travel in their own batches. The meta table check compares ids and checksums with a VALUES
 * list (no STRING_AGG/HASHBYTES: one text for SQL Server 2016+ and Babelfish).
 * https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql
 */
export class MssqlFoldedApply implements FoldedApply {
  readonly #names: AdapterNames;
  readonly #sql: MssqlSql;

  constructor(names: AdapterNames, statements: MssqlSql) {
    this.#names = names;
    this.#sql = statements;
  }

  recorder(): { session: SqlSession; statements: string[] } {
    return recordingSession(inlineMssqlParams);
  }

  #meta(schema: string): string {
    return `${mssqlIdent(schema)}.${mssqlIdent(this.#names.metaTable)}`;
  }

  /** BEGIN, the transaction lock and the check, then the prelude. Ends with a newline. */
  head(m: FoldedMigration): string {
    const meta = this.#meta(m.schema);
    // THROW under XACT_ABORT ends the batch and rolls the transaction back (and with it the
    // transaction-owned applock); apply() then ends what is left, so no ROLLBACK is needed here.
    const fail = (code: number, message: string) => `THROW ${code}, ${lit(message)}, 1`;
    const n = m.expected.length;
    const same =
      n === 0
        ? `(SELECT COUNT(*) FROM ${meta}) = 0`
        : `(SELECT COUNT(*) FROM ${meta}) = ${n} AND (SELECT COUNT(*) FROM ${meta} AS m JOIN (VALUES ${m.expected
            .map((a) => `(${lit(a.id)}, ${lit(a.checksum)})`)
            .join(', ')}) AS v (id, checksum) ON m.id = v.id AND m.checksum = v.checksum) = ${n}`;
    const resource = lit(lockResource(m.schema));
    return [
      'SET XACT_ABORT ON; BEGIN TRANSACTION;',
      `DECLARE @tm_started DATETIME2 = SYSUTCDATETIME(), @tm_lock INT, @tm_resource NVARCHAR(255) = ${applockResource(resource)};`,
      "EXEC @tm_lock = sp_getapplock @Resource = @tm_resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 0, @DbPrincipal = N'public';",
      `IF @tm_lock < 0 ${fail(BUSY, 'tenant is locked')};`,
      // No semicolon before ELSE.
      `IF OBJECT_ID(${lit(meta)}, N'U') IS NULL ${n === 0 ? 'SET @tm_lock = @tm_lock' : fail(STALE, 'no meta table')}`,
      `ELSE IF NOT (${same}) ${fail(STALE, 'meta table changed since the plan')};`,
      ...m.prelude.map((s) => s.trimEnd().replace(/;?$/, ';')),
      '',
    ].join('\n');
  }

  /**
   * The end of the script's TRY block (when the tail follows script text), the transaction check,
   * the meta row, the summary row, COMMIT and the transaction count the driver checks.
   */
  tail(m: FoldedMigration, durationMs: string, afterScript = true, keep?: string): string {
    const { row } = m;
    const s = summaryOf(m.schema, [...m.expected, row]);
    const lock = applockResource(lit(lockResource(m.schema)));
    return [
      '',
      ...(afterScript ? [';', 'END TRY', 'BEGIN CATCH', `  ${PRINT_CAUGHT_LINE}`, '  IF XACT_STATE() <> 0 ROLLBACK TRANSACTION;', '  THROW;', 'END CATCH;'] : []),
      `IF XACT_STATE() <> 1 OR APPLOCK_MODE(N'public', ${lock}, N'Transaction') <> N'Exclusive' ` +
        `THROW ${TRANSACTION_ENDED}, ${lit("the migration ended the engine's transaction")}, 1;`,
      ...(keep ? [`SET ${keep} = ${durationMs};`] : []),
      `INSERT INTO ${this.#meta(m.schema)} (id, checksum, rendered_checksum, applied_utc, duration_ms, run_id) VALUES (` +
        `${lit(row.id)}, ${lit(row.checksum)}, ${lit(row.renderedChecksum)}, SYSUTCDATETIME(), ${keep ?? durationMs}, ${mssqlLiteral(row.runId)});`,
      inlineMssqlParams(this.#sql.upsertSummary, [s.schema, s.count, s.lastId, s.digest]),
      'COMMIT TRANSACTION; SELECT @@TRANCOUNT AS open_transactions;',
    ].join('\n');
  }

  /** The requests of one send (the tail's duration is filled in when the last one goes). */
  plan(m: FoldedMigration): OutgoingBatch[] {
    const head = this.head(m);
    const script = splitGoBatches(m.script);
    const out: OutgoingBatch[] = [];
    let first = 0;
    if (script.length > 0 && mayJoin(script[0]!, 'head')) {
      out.push({ headLines: lineCount(head), scriptStart: script[0]!.startLine, scriptBatch: 0, sql: head + script[0]!.sql, scriptLength: script[0]!.sql.length, withTail: false });
      first = 1;
    } else out.push({ headLines: 0, scriptStart: undefined, scriptBatch: 0, sql: head, scriptLength: 0, withTail: false });
    for (const [n, batch] of script.entries()) {
      if (n < first) continue;
      for (let i = 0; i < batch.repeat; i++) out.push({ headLines: 0, scriptStart: batch.startLine, scriptBatch: n, sql: batch.sql, scriptLength: batch.sql.length, withTail: false });
    }
    const last = out.at(-1)!;
    const lastBatch = script.at(-1);
    const joinable = last.scriptStart === undefined || (lastBatch !== undefined && mayJoin(lastBatch, 'tail'));
    if (joinable) out[out.length - 1] = { ...last, withTail: true };
    else out.push({ headLines: 0, scriptStart: undefined, scriptBatch: Math.max(0, script.length - 1), sql: '', scriptLength: 0, withTail: true });
    return out;
  }

  async apply(session: SqlSession, m: FoldedMigration): Promise<FoldedOutcome> {
    if (!(session instanceof MssqlSession)) throw new Error('The SQL Server folded send needs a session of the SQL Server driver');
    const batches = this.plan(m);
    const started = Date.now();
    let index = 0;
    try {
      let rows: Record<string, unknown>[] = [];
      for (const [i, b] of batches.entries()) {
        index = i;
        // Alone with the head, the duration is the server's own; otherwise the time since the first request.
        const duration = i === 0 ? 'DATEDIFF(MILLISECOND, @tm_started, SYSUTCDATETIME())' : String(Date.now() - started);
        rows = await session.sendBatch(b.withTail ? this.#withTail(b, m, duration) : b.sql);
      }
      const open = rows[0]?.open_transactions;
      if (typeof open !== 'number') {
        // The tail did not run: the script ended its batch early (a top-level RETURN) or swallowed
        // the tail (an unterminated block comment). Nothing is committed; the careful path sends the
        // script and the meta row separately.
        await this.#rollback(session);
        return 'unfoldable';
      }
      if (open > 0) {
        await this.#rollback(session);
        throw new OpenTransactionError(
          `the migration left ${open} nested transaction(s) open (BEGIN TRANSACTION without COMMIT): nothing was committed`,
        );
      }
      return 'applied';
    } catch (err) {
      if (err instanceof OpenTransactionError) throw err;
      await this.#rollback(session);
      const number = mssqlErrorNumber(err);
      if (number === BUSY) return 'busy';
      if (number === STALE) return 'stale';
      if (number === TRANSACTION_ENDED) throw new TransactionEndedError({ cause: err });
      const b = batches[index]!;
      const line = mssqlErrorLine(err);
      const scriptLine = line !== undefined && b.scriptStart !== undefined && line > b.headLines ? b.scriptStart + line - b.headLines - 1 : undefined;
      const inScript = scriptLine !== undefined && scriptLine <= lineCount(m.script) + 1;
      const message = err instanceof Error ? err.message : String(err);
      throw new ScriptExecutionError(message, b.scriptBatch, inScript ? scriptLine : undefined, undefined, { cause: err });
    }
  }

  /**
   * The batch that carries the tail: its script text inside BEGIN TRY … END TRY. `BEGIN TRY ` goes
   * on the script's first line, so script lines keep their numbers inside the request.
   */
  #withTail(b: OutgoingBatch, m: FoldedMigration, duration: string): string {
    if (b.scriptStart === undefined) return b.sql + this.tail(m, duration, false);
    const head = b.sql.slice(0, b.sql.length - b.scriptLength);
    return `${head}BEGIN TRY ${b.sql.slice(head.length)}${this.tail(m, duration)}`;
  }

  /**
   * Whether this migration may share a batch with other tenants' ({@link applyMany}): it is one
   * request on its own (no `GO`, nothing that must stand alone), and nothing in it outlives its part
   * of the batch or collides with the next tenant's part. A batch cannot reset its session between
   * tenants (`sp_reset_connection` is a flag of the next request), so a script with session options
   * (`SET …`, the transaction-control rule's findings), `USE`, `#temp` objects, session context,
   * `DECLARE`d variables or cursors (declared twice in one batch is an error) or labels goes alone.
   * Read on the raw text, strings included: a false "no" only costs a request.
   */
  shareable(m: FoldedMigration): boolean {
    const requests = this.plan(m);
    if (requests.length !== 1 || requests[0]!.scriptStart === undefined) return false;
    if (SESSION_BOUND.test(m.script)) return false;
    return findTransactionControl(m.script, 'mssql').length === 0;
  }

  /**
   * The text of {@link applyMany}: every variable of the engine's own statements (`@tm_…`: the
   * head's, the tail's and the summary upsert's) gets the migration's number, since a batch may
   * declare a name only once. The scripts themselves declare nothing ({@link shareable}).
   */
  sharedBatch(migrations: readonly FoldedMigration[]): string {
    const text = migrations
      .map((m, i) => {
        const own = (t: string) => t.replace(/@tm_([A-Za-z]+)\b/g, `@tm_$1_${i}`);
        const head = this.head(m).replace('DECLARE @tm_started', 'DECLARE @tm_ms INT, @tm_started');
        return own(head) + 'BEGIN TRY ' + m.script + own(this.tail(m, 'DATEDIFF(MILLISECOND, @tm_started, SYSUTCDATETIME())', true, '@tm_ms'));
      })
      .join('\n');
    const times = migrations.map((_, i) => `@tm_ms_${i} AS tm_ms_${i}`).join(', ');
    return `${text}\nSELECT ${migrations.length} AS tm_sent, @@TRANCOUNT AS open_transactions, ${times};`;
  }

  /**
   * {@link FoldedApply.applyMany} for migrations that are {@link shareable}: each one's single
   * request (head, `BEGIN TRY` script, tail with its COMMIT) one after the other in one batch, its
   * variables numbered so they do not collide, and a last row that proves the batch ran to its end
   * and carries each migration's time (kept in a variable when its meta row was written).
   * Any error ends the batch (XACT_ABORT, THROW in the CATCH), so the migrations after it did not
   * run; the ones before it committed. A top-level RETURN ends the batch too: no last row.
   */
  async applyMany(session: SqlSession, migrations: readonly FoldedMigration[]): Promise<ReadonlyMap<string, number>> {
    if (!(session instanceof MssqlSession)) throw new Error('The SQL Server folded send needs a session of the SQL Server driver');
    try {
      const [last] = await session.sendBatch(this.sharedBatch(migrations));
      if (last?.tm_sent !== migrations.length || last.open_transactions !== 0) {
        throw new Error('the shared batch ended before its last tenant (a RETURN, or an open transaction)');
      }
      return tenantTimes(migrations.map((m, i) => ({ tm_tenant: m.schema, tm_ms: last[`tm_ms_${i}`] })));
    } catch (err) {
      await this.#rollback(session);
      throw err;
    }
  }

  /** XACT_ABORT has usually rolled back already; this ends what is left (a THROW ends only the batch). */
  async #rollback(session: MssqlSession): Promise<void> {
    await session.sendBatch(this.#sql.rollback).catch(() => undefined);
  }
}
