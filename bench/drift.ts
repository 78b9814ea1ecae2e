/**
 * Drift benchmark: `node --import tsx bench/drift.ts [--n 10000] [--fresh]` on local PostgreSQL.
 *
 * Builds (once, then cached as database `tm_bench_drift_<n>`) a fleet of N tenants with the real
 * tenant tables — each tenant's rendered 0001+0002 SQL run in batches, meta rows recorded, 5
 * tenants altered by hand — then times the whole CLI run `tenant-migrate drift --json` with
 * /usr/bin/time (wall time and peak RSS of the CLI process). `--fresh` rebuilds the cache.
 * Baseline in the same run: the catalog read in-process by digest and in full (the reader without
 * digests), alternately, best of two each, and their ratio; the load average is printed beside them.
 * Exit 1 when the report does not name exactly the 5 altered tenants.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PostgresCatalogReader } from '../src/dialect/postgres/postgres-catalog.js';
import { MigratorImpl, createMigrator } from '../src/migrator.js';
import { discoverTenants } from '../src/operations/discover.js';
import { rendererFor } from '../src/operations/templates.js';
import { MASTER, ROOT, admin, project as benchProject, schemaOf, urlOf } from './support.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '10000' }, fresh: { type: 'boolean', default: false } } });
const n = Number(values.n);
const database = `tm_bench_drift_${n}`;
const url = urlOf(database);

const project = benchProject(url, { prefix: 'tm-bench-drift-', config: { concurrency: 4 } });

const exists = (await admin('SELECT 1 FROM pg_database WHERE datname = $1', [database])).length > 0;
const ready = exists && !values.fresh && (await admin<{ n: string }>(`SELECT count(*) AS n FROM ${MASTER}."Workspace"`, [], url).catch(() => [{ n: '0' }]))[0]!.n === String(n);
let altered: string[];
if (!ready) {
  if (exists) await admin(`DROP DATABASE ${database} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${database}`);
  const started = Date.now();
  const m = createMigrator({ url, rootDir: project, concurrency: 4 }) as MigratorImpl;
  try {
    await m.up(); // master migrations (no tenants yet)
    const adapter = await m.adapter();
    const files = (await m.loadFiles()).tenant;
    const render = await rendererFor(m.context, adapter.syntax);
    const ids = Array.from({ length: n }, () => randomUUID());
    await adapter.withSession(async (s) => {
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        await s.query(
          `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc)
           SELECT id::uuid, 'bench', sch, 'Active', now(), now() FROM unnest($1::text[], $2::text[]) AS t(id, sch)`,
          [chunk, chunk.map(schemaOf)],
        );
      }
    });
    const tenants = (await adapter.withSession((s) => discoverTenants(m.context, adapter.registry, s))).tenants;
    const batch = 50;
    const work = Array.from({ length: Math.ceil(tenants.length / batch) }, (_, i) => tenants.slice(i * batch, (i + 1) * batch));
    const worker = async () => {
      for (let chunk = work.shift(); chunk; chunk = work.shift()) {
        const sql = chunk
          .map((t) => {
            const q = `"${t.schema}"`;
            const rows = files.map((f) => `('${f.id}', '${f.checksum}', '${f.checksum}', now(), 1, NULL)`).join(', ');
            return `CREATE SCHEMA ${q};\nCREATE TABLE ${q}.__schema_migrations (id varchar(255) PRIMARY KEY, checksum char(64) NOT NULL, rendered_checksum char(64) NOT NULL, applied_utc timestamp(6) NOT NULL, duration_ms integer NOT NULL, run_id varchar(64));\n${files.map((f) => render.tenant(f, t)).join('\n')}\nINSERT INTO ${q}.__schema_migrations (id, checksum, rendered_checksum, applied_utc, duration_ms, run_id) VALUES ${rows};`;
          })
          .join('\n');
        await adapter.withSession((s) => s.runScript(`BEGIN;\n${sql}\nCOMMIT;`));
        process.stderr.write(`\rbuilding fleet: ${tenants.length - work.length * batch}/${tenants.length}`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    process.stderr.write(`\nbuilt ${n} tenants in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  } finally {
    await m.close();
  }
  const pick = await admin<{ s: string }>(`SELECT db_schema_name AS s FROM ${MASTER}."Workspace" ORDER BY db_schema_name LIMIT 5`, [], url);
  const s = pick.map((r) => r.s);
  await admin(
    [
      `ALTER TABLE "${s[0]}".automation_jobs ADD COLUMN priority integer NULL`,
      `DROP INDEX "${s[1]}".ix_file_artifacts_job_run`,
      `ALTER TABLE "${s[2]}".automation_jobs ALTER COLUMN status SET DEFAULT 'paused'`,
      `ALTER TABLE "${s[3]}".workspace_agents ALTER COLUMN kind TYPE varchar(80)`,
      `DROP TABLE "${s[4]}".file_artifacts`,
    ].join(';\n'),
    [],
    url,
  );
  await admin('VACUUM ANALYZE', [], url);
}
altered = (await admin<{ s: string }>(`SELECT db_schema_name AS s FROM ${MASTER}."Workspace" ORDER BY db_schema_name LIMIT 5`, [], url)).map((r) => r.s);

// The whole CLI run, as an operator runs it: /usr/bin/time -v reports wall time and peak RSS.
const run = spawnSync('/usr/bin/time', ['-v', process.execPath, path.join(ROOT, 'bin/tenant-migrate.js'), 'drift', '--json'], {
  cwd: project,
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
  env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '' },
});
const field = (name: string) => new RegExp(`${name}: (.*)`).exec(run.stderr)?.[1]?.trim() ?? '?';
const wall = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)');
const rssMb = Number(field('Maximum resident set size \\(kbytes\\)')) / 1024;
const [min, sec] = wall.split(':').map(Number) as [number, number];
const seconds = min * 60 + sec;
const report = JSON.parse(run.stdout) as { driftedTenants: number; tenants: number; groups: { state: string; sampleTenants: string[] }[]; durationMs: number };
const found = report.groups.filter((g) => g.state === 'drifted').flatMap((g) => g.sampleTenants).sort();
const exact = JSON.stringify(found) === JSON.stringify([...altered].sort());

// Baseline in the same run: the fleet's catalog read in-process, by digest (what drift does) and in
// full (every schema's rows read and fingerprinted: the reader before digests), alternately.
const reads: { digest: number[]; full: number[] } = { digest: [], full: [] };
const bm = createMigrator({ url, rootDir: project, concurrency: 4 }) as MigratorImpl;
try {
  const adapter = await bm.adapter();
  const schemas = (await adapter.withSession((s) => discoverTenants(bm.context, adapter.registry, s))).tenants.map((t) => t.schema);
  for (let round = 0; round < 2; round++) {
    for (const digests of [true, false]) {
      const reader = new PostgresCatalogReader(adapter, { metaTable: adapter.names.metaTable, digests });
      const started = performance.now();
      await reader.readCatalogs(schemas, () => undefined);
      reads[digests ? 'digest' : 'full'].push((performance.now() - started) / 1000);
    }
  }
} finally {
  await bm.close();
}
const best = (xs: number[]) => Math.min(...xs);
rmSync(project, { recursive: true, force: true });
const line = {
  bench: 'drift',
  tenants: report.tenants,
  exitCode: run.status,
  seconds,
  inProcessSeconds: report.durationMs / 1000,
  peakRssMb: Math.round(rssMb),
  drifted: report.driftedTenants,
  exact,
  catalogReadSeconds: { digest: reads.digest.map((x) => +x.toFixed(2)), full: reads.full.map((x) => +x.toFixed(2)), ratio: +(best(reads.digest) / best(reads.full)).toFixed(2) },
  cpus: cpus().length,
  loadAverage: loadavg().map((x) => +x.toFixed(2)),
};
process.stdout.write(
  `| drift, whole CLI run (local PostgreSQL) | ${n.toLocaleString('en-US')} | ${seconds.toFixed(2)} s | ${Math.round(rssMb)} MB | ${report.driftedTenants} drifted found (${exact ? 'exactly the 5 altered' : 'MISMATCH'}) |\n` +
    `catalog read in-process, best of 2: by digest ${best(reads.digest).toFixed(2)} s, in full ${best(reads.full).toFixed(2)} s (ratio ${line.catalogReadSeconds.ratio}); load average ${line.loadAverage.join(' ')}\n${JSON.stringify(line)}\n`,
);
process.exit(exact && run.status === 4 ? 0 : 1);
