/**
 * The transaction-control rule: a transactional migration's statements and its meta row commit in
 * one transaction that the engine opens and ends, so the script itself must not end it (a `COMMIT`
 * would commit the head and release the transaction-scoped tenant lock; a `ROLLBACK` would leave the
 * meta row to commit alone). One rule, used by `validate` and by the template engine each time it
 * renders a migration for a tenant.
 *
 * It reads *rendered* SQL of one dialect family, at top level only: never inside string literals,
 * comments, quoted names, PostgreSQL dollar-quoted bodies (`DO $$ … $$`, function bodies) or
 * `BEGIN ATOMIC … END` function bodies, nor — on SQL Server — in the batch of a
 * `CREATE/ALTER PROCEDURE|FUNCTION|TRIGGER` (its body is stored, not run). On SQL Server `BEGIN … END`,
 * `BEGIN TRY/CATCH` and `CASE … END` are blocks, not transactions; a `COMMIT` or `ROLLBACK` inside such
 * a block still runs and is refused.
 *
 * Statements come from the project's statement splitter ({@link splitStatements}, which also
 * splits at `GO` lines) over the comment-free text of {@link stripComments}; SQL Server batches
 * from the `GO` splitter the engine sends with ({@link splitGoBatches}).
 */
import { GoSeparatorError, splitGoBatches } from '../dialect/mssql/go-splitter.js';
import { type SqlLexFamily, splitStatements, stripComments } from './lint-rules.js';

export type SqlFamily = Exclude<SqlLexFamily, 'any'>;

export interface TransactionControlFinding {
  /** `error`: refused in a transactional migration; `warning`: a session option the engine resets. */
  readonly severity: 'error' | 'warning';
  /** 1-based line in the SQL that was read. */
  readonly line: number;
  /** Offset of the statement's first character in the SQL (CRLF normalised to LF). */
  readonly offset: number;
  /** The statement's words as written, e.g. `COMMIT`, `BEGIN TRANSACTION`, `SET search_path`. */
  readonly statement: string;
  readonly message: string;
}

/**
 * Transaction control and session options at the top level of rendered SQL.
 *
 * @example
 * findTransactionControl("INSERT INTO t VALUES ('COMMIT');\nCOMMIT;", 'postgres')
 * // → [{ severity: 'error', line: 2, statement: 'COMMIT', … }]
 */
export function findTransactionControl(sql: string, family: SqlFamily): TransactionControlFinding[] {
  const text = sql.replace(/\r\n?/g, '\n');
  const clean = stripComments(text, family, true);
  return family === 'mssql' ? tsqlFindings(text, clean) : postgresFindings(clean);
}

const REFUSED =
  'ends or opens the transaction the engine runs this migration in (its statements and meta row commit together): ' +
  'remove it, or declare the file `-- tenant-migrate: no-transaction` and manage the transaction yourself';

const SESSION_OPTION =
  'changes a session option; the engine resets sessions between tenants, but it lasts for the rest of this migration ' +
  '(prefer SET LOCAL on PostgreSQL)';

const words = (s: string, n: number): string[] => s.trim().split(/\s+/).slice(0, n).map((w) => w.replace(/;$/, ''));

/** 1-based line of an offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function postgresFindings(clean: string): TransactionControlFinding[] {
  const out: TransactionControlFinding[] = [];
  let inAtomicBody = false;
  for (const st of splitStatementsWithOffsets(clean)) {
    const [w0 = '', w1 = '', w2 = ''] = words(st.text, 3).map((w) => w.toUpperCase());
    if (inAtomicBody) {
      // A SQL-standard function body (`BEGIN ATOMIC … END`) holds `;`-separated statements; its END closes it.
      if (w0 === 'END') inAtomicBody = false;
      continue;
    }
    if (/^CREATE\b/i.test(st.text) && /\bBEGIN\s+ATOMIC\b/i.test(st.text) && !/\bEND\s*$/i.test(st.text)) {
      inAtomicBody = true;
      continue;
    }
    const refuse = (statement: string) => out.push({ severity: 'error', line: st.line, offset: st.offset, statement, message: `${statement} ${REFUSED}` });
    if (w0 === 'BEGIN' || w0 === 'START' && w1 === 'TRANSACTION') refuse(w0 === 'BEGIN' ? 'BEGIN' : 'START TRANSACTION');
    else if (w0 === 'COMMIT' || w0 === 'END' || w0 === 'ABORT') refuse(w0);
    else if (w0 === 'ROLLBACK') {
      const toSavepoint = w1 === 'TO' || ((w1 === 'WORK' || w1 === 'TRANSACTION') && w2 === 'TO');
      if (!toSavepoint) refuse(w1 === 'PREPARED' ? 'ROLLBACK PREPARED' : 'ROLLBACK');
    } else if (w0 === 'PREPARE' && w1 === 'TRANSACTION') refuse('PREPARE TRANSACTION');
    else if ((w0 === 'SET' && w1 !== 'LOCAL' && w1 !== 'CONSTRAINTS' && w1 !== 'TRANSACTION') || w0 === 'RESET') {
      const name = w1 === 'SESSION' ? `SESSION ${w2}` : w1;
      out.push({ severity: 'warning', line: st.line, offset: st.offset, statement: `${w0} ${name}`, message: `${w0} ${name} ${SESSION_OPTION}` });
    }
  }
  return out;
}

/** A word at top level of comment-free T-SQL, with its offset. */
interface Word {
  readonly upper: string;
  readonly offset: number;
}

const TSQL_WORD_RE = /[A-Za-z_@#][\w@#$]*|;/g;

/** The batch is a stored body (procedure, function, trigger): its text is not run now. */
const TSQL_BODY_RE = /^\s*(?:CREATE\s+(?:OR\s+ALTER\s+)?|ALTER\s+)(?:PROC|PROCEDURE|FUNCTION|TRIGGER)\b/i;

/** Options whose change breaks the engine's transaction (T-SQL): the rest are session options. */
function tsqlFindings(text: string, clean: string): TransactionControlFinding[] {
  let batches;
  try {
    // Most scripts have no GO line: one batch, without a second lexing pass.
    batches = /^[ \t]*go\b/im.test(text) ? splitGoBatches(text) : [{ sql: text, startLine: 1, repeat: 1 }];
  } catch (err) {
    if (err instanceof GoSeparatorError) batches = [{ sql: text, startLine: 1, repeat: 1 }];
    else throw err;
  }
  const out: TransactionControlFinding[] = [];
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  // Savepoint names set anywhere in the script: `ROLLBACK TRAN <savepoint>` is a partial rollback.
  const savepoints = new Set([...clean.matchAll(/\bSAVE\s+TRAN(?:SACTION)?\s+([\w@#]+)/gi)].map((m) => m[1]!.toUpperCase()));

  for (const batch of batches) {
    const start = lineStarts[batch.startLine - 1] ?? 0;
    const body = clean.slice(start, start + batch.sql.length);
    if (TSQL_BODY_RE.test(body)) continue;
    const ws: Word[] = [...body.matchAll(TSQL_WORD_RE)].map((m) => ({ upper: m[0].toUpperCase(), offset: start + m.index }));
    let depth = 0;
    for (let k = 0; k < ws.length; k++) {
      const w = ws[k]!.upper;
      const next = ws[k + 1]?.upper ?? '';
      const after = ws[k + 2]?.upper ?? '';
      const at = ws[k]!.offset;
      const found = (severity: 'error' | 'warning', statement: string, message: string) =>
        out.push({ severity, line: lineAt(text, at), offset: at, statement, message: `${statement} ${message}` });
      // Column or table names such as `t.commit` or `end_date` are other words; `.end` is a member name.
      if (clean[at - 1] === '.') continue;
      if (w === 'BEGIN') {
        if (next === 'TRAN' || next === 'TRANSACTION') found('error', `BEGIN ${next}`, REFUSED);
        else if (next === 'DISTRIBUTED') found('error', 'BEGIN DISTRIBUTED TRANSACTION', REFUSED);
        else if (next === 'DIALOG' || next === 'CONVERSATION') continue;
        else depth++; // BEGIN … END, BEGIN TRY, BEGIN CATCH
      } else if (w === 'CASE') depth++;
      else if (w === 'END') {
        if (depth > 0) depth--;
      } else if (w === 'COMMIT') found('error', next === 'TRAN' || next === 'TRANSACTION' || next === 'WORK' ? `COMMIT ${next}` : 'COMMIT', REFUSED);
      else if (w === 'ROLLBACK') {
        const tran = next === 'TRAN' || next === 'TRANSACTION';
        if (tran && savepoints.has(after)) continue;
        found('error', tran || next === 'WORK' ? `ROLLBACK ${next}` : 'ROLLBACK', REFUSED);
      } else if (w === 'SET' && !next.startsWith('@') && next !== ';' && next !== '') {
        const value = after === 'ON' || after === 'OFF' ? after : '';
        if ((next === 'IMPLICIT_TRANSACTIONS' && value === 'ON') || (next === 'XACT_ABORT' && value === 'OFF')) {
          found('error', `SET ${next} ${value}`, `${REFUSED} (the engine relies on XACT_ABORT ON and explicit transactions)`);
        } else if (!(next === 'XACT_ABORT' && value === 'ON') && !(next === 'IMPLICIT_TRANSACTIONS' && value === 'OFF')) {
          // `ON DELETE SET NULL`, `ALTER COLUMN … SET DEFAULT`, `UPDATE t SET …`: not session options.
          const before = ws[k - 1]?.upper ?? '';
          if (before === 'DELETE' || before === 'UPDATE' || next === 'NULL' || next === 'DEFAULT' || isAssignment(clean, at + 3)) continue;
          found('warning', `SET ${next}`, SESSION_OPTION.replace(' (prefer SET LOCAL on PostgreSQL)', ''));
        }
      }
    }
  }
  return out;
}

/**
 * What follows a `SET` is an assignment — `col = …`, `t.col += …`, `[col] = …`, `col.WRITE(…)`,
 * the SET of an UPDATE or MERGE — and not a session option (`SET ROWCOUNT 100`, `SET DATEFORMAT
 * dmy`, `SET ANSI_NULLS ON`: never a `=` after the name). Decided on the text itself, not on a
 * nearby UPDATE: T-SQL needs no `;` between an UPDATE and the next statement.
 */
const ASSIGNMENT_RE = /^\s*(?:(?:\[[^\]]*\]|"[^"]*"|[A-Za-z_#][\w@#$]*)\s*\.\s*)*(?:\[[^\]]*\]|"[^"]*"|[A-Za-z_#][\w@#$]*)\s*(?:[-+*/%&^|]?=|(?<=WRITE)\s*\()/i;
function isAssignment(clean: string, from: number): boolean {
  return ASSIGNMENT_RE.test(clean.slice(from, from + 400));
}

interface OffsetStatement {
  readonly text: string;
  readonly line: number;
  readonly offset: number;
}

/** {@link splitStatements}, with each statement's offset in the text. */
function splitStatementsWithOffsets(clean: string): OffsetStatement[] {
  const lineStarts = [0];
  for (let i = clean.indexOf('\n'); i >= 0; i = clean.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  return splitStatements(clean).map((st) => {
    const lineStart = lineStarts[st.line - 1] ?? 0;
    const within = clean.indexOf(st.text.slice(0, 20), lineStart);
    return { ...st, offset: within >= 0 ? within : lineStart };
  });
}
