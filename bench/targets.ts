/**
 * Fleets over several databases (docs/fleet.md): `node --import tsx bench/targets.ts`.
 *
 * The same N tenants (pmassist's shipped migrations) migrated by whole CLI runs, in one bench run:
 * - single database: master and every tenant schema in one database;
 * - K target databases: a master database (registry, ledger) and K target databases on the same
 *   local PostgreSQL server, tenants spread round-robin (`db_target`).
 * Scenarios, the fleet against the single database in the same run: fresh (every tenant created
 * and migrated), then one new migration (an ALTER TABLE over the up-to-date fleet) twice, with
 * the order of the two layouts swapped the second time. Same `--concurrency` overall in both; `targetConcurrency` is left at its
 * default (the same value), so the fleet may not exceed the single run's parallelism.
 * Databases are created per run and dropped afterwards (a fresh run cannot reuse a cache).
 *
 * Flags: --n 10000, --targets 4, --concurrency 4. Prints Markdown rows on stdout; each row says
 * the load average before and after it (the machine is shared).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN_URL = process.env.BENCH_PG_URL ?? process.env.TM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MASTER = 'pmassist_master';
const NEW_MIGRATIONS: [string, string][] = [
  ['0003_add_job_priority.sql.hbs', 'ALTER TABLE {{schema}}.automation_jobs ADD priority {{int}} NOT NULL DEFAULT 0;\n'],
  ['0004_add_job_owner.sql.hbs', 'ALTER TABLE {{schema}}.automation_jobs ADD owner_id {{nvarchar 64}} NULL;\n'],
];
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: process.env.BENCH_TARGETS_N ?? '10000' },
    targets: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '4' },
  },
  allowPositionals: true,
  strict: false,
});
const N = Number(values.n);
const K = Number(values.targets);
const C = Number(values.concurrency);
const urlOf = (db: string) => Object.assign(new URL(ADMIN_URL), { pathname: `/${db}` }).toString();
const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;
const out = (line: string) => process.stdout.write(`${line}\n`);
const load = () => loadavg()[0]!.toFixed(1);

async function admin(sql: string, params: unknown[] = [], target = ADMIN_URL): Promise<void> {
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** One CLI process, start to exit: wall seconds and the parsed `--json` report. */
function cli(cwd: string, args: string[]): { seconds: number; report: { ok: boolean; tenants: { succeeded: number; failed: number } } } {
  const t0 = performance.now();
  const run = spawnSync(process.execPath, [path.join(ROOT, 'bin/tenant-migrate.js'), ...args, '--json'], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '' },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 0) throw new Error(`tenant-migrate ${args.join(' ')}: exit ${run.status}\n${run.stdout.slice(0, 2000)}\n${run.stderr.slice(0, 2000)}`);
  return { seconds, report: JSON.parse(run.stdout) };
}

interface Layout {
  readonly label: string;
  readonly dir: string;
  readonly masterUrl: string;
  readonly databases: readonly string[];
}

/** A project over new databases: one (single) or a master plus K targets; master migrated, N tenants registered. */
async function layout(targets: number): Promise<Layout> {
  const tag = randomBytes(3).toString('hex');
  const masterDb = `tm_bench_tgt_${tag}_m`;
  const targetDbs = Array.from({ length: targets }, (_, i) => `tm_bench_tgt_${tag}_t${i + 1}`);
  for (const db of [masterDb, ...targetDbs]) await admin(`CREATE DATABASE ${db}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'tm-bench-targets-'));
  for (const d of ['master-migrations', 'tenant-migrations', 'templates']) cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  const names = targetDbs.map((_, i) => `t${i + 1}`);
  writeFileSync(
    path.join(dir, 'tenant-migrate.config.json'),
    JSON.stringify({ url: urlOf(masterDb), concurrency: C, lockTimeoutMs: 60_000, targets: Object.fromEntries(names.map((n, i) => [n, urlOf(targetDbs[i]!)])) }),
  );
  cli(dir, ['up']); // master migrations
  const ids = Array.from({ length: N }, () => randomUUID());
  for (let i = 0; i < N; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    await admin(
      `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc, db_target)
       SELECT id::uuid, 'bench', sch, 'Active', now(), now(), tgt FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, sch, tgt)`,
      [chunk, chunk.map(schemaOf), chunk.map((_, j) => (targets ? names[(i + j) % targets]! : null))],
      urlOf(masterDb),
    );
  }
  return { label: targets ? `${targets} target databases` : 'single database', dir, masterUrl: urlOf(masterDb), databases: [masterDb, ...targetDbs] };
}

async function drop(l: Layout): Promise<void> {
  rmSync(l.dir, { recursive: true, force: true });
  for (const db of l.databases) await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
}

/** `up` over a layout; checks every tenant succeeded. */
function up(l: Layout, what: string): { seconds: number; before: string; after: string } {
  const before = load();
  const r = cli(l.dir, ['up', '--concurrency', String(C)]);
  if (r.report.tenants.succeeded !== N || r.report.tenants.failed !== 0) throw new Error(`${l.label}, ${what}: ${r.report.tenants.succeeded}/${N} succeeded`);
  const after = load();
  process.stderr.write(`${l.label}, ${what}: ${r.seconds.toFixed(1)} s (load ${before} → ${after})\n`);
  return { seconds: r.seconds, before, after };
}

if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
const single = await layout(0);
const fleet = await layout(K);
try {
  out(`| scenario (whole CLI run, local PostgreSQL, concurrency ${C}) | tenants | single database | ${K} target databases | ratio | load (1 min) single / fleet |`);
  out('|---|---:|---:|---:|---:|---|');
  const row = (label: string, s: ReturnType<typeof up>, f: ReturnType<typeof up>) =>
    out(`| ${label} | ${N} | ${s.seconds.toFixed(1)} s | ${f.seconds.toFixed(1)} s | ${(f.seconds / s.seconds).toFixed(2)}× | ${s.before}→${s.after} / ${f.before}→${f.after} |`);
  row('fresh (2 tenant migrations each)', up(single, 'fresh'), up(fleet, 'fresh'));
  // Two new migrations, one after the other: the fleet first for the first, the single database
  // first for the second, so neither layout always runs second.
  for (const [i, [file, sql]] of NEW_MIGRATIONS.entries()) {
    for (const l of [single, fleet]) writeFileSync(path.join(l.dir, `tenant-migrations/${file}`), sql);
    const [a, b] = i % 2 === 0 ? [fleet, single] : [single, fleet];
    const first = up(a, `new migration ${file}`);
    const second = up(b, `new migration ${file}`);
    const [s3, f3] = a === single ? [first, second] : [second, first];
    row(`one new migration (${file}, ${a === single ? 'one database' : 'fleet'} first)`, s3, f3);
  }
  out(`\n${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, PostgreSQL on 127.0.0.1 (all databases on one server), concurrency ${C}`);
} finally {
  await drop(single);
  await drop(fleet);
}
