/**
 * A fleet over several databases for the PostgreSQL target tests (docs/fleet.md): the master
 * database and two target databases on the local server, a project whose tenant migration is
 * self-contained (pmassist's 0002 reads master tables, which a schema in another database cannot),
 * config `targets` t1/t2, the master step done, and 2 + 3 + 3 workspaces placed on (master)/t1/t2
 * — registered, not yet migrated.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { type DialectTarget, type TestDatabase, type TestProject, createProject, guid, runCli } from './harness.js';

export const MASTER = 'pmassist_master';

export async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Schemas named ws_… in a database. */
export async function wsSchemas(url: string): Promise<string[]> {
  const rows = await query<{ s: string }>(url, "SELECT schema_name AS s FROM information_schema.schemata WHERE schema_name LIKE 'ws\\_%' ORDER BY 1");
  return rows.map((r) => r.s);
}

export const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;

export interface TargetFleet {
  readonly master: TestDatabase;
  readonly t1: TestDatabase;
  readonly t2: TestDatabase;
  readonly project: TestProject;
  /** workspace id → target (null: the master's database). */
  readonly placement: Map<string, string | null>;
}

/** Write the project's config: the master database plus `targets` (and `extra` keys). */
export function writeTargetConfig(fleet: Pick<TargetFleet, 'master' | 'project'>, targets: Record<string, string>, extra: Record<string, unknown> = {}): void {
  fleet.project.write('tenant-migrate.config.json', JSON.stringify({ url: fleet.master.url, targets, concurrency: 4, lockTimeoutMs: 20_000, ...extra }));
}

export async function createTargetFleet(postgres: DialectTarget): Promise<TargetFleet> {
  const [master, t1, t2] = await Promise.all([postgres.createDatabase(), postgres.createDatabase(), postgres.createDatabase()]);
  const project = createProject({});
  try {
    rmSync(path.join(project.root, 'tenant-migrations'), { recursive: true, force: true });
    mkdirSync(path.join(project.root, 'tenant-migrations'));
    project.write('tenant-migrations/0001_create_notes.sql.hbs', 'CREATE TABLE {{table "notes"}} (id {{int}} NOT NULL PRIMARY KEY, body {{nvarchar 200}} NULL);\n');
    writeTargetConfig({ master, project }, { t1: t1.url, t2: t2.url });
    // The master step builds the registry (with db_target); then 2 + 3 + 3 workspaces.
    const first = await runCli(['up', '--json'], { cwd: project.root });
    if (first.code !== 0) throw new Error(`the master step failed: ${first.stderr}`);
    const placement = new Map<string, string | null>();
    for (const target of [null, null, 't1', 't1', 't1', 't2', 't2', 't2']) placement.set(guid(), target);
    for (const [id, target] of placement) {
      await query(master.url, `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, status, db_target) VALUES ($1, $2, 'Active', $3)`, [id, `w ${id}`, target]);
    }
    return { master, t1, t2, project, placement };
  } catch (err) {
    await Promise.all([master, t1, t2].map((d) => d.drop()));
    project.remove();
    throw err;
  }
}
