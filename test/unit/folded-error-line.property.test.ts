/**
 * Property tests of the folded send's error-line mapping: a generated migration script with a
 * failing statement on a random line, sent through the real folded send of each dialect (its own
 * head, prelude and tail around the script), must report that script line — not a line of the
 * text the engine wrapped around it.
 *
 * The database side is played by a driver that reports errors the way each server documents it:
 * PostgreSQL gives `position`, a 1-based character offset into the query string of the failing
 * token (https://www.postgresql.org/docs/current/protocol-error-fields.html, field P); SQL Server
 * gives `lineNumber`, the 1-based line inside the batch (TDS ERROR token). The same mapping runs
 * against real servers in test/integration/hostile-migrations.test.ts (cases with a `line`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScriptExecutionError } from '../../src/dialect/contracts/driver.js';
import { splitGoBatches } from '../../src/dialect/mssql/go-splitter.js';
import { mssqlErrorLine } from '../../src/dialect/mssql/mssql-errors.js';
import { MssqlFoldedApply } from '../../src/dialect/mssql/mssql-folded-apply.js';
import { MssqlSession, type MssqlSessionDriver } from '../../src/dialect/mssql/mssql-session.js';
import { mssqlSql } from '../../src/dialect/mssql/mssql-sql.js';
import { mssqlSyntax } from '../../src/dialect/mssql/mssql-syntax.js';
import { PostgresFoldedApply } from '../../src/dialect/postgres/postgres-folded-apply.js';
import { postgresSql } from '../../src/dialect/postgres/postgres-sql.js';
import { postgresSyntax } from '../../src/dialect/postgres/postgres-syntax.js';
import { DriverSession } from '../../src/dialect/sql-session.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const SCHEMA = 'ws_0123456789abcdef0123456789abcdef';
const MARKER = 'tm_marker_col';
const row = { id: '0002_x', checksum: 'a'.repeat(64), renderedChecksum: 'b'.repeat(64), runId: 'run-1' };
const expected = [{ id: '0001_a', checksum: 'c'.repeat(64) }];

/** The line (1-based) and column (1-based) of the marker in `text`. */
function locate(text: string): { line: number; column: number; offset: number } | undefined {
  const offset = text.indexOf(MARKER);
  if (offset < 0) return undefined;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1, offset };
}

/** Top-level chunks of a PostgreSQL migration, some spanning lines (strings, comments, dollar quotes). */
const pgChunk = fc.oneof(
  fc.constantFrom(
    'CREATE TABLE {{schema}}.a (id integer);',
    'ALTER TABLE t ADD COLUMN b text;',
    "INSERT INTO t VALUES ('line one\nline two');",
    '-- a comment\nSELECT 1;',
    '/* block\n   comment */ SELECT 2;',
    'DO $$\nBEGIN\n  PERFORM 1;\nEND\n$$;',
    'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $fn$\n  SELECT 1\n$fn$;',
    '',
    '   ',
  ),
  fc.integer({ min: 1, max: 40 }).map((n) => Array.from({ length: n }, (_, i) => `INSERT INTO t VALUES (${i});`).join('\n')),
);

/** The failing statement: an unknown column, at a random indentation. */
const failing = fc.nat(12).map((n) => `${' '.repeat(n)}SELECT ${MARKER} FROM t;`);

const pgScript = fc.tuple(fc.array(pgChunk, { maxLength: 12 }), failing, fc.array(pgChunk, { maxLength: 12 })).map(([before, bad, after]) => [...before, bad, ...after].join('\n'));

describe('folded send error line (property)', () => {
  it('PostgreSQL/PGlite: an error anywhere in the script maps back to its script line and column', async () => {
    await fc.assert(
      fc.asyncProperty(pgScript, fc.boolean(), async (script, freshTenant) => {
        const folded = new PostgresFoldedApply(names, postgresSql(names));
        // The server: fails at the marker's offset in whatever text it is sent.
        const session = new DriverSession(
          {
            query: async () => [],
            exec: async (sql) => {
              const at = sql.indexOf(MARKER);
              if (at >= 0) throw Object.assign(new Error(`column "${MARKER}" does not exist`), { code: '42703', position: String(at + 1) });
            },
            errorPosition: (err) => Number((err as { position?: string }).position) || undefined,
          },
          postgresSyntax,
        );
        const prelude = freshTenant ? [`CREATE SCHEMA IF NOT EXISTS "${SCHEMA}"`, `CREATE TABLE IF NOT EXISTS "${SCHEMA}".meta (id text)`] : [];
        const err = await folded.apply(session, { schema: SCHEMA, expected: freshTenant ? [] : expected, prelude, script, row }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ScriptExecutionError);
        const want = locate(script)!;
        expect((err as ScriptExecutionError).line).toBe(want.line);
        expect((err as ScriptExecutionError).column).toBe(want.column);
      }),
      { numRuns: 300 },
    );
  });

  /** T-SQL: plain chunks, strings and comments holding GO lines; batches separated by GO, some must stand alone. */
  const tsqlChunk = fc.oneof(
    fc.constantFrom(
      'CREATE TABLE {{schema}}.a (id INT);',
      "INSERT INTO t VALUES (N'one\nGO\ntwo');",
      '-- GO in a comment\nSELECT 1;',
      '/* block\nGO\n comment */ SELECT 2;',
      'IF 1 = 1\nBEGIN\n  PRINT 1;\nEND',
      'SET NOCOUNT ON;',
      '',
    ),
    fc.integer({ min: 1, max: 30 }).map((n) => Array.from({ length: n }, (_, i) => `INSERT INTO t VALUES (${i});`).join('\n')),
  );
  const tsqlBatch = fc.oneof(
    { weight: 4, arbitrary: fc.array(tsqlChunk, { minLength: 1, maxLength: 5 }).map((c) => ({ text: c.join('\n'), standsAlone: false })) },
    { weight: 1, arbitrary: fc.constantFrom({ text: 'CREATE VIEW {{schema}}.v AS\n  SELECT 1 AS x', standsAlone: true }) },
  );
  const tsqlScript = fc
    .tuple(fc.array(tsqlBatch, { maxLength: 4 }), fc.array(tsqlChunk, { maxLength: 4 }), failing, fc.array(tsqlChunk, { maxLength: 4 }), fc.array(tsqlBatch, { maxLength: 4 }), fc.constantFrom('GO', 'go', 'GO -- next'))
    .map(([before, pre, bad, post, after, sep]) => {
      // Every batch holds code (a batch of blanks only would be dropped by the splitter and by sqlcmd).
      const failingBatch = [...pre, bad, ...post].join('\n');
      return [...before.map((b) => b.text), failingBatch, ...after.map((b) => b.text)].filter((t) => t.trim() !== '').join(`\n${sep}\n`);
    });

  it('SQL Server: an error anywhere maps back to its script line and GO batch, whatever batches the send joins', async () => {
    await fc.assert(
      fc.asyncProperty(tsqlScript, fc.boolean(), async (script, freshTenant) => {
        const folded = new MssqlFoldedApply(names, mssqlSql(names));
        const driver: MssqlSessionDriver = {
          query: async () => [],
          exec: async () => undefined,
          errorPosition: () => undefined,
          errorLine: mssqlErrorLine,
          openTransactions: async () => 0,
          batch: async (sql) => {
            const at = locate(sql);
            if (at) throw Object.assign(new Error(`Invalid column name '${MARKER}'.`), { number: 207, lineNumber: at.line });
            return /open_transactions/.test(sql) ? [{ open_transactions: 0 }] : [];
          },
        };
        const session = new MssqlSession(driver, mssqlSyntax, 'SET XACT_ABORT ON; BEGIN TRANSACTION');
        const prelude = freshTenant ? [`CREATE SCHEMA [${SCHEMA}]`, `CREATE TABLE [${SCHEMA}].[meta] (id NVARCHAR(100))`] : [];
        const err = await folded.apply(session, { schema: SCHEMA, expected: freshTenant ? [] : expected, prelude, script, row }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ScriptExecutionError);
        const want = locate(script)!;
        expect((err as ScriptExecutionError).line).toBe(want.line);
        const batchIndex = splitGoBatches(script).findIndex((b) => b.sql.includes(MARKER));
        expect((err as ScriptExecutionError).batchIndex).toBe(batchIndex);
      }),
      { numRuns: 300 },
    );
  });
});
