import { describe, expect, it } from 'vitest';
import { MssqlFoldedApply, leadingCode, mayJoin } from '../../src/dialect/mssql/mssql-folded-apply.js';
import { inlineMssqlParams, mssqlLiteral, mssqlSql } from '../../src/dialect/mssql/mssql-sql.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const folded = new MssqlFoldedApply(names, mssqlSql(names));
const schema = 'ws_0000000000000000000000000000abcd';
const migration = (script: string, expected = [{ id: '0001_a', checksum: 'c'.repeat(64) }]) => ({
  schema,
  expected,
  prelude: [],
  script,
  row: { id: '0002_b', checksum: 'a'.repeat(64), renderedChecksum: 'b'.repeat(64), runId: null },
});
const batch = (sql: string, repeat = 1) => ({ sql, startLine: 1, repeat });

describe('SQL Server folded send: batches', () => {
  it('skips leading whitespace and comments, nested block comments included', () => {
    expect(leadingCode('  -- note\n/* a /* b */ c */\n  ALTER TABLE t ADD x INT')).toBe('ALTER TABLE t ADD x INT');
    expect(leadingCode('-- only a comment')).toBe('');
    expect(leadingCode('/* unterminated')).toBe('');
  });

  it('joins ordinary statements, never procedures, views, triggers, functions, schemas or bare procedure calls', () => {
    for (const sql of ['ALTER TABLE t ADD x INT', 'CREATE TABLE t (id INT)', 'CREATE UNIQUE INDEX i ON t (x)', 'INSERT INTO t VALUES (1)', 'EXEC sp_rename N\'a\', N\'b\'', 'IF 1 = 1 PRINT 1', 'UPDATE t SET x = 1']) {
      expect(mayJoin(batch(sql), 'head'), sql).toBe(true);
      expect(mayJoin(batch(sql), 'tail'), sql).toBe(true);
    }
    for (const sql of ['CREATE VIEW v AS SELECT 1 AS x', 'create or alter procedure p as select 1', 'ALTER FUNCTION f() RETURNS INT AS BEGIN RETURN 1 END', 'CREATE TRIGGER tr ON t AFTER INSERT AS SELECT 1', 'CREATE SCHEMA s', '/* x */ CREATE PROC p AS SELECT 1']) {
      expect(mayJoin(batch(sql), 'head'), sql).toBe(false);
      expect(mayJoin(batch(sql), 'tail'), sql).toBe(false);
    }
    // `sp_rename …` without EXEC is only valid first in its batch: nothing in front, the tail may follow.
    expect(mayJoin(batch("sp_rename N'a', N'b'"), 'head')).toBe(false);
    expect(mayJoin(batch("sp_rename N'a', N'b'"), 'tail')).toBe(true);
    expect(mayJoin(batch('INSERT INTO t DEFAULT VALUES', 3), 'tail')).toBe(false);
  });

  it('sends a one-batch migration as one request: lock and check, script, meta row, COMMIT', () => {
    const plan = folded.plan(migration('ALTER TABLE [ws].[t] ADD x INT;'));
    expect(plan).toHaveLength(1);
    expect(plan[0]!.withTail).toBe(true);
    expect(plan[0]!.sql).toMatch(/^SET XACT_ABORT ON; BEGIN TRANSACTION;\n/);
    expect(plan[0]!.sql).toContain("@LockOwner = N'Transaction', @LockTimeout = 0");
    expect(plan[0]!.sql).toContain(`(VALUES (N'0001_a', N'${'c'.repeat(64)}'))`);
    expect(plan[0]!.sql.split('\n')[plan[0]!.headLines]).toBe('ALTER TABLE [ws].[t] ADD x INT;');
    const tail = folded.tail(migration(''), '5');
    expect(tail).toContain("INSERT INTO [ws_0000000000000000000000000000abcd].[__schema_migrations]");
    expect(tail).toContain("N'0002_b'");
    expect(tail).toMatch(/COMMIT TRANSACTION; SELECT @@TRANCOUNT AS open_transactions;$/);
  });

  it('keeps batches that must stand alone on their own, and puts the head and the tail beside them', () => {
    const plan = folded.plan(migration('CREATE VIEW v AS SELECT 1 AS x\nGO\nALTER TABLE t ADD y INT\nGO 2\nCREATE PROC p AS SELECT 1'));
    expect(plan.map((b) => [b.scriptBatch, b.scriptStart, b.withTail])).toEqual([
      [0, undefined, false], // head alone: the view must be first in its batch
      [0, 1, false],
      [1, 3, false], // GO 2: sent twice, never joined
      [1, 3, false],
      [2, 5, false],
      [2, undefined, true], // tail alone: the procedure's body runs to the end of its batch
    ]);
  });

  it('a fresh tenant (nothing expected) accepts a missing meta table; otherwise a missing one is stale', () => {
    const fresh = folded.head(migration('', []));
    expect(fresh).toContain(`IF OBJECT_ID(N'[${schema}].[__schema_migrations]', N'U') IS NULL SET @tm_lock = @tm_lock`);
    expect(fresh).toContain(`(SELECT COUNT(*) FROM [${schema}].[__schema_migrations]) = 0`);
    expect(folded.head(migration(''))).toContain("THROW 50002, N'no meta table', 1\nELSE IF");
  });
});

describe('SQL Server literals for texts sent without parameters', () => {
  it('inlines parameters typed as they would be bound, leaving strings, identifiers and comments alone', () => {
    expect(inlineMssqlParams("UPDATE t SET a = $2, [$1] = '$1' -- $1\nWHERE id = $1 AND b = $3", ["x'y", 5, null])).toBe(
      "UPDATE t SET a = 5, [$1] = '$1' -- $1\nWHERE id = N'x''y' AND b = NULL",
    );
    expect(mssqlLiteral(true)).toBe('CAST(1 AS BIT)');
    expect(mssqlLiteral(1.5)).toBe('CAST(1.5 AS FLOAT)');
    expect(mssqlLiteral(new Date('2026-01-02T03:04:05.678Z'))).toBe("CONVERT(DATETIME2(7), N'2026-01-02T03:04:05.678Z', 127)");
    expect(mssqlLiteral(Buffer.from([1, 255]))).toBe('0x01ff');
    expect(() => inlineMssqlParams('SELECT $2', ['a'])).toThrow(/No value for placeholder \$2/);
  });
});

describe('SQL Server folded send: tenants sharing a batch', () => {
  it('shares ordinary one-request migrations, not ones whose session state would outlive their part of the batch', () => {
    for (const sql of ['ALTER TABLE [ws].[t] ADD x INT;', 'UPDATE [ws].[t]\nSET x = 1\nWHERE y = 2;', "INSERT INTO [ws].[t] VALUES (N'a');", "EXEC sp_rename N'ws.t.a', N'b', N'COLUMN';"]) {
      expect(folded.shareable(migration(sql)), sql).toBe(true);
    }
    for (const sql of [
      'SET XACT_ABORT OFF;\nALTER TABLE t ADD x INT;',
      'SET NOCOUNT ON;\nUPDATE t SET x = 1;',
      'SET IDENTITY_INSERT t ON;\nINSERT INTO t (id) VALUES (1);',
      'USE other;\nCREATE TABLE t (id INT);',
      'CREATE TABLE #work (id INT);\nINSERT INTO #work VALUES (1);',
      'DECLARE @n INT = 1;\nUPDATE t SET x = @n;',
      "EXEC sp_set_session_context N'k', 1;",
      'ALTER TABLE t ADD x INT;\nGO\nUPDATE t SET x = 1;',
      'CREATE VIEW v AS SELECT 1 AS x',
    ]) {
      expect(folded.shareable(migration(sql)), sql).toBe(false);
    }
  });
});

describe('SQL Server shared batch', () => {
  it('declares each of its own variables once, however many tenants share it (a batch may declare a name only once)', () => {
    const migrations = [0, 1, 2].map((n) => ({ ...migration(`ALTER TABLE [ws].[t${n}] ADD x INT;`), schema: `${schema.slice(0, -1)}${n}` }));
    const text = folded.sharedBatch(migrations);
    const declared = [...text.matchAll(/\bDECLARE\s+([^;]+)/gi)].flatMap((m) => [...m[1]!.matchAll(/(@\w+)\s+(?:INT|DATETIME2?|NVARCHAR)/gi)].map((v) => v[1]!.toLowerCase()));
    expect(declared.length).toBeGreaterThan(9);
    expect(new Set(declared).size).toBe(declared.length);
    // Every variable used is one of the declared ones (none left without its tenant's number).
    const used = new Set([...text.matchAll(/@tm_\w+/g)].map((m) => m[0].toLowerCase()));
    for (const v of used) expect(declared, v).toContain(v);
    // A session option goes alone (a batch cannot reset the session between tenants), also right after an UPDATE.
    expect(folded.shareable(migration('UPDATE [ws].[jobs] SET archived = 1 WHERE id < 10\nSET ROWCOUNT 100\nDELETE FROM [ws].[job_runs];'))).toBe(false);
    expect(folded.shareable(migration('UPDATE [ws].[jobs] SET archived = 1 WHERE id < 10\nDELETE FROM [ws].[job_runs];'))).toBe(true);
    expect(text).toMatch(/SELECT 3 AS tm_sent, @@TRANCOUNT AS open_transactions, @tm_ms_0 AS tm_ms_0, @tm_ms_1 AS tm_ms_1, @tm_ms_2 AS tm_ms_2;$/);
  });
});
