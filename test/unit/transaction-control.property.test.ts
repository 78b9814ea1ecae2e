/**
 * Property tests of the pure parts that decide whether a migration may run in the engine's
 * transaction: the comment/string blanking and statement splitting of src/release/lint-rules.ts,
 * and the transaction-control rule of src/release/transaction-control.ts. Generated scripts of
 * harmless statements whose strings, comments, quoted names and dollar-quoted bodies are full of
 * COMMIT/BEGIN/ROLLBACK/END must never be refused; one transaction statement put at top level on a
 * random line must be refused exactly there.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitStatements, stripComments } from '../../src/release/lint-rules.js';
import { findTransactionControl } from '../../src/release/transaction-control.js';

const keyword = fc.constantFrom('COMMIT', 'BEGIN', 'ROLLBACK', 'END', 'BEGIN TRANSACTION', 'COMMIT TRAN', 'START TRANSACTION', 'GO', ';', "'", '--', '/*', '$$');
const filler = fc.stringMatching(/^[a-z ]{0,8}$/);
/** Text that may sit inside a quoted token: keywords, separators, newlines. */
const inner = fc.array(fc.oneof(keyword, filler, fc.constant('\n')), { maxLength: 6 }).map((p) => p.join(' '));

/** A harmless PostgreSQL statement whose quoted parts say dangerous things. Ends with `;`. */
const pgStatement = fc.oneof(
  fc.constantFrom('CREATE TABLE t (id integer);', 'ALTER TABLE t ADD COLUMN committed boolean;', 'SELECT begin_date, end_date FROM t;', 'SAVEPOINT s1;', 'ROLLBACK TO SAVEPOINT s1;', 'RELEASE SAVEPOINT s1;', "SET LOCAL lock_timeout = '1s';"),
  inner.map((s) => `INSERT INTO t VALUES ('${s.replace(/'/g, "''")}');`),
  inner.map((s) => `SELECT E'${s.replace(/\\/g, '').replace(/'/g, "\\'")}';`),
  inner.map((s) => `SELECT 1 AS "${s.replace(/"/g, '""')}";`),
  inner.map((s) => `-- ${s.replace(/\n/g, ' ')}\nSELECT 1;`),
  inner.map((s) => `/* ${s.replace(/[*/]/g, '')} /* nested ${s.replace(/[*/]/g, '')} */ */ SELECT 2;`),
  inner.map((s) => `DO $$ BEGIN PERFORM '${s.replace(/'/g, "''").replace(/\$\$/g, '')}'; END $$;`),
  inner.map((s) => `CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $fn$ BEGIN ${s.replace(/\$fn\$/g, '')} END $fn$;`),
);

/** Transaction control at top level (PostgreSQL). */
const pgControl = fc.constantFrom('BEGIN;', 'begin work;', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE;', 'COMMIT;', 'commit work;', 'END;', 'ROLLBACK;', 'ABORT;', "PREPARE TRANSACTION 'x';");

/** A harmless T-SQL statement: BEGIN … END blocks, TRY/CATCH, CASE … END, keywords in quotes. */
const tsqlStatement = fc.oneof(
  fc.constantFrom(
    'CREATE TABLE t (id INT);',
    'IF 1 = 1\nBEGIN\n  PRINT 1;\nEND',
    'BEGIN TRY\n  SELECT 1;\nEND TRY\nBEGIN CATCH\n  THROW;\nEND CATCH',
    'SELECT CASE WHEN 1 = 1 THEN 1 ELSE 0 END AS x;',
    'UPDATE t SET committed = 1;',
    'SET NOCOUNT ON;',
    'SET XACT_ABORT ON;',
    'SAVE TRANSACTION sp1;',
  ),
  inner.map((s) => `INSERT INTO t VALUES (N'${s.replace(/'/g, "''")}');`),
  inner.map((s) => `SELECT 1 AS [${s.replace(/]/g, ']]')}];`),
  inner.map((s) => `-- ${s.replace(/\n/g, ' ')}\nSELECT 1;`),
  inner.map((s) => `/* ${s.replace(/[*/]/g, '')} */ SELECT 2;`),
);
const tsqlControl = fc.constantFrom('BEGIN TRANSACTION;', 'BEGIN TRAN', 'COMMIT;', 'COMMIT TRANSACTION;', 'ROLLBACK;', 'ROLLBACK TRAN;', 'SET XACT_ABORT OFF;', 'SET IMPLICIT_TRANSACTIONS ON;');

const errors = (sql: string, family: 'postgres' | 'mssql') => findTransactionControl(sql, family).filter((f) => f.severity === 'error');

describe('transaction-control rule (property)', () => {
  it('PostgreSQL: harmless statements are never refused, whatever their strings, comments and dollar quotes say', () => {
    fc.assert(
      fc.property(fc.array(pgStatement, { minLength: 1, maxLength: 10 }), (stmts) => {
        expect(errors(stmts.join('\n'), 'postgres')).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('PostgreSQL: one top-level transaction statement on a random line is refused exactly there', () => {
    fc.assert(
      fc.property(fc.array(pgStatement, { maxLength: 8 }), pgControl, fc.array(pgStatement, { maxLength: 8 }), (before, control, after) => {
        const head = before.join('\n');
        const sql = [head, control, ...after].filter((s, i) => i > 0 || s !== '').join('\n');
        const line = (head === '' ? 0 : head.split('\n').length) + 1;
        expect(errors(sql, 'postgres').map((f) => f.line)).toEqual([line]);
      }),
      { numRuns: 400 },
    );
  });

  it('T-SQL: BEGIN … END blocks, TRY/CATCH, CASE and quoted keywords are never refused', () => {
    fc.assert(
      fc.property(fc.array(tsqlStatement, { minLength: 1, maxLength: 10 }), (stmts) => {
        expect(errors(stmts.join('\n'), 'mssql')).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('T-SQL: one top-level transaction statement on a random line is refused exactly there', () => {
    fc.assert(
      fc.property(fc.array(tsqlStatement, { maxLength: 8 }), tsqlControl, fc.array(tsqlStatement, { maxLength: 8 }), (before, control, after) => {
        const head = before.join('\n');
        const sql = [head, control, ...after].filter((s, i) => i > 0 || s !== '').join('\n');
        const line = (head === '' ? 0 : head.split('\n').length) + 1;
        expect(errors(sql, 'mssql').map((f) => f.line)).toEqual([line]);
      }),
      { numRuns: 400 },
    );
  });
});

describe('comment blanking and statement splitting (property)', () => {
  const anyScript = fc.array(fc.oneof(pgStatement, tsqlStatement), { minLength: 1, maxLength: 10 }).map((s) => s.join('\n'));

  it('stripComments keeps every offset and every newline (so lines and positions stay true)', () => {
    fc.assert(
      fc.property(anyScript, fc.constantFrom('postgres', 'mssql', 'any') as fc.Arbitrary<'postgres' | 'mssql' | 'any'>, (sql, family) => {
        const clean = stripComments(sql, family);
        expect(clean.length).toBe(sql.length);
        expect([...clean].map((c, i) => (c === '\n') === (sql[i] === '\n'))).not.toContain(false);
        // What it keeps, it keeps verbatim; what it drops becomes a space.
        expect([...clean].every((c, i) => c === sql[i] || c === ' ')).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  // The transaction rule's path: quoted names blanked too (stripComments(…, true)).
  it.each([
    ['quoted names blanked (the transaction rule)', true],
    ['quoted names kept (the other lint rules): a `;` or a GO line inside "a name" is no separator', false],
  ])('splitStatements keeps every character of code, %s: statements re-joined equal the text without separators and blanks', (_title, blankNames) => {
    fc.assert(
      fc.property(fc.array(pgStatement, { minLength: 1, maxLength: 10 }), (stmts) => {
        const clean = stripComments(stmts.join('\n'), 'postgres', blankNames);
        const squash = (s: string) => s.replace(/;/g, '').replace(/\s+/g, '');
        expect(squash(splitStatements(clean).map((s) => s.text).join(''))).toBe(squash(clean));
        for (const st of splitStatements(clean)) {
          // A statement's line is the line of its first character.
          expect(clean.split('\n')[st.line - 1]).toContain(st.text.split('\n')[0]!.trim().slice(0, 10));
        }
      }),
      { numRuns: 300, examples: [[['SELECT 1 AS "a;b";', 'SELECT 2;']], [['SELECT 1 AS "x\nGO\n";']]] },
    );
  });
});
