/**
 * A fleet with something to report, built through the real CLI: tenants migrated by a first `up`,
 * then a second `up` of a migration that fails on two tenants (their column was renamed by hand:
 * the statement at line 3 of the template names it; the database reports the position, so the
 * engine records the template line), takes long on one (200,000 rows to rewrite; 100,000 on PGlite, which runs one statement at a time), and afterwards
 * one more tenant altered by hand (drift), plus an Archived workspace and an invalid registry row.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { DialectName } from '../../src/dialect/dialect-syntax.js';
import { type TestProject, guid, runCli } from './harness.js';
import { type SqlHelpers, withDatabase } from './sql-helpers.js';

export const FAILING_MIGRATION = 'tenant-migrations/0002_notes_check.sql.hbs';
/** The line of the statement that fails (the CHECK). */
export const FAILING_LINE = 3;

export interface ReportFleet {
  /** Active workspaces: id → target (null: the master's database) and role. */
  readonly tenants: readonly { readonly id: string; readonly schema: string; readonly name: string; readonly target: string | null; readonly role: 'ok' | 'failing' | 'slow' | 'drifted' }[];
  readonly archived: string;
  readonly invalid: string;
}

export const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;

/** Replace the project's tenant migrations by the fleet's own (0001 creates notes). */
export function writeFleetMigrations(project: TestProject): void {
  rmSync(path.join(project.root, 'tenant-migrations'), { recursive: true, force: true });
  mkdirSync(path.join(project.root, 'tenant-migrations'));
  project.write('tenant-migrations/0001_create_notes.sql.hbs', 'CREATE TABLE {{table "notes"}} (id {{int}} NOT NULL PRIMARY KEY, body {{nvarchar 200}} NULL);\n');
}

function renameColumn(dialect: DialectName, schema: string): string {
  return dialect === 'mssql' ? `EXEC sp_rename '${schema}.notes.body', 'body_old', 'COLUMN'` : `ALTER TABLE ${schema}.notes RENAME COLUMN body TO body_old`;
}

function bulkInsert(dialect: DialectName, schema: string, rows: number): string {
  return dialect === 'mssql'
    ? `INSERT INTO ${schema}.notes (id, body) SELECT TOP (${rows}) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)), N'x' FROM sys.all_objects a CROSS JOIN sys.all_objects b CROSS JOIN sys.all_objects c`
    : `INSERT INTO ${schema}.notes (id, body) SELECT g, 'x' FROM generate_series(1, ${rows}) AS g`;
}

/**
 * Build the fleet. `urlOf(target)` is the database of a target (null: the master's). Workspaces
 * are placed per `placement` (one entry per Active workspace; roles: 2 failing, 1 slow, 1 drifted).
 */
export async function buildReportFleet(options: {
  readonly project: TestProject;
  readonly dialect: DialectName;
  readonly masterUrl: string;
  readonly urlOf: (target: string | null) => string;
  readonly placement: readonly { readonly target: string | null; readonly role: ReportFleet['tenants'][number]['role'] }[];
}): Promise<ReportFleet> {
  const { project, dialect } = options;
  const cli = (...args: string[]) => runCli(args, { cwd: project.root });
  const first = await cli('up', '--json');
  if (first.code !== 0) throw new Error(`the master step failed: ${first.stdout}${first.stderr}`);
  const tenants = options.placement.map((p, i) => {
    const id = guid();
    // The first name holds markup: the page must show it as text (an <img> would also be a request).
    return { id, schema: schemaOf(id), name: `${p.role} workspace ${i + 1}${i === 0 ? ' <img src="x.png"> & co' : ''}`, target: p.target, role: p.role };
  });
  const archived = guid();
  const invalid = guid();
  await withDatabase(options.masterUrl, async (sql: SqlHelpers) => {
    for (const t of tenants) {
      await sql.insertWorkspace({ workspaceId: t.id, name: t.name, status: 'Active' });
      if (t.target) await sql.exec(`UPDATE ${sql.master('Workspace')} SET db_target = $1 WHERE workspace_id = ${sql.uuidParam(2)}`, [t.target, t.id]);
    }
    await sql.insertWorkspace({ workspaceId: archived, name: 'archived workspace', status: 'Archived' });
    // Master 0002's CHECK refuses a bad schema name; a registry filled by other means may not have it.
    await sql.dropConstraint('pmassist_master', 'Workspace', 'ck_workspace_db_schema_name');
    await sql.insertWorkspace({ workspaceId: invalid, name: 'invalid workspace', dbSchemaName: 'ws_not_a_guid', status: 'Active' });
  });
  const second = await cli('up', '--json');
  if (second.code !== 0) throw new Error(`the first tenant deploy failed: ${second.stdout}${second.stderr}`);
  // What the next migration trips on: a column renamed by hand, and many rows to rewrite.
  for (const t of tenants) {
    if (t.role !== 'failing' && t.role !== 'slow') continue;
    await withDatabase(options.urlOf(t.target), (sql) =>
      sql.exec(t.role === 'failing' ? renameColumn(dialect, t.schema) : bulkInsert(dialect, t.schema, dialect === 'pglite' ? 100_000 : 200_000)),
    );
  }
  project.write(
    FAILING_MIGRATION.replace('tenant-migrations/', 'tenant-migrations/'),
    `-- Notes get a positive id and a body.\nALTER TABLE {{table "notes"}} ADD CONSTRAINT notes_id_positive CHECK (id > 0);\nUPDATE {{table "notes"}} SET body = COALESCE(body, '');\n`,
  );
  const deploy = await cli('up', '--json');
  if (deploy.code !== 1) throw new Error(`the failing deploy should exit 1, got ${deploy.code}: ${deploy.stdout}${deploy.stderr}`);
  const drifted = tenants.find((t) => t.role === 'drifted')!;
  await withDatabase(options.urlOf(drifted.target), (sql) => sql.exec(`ALTER TABLE ${drifted.schema}.notes ADD extra_by_hand ${sql.types.int} NULL`));
  return { tenants, archived, invalid };
}
