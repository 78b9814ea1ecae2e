/**
 * Integration harness: which dialects run here, a fresh database per test, a throw-away project
 * folder, and the real CLI as a child process. Every dialect under test is a real database:
 * PGlite in-process, the PostgreSQL server, SQL Server where one is reachable.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, beforeEach, describe, it } from 'vitest';
import type { DialectName } from '../../src/dialect/dialect-syntax.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const POSTGRES_ADMIN_URL = process.env.TM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * The engine behind a dialect: the `mssql` dialect runs on SQL Server / Azure SQL or on Babelfish
 * (Aurora PostgreSQL's T-SQL endpoint), which report some errors with other numbers.
 */
export type EngineName = 'pglite' | 'postgres' | 'sqlserver' | 'babelfish';

export interface DialectTarget {
  readonly name: DialectName;
  readonly engine: EngineName;
  /** Why this dialect is skipped here; undefined when it runs. */
  readonly skipped?: string;
  createDatabase(): Promise<TestDatabase>;
}

async function postgresReachable(adminUrl = POSTGRES_ADMIN_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL not reachable at ${adminUrl}: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(sql: string, adminUrl = POSTGRES_ADMIN_URL): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const pgliteTarget: DialectTarget = {
  name: 'pglite',
  engine: 'pglite',
  async createDatabase() {
    const dir = mkdtempSync(path.join(tmpdir(), 'tm-pglite-'));
    return { url: `pglite:${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

async function postgresTarget(): Promise<DialectTarget> {
  const why = await postgresReachable();
  if (why && process.env.TM_REQUIRE_POSTGRES === '1') {
    throw new Error(`TM_REQUIRE_POSTGRES=1 but ${why}`);
  }
  return {
    name: 'postgres',
    engine: 'postgres',
    ...(why ? { skipped: why } : {}),
    createDatabase: () => createPostgresDatabase(POSTGRES_ADMIN_URL),
  };
}

/** A fresh database `tm_test_<hex>` on the PostgreSQL server of `adminUrl`; `drop()` removes it. */
async function createPostgresDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `tm_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`, adminUrl);
  return {
    url: withDatabase(adminUrl, name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, adminUrl),
  };
}

/**
 * A second PostgreSQL server for fleets over several servers (docs/fleet.md): `TM_TEST_PG2_URL`
 * (an admin URL, e.g. `postgres://postgres@127.0.0.1:5434/postgres`, the cluster `.ci/run` makes).
 * Unset: skipped with the reason, except in CI (`CI=true`), where its tests run and fail; set but
 * not answering: an error, never a skip.
 */
async function secondPostgresTarget(): Promise<DialectTarget> {
  const adminUrl = process.env.TM_TEST_PG2_URL;
  const base = { name: 'postgres' as const, engine: 'postgres' as const };
  if (!adminUrl) {
    // In CI the tests run and fail with this message (a skip would hide a broken .ci/run).
    const required = 'CI=true but TM_TEST_PG2_URL is not set: .ci/run starts the second PostgreSQL server and sets it';
    if (process.env.CI === 'true') return { ...base, createDatabase: () => Promise.reject(new Error(required)) };
    return { ...base, skipped: 'TM_TEST_PG2_URL is not set (a second PostgreSQL server, e.g. the cluster .ci/run creates on port 5434)', createDatabase: () => Promise.reject(new Error('skipped')) };
  }
  const why = await postgresReachable(adminUrl);
  if (why) throw new Error(`TM_TEST_PG2_URL is set but ${why}`);
  return { ...base, createDatabase: () => createPostgresDatabase(adminUrl) };
}

async function mssqlTarget(): Promise<DialectTarget> {
  type Started = { url: string; engine: 'sqlserver' | 'babelfish'; stop(): Promise<void> } | { skipped: string };
  let startMssql: () => Promise<Started>;
  try {
    ({ startMssql } = (await import('./harness-mssql.js')) as { startMssql: () => Promise<Started> });
  } catch (err) {
    return { name: 'mssql', engine: 'sqlserver', skipped: `SQL Server harness unavailable: ${(err as Error).message}`, createDatabase: () => Promise.reject(new Error('skipped')) };
  }
  // Probe once; each test then gets its own database from startMssql().
  const probe = await startMssql();
  if ('skipped' in probe) return { name: 'mssql', engine: 'sqlserver', skipped: probe.skipped, createDatabase: () => Promise.reject(new Error('skipped')) };
  await probe.stop();
  process.stderr.write(`[tenant-migrate tests] mssql integration suite runs on ${probe.engine === 'babelfish' ? 'Babelfish (T-SQL over TDS on PostgreSQL)' : 'SQL Server'}\n`);
  return {
    name: 'mssql',
    engine: probe.engine,
    async createDatabase() {
      const started = await startMssql();
      if ('skipped' in started) throw new Error(started.skipped);
      return { url: started.url, drop: () => started.stop() };
    },
  };
}

const wanted = (process.env.TM_TEST_DIALECTS ?? 'pglite,postgres,mssql').split(',').map((s) => s.trim());

/** The dialects of this run, each with `skipped` set when it cannot run here (and why). */
export const dialectTargets: DialectTarget[] = [
  ...(wanted.includes('pglite') ? [pgliteTarget] : []),
  ...(wanted.includes('postgres') ? [await postgresTarget()] : []),
  ...(wanted.includes('mssql') ? [await mssqlTarget()] : []),
];

for (const t of dialectTargets) {
  if (t.skipped) process.stderr.write(`[tenant-migrate tests] ${t.name} integration suite SKIPPED: ${t.skipped}\n`);
}

/** The second PostgreSQL server (`TM_TEST_PG2_URL`) when PostgreSQL is selected; `skipped` says why it does not run. */
export const secondPostgres: DialectTarget | undefined = wanted.includes('postgres') ? await secondPostgresTarget() : undefined;

/** Targets that run here (use with describe.each). */
export const runnableTargets = dialectTargets.filter((t) => !t.skipped);

/**
 * For a file whose suites run on one dialect only: when that dialect cannot run here, register a
 * named skipped test that says why (vitest fails a file without any suite; a skip is never a pass).
 */
export function reportSkipped(dialect: DialectName, title: string): void {
  if (runnableTargets.some((t) => t.name === dialect)) return;
  const why = dialectTargets.find((t) => t.name === dialect)?.skipped ?? `${dialect} not selected (TM_TEST_DIALECTS)`;
  describe(title, () => {
    it.skip(`SKIPPED: ${why}`, () => undefined);
  });
}

export interface TestProject {
  readonly root: string;
  /** Write a file relative to the project root. */
  write(relative: string, content: string): void;
  remove(): void;
}

/** A throw-away project: copies of the shipped migrations and templates plus a config file. */
export function createProject(config: Record<string, unknown> = {}): TestProject {
  const root = mkdtempSync(path.join(tmpdir(), 'tm-project-'));
  for (const dir of ['master-migrations', 'tenant-migrations', 'templates']) {
    cpSync(path.join(REPO_ROOT, dir), path.join(root, dir), { recursive: true });
  }
  writeFileSync(path.join(root, 'tenant-migrate.config.json'), JSON.stringify(config, null, 2));
  return {
    root,
    write: (relative, content) => writeFileSync(path.join(root, relative), content),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the real CLI (bin/tenant-migrate.js) as a child process. */
export function runCli(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; onSpawn?: (child: ReturnType<typeof spawn>) => void },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/tenant-migrate.js'), ...args], {
      cwd: options.cwd,
      env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    options.onSpawn?.(child);
  });
}

/** Sample GUIDs for registry rows. */
export function guid(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface ProjectFixture {
  /** This test's database (fresh per test). */
  readonly db: TestDatabase;
  /** This test's project folder, configured with `url: db.url` and the given config. */
  readonly project: TestProject;
}

/**
 * Per-test fixture for a `describe` block: a fresh database of `target` and a project pointing at
 * it, both removed after each test. Read `db`/`project` inside tests (they change per test).
 * `config` is written over `{ url: db.url }`; `{ url: undefined }` leaves the URL out of the
 * config file (the test passes `--url fx.db.url` itself).
 */
export function useProjectFixture(target: DialectTarget, config: Record<string, unknown> = {}): ProjectFixture {
  let db: TestDatabase | undefined;
  let project: TestProject | undefined;
  beforeEach(async () => {
    db = await target.createDatabase();
    project = createProject({ url: db.url, ...config });
  });
  afterEach(async () => {
    await db?.drop();
    project?.remove();
  });
  return {
    get db() {
      if (!db) throw new Error('useProjectFixture: db is only available inside a test');
      return db;
    },
    get project() {
      if (!project) throw new Error('useProjectFixture: project is only available inside a test');
      return project;
    },
  };
}
