/**
 * Fleet report benchmark on local PostgreSQL: `node --import tsx bench/report.ts [--n 10000,100000] [--rebuild]`.
 *
 * Builds (once, then cached as database `tm_bench_report_<n>`) a fleet of N tenants, each a real
 * schema with its meta table and rows (the scale bench's layout: no tenant tables), 1 % of them one
 * migration behind; one real `up` then creates the applied-version summary and tries the behind
 * tenants, which fail (their tables were never made): a ledger run of N rows with real failures.
 * Then times the whole CLI run `tenant-migrate report` (and `status --json` beside it, the floor it
 * builds on) with /usr/bin/time: wall seconds, peak RSS, and the size of the file.
 * Targets: 10,000 tenants ≤ 2 s and ≤ 2 MB; 100,000 ≤ 10 s and < 500 MB. Exit 1 when the report is
 * not the fleet's (tenant count, failure count).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type MigratorImpl, createMigrator } from '../src/migrator.js';
import { MASTER, ROOT, admin, buildSchemas, cli, masteredDatabase, metaDdl, metaRows, out, project as benchProject, schemaOf, urlOf } from './support.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: process.env.BENCH_REPORT_N ?? '10000,100000' }, rebuild: { type: 'boolean', default: false } },
  strict: false,
});
const project = (url: string) => benchProject(url, { prefix: 'tm-bench-report-' });
const sizes = String(values.n).split(',').map(Number).filter((n) => n > 0);

/** The cached fleet: N schemas with meta tables, every 100th one migration behind, and one real `up` over it. */
async function fleet(n: number): Promise<{ url: string; dir: string; behind: number }> {
  const db = `tm_bench_report_${n}`;
  const url = urlOf(db);
  const dir = project(url);
  const behind = Math.floor(n / 100);
  const exists = (await admin('SELECT 1 FROM pg_database WHERE datname = $1', [db])).length > 0;
  const ready =
    exists &&
    !values.rebuild &&
    (await admin<{ n: string }>(`SELECT count(*) AS n FROM ${MASTER}.__tm_runs`, [], url).catch(() => [{ n: '0' }]))[0]!.n !== '0';
  if (ready) return { url, dir, behind };
  const started = Date.now();
  const files = await masteredDatabase(db, url, dir);
  const ids = Array.from({ length: n }, () => randomUUID());
  for (let i = 0; i < n; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    await admin(
      `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc)
       SELECT id::uuid, 'bench workspace ' || id, sch, 'Active', now(), now() FROM unnest($1::text[], $2::text[]) AS t(id, sch)`,
      [chunk, chunk.map(schemaOf)],
      url,
    );
  }
  await buildSchemas(url, db, n, (i) => {
    const q = `"${schemaOf(ids[i]!)}"`;
    return `CREATE SCHEMA ${q};\n${metaDdl(q)}\n${metaRows(q, i % 100 === 0 ? files.slice(0, -1) : files)}`;
  });
  await admin('VACUUM ANALYZE', [], url);
  await fullRun(url, dir, ids, files.at(-1)!.id);
  // The behind tenants have no tables (the builder writes meta tables only): their migration fails.
  const up = cli(dir, ['up', '--json', '--concurrency', '4']);
  if (up.code !== 1) throw new Error(`the bench's up should fail on the ${behind} behind tenants (exit 1), got ${up.code}: ${up.stderr.slice(0, 2000)}`);
  process.stderr.write(`\nbuilt ${db} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return { url, dir, behind };
}

/**
 * An earlier deploy over the whole fleet in the ledger (N rows; the report reads every row of each
 * run it shows), written through the engine's own ledger store: claims of 5,000, outcomes with
 * spread-out durations (a few slow tenants), the run finished.
 */
async function fullRun(url: string, dir: string, ids: readonly string[], target: string): Promise<void> {
  const m = createMigrator({ url, rootDir: dir }) as MigratorImpl;
  try {
    const { ledger } = await m.adapter();
    await ledger.ensureLedger();
    const runId = randomUUID();
    await ledger.createRun({ runId, runKey: `bench:${target}`, target, options: { concurrency: 16, bench: true }, startedBy: 'bench:1' });
    await ledger.addRunTenants(runId, ids.map((id, seq) => ({ schema: schemaOf(id), workspaceId: id, seq, wave: seq < ids.length / 10 ? 0 : 1 })));
    let n = 0;
    for (let claimed = await ledger.claimTenants(runId, `bench:w${n % 4}`, 5000, 600_000, 1); claimed.length > 0; claimed = await ledger.claimTenants(runId, `bench:w${n % 4}`, 5000, 600_000, 1)) {
      await ledger.completeTenants(
        runId,
        `bench:w${n % 4}`,
        claimed.map((t) => ({ schema: t.schema, status: 'succeeded' as const, durationMs: t.seq % 997 === 0 ? 4000 + (t.seq % 3000) : 20 + ((t.seq * 7919) % 180), extraAttempts: 0, applied: [target] })),
      );
      n++;
    }
    await ledger.finishRun(runId, 'succeeded', await ledger.countRunTenants(runId));
  } finally {
    await m.close();
  }
}

const row = (cells: (string | number)[]) => out(`| ${cells.join(' | ')} |`);
let failed = false;

if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
out('| scenario (whole CLI run, local PostgreSQL) | tenants | wall | peak RSS | report size |');
out('|---|---:|---:|---:|---:|');
for (const n of sizes) {
  const { dir, behind } = await fleet(n);
  try {
    const status = cli(dir, ['status', '--json']);
    row(['`status --json` (for comparison)', n, `${status.seconds.toFixed(2)} s`, `${Math.round(status.rssMb)} MB`, '–']);
    for (const args of [['report'], ['report', '--plan']]) {
      const file = path.join(dir, 'fleet-report.html');
      const r = cli(dir, [...args, '--out', file, '--json']);
      if (r.code !== 0) throw new Error(`${args.join(' ')} over ${n}: exit ${r.code}: ${r.stderr.slice(0, 2000)}`);
      const summary = JSON.parse(r.stdout) as { tenants: number; behind: number; failed: number };
      const html = readFileSync(file, 'utf8');
      const ok = summary.tenants === n && summary.behind === behind && summary.failed === behind && html.includes('MIGRATION_FAILED');
      if (!ok) {
        failed = true;
        process.stderr.write(`report over ${n} is not the fleet's: ${r.stdout}\n`);
      }
      row([`\`${args.join(' ')}\`${args.includes('--plan') ? '' : ' (5 runs)'}`, n, `${r.seconds.toFixed(2)} s`, `${Math.round(r.rssMb)} MB`, `${(statSync(file).size / 1024 / 1024).toFixed(2)} MB`]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
out(`\n${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
process.exit(failed ? 1 : 0);
