import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GoSeparatorError, splitGoBatches } from '../../src/dialect/mssql/go-splitter.js';

/**
 * Golden files: each `test/fixtures/go-splitter/NAME.sql` is split and compared with
 * `NAME.golden` (JSON). `UPDATE_GOLDEN=1 npx vitest run --project unit go-splitter` rewrites them;
 * review the diff before committing.
 */
const dir = fileURLToPath(new URL('../fixtures/go-splitter/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';

function splitToGolden(sql: string): unknown {
  try {
    return { batches: splitGoBatches(sql) };
  } catch (err) {
    if (err instanceof GoSeparatorError) return { error: err.message, line: err.line };
    throw err;
  }
}

describe('GO splitter golden files', () => {
  const inputs = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  it('has fixtures', () => expect(inputs.length).toBeGreaterThan(5));
  it.each(inputs)('%s', (file) => {
    const actual = `${JSON.stringify(splitToGolden(readFileSync(join(dir, file), 'utf8')), null, 2)}\n`;
    const goldenPath = join(dir, file.replace(/\.sql$/, '.golden'));
    if (update || !existsSync(goldenPath)) {
      writeFileSync(goldenPath, actual);
      if (!update) throw new Error(`wrote missing golden ${goldenPath}; review and re-run`);
      return;
    }
    expect(actual).toBe(readFileSync(goldenPath, 'utf8'));
  });
});

describe('splitGoBatches', () => {
  it('keeps start lines so server line numbers map back to the script', () => {
    const batches = splitGoBatches('SELECT 1;\nGO\n\nSELECT 2;\nGO 3\n');
    expect(batches).toEqual([
      { sql: 'SELECT 1;', startLine: 1, repeat: 1 },
      { sql: '\nSELECT 2;', startLine: 3, repeat: 3 },
    ]);
    // the server reports line 2 of the second batch → script line 4, where SELECT 2 is
    expect(batches[1]!.startLine + (2 - 1)).toBe(4);
  });

  it('is case-insensitive and tolerates whitespace and a trailing comment', () => {
    expect(splitGoBatches('a\n  gO  -- x\nb').map((b) => b.sql)).toEqual(['a', 'b']);
  });

  it('never splits on GOTO, go_table or GO; ', () => {
    expect(splitGoBatches('GOTO x\ngo_table\nGO;\n')).toHaveLength(1);
  });

  it('ignores GO inside strings, identifiers and nested comments', () => {
    const sql = "SELECT 'a\nGO\n'\nSELECT [b\nGO\n]\n/* /*\nGO\n*/\nGO\n*/\nSELECT 1";
    expect(splitGoBatches(sql)).toHaveLength(1);
  });

  it('rejects GO 0 with the line', () => {
    expect(() => splitGoBatches('SELECT 1\nGO 0')).toThrow(/line 2: GO count/);
  });

  it('returns nothing for an empty script', () => {
    expect(splitGoBatches('')).toEqual([]);
    expect(splitGoBatches('GO\n-- only a comment\nGO\n')).toEqual([]);
  });
});
