/**
 * Risky-statement rules for `validate`. Pure and offline: they read a template's source (with
 * comments blanked out, so line numbers stay true), not a database, so they are heuristics:
 * a rule can be silenced for one statement with a comment on that line or the line above:
 *
 *     -- tenant-migrate-lint: allow drop-column
 *     ALTER TABLE {{table "jobs"}} DROP COLUMN legacy_flag;
 */
import type { MigrationScope } from '../types.js';

export type LintRule =
  | 'drop-table'
  | 'drop-column'
  | 'alter-column-type'
  | 'unqualified-create'
  | 'blocking-index';

export interface LintFinding {
  readonly rule: LintRule;
  readonly severity: 'error' | 'warning';
  /** 1-based line in the template. */
  readonly line: number;
  readonly message: string;
}

export interface LintInput {
  readonly source: string;
  readonly scope: MigrationScope;
  /** True for `.sql.hbs` (a plain `.sql` tenant file cannot name `{{schema}}` at all). */
  readonly isTemplate: boolean;
  /** The file runs without a transaction (`-- tenant-migrate: no-transaction`). */
  readonly noTransaction: boolean;
}

/** Which lexical rules apply: `any` (a template source, dialect unknown) knows both families' quoting. */
export type SqlLexFamily = 'postgres' | 'mssql' | 'any';

/** A PostgreSQL dollar-quote opener at `i` (`$$` or `$tag$`; not `$1`), or undefined. */
const DOLLAR_TAG_RE = /\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/y;

/**
 * Blank out Handlebars comments, `--` and block comments (nested, as both PostgreSQL and SQL Server
 * nest them), the inside of string literals (`'…'` with `''`, PostgreSQL `E'…'` with backslash escapes),
 * and PostgreSQL dollar-quoted bodies (`$$…$$`, `$fn$…$fn$`); quoted names (`"…"`, SQL Server's
 * `[…]`) are skipped as a whole and kept unless `blankNames`, keeping newlines and every character's offset (so line numbers and positions stay true). One
 * left-to-right scan: an apostrophe inside a comment (`-- the scheduler's query`) must not open a
 * string, and a `;` or `COMMIT` inside a function body is not a statement of the script.
 */
export function stripComments(source: string, family: SqlLexFamily = 'any', blankNames = false): string {
  const src = source.replace(/\r\n?/g, '\n');
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  let out = '';
  let i = 0;
  const skipTo = (end: string, from: number, keepEdges: boolean): void => {
    const stop = src.indexOf(end, from);
    const j = stop < 0 ? src.length : stop + end.length;
    const text = src.slice(i, j);
    out += keepEdges ? `${text[0]}${blank(text.slice(1, -1))}${text.length > 1 ? text.at(-1) : ''}` : blank(text);
    i = j;
  };
  /** A quoted token from `i` (its opener at `i`) to its closer; a doubled closer is an escape. */
  const quoted = (closer: string, backslash: boolean, keep = false): void => {
    let j = i + 1;
    while (j < src.length) {
      if (backslash && src[j] === '\\') j += 2;
      else if (src[j] === closer && src[j + 1] === closer) j += 2;
      else if (src[j] === closer) break;
      else j++;
    }
    const text = src.slice(i, Math.min(j + 1, src.length));
    if (keep) out += text;
    else out += text.length >= 2 && j < src.length ? `${text[0]}${blank(text.slice(1, -1))}${closer}` : blank(text);
    i = j + 1;
  };
  const pg = family !== 'mssql';
  while (i < src.length) {
    const c = src[i]!;
    if (src.startsWith('{{!--', i)) skipTo('--}}', i + 5, false);
    else if (src.startsWith('{{!', i)) skipTo('}}', i + 3, false);
    else if (c === '/' && src[i + 1] === '*') {
      let depth = 0;
      let j = i;
      while (j < src.length) {
        if (src[j] === '/' && src[j + 1] === '*') (depth++, (j += 2));
        else if (src[j] === '*' && src[j + 1] === '/') {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      out += blank(src.slice(i, j));
      i = j;
    } else if (c === '-' && src[i + 1] === '-') {
      const nl = src.indexOf('\n', i);
      const j = nl < 0 ? src.length : nl;
      out += blank(src.slice(i, j));
      i = j;
    } else if (c === "'") {
      // PostgreSQL E'…' strings take backslash escapes (E'it\'s').
      quoted("'", pg && /[eE]/.test(src[i - 1] ?? '') && !/[\w$]/.test(src[i - 2] ?? ''));
    } else if (c === '"') quoted('"', false, !blankNames);
    else if (c === '[' && family === 'mssql') quoted(']', false, !blankNames);
    else if (c === '$' && pg && !/[\w$]/.test(src[i - 1] ?? '')) {
      DOLLAR_TAG_RE.lastIndex = i;
      const tag = DOLLAR_TAG_RE.exec(src)?.[0];
      if (tag) skipTo(tag, i + tag.length, false);
      else {
        out += c;
        i++;
      }
    } else {
      // Plain text up to the next character that may open a comment, string or name: one slice.
      SPECIAL_RE.lastIndex = i + 1;
      const next = SPECIAL_RE.exec(src);
      const j = next ? next.index : src.length;
      out += src.slice(i, j);
      i = j;
    }
  }
  return out;
}

/** Characters where a comment, string, quoted name or dollar quote may start. */
const SPECIAL_RE = /[{/\-'"[$]/g;

interface Statement {
  readonly text: string;
  /** 1-based line of its first non-blank character. */
  readonly line: number;
}

/** Split comment-free source at `;`, `{{go}}` and lines holding only GO. */
export function splitStatements(clean: string): Statement[] {
  const out: Statement[] = [];
  // Quoted names ("a;b", [a;b]) are matched only to be stepped over: a `;` or a GO line inside one
  // separates nothing.
  const re = /"(?:[^"]|"")*"|\[(?:[^\]]|\]\])*\]|;|\{\{\s*go\s*\}\}|^[ \t]*GO[ \t]*$/gim;
  let start = 0;
  // Lines counted as the scan goes (a count from the text's start per statement is quadratic).
  let counted = 0;
  let line = 1;
  const lineAt = (offset: number) => {
    for (let i = clean.indexOf('\n', counted); i >= 0 && i < offset; i = clean.indexOf('\n', i + 1)) line++;
    counted = Math.max(counted, offset);
    return line;
  };
  const push = (end: number) => {
    const text = clean.slice(start, end);
    // Leading block tags ({{#if isMssql}}, {{else}}, {{/if}}) belong to the template, not the statement.
    const lead = /^(?:\s*\{\{\s*(?:[#^/]\s*\w+|else)[^}]*\}\})*\s*/.exec(text)![0].length;
    const offset = text.slice(lead).search(/\S/) < 0 ? -1 : lead;
    if (offset >= 0) out.push({ text: text.slice(offset).trim(), line: lineAt(start + offset) });
  };
  for (let m = re.exec(clean); m; m = re.exec(clean)) {
    if (m[0].startsWith('"') || m[0].startsWith('[')) continue;
    push(m.index);
    start = m.index + m[0].length;
  }
  push(clean.length);
  return out;
}

/** Ids of rules allowed on a line by `-- tenant-migrate-lint: allow <rule>[, <rule>]`. */
function allowed(rawLines: readonly string[], line: number): Set<string> {
  const rules = new Set<string>();
  for (const text of [rawLines[line - 2], rawLines[line - 1]]) {
    const m = /tenant-migrate-lint\s*:\s*allow\s+([\w\s,-]+)/i.exec(text ?? '');
    if (m) for (const r of m[1]!.split(/[\s,]+/)) if (r) rules.add(r.toLowerCase());
  }
  return rules;
}

/** Tokens that put an object in the tenant's (or the master) schema explicitly. */
const SCHEMA_TOKEN_RE = /\{\{\s*(?:schema|master)\s*\}\}|\{\{\s*table\s|\{\{\s*ident\s+(?:schemaName|masterSchema)\b/;

/** CREATE statements whose object lands in a schema (CREATE SCHEMA itself does not). */
const CREATE_RE =
  /^CREATE\s+(?:OR\s+(?:ALTER|REPLACE)\s+)?(?:UNIQUE\s+)?(?:(?:NON)?CLUSTERED\s+)?(?:TEMP(?:ORARY)?\s+)?(TABLE|VIEW|INDEX|FUNCTION|PROCEDURE|PROC|TRIGGER|SEQUENCE|TYPE|SYNONYM|MATERIALIZED\s+VIEW)\b/i;

/** ALTER COLUMN followed by something other than a default/nullability/identity change. */
const ALTER_COLUMN_RE = /\bALTER\s+COLUMN\s+("[^"]+"|\[[^\]]+\]|\{\{[^}]*\}\}|\w+)\s+(\w+)(?:\s+(\w+))?/gi;
const NOT_A_TYPE_CHANGE = new Set(['SET', 'DROP', 'ADD', 'RESTART', 'RESET']);

/**
 * Lint one up migration. Rules:
 * - `drop-table`, `drop-column` (warning): data loss; prefer expand/contract.
 * - `alter-column-type` (warning): `ALTER COLUMN x <type>` (T-SQL) or `… TYPE` / `SET DATA TYPE`
 *   (PostgreSQL) rewrites or locks the table and can fail on existing data.
 * - `unqualified-create` (error, tenant only): a CREATE whose head names neither `{{schema}}`,
 *   `{{table "…"}}` nor `{{master}}` lands in the default schema (dbo/public), shared by every
 *   tenant: the second tenant fails or, worse, they share one object.
 * - `blocking-index` (warning): CREATE INDEX on a table this file did not create, without
 *   `ONLINE = ON` (SQL Server) or `CONCURRENTLY` (PostgreSQL, which also needs `no-transaction`)
 *   blocks writes on that table while it builds. A table created in the same file is empty.
 */
export function lintMigration(input: LintInput): LintFinding[] {
  const rawLines = input.source.replace(/\r\n?/g, '\n').split('\n');
  const statements = splitStatements(stripComments(input.source));
  const findings: LintFinding[] = [];
  const createdTables = new Set<string>();
  const tableKey = (s: string) => s.replace(/\s+/g, ' ').trim().toLowerCase();
  for (const st of statements) {
    const m = /^CREATE\s+(?:TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(.+?)\s*\(/is.exec(st.text);
    if (m) createdTables.add(tableKey(m[1]!));
  }

  for (const st of statements) {
    const allow = allowed(rawLines, st.line);
    const add = (rule: LintRule, severity: LintFinding['severity'], message: string, offset = 0) => {
      if (!allow.has(rule)) findings.push({ rule, severity, line: st.line + offset, message });
    };
    const lineOf = (index: number) => st.text.slice(0, index).split('\n').length - 1;
    const text = st.text;

    const dropTable = /\bDROP\s+TABLE\b/i.exec(text);
    if (dropTable) add('drop-table', 'warning', 'DROP TABLE loses data; make sure nothing reads it any more (expand/contract)', lineOf(dropTable.index));
    const dropColumn = /\bDROP\s+COLUMN\b/i.exec(text);
    if (dropColumn) add('drop-column', 'warning', 'DROP COLUMN loses data; deploy the code that stops using it first (expand/contract)', lineOf(dropColumn.index));

    for (const am of text.matchAll(ALTER_COLUMN_RE)) {
      const next = am[2]!.toUpperCase();
      const isPgType = next === 'TYPE' || (next === 'SET' && /^DATA$/i.test(am[3] ?? ''));
      if (isPgType || !NOT_A_TYPE_CHANGE.has(next)) {
        add('alter-column-type', 'warning', `column type change (ALTER COLUMN ${am[1]}): rewrites or locks the table and can fail on existing rows`, lineOf(am.index));
      }
    }

    const create = CREATE_RE.exec(text);
    if (create && input.scope === 'tenant') {
      const kind = create[1]!.toUpperCase().replace(/\s+/g, ' ');
      // The head: up to the column list / body, or for an index up to its column list (its ON clause names the table).
      const head = text.split(/\(|\bAS\b|\bBEGIN\b/i)[0]!;
      if (!input.isTemplate || !SCHEMA_TOKEN_RE.test(head)) {
        add('unqualified-create', 'error', `CREATE ${kind} without {{schema}} / {{table "…"}}: it would land in the default schema shared by all tenants`);
      }
    }

    const index = /^CREATE\s+(?:UNIQUE\s+)?(?:(?:NON)?CLUSTERED\s+)?INDEX\b/i.exec(text);
    if (index) {
      const on = /\bON\s+(?:ONLY\s+)?(.+?)\s*\(/is.exec(text);
      const table = on ? tableKey(on[1]!) : '';
      const online = /\bONLINE\s*=\s*ON\b/i.test(text) || /\bINDEX\s+CONCURRENTLY\b/i.test(text);
      if (!online && !createdTables.has(table)) {
        add(
          'blocking-index',
          'warning',
          `CREATE INDEX on an existing table${table ? ` (${on![1]!.trim()})` : ''} without ONLINE = ON (SQL Server) / CONCURRENTLY (PostgreSQL, with -- tenant-migrate: no-transaction) blocks writes while it builds`,
        );
      }
      if (/\bINDEX\s+CONCURRENTLY\b/i.test(text) && !input.noTransaction) {
        add('blocking-index', 'error', 'CREATE INDEX CONCURRENTLY cannot run in a transaction: add -- tenant-migrate: no-transaction');
      }
    }
  }
  return findings.sort((a, b) => a.line - b.line);
}
