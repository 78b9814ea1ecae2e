/**
 * What the PostgreSQL benches share: the admin connection, database and schema names, a project
 * folder with the shipped migrations, a timed whole-CLI run, and the meta-table DDL the raw
 * baselines and fleet builders write.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type MigratorImpl, createMigrator } from '../src/migrator.js';
import type { MigrationFile } from '../src/types.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The server the benches create their databases on (superuser: CREATE DATABASE, CHECKPOINT). */
export const ADMIN_URL =
  process.env.BENCH_PG_URL ?? process.env.TM_BENCH_POSTGRES_URL ?? process.env.TM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MASTER = 'pmassist_master';

/** ADMIN_URL's server, database `db`. */
export const urlOf = (db: string) => Object.assign(new URL(ADMIN_URL), { pathname: `/${db}` }).toString();
/** The schema the engine derives for a workspace id. */
export const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;
/** A line on stdout (the benches print Markdown there, progress on stderr). */
export const out = (line: string) => process.stdout.write(`${line}\n`);

/** One statement on a connection of its own; its rows. */
export async function admin<R = Record<string, unknown>>(sql: string, params: unknown[] = [], target = ADMIN_URL): Promise<R[]> {
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end();
  }
}

/** A temporary project folder with the shipped migrations and templates and a config for `url`. */
export function project(url: string, options: { readonly prefix?: string; readonly config?: Record<string, unknown> } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), options.prefix ?? 'tm-bench-'));
  for (const d of ['master-migrations', 'tenant-migrations', 'templates']) cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  writeFileSync(path.join(dir, 'tenant-migrate.config.json'), JSON.stringify({ url, ...(options.config ?? { concurrency: 4, lockTimeoutMs: 60_000 }) }));
  return dir;
}

/** One CLI process, start to exit, timed by /usr/bin/time -v: wall seconds, peak RSS (MB), exit code, output. */
export function cli(cwd: string, args: readonly string[]) {
  const run = spawnSync('/usr/bin/time', ['-v', process.execPath, path.join(ROOT, 'bin/tenant-migrate.js'), ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '' },
  });
  const field = (name: string) => new RegExp(`${name}: (.*)`).exec(run.stderr)?.[1]?.trim() ?? '0:0';
  const [min, sec] = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)').split(':').map(Number) as [number, number];
  const rssMb = Number(field('Maximum resident set size \\(kbytes\\)')) / 1024;
  return { seconds: min * 60 + sec, rssMb, code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The meta table of the quoted schema `q`, as the engine creates it. */
export const metaDdl = (q: string) =>
  `CREATE TABLE ${q}.__schema_migrations (id varchar(255) PRIMARY KEY, checksum char(64) NOT NULL, rendered_checksum char(64) NOT NULL, applied_utc timestamp(6) NOT NULL, duration_ms integer NOT NULL, run_id varchar(64));`;
/** Meta rows for `files` in the quoted schema `q`. */
export const metaRows = (q: string, files: readonly MigrationFile[]) =>
  `INSERT INTO ${q}.__schema_migrations (id, checksum, rendered_checksum, applied_utc, duration_ms, run_id) VALUES ${files.map((f) => `('${f.id}', '${f.checksum}', '${f.checksum}', now(), 1, NULL)`).join(', ')};`;

/**
 * Schemas with meta tables written straight to the database (no engine): `sqlOf(i)` is the DDL of
 * the i-th of `n`, sent 250 per transaction over 4 connections, with progress on stderr.
 */
export async function buildSchemas(url: string, label: string, n: number, sqlOf: (i: number) => string): Promise<void> {
  const batches: string[] = [];
  for (let i = 0; i < n; i += 250) {
    batches.push(`BEGIN;\n${Array.from({ length: Math.min(250, n - i) }, (_, k) => sqlOf(i + k)).join('\n')}\nCOMMIT;`);
  }
  let done = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (let b = batches.shift(); b; b = batches.shift()) {
          await client.query(b);
          done += 250;
          process.stderr.write(`\rbuilding ${label}: ${Math.min(done, n)}/${n}`);
        }
      } finally {
        await client.end();
      }
    }),
  );
}

/**
 * A new database `db` (dropped first when it exists) whose master schema the CLI migrated from the
 * project folder `dir`; returns the project's tenant migration files for the fleet builder.
 */
export async function masteredDatabase(db: string, url: string, dir: string): Promise<MigrationFile[]> {
  await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${db}`);
  if (cli(dir, ['up', '--json']).code !== 0) throw new Error('master up failed');
  const m = createMigrator({ url, rootDir: dir }) as MigratorImpl;
  try {
    return (await m.loadFiles()).tenant;
  } finally {
    await m.close();
  }
}
