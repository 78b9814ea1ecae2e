/**
 * The Python example (examples/python/, the module itself) against a real database with the
 * drivers a Python backend uses — psycopg2 on PostgreSQL; pyodbc over FreeTDS and pymssql on the
 * T-SQL engine — talking to `tenant-migrate serve` (the real CLI, a child process).
 *
 * Per dialect: a database with the legacy layout and seeded pre-existing workspaces, `up` with
 * `access` (an application role and per-workspace roles), an application login in the app role
 * only, a tenant migration that fails for one workspace name; then the example's unittest suite
 * runs under /usr/bin/python3 (Debian's python3-psycopg2, python3-pyodbc, tdsodbc, python3-pymssql;
 * `.ci/run` installs them).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import sql from 'mssql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { parseMssqlUrl, toMssqlConfig } from '../../src/dialect/mssql/mssql-url.js';
import { type MigratorImpl, createMigrator } from '../../src/migrator.js';
import { type DialectTarget, REPO_ROOT, type TestDatabase, type TestProject, createProject, reportSkipped, runnableTargets } from './harness.js';
import { FAIL_MIGRATION, FAIL_NAME } from './service-fixtures.js';

const PYTHON = process.env.TM_TEST_PYTHON ?? '/usr/bin/python3';
const EXAMPLE = path.join(REPO_ROOT, 'examples/python');
const FAIL_ID = '0003_fail_for_marked_name';
const ROLE_PATTERN = '{schema}_app';
const PASSWORD = `Py-${randomBytes(6).toString('hex')}-A1`;

const targets = runnableTargets.filter((t) => t.name === 'postgres' || t.name === 'mssql');
reportSkipped('postgres', 'the Python example on PostgreSQL');
reportSkipped('mssql', 'the Python example on the T-SQL engine');

interface ConnInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Run the example's unittest suite; resolves to its exit code and output. */
function runPython(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.', '-v'], {
      cwd: EXAMPLE,
      env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '', PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** `tenant-migrate serve --json` in the project folder; resolves once it listens. */
async function startServe(cwd: string, socket: string): Promise<{ child: ChildProcess; lines: () => string[]; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/tenant-migrate.js'), 'serve', '--socket', socket, '--json'], {
    cwd,
    env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"event":"listening"')) resolve();
    });
    void exited.then((code) => reject(new Error(`serve exited ${code} before listening: ${out}${err}`)));
  });
  return {
    child,
    lines: () => out.trim().split('\n'),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe.each(targets)('the Python example on $name', (target: DialectTarget) => {
  const isPg = target.name === 'postgres';
  let db: TestDatabase;
  let project: TestProject;
  let dir: string;
  let s: string;
  let roles: { app: string; login: string };
  let admin: { run: (text: string) => Promise<unknown[]>; close: () => Promise<void> };

  beforeEach(async () => {
    db = await target.createDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'tm-py-'));
    s = randomBytes(4).toString('hex');
    roles = { app: `tm_pyapp_role_${s}`, login: `tm_pyapp_${s}` };
    if (isPg) {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      admin = { run: async (text) => (await client.query(text)).rows, close: () => client.end() };
      await admin.run(`CREATE ROLE "${roles.app}" NOLOGIN`);
      await admin.run(`CREATE ROLE "${roles.login}" LOGIN IN ROLE "${roles.app}"`);
    } else {
      const pool = await new sql.ConnectionPool(toMssqlConfig(parseMssqlUrl(db.url))).connect();
      admin = { run: async (text) => (await pool.request().query(text)).recordset ?? [], close: () => pool.close() };
      await admin.run(`CREATE ROLE [${roles.app}]`);
      await admin.run(`CREATE LOGIN [${roles.login}] WITH PASSWORD = '${PASSWORD}'`);
      await admin.run(`CREATE USER [${roles.login}] FOR LOGIN [${roles.login}]`);
      await admin.run(`ALTER ROLE [${roles.app}] ADD MEMBER [${roles.login}]`);
    }
    project = createProject({ url: db.url, concurrency: 4, lockTimeoutMs: 30_000, access: { appRole: roles.app, workspaceRolePattern: ROLE_PATTERN } });
    project.write(`tenant-migrations/${FAIL_ID}.sql.hbs`, FAIL_MIGRATION);
  });

  afterEach(async () => {
    // Per-workspace roles are cluster-wide on PostgreSQL: named from this database's schemas, dropped after it.
    const schemas = isPg ? ((await admin.run(`SELECT nspname FROM pg_namespace WHERE nspname ~ '^ws_[0-9a-f]{32}$'`)) as { nspname: string }[]).map((r) => r.nspname) : [];
    await admin.close();
    await db.drop();
    if (isPg) {
      const c = new pg.Client({ connectionString: new URL('/postgres', db.url).toString() });
      await c.connect();
      for (const r of [...schemas.map((x) => ROLE_PATTERN.replace('{schema}', x)), roles.login, roles.app]) await c.query(`DROP ROLE IF EXISTS "${r}"`);
      await c.end();
    } else {
      const pool = await new sql.ConnectionPool(toMssqlConfig({ ...parseMssqlUrl(db.url), database: 'master' })).connect();
      await pool.request().query(`DROP LOGIN [${roles.login}]`).catch(() => undefined);
      await pool.close();
    }
    project.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function connInfo(user: string, password: string): ConnInfo {
    if (isPg) {
      const u = new URL(db.url);
      return { host: u.hostname, port: Number(u.port || 5432), user, password, database: u.pathname.slice(1) };
    }
    const m = parseMssqlUrl(db.url);
    return { host: m.server, port: m.port ?? 1433, user, password, database: m.database! };
  }

  it('creates, queries, isolates, archives and reports errors from Python; reads the backfilled integrations; leaves nothing half-created', async () => {
    // The legacy layout with pre-existing workspaces and their WorkspaceExternalLink rows, then the deploy.
    const migrator = createMigrator({ url: db.url, rootDir: project.root, concurrency: 4, lockTimeoutMs: 30_000, access: { appRole: roles.app, workspaceRolePattern: ROLE_PATTERN } }) as MigratorImpl;
    try {
      await migrator.up({ masterTo: '0001_initial_layout' });
      const seeded = await seedDemo(await migrator.adapter(), migrator.config.masterSchema, 6);
      expect(seeded.workspaces).toBe(6);
      const up = await migrator.up();
      expect(up.tenants.failed, JSON.stringify(up.results.filter((r) => r.status === "failed").slice(0, 2))).toBe(0);
    } finally {
      await migrator.close();
    }

    const socket = path.join(dir, 'tm.sock');
    const serve = await startServe(project.root, socket);
    let result: { code: number | null; output: string };
    try {
      const adminInfo = isPg ? connInfo(new URL(db.url).username || 'postgres', '') : connInfo(parseMssqlUrl(db.url).user!, parseMssqlUrl(db.url).password!);
      result = await runPython({
        TM_PY_DIALECT: isPg ? 'postgres' : 'mssql',
        TM_SERVICE_SOCKET: socket,
        TM_PY_APP: JSON.stringify(connInfo(roles.login, isPg ? '' : PASSWORD)),
        TM_PY_ADMIN: JSON.stringify(adminInfo),
        TM_PY_ROLE_PATTERN: ROLE_PATTERN,
        TM_PY_FAIL_NAME: FAIL_NAME,
        TM_PY_FAIL_MIGRATION: FAIL_ID,
        TM_CLI: `${process.execPath} ${path.join(REPO_ROOT, 'bin/tenant-migrate.js')}`,
        TM_PY_PROJECT: project.root,
      });
    } finally {
      expect(await serve.stop()).toBe(0);
    }
    expect(result.code, result.output).toBe(0);
    // Every test of the suite ran and passed; none skipped (a skip is never a pass).
    expect(result.output).toMatch(/^Ran 15 tests in /m);
    expect(result.output).toMatch(/^OK\s*$/m);
    expect(result.output).not.toMatch(/skipped/i);
    for (const name of ['test_concurrent_creation_then_app_role_reads_and_writes_each_workspace', 'test_a_workspace_role_reaches_its_own_tables_and_not_another_workspaces', 'test_the_backfill_the_application_reads_what_the_legacy_table_held']) {
      expect(result.output).toMatch(new RegExp(`${name} \\(.*\\) \\.\\.\\. ok`));
    }
    expect(serve.lines().at(-1)).toBe('{"event":"stopped"}');
    expect(existsSync(socket)).toBe(false);
  });
});
