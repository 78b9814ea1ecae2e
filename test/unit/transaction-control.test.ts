import { describe, expect, it } from 'vitest';
import { findTransactionControl } from '../../src/release/transaction-control.js';

const errors = (sql: string, family: 'postgres' | 'mssql') =>
  findTransactionControl(sql, family).filter((f) => f.severity === 'error').map((f) => `${f.line}:${f.statement}`);
const warnings = (sql: string, family: 'postgres' | 'mssql') =>
  findTransactionControl(sql, family).filter((f) => f.severity === 'warning').map((f) => `${f.line}:${f.statement}`);

describe('findTransactionControl (PostgreSQL)', () => {
  it('refuses top-level BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT and PREPARE TRANSACTION with their lines', () => {
    const sql = [
      'BEGIN;',
      'INSERT INTO t VALUES (1);',
      'COMMIT;',
      'begin work;',
      'START TRANSACTION ISOLATION LEVEL SERIALIZABLE;',
      'END;',
      'ROLLBACK;',
      'abort;',
      "PREPARE TRANSACTION 'x';",
      'ROLLBACK PREPARED \'x\';',
      'COMMIT AND CHAIN;',
    ].join('\n');
    expect(errors(sql, 'postgres')).toEqual([
      '1:BEGIN',
      '3:COMMIT',
      '4:BEGIN',
      '5:START TRANSACTION',
      '6:END',
      '7:ROLLBACK',
      '8:ABORT',
      '9:PREPARE TRANSACTION',
      '10:ROLLBACK PREPARED',
      '11:COMMIT',
    ]);
  });

  it('allows ROLLBACK TO SAVEPOINT and SAVEPOINT', () => {
    expect(errors('SAVEPOINT a;\nROLLBACK TO SAVEPOINT a;\nROLLBACK TO a;\nROLLBACK WORK TO SAVEPOINT a;\nRELEASE SAVEPOINT a;', 'postgres')).toEqual([]);
  });

  it('ignores strings, comments, quoted names and dollar-quoted bodies', () => {
    const sql = [
      "INSERT INTO t VALUES ('x'); -- COMMIT;",
      "/* COMMIT; /* nested */ ROLLBACK; */ SELECT E'it\\'s; COMMIT';",
      'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $fn$',
      'BEGIN',
      '  COMMIT;',
      'END;',
      '$fn$;',
      'DO $$ BEGIN ROLLBACK; END $$;',
      'SELECT "commit", $1::int FROM "end";',
    ].join('\n');
    expect(errors(sql, 'postgres')).toEqual([]);
  });

  it('skips a SQL-standard function body (BEGIN ATOMIC … END) but not what follows it', () => {
    const sql = 'CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nCOMMIT;';
    expect(errors(sql, 'postgres')).toEqual(['6:COMMIT']);
  });

  it('warns about session options but not SET LOCAL', () => {
    const sql = 'SET search_path = x;\nSET LOCAL lock_timeout = 1;\nset session statement_timeout = 5;\nSET session_replication_role = replica;\nRESET ALL;';
    expect(warnings(sql, 'postgres')).toEqual(['1:SET SEARCH_PATH', '3:SET SESSION STATEMENT_TIMEOUT', '4:SET SESSION_REPLICATION_ROLE', '5:RESET ALL']);
    expect(errors(sql, 'postgres')).toEqual([]);
  });
});

describe('findTransactionControl (T-SQL)', () => {
  it('refuses BEGIN TRAN, COMMIT, ROLLBACK, SET XACT_ABORT OFF and SET IMPLICIT_TRANSACTIONS ON, inside blocks too', () => {
    const sql = [
      'BEGIN TRANSACTION',
      'INSERT INTO t VALUES (1)',
      'IF @@ERROR <> 0',
      'BEGIN',
      '  ROLLBACK TRAN',
      'END',
      'ELSE COMMIT',
      'SET XACT_ABORT OFF;',
      'SET IMPLICIT_TRANSACTIONS ON',
      'BEGIN TRY',
      '  SELECT 1/0',
      'END TRY',
      'BEGIN CATCH',
      '  IF @@TRANCOUNT > 0 ROLLBACK;',
      '  THROW;',
      'END CATCH',
    ].join('\n');
    expect(errors(sql, 'mssql')).toEqual(['1:BEGIN TRANSACTION', '5:ROLLBACK TRAN', '7:COMMIT', '8:SET XACT_ABORT OFF', '9:SET IMPLICIT_TRANSACTIONS ON', '14:ROLLBACK']);
  });

  it('treats BEGIN … END, TRY/CATCH and CASE … END as blocks, not transactions', () => {
    const sql = [
      "IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE name = 'x')",
      'BEGIN',
      '  CREATE TABLE [ws].[x] (id INT, [end] INT, [commit] INT);',
      '  SELECT CASE WHEN 1 = 1 THEN 1 ELSE 0 END AS c;',
      'END',
      'SET XACT_ABORT ON;',
      'SET IMPLICIT_TRANSACTIONS OFF;',
      "PRINT 'COMMIT'",
      '-- ROLLBACK',
      '/* COMMIT /* nested */ ROLLBACK */',
      'SELECT t.commit_time FROM t',
    ].join('\n');
    expect(errors(sql, 'mssql')).toEqual([]);
  });

  it('skips procedure, function and trigger bodies (their batch is stored, not run), not the batches around them', () => {
    const sql = [
      'CREATE TABLE [ws].[t] (id INT)',
      'GO',
      'CREATE OR ALTER PROCEDURE [ws].[p] AS',
      'BEGIN',
      '  BEGIN TRAN',
      '  UPDATE [ws].[t] SET id = 1',
      '  COMMIT',
      'END',
      'GO',
      'COMMIT',
    ].join('\n');
    expect(errors(sql, 'mssql')).toEqual(['10:COMMIT']);
  });

  it('reads GO inside a string or comment as text, not as a batch end', () => {
    const sql = "PRINT '\nGO\n'\n/*\nGO\n*/\nCREATE PROCEDURE p AS SELECT 1\nGO\nROLLBACK";
    // The procedure batch starts at the CREATE; the GO lines in the string and comment do not split.
    expect(errors(sql, 'mssql')).toEqual(['9:ROLLBACK']);
  });

  it('allows ROLLBACK TRAN to a savepoint the script saved', () => {
    expect(errors('SAVE TRANSACTION sp1;\nUPDATE t SET a = 1;\nROLLBACK TRANSACTION sp1;', 'mssql')).toEqual([]);
  });

  it('warns about session options, not about UPDATE … SET or variables', () => {
    const sql = 'SET NOCOUNT ON;\nSET ANSI_NULLS OFF;\nDECLARE @x INT;\nSET @x = 1;\nUPDATE t SET a = 1;\nSET LOCK_TIMEOUT 100;\nCREATE TABLE c (p INT REFERENCES t (a) ON DELETE SET NULL ON UPDATE SET DEFAULT)';
    expect(warnings(sql, 'mssql')).toEqual(['1:SET NOCOUNT', '2:SET ANSI_NULLS', '6:SET LOCK_TIMEOUT']);
  });

  it('a session option right after an UPDATE without a semicolon is still a session option', () => {
    const sql = [
      'UPDATE jobs SET archived = 1 WHERE id < 10',
      'SET ROWCOUNT 100',
      'DELETE FROM job_runs',
      'UPDATE [ws].[jobs] SET [note] = N\'x\', j.total += 1, body.WRITE(N\'y\', 0, 1) FROM [ws].[jobs] AS j',
      'SET DATEFORMAT dmy',
      'MERGE t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.a = s.a;',
      'SET LANGUAGE us_english',
    ].join('\n');
    expect(warnings(sql, 'mssql')).toEqual(['2:SET ROWCOUNT', '5:SET DATEFORMAT', '7:SET LANGUAGE']);
  });
});
