/**
 * Property tests of the GO batch splitter (src/dialect/mssql/go-splitter.ts): generated T-SQL
 * scripts made of batches whose strings, quoted identifiers and comments carry `GO` lines, joined
 * by every spelling of the separator. Splitting must give back exactly the batches (verbatim, with
 * their start lines and repeat counts), keep every line of the script in a batch or a separator
 * (or a batch of comments only, which runs nothing), never split inside a string or comment, and
 * not depend on CRLF.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitGoBatches } from '../../src/dialect/mssql/go-splitter.js';

/** Where a `GO` line would be a separator if the splitter lost track of the quoting. */
const goLines = fc.constantFrom('GO', 'go', ' GO ', 'Go 2', 'GO -- not here');
const nl = fc.constantFrom('\n', '\n\n', ' \n');
const text = fc.stringMatching(/^[a-z0-9 ,.;()*/-]{0,12}$/);

/** A token that carries code and leaves the lexer at top level. */
const codeToken = fc.oneof(
  fc.constantFrom('SELECT 1', 'INSERT INTO t VALUES (1);', 'GOTO done', 'SELECT go_table FROM x', 'SELECT 1 GO', 'EXEC dbo.p', 'BEGIN', 'END', 'done:'),
  // 'strings' with '' escapes, spanning lines, holding GO lines
  fc.tuple(text, goLines, text).map(([a, g, b]) => `'${a.replace(/'/g, "''")}''\n${g}\n${b}'`),
  fc.tuple(text, goLines).map(([a, g]) => `N'${a}\n${g}\n'`),
  // [bracketed] and "quoted" identifiers with their escapes, spanning lines
  fc.tuple(text, goLines).map(([a, g]) => `SELECT 1 AS [x]]${a.replace(/]/g, '')}\n${g}\n]`),
  fc.tuple(text, goLines).map(([a, g]) => `SELECT 1 AS "y""${a.replace(/"/g, '')}\n${g}\n"`),
);

/** Comments: they hold no code, and GO lines inside them are no separators. */
const commentToken = fc.oneof(
  goLines.map((g) => `-- ${g} in a line comment\n`),
  fc.tuple(text, goLines).map(([a, g]) => `/* ${a.replace(/[*/]/g, '')}\n${g}\n*/`),
  fc.tuple(goLines, goLines).map(([g, h]) => `/* outer /* nested\n${g}\n*/ still comment\n${h}\n*/`),
);

/** A batch with code: a code token first, then code and comments separated by spaces or newlines. */
const codeBatch = fc
  .tuple(codeToken, fc.array(fc.tuple(fc.constantFrom(' ', '\n', '\t', '\n  '), fc.oneof(codeToken, commentToken)), { maxLength: 6 }))
  .map(([first, rest]) => `${first}${rest.map(([sep, tok]) => sep + tok).join('')}`.trimEnd());
/** A batch of comments only (runs nothing: dropped). */
const commentBatch = fc.array(commentToken, { minLength: 1, maxLength: 3 }).map((toks) => toks.join('\n').trimEnd());

/** Separators and their repeat counts. */
const separator = fc.oneof(
  fc.constantFrom(['GO', 1] as const, ['go', 1] as const, ['  Go\t', 1] as const, ['GO -- next batch', 1] as const),
  fc.integer({ min: 1, max: 50 }).map((n) => [`GO ${n}`, n] as const),
);

interface Segment {
  readonly text: string;
  readonly hasCode: boolean;
}
const segment = fc.oneof(
  { weight: 4, arbitrary: codeBatch.map((t): Segment => ({ text: t, hasCode: true })) },
  { weight: 1, arbitrary: commentBatch.map((t): Segment => ({ text: t, hasCode: false })) },
);
const script = fc.tuple(fc.array(fc.tuple(segment, separator), { minLength: 0, maxLength: 5 }), segment, fc.boolean());

/** The script text, and the batches the splitter must find (the last segment has no separator after it unless `trailing`). */
function build([pairs, last, trailing]: [(readonly [Segment, readonly [string, number]])[], Segment, boolean]) {
  const parts: string[] = [];
  const expected: { sql: string; startLine: number; repeat: number }[] = [];
  const separatorLines: number[] = [];
  let line = 1;
  const add = (seg: Segment, sep: readonly [string, number] | undefined) => {
    if (seg.hasCode) expected.push({ sql: seg.text, startLine: line, repeat: sep?.[1] ?? 1 });
    parts.push(seg.text);
    line += seg.text.split('\n').length;
    if (sep) {
      parts.push(sep[0]);
      separatorLines.push(line);
      line += 1;
    }
  };
  for (const [seg, sep] of pairs) add(seg, sep);
  add(last, trailing ? ['GO', 1] : undefined);
  return { text: parts.join('\n'), expected, separatorLines };
}

describe('splitGoBatches (property)', () => {
  it('gives back exactly the generated batches: verbatim text, start line, repeat count', () => {
    fc.assert(
      fc.property(script, (s) => {
        const { text: sql, expected } = build(s);
        expect(splitGoBatches(sql)).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps every line: each is in a batch (at its start line + offset), a separator, or a batch of comments only', () => {
    fc.assert(
      fc.property(script, (s) => {
        const { text: sql, separatorLines } = build(s);
        const lines = sql.split('\n');
        const covered = new Set<number>(separatorLines);
        for (const b of splitGoBatches(sql)) {
          b.sql.split('\n').forEach((l, i) => {
            expect(lines[b.startLine - 1 + i], `line ${b.startLine + i}`).toBe(l);
            covered.add(b.startLine + i);
          });
        }
        // Uncovered lines belong to comment-only batches or are blank: rejoined, they hold no code.
        const rest = lines.filter((_, i) => !covered.has(i + 1)).join('\n');
        expect(splitGoBatches(rest)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('never splits inside a string, a quoted identifier or a comment, whatever GO lines they hold', () => {
    fc.assert(
      fc.property(codeBatch, (batch) => {
        expect(splitGoBatches(batch)).toEqual([{ sql: batch, startLine: 1, repeat: 1 }]);
      }),
      { numRuns: 400 },
    );
  });

  it('CRLF line ends split the same as LF', () => {
    fc.assert(
      fc.property(script, (s) => {
        const { text: sql } = build(s);
        expect(splitGoBatches(sql.replace(/\n/g, '\r\n'))).toEqual(splitGoBatches(sql));
      }),
      { numRuns: 200 },
    );
  });

  it('a GO line at top level always separates (two code batches around it)', () => {
    fc.assert(
      fc.property(codeBatch, codeBatch, separator, (a, b, [sep, n]) => {
        const batches = splitGoBatches(`${a}\n${sep}\n${b}`);
        expect(batches.map((x) => x.sql)).toEqual([a, b]);
        expect(batches[0]!.repeat).toBe(n);
      }),
      { numRuns: 300 },
    );
  });
});
