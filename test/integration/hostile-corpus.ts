/**
 * The hostile-migration corpus: migrations users really write, each with the outcome the engine
 * must deliver (docs/fleet.md, docs/security.md; the decisions the engine follows):
 *
 * - `applied`: every tenant ends with exactly one meta row for the case and the case's side effect
 *   exactly `hits` times, whatever two concurrent deploys (and a kill -9) do;
 * - `refused`: both deploys refuse it before anything runs, with the error `code` naming the file
 *   (and `line`): nothing applied anywhere;
 * - `failed`: every tenant fails with the script's own error (its `message`, at script `line`),
 *   nothing of the case is committed, and the next deploy shows the same error again.
 *
 * Adding a case is one entry. `sql` is the body of `tenant-migrations/0002_case.sql.hbs`; `{{schema}}`
 * and the helpers are available; {@link HIT} inserts one counted row. `family` limits a case to the
 * PostgreSQL family (PGlite and PostgreSQL) or to T-SQL; `any` cases are portable.
 */
import { HIT, HOSTILE_NAMES, HOSTILE_VAR } from './hostile-fleet.js';
import type { SqlHelpers } from './sql-helpers.js';

export type CaseFamily = 'postgres' | 'mssql' | 'any';

export type Expected =
  | {
      readonly kind: 'applied';
      /** Rows with case_id 'case' each tenant's `hits` table must hold. */
      readonly hits: number;
      /** Extra checks on one tenant after the deploys. */
      readonly check?: (h: SqlHelpers, schema: string, workspaceName: string) => Promise<void>;
    }
  | { readonly kind: 'refused'; readonly code: 'MIGRATION_UNSAFE' | 'TEMPLATE_ERROR'; readonly line?: number }
  | { readonly kind: 'failed'; readonly message: RegExp; readonly line?: number };

export interface HostileCase {
  readonly name: string;
  readonly family: CaseFamily;
  /** `-- tenant-migrate: no-transaction`: the file manages its own transactions. */
  readonly noTransaction?: boolean;
  readonly sql: string;
  readonly expect: Expected;
  /** Also run it under kill -9 of a CLI deploy and a re-run (server dialects). */
  readonly kill?: boolean;
  /** Relations that must not exist afterwards (an injection's target), as schema.table. */
  readonly absent?: readonly string[];
}

const lines = (...l: string[]) => `${l.join('\n')}\n`;
const DIV0 = /division by zero|divide by zero/i;

/** `n` counted INSERTs, one per line. */
const manyHits = (n: number) => Array.from({ length: n }, () => HIT);

export const CASES: readonly HostileCase[] = [
  // ---- the script's own transaction control in a transactional file (refused up front) ----
  {
    name: 'BEGIN; … COMMIT; in a transactional file',
    family: 'postgres',
    sql: lines('BEGIN;', HIT, 'COMMIT;'),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 1 },
  },
  {
    name: 'BEGIN; … COMMIT; then an error (the COMMIT would leave a row without a meta row)',
    family: 'postgres',
    sql: lines('BEGIN;', HIT, 'COMMIT;', 'SELECT 1/0;'),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 1 },
  },
  {
    name: 'START TRANSACTION … END (END is COMMIT in PostgreSQL)',
    family: 'postgres',
    sql: lines('-- a comment line first', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE;', HIT, 'END;'),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 2 },
  },
  {
    name: 'BEGIN WORK … COMMIT WORK in lower case',
    family: 'postgres',
    sql: lines('begin work;', HIT, 'commit work;'),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 1 },
  },
  {
    name: 'a bare ROLLBACK half-way',
    family: 'postgres',
    sql: lines(HIT, 'ROLLBACK;', HIT),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 2 },
  },
  {
    name: 'PREPARE TRANSACTION',
    family: 'postgres',
    sql: lines(HIT, "PREPARE TRANSACTION 'tm_hostile';"),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 2 },
  },
  {
    name: 'BEGIN TRANSACTION … COMMIT TRANSACTION in a transactional T-SQL file',
    family: 'mssql',
    sql: lines('BEGIN TRANSACTION;', HIT, 'COMMIT TRANSACTION;'),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 1 },
  },
  {
    name: 'BEGIN TRAN … ROLLBACK in a transactional T-SQL file',
    family: 'mssql',
    sql: lines(HIT, 'BEGIN TRAN', HIT, 'ROLLBACK'),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 2 },
  },
  {
    name: 'SET XACT_ABORT OFF then an error half-way',
    family: 'mssql',
    sql: lines('SET XACT_ABORT OFF;', HIT, 'SELECT 1/0;', HIT),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 1 },
  },
  {
    name: 'SET IMPLICIT_TRANSACTIONS ON',
    family: 'mssql',
    sql: lines('SET IMPLICIT_TRANSACTIONS ON;', HIT),
    expect: { kind: 'refused', code: 'MIGRATION_UNSAFE', line: 1 },
  },

  // ---- what a transactional file may do ----
  {
    name: 'SAVEPOINT / ROLLBACK TO SAVEPOINT / RELEASE (allowed: they do not end the transaction)',
    family: 'postgres',
    sql: lines('SAVEPOINT before_hits;', HIT, 'ROLLBACK TO SAVEPOINT before_hits;', HIT, 'RELEASE SAVEPOINT before_hits;'),
    expect: { kind: 'applied', hits: 1 },
    kill: true,
  },
  {
    name: 'transaction keywords inside comments and strings',
    family: 'postgres',
    sql: lines(
      '-- COMMIT; this comment is not a statement',
      '/* BEGIN; ROLLBACK; /* nested */ still a comment: END; */',
      `${HIT} -- ROLLBACK`,
      "INSERT INTO {{schema}}.notes (v) VALUES ('COMMIT; BEGIN; END;'), (E'it\\'s ROLLBACK'), ($$dollar COMMIT;$$);",
    ),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'dollar-quoted bodies: DO blocks and a function whose body says COMMIT and $tm$',
    family: 'postgres',
    sql: lines(
      'DO $$ BEGIN',
      "  INSERT INTO {{schema}}.hits (case_id, n) VALUES ('case', 1);",
      'END $$;',
      'CREATE FUNCTION {{schema}}.say_commit() RETURNS text LANGUAGE sql AS $tm$ SELECT \'COMMIT; $x$ END;\'::text $tm$;',
      'DO $outer$ BEGIN PERFORM {{schema}}.say_commit(); PERFORM $inner$ ROLLBACK; $inner$; END $outer$;',
    ),
    expect: {
      kind: 'applied',
      hits: 1,
      check: async (h, schema) => {
        const [r] = await h.query<{ v: string }>(`SELECT ${h.ident(schema)}.say_commit() AS v`);
        if (r?.v !== 'COMMIT; $x$ END;') throw new Error(`say_commit() returned ${r?.v}`);
      },
    },
  },
  {
    name: 'T-SQL BEGIN … END blocks, TRY/CATCH and an informational RAISERROR (severity 10)',
    family: 'mssql',
    sql: lines(
      'IF 1 = 1',
      'BEGIN',
      `  ${HIT}`,
      'END',
      'BEGIN TRY',
      "  RAISERROR('just information', 10, 1) WITH NOWAIT;",
      'END TRY',
      'BEGIN CATCH',
      '  THROW;',
      'END CATCH',
      "PRINT 'done';",
    ),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'GO batches with a CREATE VIEW that must stand alone',
    family: 'mssql',
    sql: lines(HIT, 'GO', 'CREATE VIEW {{schema}}.hits_view AS SELECT case_id FROM {{schema}}.hits', 'GO', "INSERT INTO {{schema}}.notes (v) VALUES (N'after the view');"),
    expect: { kind: 'applied', hits: 1 },
  },

  // ---- session options: allowed, and never carried to the next tenant ----
  {
    name: 'SET search_path to the tenant, then unqualified names',
    family: 'postgres',
    sql: lines('SET search_path TO {{schema}};', "INSERT INTO hits (case_id, n) VALUES ('case', 1);", 'CREATE TABLE unqualified_things (id integer);'),
    expect: {
      kind: 'applied',
      hits: 1,
      check: async (h, schema) => {
        if (!(await h.tableExists(schema, 'unqualified_things'))) throw new Error(`unqualified_things is not in ${schema}`);
      },
    },
  },
  {
    name: "set_config('search_path', …, false) with the engine-made schema name",
    family: 'postgres',
    sql: lines("SELECT set_config('search_path', '{{schemaName}}', false);", "INSERT INTO hits (case_id, n) VALUES ('case', 1);"),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'SET lock_timeout and statement_timeout',
    family: 'postgres',
    sql: lines("SET lock_timeout = '4321ms';", "SET statement_timeout = '98765ms';", HIT),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'SET session_replication_role = replica (triggers off)',
    family: 'postgres',
    sql: lines('SET session_replication_role = replica;', HIT),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'SET NOCOUNT ON, ANSI options off, SET LOCK_TIMEOUT',
    family: 'mssql',
    sql: lines('SET NOCOUNT ON;', 'SET ANSI_NULLS OFF;', 'SET ANSI_WARNINGS OFF;', 'SET QUOTED_IDENTIFIER OFF;', 'SET LOCK_TIMEOUT 4321;', HIT),
    expect: { kind: 'applied', hits: 1 },
  },

  {
    name: 'SET TIME ZONE and SET SESSION CHARACTERISTICS (default isolation) for the rest of the session',
    family: 'postgres',
    sql: lines("SET TIME ZONE 'Pacific/Chatham';", 'SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE;', HIT),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'a temporary table left behind (the next tenant creates it again)',
    family: 'postgres',
    sql: lines('CREATE TEMP TABLE hostile_scratch (n integer);', 'INSERT INTO hostile_scratch VALUES (1);', "INSERT INTO {{schema}}.hits (case_id, n) SELECT 'case', n FROM hostile_scratch;"),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'a prepared statement left behind (the next tenant prepares it again)',
    family: 'postgres',
    sql: lines("PREPARE hostile_insert (integer) AS INSERT INTO {{schema}}.hits (case_id, n) VALUES ('case', $1);", 'EXECUTE hostile_insert (1);'),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    // pg_try_: with pg_advisory_lock a second tenant on another pooled connection waits as long as
    // the idle connection that took the lock is not reset (forever, without a lock_timeout).
    name: 'a session-level advisory lock taken and never released',
    family: 'postgres',
    sql: lines('SELECT pg_try_advisory_lock(4242);', HIT),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'a #temp table left behind (the next tenant creates it again)',
    family: 'mssql',
    sql: lines('CREATE TABLE #hostile_scratch (n INT);', 'INSERT INTO #hostile_scratch VALUES (1);', "INSERT INTO {{schema}}.hits (case_id, n) SELECT 'case', n FROM #hostile_scratch;"),
    expect: { kind: 'applied', hits: 1 },
  },

  // ---- guards and errors half-way (the tenant fails, nothing of it commits) ----
  {
    name: 'an error half-way through a transactional file',
    family: 'any',
    sql: lines(HIT, 'CREATE TABLE {{schema}}.half_made (id {{int}});', 'SELECT 1/0;', HIT),
    // PostgreSQL reports no position for a run-time error: the line is asserted on the next case.
    expect: { kind: 'failed', message: DIV0 },
    absent: ['half_made'],
  },
  {
    name: 'an unknown column half-way (the error maps back to its script line)',
    family: 'any',
    sql: lines(HIT, 'CREATE TABLE {{schema}}.half_made (id {{int}});', 'SELECT nosuch_column FROM {{schema}}.hits;', HIT),
    expect: { kind: 'failed', message: /nosuch_column/, line: 3 },
    absent: ['half_made'],
  },
  {
    name: 'RAISERROR(…, 16, 1) guard after a write',
    family: 'mssql',
    sql: lines(HIT, "RAISERROR('guard tripped: not allowed here', 16, 1);", HIT),
    expect: { kind: 'failed', message: /guard tripped/, line: 2 },
  },
  {
    name: 'THROW guard after a write',
    family: 'mssql',
    sql: lines(HIT, "IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE name = N'no_such_table') THROW 50010, 'guard thrown: missing table', 1;", HIT),
    expect: { kind: 'failed', message: /guard thrown/, line: 2 },
  },
  {
    name: 'RAISERROR guard followed by RETURN (ends the batch early)',
    family: 'mssql',
    sql: lines(HIT, 'IF 1 = 1', 'BEGIN', "  RAISERROR('guard then return', 16, 1);", '  RETURN;', 'END', HIT),
    expect: { kind: 'failed', message: /guard then return/ },
  },

  // ---- no-transaction files manage their own transactions ----
  {
    name: 'no-transaction: BEGIN; … COMMIT; of its own',
    family: 'postgres',
    noTransaction: true,
    sql: lines('BEGIN;', HIT, 'COMMIT;'),
    expect: { kind: 'applied', hits: 1 },
    kill: true,
  },
  {
    name: 'no-transaction: BEGIN; …; error; COMMIT; (the session must come back clean and the real error shown)',
    family: 'postgres',
    noTransaction: true,
    sql: lines('BEGIN;', HIT, 'SELECT 1/0;', 'COMMIT;'),
    // A run-time error: PostgreSQL reports no position, so no line to map.
    expect: { kind: 'failed', message: DIV0 },
  },
  {
    name: 'no-transaction: BEGIN TRAN … COMMIT of its own',
    family: 'mssql',
    noTransaction: true,
    sql: lines('BEGIN TRAN;', HIT, 'COMMIT TRAN;'),
    expect: { kind: 'applied', hits: 1 },
  },
  {
    name: 'no-transaction: SET XACT_ABORT ON; BEGIN TRAN; error; COMMIT (rolled back, session clean)',
    family: 'mssql',
    noTransaction: true,
    sql: lines('SET XACT_ABORT ON;', 'BEGIN TRAN;', HIT, 'SELECT 1/0;', 'COMMIT TRAN;'),
    expect: { kind: 'failed', message: DIV0, line: 4 },
  },
  {
    name: 'no-transaction: SET IMPLICIT_TRANSACTIONS ON leaves a transaction open',
    family: 'mssql',
    noTransaction: true,
    sql: lines('SET IMPLICIT_TRANSACTIONS ON;', HIT),
    expect: { kind: 'failed', message: /transaction/i },
  },

  // ---- GO and separators where they are not separators ----
  {
    name: 'GO inside a string, a block comment and a line comment',
    family: 'any',
    sql: lines(
      HIT,
      '/*',
      'GO',
      '*/',
      '-- GO',
      "INSERT INTO {{schema}}.notes (v) VALUES ('first",
      'GO',
      "last');",
    ),
    expect: {
      kind: 'applied',
      hits: 1,
      check: async (h, schema) => {
        const rows = await h.query<{ v: string }>(`SELECT v FROM ${h.table(schema, 'notes')}`);
        if (rows.length !== 1 || rows[0]!.v.replace(/\r\n/g, '\n') !== 'first\nGO\nlast') throw new Error(`notes: ${JSON.stringify(rows)}`);
      },
    },
  },

  // ---- size ----
  {
    name: 'a very long script (3000 statements)',
    family: 'any',
    sql: lines(...manyHits(3000)),
    expect: { kind: 'applied', hits: 3000 },
    kill: true,
  },
  {
    name: 'a very long script failing at line 2500',
    family: 'any',
    sql: lines(...manyHits(2499), 'SELECT nosuch_column FROM {{schema}}.hits;', ...manyHits(500)),
    expect: { kind: 'failed', message: /nosuch_column/, line: 2500 },
  },

  // ---- workspace names are data, not SQL ----
  {
    name: "a workspace name interpolated raw into a string literal ('{{workspace.name}}')",
    family: 'any',
    sql: lines(HIT, "INSERT INTO {{schema}}.notes (v) VALUES ('{{workspace.name}}');"),
    expect: { kind: 'refused', code: 'TEMPLATE_ERROR', line: 2 },
    absent: ['public.pwned', 'dbo.pwned'],
  },
  {
    name: "a config vars entry interpolated raw into a string literal ('{{vars.note}}')",
    family: 'any',
    sql: lines(HIT, "INSERT INTO {{schema}}.notes (v) VALUES ('{{vars.note}}');"),
    expect: { kind: 'refused', code: 'TEMPLATE_ERROR', line: 2 },
    absent: ['public.pwned_by_var', 'dbo.pwned_by_var'],
  },
  {
    name: 'a config vars entry through {{literal}}',
    family: 'any',
    sql: lines(HIT, 'INSERT INTO {{schema}}.notes (v) VALUES ({{literal vars.note}});'),
    expect: {
      kind: 'applied',
      hits: 1,
      check: async (h, schema) => {
        const rows = await h.query<{ v: string }>(`SELECT v FROM ${h.table(schema, 'notes')}`);
        if (rows.length !== 1 || rows[0]!.v !== HOSTILE_VAR) throw new Error(`${schema}: stored ${JSON.stringify(rows)}`);
      },
    },
  },
  {
    name: 'a workspace name through {{literal}}',
    family: 'any',
    sql: lines(HIT, 'INSERT INTO {{schema}}.notes (v) VALUES ({{literal workspace.name}});'),
    expect: {
      kind: 'applied',
      hits: 1,
      check: async (h, schema, workspaceName) => {
        const rows = await h.query<{ v: string }>(`SELECT v FROM ${h.table(schema, 'notes')}`);
        if (rows.length !== 1 || rows[0]!.v !== workspaceName) throw new Error(`${schema}: stored ${JSON.stringify(rows)}, expected ${JSON.stringify(workspaceName)}`);
      },
    },
    absent: ['public.pwned', 'dbo.pwned'],
  },
];

/** Sanity of the table itself: unique names, the hostile names present. */
export function assertCorpus(): void {
  const seen = new Set<string>();
  for (const c of CASES) {
    if (seen.has(c.name)) throw new Error(`duplicate hostile case: ${c.name}`);
    seen.add(c.name);
  }
  if (HOSTILE_NAMES.length < 2) throw new Error('the hostile names are missing');
}
