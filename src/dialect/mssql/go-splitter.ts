import type { ScriptBatch } from '../dialect-syntax.js';

/**
 * Split a T-SQL script into the batches sent to SQL Server, the way sqlcmd and SSMS do.
 *
 * `GO` is not T-SQL: it is a client-side separator recognised only on a line of its own —
 * optional whitespace, `GO` in any case, an optional repeat count (`GO 5` runs the batch five
 * times) and an optional trailing `-- comment`. It is never recognised inside a `'string'` /
 * `N'string'` (with `''` escapes), a `[bracketed identifier]` (with `]]` escapes), a
 * `"quoted identifier"` (with `""` escapes), a `-- line comment` or a `/* block comment *\/`
 * (SQL Server block comments nest). `GOTO label`, `go_table` or `SELECT 1 GO` are not separators.
 * See https://learn.microsoft.com/en-us/sql/t-sql/language-elements/sql-server-utilities-statements-go
 *
 * Each batch keeps its text verbatim (CRLF normalised to LF) from the line after the previous
 * separator, so a server error line N inside the batch is script line `startLine + N - 1`.
 * Batches that hold only whitespace and comments are dropped: they would run nothing.
 *
 * @example
 * splitGoBatches("CREATE TABLE t (id INT)\nGO\nINSERT t VALUES (1)\nGO 3\n")
 * // → [{ sql: 'CREATE TABLE t (id INT)', startLine: 1, repeat: 1 },
 * //    { sql: 'INSERT t VALUES (1)', startLine: 3, repeat: 3 }]
 */
export function splitGoBatches(sql: string): ScriptBatch[] {
  const lines = sql.replace(/\r\n?/g, '\n').split('\n');
  const batches: ScriptBatch[] = [];
  const lexer = new TsqlLineLexer();
  let current: string[] = [];
  let start = 1;
  let hasCode = false;

  const flush = (repeat: number): void => {
    if (hasCode) batches.push({ sql: trimTrailingBlankLines(current).join('\n'), startLine: start, repeat });
    current = [];
    hasCode = false;
  };

  lines.forEach((line, index) => {
    const separator = lexer.atTopLevel ? parseGoLine(line, index + 1) : undefined;
    if (separator !== undefined) {
      flush(separator);
      start = index + 2;
      return;
    }
    if (lexer.scanLine(line)) hasCode = true;
    current.push(line);
  });
  flush(1);
  return batches;
}

/** A `GO` line whose repeat count is not a positive 32-bit integer; sqlcmd rejects it too. */
export class GoSeparatorError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'GoSeparatorError';
  }
}

const GO_LINE = /^[ \t]*go(?:[ \t]+(\d+))?[ \t]*(?:--.*)?$/i;
const MAX_GO_COUNT = 2_147_483_647;

/** The repeat count when `line` is a separator, otherwise undefined. */
function parseGoLine(line: string, lineNumber: number): number | undefined {
  const m = GO_LINE.exec(line);
  if (!m) return undefined;
  if (m[1] === undefined) return 1;
  const count = Number(m[1]);
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_GO_COUNT) {
    throw new GoSeparatorError(`line ${lineNumber}: GO count must be between 1 and ${MAX_GO_COUNT}, got ${m[1]}`, lineNumber);
  }
  return count;
}

function trimTrailingBlankLines(lines: readonly string[]): string[] {
  let end = lines.length;
  while (end > 0 && lines[end - 1]!.trim() === '') end--;
  return lines.slice(0, end);
}

type LexState = 'code' | 'string' | 'bracket' | 'dquote' | 'block';

/**
 * Tracks, line by line, whether the scanner is at top level (outside strings, quoted
 * identifiers and block comments). Line comments end with their line, so they never carry over.
 */
class TsqlLineLexer {
  #state: LexState = 'code';
  #blockDepth = 0;

  get atTopLevel(): boolean {
    return this.#state === 'code';
  }

  /** Advance over one line; true when it holds anything besides whitespace and comments. */
  scanLine(line: string): boolean {
    let code = false;
    let i = 0;
    while (i < line.length) {
      const c = line[i]!;
      const next = line[i + 1];
      switch (this.#state) {
        case 'code':
          if (c === '-' && next === '-') return code; // rest of the line is a comment
          if (c === '/' && next === '*') {
            this.#state = 'block';
            this.#blockDepth = 1;
            i += 2;
            continue;
          }
          if (c === "'") this.#state = 'string';
          else if (c === '[') this.#state = 'bracket';
          else if (c === '"') this.#state = 'dquote';
          if (!/\s/.test(c)) code = true;
          i += 1;
          continue;
        case 'string':
          i = this.#closeQuoted(line, i, "'");
          continue;
        case 'bracket':
          i = this.#closeQuoted(line, i, ']');
          continue;
        case 'dquote':
          i = this.#closeQuoted(line, i, '"');
          continue;
        case 'block':
          if (c === '/' && next === '*') {
            this.#blockDepth += 1;
            i += 2;
          } else if (c === '*' && next === '/') {
            this.#blockDepth -= 1;
            if (this.#blockDepth === 0) this.#state = 'code';
            i += 2;
          } else {
            i += 1;
          }
          continue;
      }
    }
    // a string or quoted identifier spanning lines is still code
    return code || this.#state === 'string' || this.#state === 'bracket' || this.#state === 'dquote';
  }

  /** Inside a quoted token: a doubled closer is an escape, a single one ends the token. */
  #closeQuoted(line: string, i: number, closer: string): number {
    if (line[i] !== closer) return i + 1;
    if (line[i + 1] === closer) return i + 2;
    this.#state = 'code';
    return i + 1;
  }
}
