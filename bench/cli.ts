/**
 * Whole-CLI-run benchmark on local PostgreSQL: `node --import tsx bench/cli.ts`.
 *
 * Every engine number is one `tenant-migrate …` process, start to exit, timed with /usr/bin/time
 * (wall clock and peak RSS). The limit is measured in the same run: the same rendered SQL sent by
 * `psql -f` with no engine, one transaction per schema with its meta rows, the same parallelism
 * (one psql process per worker, each on its own share of the tenants).
 *
 * Scenarios:
 * - deploy: fresh tenants (`--fresh 400,1000`), then one new migration (an ALTER TABLE) over the
 *   last of those fleets, twice (engine first, then raw first), engine vs raw psql (fresh database
 *   each, dropped afterwards; an unmeasured raw warm-up pass first, and a CHECKPOINT before every
 *   timed pass, see docs/benchmarks.md);
 * - scale: `status --json`, `plan --format json` and a no-op `up --json` over `--scale 10000,100000`
 *   tenants, each a real schema with its meta table and rows, built once and cached as database
 *   `tm_bench_<n>` (`--rebuild` drops the cache).
 *
 * - latency: the one-new-migration pair again through a proxy that adds `--latency` ms (default 1) to
 *   every round trip, for both sides: loopback's ~0.05 ms hides what a deploy runner pays to reach a
 *   managed database over a network, where requests per tenant decide (bench/request-counter.ts).
 *
 * Flags: --fresh, --scale, --concurrency (4), --latency (ms list; 0 skips), --only deploy|scale.
 * Prints Markdown rows on stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MigratorImpl, createMigrator } from '../src/migrator.js';
import { rendererFor } from '../src/operations/templates.js';
import { startRequestCounter } from './request-counter.js';
import { MASTER, ROOT, admin, buildSchemas, cli, masteredDatabase, metaDdl, metaRows, out, project as benchProject, schemaOf, urlOf } from './support.js';
import type { MigrationFile, Tenant } from '../src/types.js';

const NEW_MIGRATION = 'ALTER TABLE {{schema}}.automation_jobs ADD priority {{int}} NOT NULL DEFAULT 0;\n';
const { values } = parseArgs({
  options: {
    fresh: { type: 'string', default: process.env.BENCH_FRESH ?? '400,1000' },
    scale: { type: 'string', default: process.env.BENCH_SCALE ?? '10000,100000' },
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '4' },
    only: { type: 'string' },
    latency: { type: 'string', default: process.env.BENCH_LATENCY ?? '1' },
    rebuild: { type: 'boolean', default: false },
  },
  allowPositionals: true,
  strict: false,
});
const C = Number(values.concurrency);
const project = (url: string) => benchProject(url, { prefix: 'tm-bench-cli-', config: { concurrency: C, lockTimeoutMs: 60_000 } });
const list = (s: unknown) => String(s).split(',').map(Number).filter((n) => n > 0);

/** {@link cli} without blocking this process (the request counter's proxy runs in it). */
function cliAsync(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'bin/tenant-migrate.js'), ...args], { cwd, env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `psql -f` per worker, all at once; seconds from the first start to the last exit. */
async function psqlWorkers(url: string, scripts: string[]): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tm-bench-psql-'));
  const files = scripts.map((sql, i) => {
    const f = path.join(dir, `w${i}.sql`);
    writeFileSync(f, sql);
    return f;
  });
  const t0 = performance.now();
  await Promise.all(
    files.map(
      (f) =>
        new Promise<void>((resolve, reject) => {
          const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', f], { stdio: ['ignore', 'ignore', 'inherit'] });
          p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))));
        }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  return seconds;
}

/** The limit: per tenant one transaction with the rendered SQL and its meta rows, split over C psql workers. */
function rawScripts(tenants: readonly Tenant[], files: readonly MigrationFile[], render: (f: MigrationFile, t: Tenant) => string, fresh: boolean): string[] {
  const scripts = Array.from({ length: C }, () => [] as string[]);
  tenants.forEach((t, i) => {
    const q = `"${t.schema}"`;
    const body = files.map((f) => render(f, t)).join('\n');
    scripts[i % C]!.push(`BEGIN;\n${fresh ? `CREATE SCHEMA ${q};\n${metaDdl(q)}\n` : ''}${body}\n${metaRows(q, files)}\nCOMMIT;`);
  });
  return scripts.map((s) => s.join('\n'));
}

const tenantsOf = (ids: readonly string[]): Tenant[] =>
  ids.map((id) => ({ workspaceId: id, name: 'bench', dbSchemaName: schemaOf(id), status: 'Active', lastSeenUtc: null, createdUtc: null, schema: schemaOf(id), needsBackfill: false }));

async function register(url: string, ids: readonly string[]) {
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    await admin(
      `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc)
       SELECT id::uuid, 'bench', sch, 'Active', now(), now() FROM unnest($1::text[], $2::text[]) AS t(id, sch)`,
      [chunk, chunk.map(schemaOf)],
      url,
    );
  }
}

/** Flush dirty pages so that the next pass does not inherit WAL full-page images (superuser; the bench's admin URL). */
const checkpoint = (url: string) => admin('CHECKPOINT', [], url);

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const row = (cells: (string | number)[]) => out(`| ${cells.join(' | ')} |`);

/** Fresh N (engine vs raw), then one new migration over the same N (engine vs raw). */
async function deploy(n: number, withNewMigration: boolean) {
  const db = `tm_bench_cli_${randomBytes(3).toString('hex')}`;
  await admin(`CREATE DATABASE ${db}`);
  const url = urlOf(db);
  const dir = project(url);
  try {
    const master = cli(dir, ['up', '--json']);
    if (master.code !== 0) throw new Error(`master up failed: ${master.stderr}`);
    const m = createMigrator({ url, rootDir: dir }) as MigratorImpl;
    const files = (await m.loadFiles()).tenant;
    const render = (await rendererFor(m.context, (await m.adapter()).syntax)).tenant;
    await m.close();
    const engineIds = Array.from({ length: n }, () => randomUUID());
    const raw = tenantsOf(Array.from({ length: n }, () => randomUUID()));
    await register(url, engineIds);
    // Warm-up (not a result): the first DDL-heavy pass on a new database is slower for everyone.
    const warm = await psqlWorkers(url, rawScripts(tenantsOf(Array.from({ length: n }, () => randomUUID())), files, render, true));
    process.stderr.write(`warm-up raw psql ${n}: ${warm.toFixed(2)} s\n`);
    // Each timed pass starts right after a CHECKPOINT: the first change of a page after one writes a
    // full-page image to the WAL, so without it the pass that runs first after the bulk load pays
    // for the other's (measured: the same raw pass 3.5 s first vs 0.8 s later on this machine).
    const engine = async () => {
      await checkpoint(url);
      const e = cli(dir, ['up', '--json', '--concurrency', String(C)]);
      const result = JSON.parse(e.stdout || '{}') as { tenants?: { succeeded: number } };
      if (e.code !== 0 || result.tenants?.succeeded !== n) throw new Error(`engine up: exit ${e.code}, ${result.tenants?.succeeded}/${n}: ${e.stderr.slice(0, 2000)}`);
      return e;
    };
    const rawPass = async (scripts: string[]) => {
      await checkpoint(url);
      return psqlWorkers(url, scripts);
    };
    const e = await engine();
    const r = await rawPass(rawScripts(raw, files, render, true));
    row([`fresh tenants, parallelism ${C}`, n, `${e.seconds.toFixed(2)} s`, `${r.toFixed(2)} s`, ratio(e.seconds, r), `${Math.round(e.rssMb)} MB`]);
    if (!withNewMigration) return;
    // The everyday deploy meets a fleet that has existed for a while: autovacuum has set the hint
    // bits of the bulk-created catalog rows and tables. Without this, whichever pass touches the
    // new tables first pays for that (measured: 1.29× engine first, 2.11× raw first).
    await admin('VACUUM', [], url);
    // One new migration, twice: engine first, then (a second new migration) raw first.
    for (const [k, engineFirst] of [[3, true], [4, false]] as const) {
      writeFileSync(path.join(dir, `tenant-migrations/000${k}_add_job_priority${k}.sql.hbs`), NEW_MIGRATION.replace('priority', `priority${k}`));
      const mk = createMigrator({ url, rootDir: dir }) as MigratorImpl;
      const newFile = (await mk.loadFiles()).tenant.slice(-1);
      await mk.close();
      const scripts = rawScripts(raw, newFile, render, false);
      const r3 = engineFirst ? undefined : await rawPass(scripts);
      const e3 = await engine();
      const r3b = r3 ?? (await rawPass(scripts));
      row([
        `one new migration (ALTER TABLE), up-to-date fleet, parallelism ${C}, ${engineFirst ? 'engine' : 'raw'} first`,
        n,
        `${e3.seconds.toFixed(2)} s`,
        `${r3b.toFixed(2)} s`,
        ratio(e3.seconds, r3b),
        `${Math.round(e3.rssMb)} MB`,
      ]);
    }
    // Round trips, counted on the wire (not timed): one more new migration, each side through a
    // counting proxy. The engine's count includes everything the CLI sends (master lock, plan,
    // ledger, claims, outcomes); raw is psql's, one request per statement.
    writeFileSync(path.join(dir, 'tenant-migrations/0005_add_job_priority5.sql.hbs'), NEW_MIGRATION.replace('priority', 'priority5'));
    const admin0 = new URL(url);
    const counter = await startRequestCounter('postgres', admin0.hostname, Number(admin0.port || 5432));
    try {
      const proxied = Object.assign(new URL(url), { port: String(counter.port) }).toString();
      writeFileSync(path.join(dir, 'tenant-migrate.config.json'), JSON.stringify({ url: proxied, concurrency: C, lockTimeoutMs: 60_000 }));
      const e5 = await cliAsync(dir, ['up', '--json', '--concurrency', String(C)]);
      if (e5.code !== 0) throw new Error(`engine up via the counter: exit ${e5.code}: ${e5.stderr.slice(0, 2000)}`);
      const engineRequests = counter.requests;
      counter.reset();
      const m5 = createMigrator({ url, rootDir: dir }) as MigratorImpl;
      const newFile = (await m5.loadFiles()).tenant.slice(-1);
      await m5.close();
      await psqlWorkers(proxied, rawScripts(raw, newFile, render, false));
      const rawRequests = counter.requests;
      row([
        `one new migration: requests (round trips) per tenant, counted on the wire`,
        n,
        (engineRequests / n).toFixed(3),
        (rawRequests / n).toFixed(3),
        ratio(engineRequests, rawRequests),
        '–',
      ]);
    } finally {
      writeFileSync(path.join(dir, 'tenant-migrate.config.json'), JSON.stringify({ url, concurrency: C, lockTimeoutMs: 60_000 }));
      await counter.close();
    }
    // The same pair over an emulated network: every round trip `ms` longer, for the engine and psql alike.
    let k = 6;
    for (const ms of list(values.latency)) {
      const proxy = await startRequestCounter('postgres', admin0.hostname, Number(admin0.port || 5432), undefined, { delayMs: ms });
      try {
        const proxied = Object.assign(new URL(url), { port: String(proxy.port) }).toString();
        writeFileSync(path.join(dir, 'tenant-migrate.config.json'), JSON.stringify({ url: proxied, concurrency: C, lockTimeoutMs: 60_000 }));
        writeFileSync(path.join(dir, `tenant-migrations/${String(k).padStart(4, '0')}_add_job_priority${k}.sql.hbs`), NEW_MIGRATION.replace('priority', `priority${k}`));
        k++;
        const mk = createMigrator({ url, rootDir: dir }) as MigratorImpl;
        const newFile = (await mk.loadFiles()).tenant.slice(-1);
        await mk.close();
        await checkpoint(url);
        const t0 = performance.now();
        const e = await cliAsync(dir, ['up', '--json', '--concurrency', String(C)]);
        const engineSeconds = (performance.now() - t0) / 1000;
        if (e.code !== 0) throw new Error(`engine up over ${ms} ms: exit ${e.code}: ${e.stderr.slice(0, 2000)}`);
        await checkpoint(url);
        const r = await psqlWorkers(proxied, rawScripts(raw, newFile, render, false));
        row([`one new migration, every round trip +${ms} ms (emulated network), engine first`, n, `${engineSeconds.toFixed(2)} s`, `${r.toFixed(2)} s`, ratio(engineSeconds, r), '–']);
      } finally {
        writeFileSync(path.join(dir, 'tenant-migrate.config.json'), JSON.stringify({ url, concurrency: C, lockTimeoutMs: 60_000 }));
        await proxy.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

/** A cached database of n up-to-date tenants: real schemas, meta tables and rows (no tenant tables). */
async function scaleDatabase(n: number): Promise<{ url: string; dir: string }> {
  const db = `tm_bench_${n}`;
  const url = urlOf(db);
  const dir = project(url);
  const exists = (await admin('SELECT 1 FROM pg_database WHERE datname = $1', [db])).length > 0;
  const ready =
    exists && !values.rebuild && (await admin<{ n: string }>(`SELECT count(*) AS n FROM ${MASTER}."Workspace"`, [], url).catch(() => [{ n: '0' }]))[0]!.n === String(n);
  if (ready) return { url, dir };
  const started = Date.now();
  const files = await masteredDatabase(db, url, dir);
  const ids = Array.from({ length: n }, () => randomUUID());
  await register(url, ids);
  // Rendered DDL in big batches (the drift bench's approach): 250 schemas per statement string.
  await buildSchemas(url, db, n, (i) => {
    const q = `"${schemaOf(ids[i]!)}"`;
    return `CREATE SCHEMA ${q};\n${metaDdl(q)}\n${metaRows(q, files)}`;
  });
  await admin('VACUUM ANALYZE', [], url);
  process.stderr.write(`\nbuilt ${db} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return { url, dir };
}

async function scale(n: number) {
  const { url, dir } = await scaleDatabase(n);
  try {
    // A fleet built before the applied-version summary (or by the builder above, which writes meta
    // tables only): the first `up` of this version creates the summary table and backfills it from
    // the meta tables it has to read. Measured once, as the upgrade cost; the rows below use it.
    const [summary] = await admin<{ present: boolean }>(`SELECT to_regclass('${MASTER}.__tm_schema_versions') IS NOT NULL AS present`, [], url);
    const rows = summary?.present ? Number((await admin<{ n: string }>(`SELECT count(*) AS n FROM ${MASTER}.__tm_schema_versions`, [], url))[0]!.n) : 0;
    if (rows < n) {
      const first = cli(dir, ['up', '--json', '--concurrency', String(C)]);
      if (first.code !== 0) throw new Error(`first up over ${n}: exit ${first.code}: ${first.stderr.slice(0, 2000)}`);
      row([`first \`up\` of this version: creates the applied-version summary, backfills ${n - rows} row(s) from the meta tables`, n, `${first.seconds.toFixed(2)} s`, '–', '–', `${Math.round(first.rssMb)} MB`]);
    }
    for (const [label, args] of [
      ['status --json', ['status', '--json']],
      ['plan --format json', ['plan', '--format', 'json']],
      ['no-op up --json', ['up', '--json', '--concurrency', String(C)]],
    ] as const) {
      const r = cli(dir, [...args]);
      if (r.code !== 0) throw new Error(`${label} over ${n}: exit ${r.code}: ${r.stderr.slice(0, 2000)}`);
      row([`${label}, up-to-date fleet`, n, `${r.seconds.toFixed(2)} s`, '–', '–', `${Math.round(r.rssMb)} MB`]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The CLI runs compiled JavaScript from dist/ (bin/tenant-migrate.js falls back to tsx when dist/
// is stale, which would measure the TypeScript compiler): build first.
if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
out('| scenario (whole CLI run, local PostgreSQL) | tenants | tenant-migrate | raw psql | ratio | peak RSS (CLI) |');
out('|---|---:|---:|---:|---:|---:|');
const help = cli(ROOT, ['--help']);
row(['`tenant-migrate --help`', '–', `${help.seconds.toFixed(2)} s`, '–', '–', `${Math.round(help.rssMb)} MB`]);
if (values.only !== 'scale') {
  const fresh = list(values.fresh);
  for (const [i, n] of fresh.entries()) await deploy(n, i === fresh.length - 1);
}
if (values.only !== 'deploy') for (const n of list(values.scale)) await scale(n);
out(`\n${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, concurrency ${C}, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
