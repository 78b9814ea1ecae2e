/**
 * The small fleet the hostile-migration corpus runs on: the shipped master migrations, four
 * workspaces whose names are hostile (quotes, comment openers, a `GO` line, an injection attempt),
 * and one baseline tenant migration that creates the tables the cases write to and records how a
 * clean engine session looks (the "before" probe). Seeded once per dialect and cloned per case
 * (PGlite: a copy of the data directory; PostgreSQL: CREATE DATABASE … TEMPLATE), so each case
 * starts from its own database without paying for the master migrations again.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Migrator, createMigrator } from '../../src/index.js';
import { type DialectTarget, type TestDatabase, type TestProject, createProject } from './harness.js';
import { withDatabase } from './sql-helpers.js';

/** What a case's template counts: rows it inserts into `{{schema}}.hits` with case_id 'case'. */
export const HIT = "INSERT INTO {{schema}}.hits (case_id, n) VALUES ('case', 1);";

/**
 * Workspace names as end users type them. The first two try SQL injection through a template
 * value (PostgreSQL and T-SQL spelling); the others carry quotes, comment openers, dollar quotes,
 * a `GO` line and non-ASCII text.
 */
export const HOSTILE_NAMES = [
  "x'); CREATE TABLE public.pwned (id int); --",
  "y'); CREATE TABLE dbo.pwned (id int); --",
  "O'Brien \"quoted\" /* open -- dash $$ dollar $tm$ back\\slash",
  "line one\nGO\nline three ñ 日本 '",
] as const;

/** A config `vars` entry that tries the same injection. */
export const HOSTILE_VAR = "it's'); CREATE TABLE public.pwned_by_var (id int); --";

export const BASE_ID = '0001_hostile_base';
export const BASE_FILE = `tenant-migrations/${BASE_ID}.sql.hbs`;

/**
 * Probe of the session a tenant migration runs in: each row is (phase, key, value). A later
 * migration writes the same keys with phase 'after'; any difference from 'before' is session state
 * some earlier script left behind.
 */
export function probeSql(family: 'postgres' | 'mssql', phase: string): string {
  const rows =
    family === 'postgres'
      ? [
          ['search_path', "current_setting('search_path')"],
          ['current_schema', "coalesce(current_schema(), '')"],
          ['lock_timeout', "current_setting('lock_timeout')"],
          ['statement_timeout', "current_setting('statement_timeout')"],
          ['session_replication_role', "current_setting('session_replication_role')"],
          ['default_transaction_isolation', "current_setting('transaction_isolation')"],
          ['time_zone', "current_setting('TimeZone')"],
          ['role', 'current_user'],
          // A session-level advisory lock a script took and never released (key 4242: classid 0, objid 4242).
          ['advisory_4242', "(SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = 0 AND objid = 4242)"],
        ]
      : [
          // @@OPTIONS bits: XACT_ABORT 16384, NOCOUNT 512, IMPLICIT_TRANSACTIONS 2, ANSI_NULLS 32, ANSI_WARNINGS 8, QUOTED_IDENTIFIER 256.
          ['options', 'CAST(@@OPTIONS AS NVARCHAR(20))'],
          ['lock_timeout', 'CAST(@@LOCK_TIMEOUT AS NVARCHAR(20))'],
          ['trancount', 'CAST(@@TRANCOUNT AS NVARCHAR(20))'],
          ['schema_name', 'SCHEMA_NAME()'],
        ];
  return `INSERT INTO {{schema}}.probe (phase, k, v) VALUES ${rows.map(([k, v]) => `('${phase}', '${k}', ${v})`).join(', ')};\n`;
}

export function baseMigration(family: 'postgres' | 'mssql'): string {
  return [
    'CREATE TABLE {{schema}}.hits (case_id {{nvarchar 100}} NOT NULL, n {{int}} NOT NULL);',
    'CREATE TABLE {{schema}}.notes (v {{nvarchar 4000}} NULL);',
    'CREATE TABLE {{schema}}.probe (phase {{nvarchar 20}} NOT NULL, k {{nvarchar 50}} NOT NULL, v {{nvarchar 4000}} NULL);',
    probeSql(family, 'before'),
  ].join('\n');
}

export interface HostileFleet {
  readonly db: TestDatabase;
  readonly project: TestProject;
  /** Remove the database and the project folder. */
  drop(): Promise<void>;
}

/** The project's settings (written to its config file for the CLI; given to createMigrator, which reads no file). */
export const FLEET_SETTINGS = { concurrency: 2, lockTimeoutMs: 20_000, vars: { note: HOSTILE_VAR } } as const;

/** A migrator on a fleet with the project's settings. */
export function fleetMigrator(fleet: Pick<HostileFleet, 'db' | 'project'>): Migrator {
  return createMigrator({ url: fleet.db.url, rootDir: fleet.project.root, ...FLEET_SETTINGS, vars: { ...FLEET_SETTINGS.vars } });
}

/** A project whose only tenant migration is the baseline. */
function hostileProject(url: string, family: 'postgres' | 'mssql'): TestProject {
  const project = createProject({ url, ...FLEET_SETTINGS });
  rmSync(path.join(project.root, 'tenant-migrations'), { recursive: true, force: true });
  mkdirSync(path.join(project.root, 'tenant-migrations'));
  project.write(BASE_FILE, baseMigration(family));
  return project;
}

/** Master migrations, the hostile registry rows and the baseline on `db`. */
async function seed(db: TestDatabase, family: 'postgres' | 'mssql', rootDir: string): Promise<void> {
  const m = await createMigrator({ url: db.url, rootDir });
  try {
    // Master migrations only (the registry must exist before its rows): up to the last shipped one.
    const last = readdirSync(path.join(rootDir, 'master-migrations'))
      .filter((f) => !f.includes('.down.'))
      .map((f) => f.replace(/\.sql(\.hbs)?$/, ''))
      .sort()
      .at(-1)!;
    await m.up({ masterTo: last });
  } finally {
    await m.close();
  }
  await withDatabase(db.url, async (h) => {
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      const hex = `${randomBytes(15).toString('hex')}${i.toString(16).padStart(2, '0')}`;
      await h.insertWorkspace({ workspaceId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`, name });
    }
  });
  const m2 = await createMigrator({ url: db.url, rootDir });
  try {
    const r = await m2.up();
    if (r.tenants.succeeded !== HOSTILE_NAMES.length) throw new Error(`hostile fleet: the baseline did not apply: ${JSON.stringify(r.results.map((x) => x.error))}`);
  } finally {
    await m2.close();
  }
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A factory of seeded fleets for `target`: seeds once (lazily), then hands out clones. SQL Server
 * has no cheap clone here: each fleet is seeded anew.
 */
export function hostileFleets(target: DialectTarget): { next(): Promise<HostileFleet>; dispose(): Promise<void> } {
  const family = target.name === 'mssql' ? 'mssql' : 'postgres';
  let template: { db: TestDatabase; project: TestProject } | undefined;
  let seeding: Promise<void> | undefined;
  const ensureTemplate = () =>
    (seeding ??= (async () => {
      const db = await target.createDatabase();
      const project = hostileProject(db.url, family);
      await seed(db, family, project.root);
      template = { db, project };
    })());

  return {
    async next() {
      if (target.name === 'mssql') {
        const db = await target.createDatabase();
        const project = hostileProject(db.url, family);
        await seed(db, family, project.root);
        return { db, project, drop: async () => (await db.drop(), project.remove()) };
      }
      await ensureTemplate();
      if (target.name === 'pglite') {
        const dir = mkdtempSync(path.join(tmpdir(), 'tm-hostile-'));
        cpSync(template!.db.url.slice('pglite:'.length), dir, { recursive: true });
        rmSync(path.join(dir, '.tenant-migrate.lock'), { force: true });
        const db: TestDatabase = { url: `pglite:${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
        const project = hostileProject(db.url, family);
        return { db, project, drop: async () => (await db.drop(), project.remove()) };
      }
      // PostgreSQL: a copy of the seeded database (nobody is connected to the template between cases).
      const u = new URL(template!.db.url);
      const from = u.pathname.slice(1);
      const name = `tm_test_${randomBytes(6).toString('hex')}`;
      const admin = new URL(template!.db.url);
      admin.pathname = '/postgres';
      await adminQuery(admin.toString(), `CREATE DATABASE ${name} TEMPLATE ${from}`);
      u.pathname = `/${name}`;
      const db: TestDatabase = { url: u.toString(), drop: () => adminQuery(admin.toString(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
      const project = hostileProject(db.url, family);
      return { db, project, drop: async () => (await db.drop(), project.remove()) };
    },
    async dispose() {
      if (template) {
        await template.db.drop();
        template.project.remove();
      }
    },
  };
}
