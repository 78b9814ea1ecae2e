/**
 * Fleet benchmark: `npm run bench` (or `node --import tsx bench/run.ts --n 300 --status-n 10000`).
 *
 * For each dialect (PostgreSQL when reachable, PGlite): (a) migrate N fresh tenants, (b) no-op
 * status of N (and of STATUS_N tenants on PostgreSQL), (c) one new migration to N tenants — each
 * with the engine and, in the same run, two baselines on their own tenants: the rendered SQL over
 * one connection per worker with no engine, each migration with its meta row ("raw", the limit),
 * and a naive sequential per-schema
 * umzug loop. Plus planning of PLAN_N synthetic tenants (pure, in memory) for memory flatness.
 * Prints a Markdown table; `--write` also writes docs/benchmarks.md.
 *
 * Env/flags: BENCH_N/--n (default 200), BENCH_STATUS_N/--status-n (default 10000), BENCH_PLAN_N/--plan-n
 * (default 100000), BENCH_CONCURRENCY/--concurrency (default 4), BENCH_DIALECTS/--dialects
 * (default postgres,pglite, plus mssql when an mssql URL is given), BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres).
 *
 * SQL Server: `--url 'mssql://sa:…@host:1433/master?trustServerCertificate=true'` (or
 * TM_BENCH_MSSQL_URL; ADO `Server=…;…` strings work too). The login needs CREATE DATABASE: the bench
 * runs in a fresh `tm_bench_…` database that it drops afterwards. The raw baseline there is T-SQL over
 * the mssql package: per schema one connection of C runs `SET XACT_ABORT ON; BEGIN TRANSACTION`, the
 * CREATE SCHEMA and meta table, the same rendered batches (split on GO), the meta rows and COMMIT —
 * one transaction per schema, no locks, no checks, no ledger. The naive-umzug baseline drives pg clients and is skipped there
 * (said so on stderr and under the table). BENCH_MSSQL_STATUS_N overrides the status N on SQL Server.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sql from 'mssql';
import pg from 'pg';
import { Umzug } from 'umzug';
import { createMssqlDatabase } from '../src/dialect/mssql/mssql-admin.js';
import { inlineMssqlParams, mssqlSql } from '../src/dialect/mssql/mssql-sql.js';
import { inlineParams } from '../src/dialect/postgres/postgres-folded-apply.js';
import { postgresSql } from '../src/dialect/postgres/postgres-sql.js';
import { checksumOf } from '../src/source/index.js';
import { mssqlSyntax, quoteMssqlIdent, quoteMssqlString } from '../src/dialect/mssql/mssql-syntax.js';
import { parseMssqlUrl, redactMssqlUrl, toMssqlConfig } from '../src/dialect/mssql/mssql-url.js';
import { MigratorImpl, createMigrator } from '../src/migrator.js';
import { rendererFor } from '../src/operations/templates.js';
import { planSchema } from '../src/planner/plan.js';
import type { AppliedMigration, MigrationFile, Tenant } from '../src/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, env: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : (process.env[env] ?? dflt);
};
const N = Number(arg('n', 'BENCH_N', '200'));
const STATUS_N = Number(arg('status-n', 'BENCH_STATUS_N', '10000'));
const PLAN_N = Number(arg('plan-n', 'BENCH_PLAN_N', '100000'));
const C = Number(arg('concurrency', 'BENCH_CONCURRENCY', '4'));
const MSSQL_URL = arg('url', 'TM_BENCH_MSSQL_URL', '') || undefined;
if (MSSQL_URL !== undefined && !/^(mssql|sqlserver):\/\//i.test(MSSQL_URL) && !/(^|;)\s*(server|data source|address|addr)\s*=/i.test(MSSQL_URL)) {
  console.error('--url / TM_BENCH_MSSQL_URL takes a SQL Server URL (mssql://…, sqlserver://… or Server=…;…); PostgreSQL goes through BENCH_PG_URL');
  process.exit(2);
}
const DIALECTS = arg('dialects', 'BENCH_DIALECTS', MSSQL_URL ? 'postgres,pglite,mssql' : 'postgres,pglite').split(',').map((d) => d.trim());
const PG_ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MASTER = 'pmassist_master';
// {{int}} and ADD without COLUMN: the same migration text is valid T-SQL and PostgreSQL.
const NEW_MIGRATION = 'ALTER TABLE {{schema}}.automation_jobs ADD priority {{int}} NOT NULL DEFAULT 0;\n';
const BASELINES_SKIPPED_MSSQL = 'naive umzug baseline skipped on mssql: it drives pg clients with PostgreSQL-only SQL (CREATE SCHEMA IF NOT EXISTS, BEGIN; …; COMMIT; in one query); the raw T-SQL baseline runs';
const notes: string[] = [];

interface Row {
  dialect: string;
  scenario: string;
  variant: string;
  tenants: number;
  seconds: number;
  perSecond: number;
  p50?: number | undefined;
  p95?: number | undefined;
  rssMb: number;
  note?: string;
}
const rows: Row[] = [];

/**
 * Round trips, counted: every pg `client.query` call is one request/response exchange with the
 * server (a multi-statement simple query included). PGlite is in-process and not counted.
 */
let roundTrips = 0;
const pgQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  roundTrips++;
  return (pgQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;
/** `fn`, and the pg round trips it made (as a note: total and per tenant). */
async function counted<T>(n: number, fn: () => Promise<T>): Promise<{ value: T; note: string; perTenant: number }> {
  const before = roundTrips;
  const value = await fn();
  const total = roundTrips - before;
  return { value, note: `${total} round trips (${(total / n).toFixed(2)}/tenant)`, perTenant: total / n };
}

/** Peak RSS while `fn` runs (sampled every 20 ms). */
async function measure<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; rssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  try {
    const value = await fn();
    return { value, seconds: (performance.now() - t0) / 1000, rssMb: Math.max(peak, process.memoryUsage().rss) / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}
const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const schemaFor = (id: string) => `ws_${id.replace(/-/g, '')}`;
const limitAll = async <T>(items: readonly T[], workers: number, fn: (item: T, worker: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (next < items.length) await fn(items[next++]!, w);
  }));
};

interface Target {
  name: 'postgres' | 'pglite' | 'mssql';
  url: string;
  drop(): Promise<void>;
}

async function pgTarget(): Promise<Target | undefined> {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  try {
    await admin.connect();
  } catch (err) {
    console.error(`postgres skipped: ${(err as Error).message}`);
    return undefined;
  }
  const db = `tm_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const u = new URL(PG_ADMIN);
  u.pathname = `/${db}`;
  return {
    name: 'postgres',
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A fresh database on the SQL Server of MSSQL_URL (dropped afterwards). */
async function mssqlTarget(url: string): Promise<Target> {
  const settings = parseMssqlUrl(url);
  const db = `tm_bench_${randomBytes(4).toString('hex')}`;
  let created: { drop(): Promise<void> };
  try {
    created = await createMssqlDatabase(settings, db);
  } catch (err) {
    throw new Error(`mssql: cannot create the bench database on ${redactMssqlUrl(url)} (not reachable, or the login lacks CREATE DATABASE): ${(err as Error).message}`);
  }
  return {
    name: 'mssql',
    url: withMssqlDatabase(url, db),
    drop: () => created.drop(),
  };
}

/** The same SQL Server URL (mssql:// or ADO form) pointing at another database. */
function withMssqlDatabase(url: string, database: string): string {
  if (/^(mssql|sqlserver):\/\//i.test(url)) {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
  }
  const parts = url.replace(/;\s*$/, '').split(';').filter((p) => !/^\s*(database|initial catalog)\s*=/i.test(p));
  return [...parts, `Database=${database}`].join(';');
}

/** A connection-per-worker executor for baselines: pg clients, or the migrator's PGlite session. */
async function executors(target: Target, m: MigratorImpl, n: number) {
  if (target.name === 'pglite') {
    const adapter = await m.adapter();
    return { run: (_w: number, sql: string) => adapter.withSession((s) => s.runScript(sql)), query: (_w: number, sql: string, p?: unknown[]) => adapter.withSession((s) => s.query(sql, p)), close: async () => undefined, workers: 1 };
  }
  const clients = await Promise.all(Array.from({ length: n }, async () => {
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    return c;
  }));
  return {
    run: async (w: number, sql: string) => void (await clients[w]!.query(sql)),
    query: async (w: number, sql: string, p?: unknown[]) => (await clients[w]!.query(sql, p as unknown[])).rows,
    close: async () => void (await Promise.all(clients.map((c) => c.end()))),
    workers: n,
  };
}

async function registerTenants(m: MigratorImpl, ids: readonly string[], status = 'Active') {
  const adapter = await m.adapter();
  if (adapter.name === 'mssql') {
    // No unnest on SQL Server: multi-row VALUES, 500 rows × 2 parameters per statement (limits: 1,000 rows, 2,100 parameters).
    const registry = `${quoteMssqlIdent(MASTER)}.${quoteMssqlIdent('Workspace')}`;
    await adapter.withSession(async (s) => {
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const values = chunk.map((_, j) => `(CONVERT(UNIQUEIDENTIFIER, $${2 * j + 2}), N'bench', $${2 * j + 3}, $1, SYSUTCDATETIME(), SYSUTCDATETIME())`).join(',\n');
        await s.query(
          `INSERT INTO ${registry} (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc) VALUES ${values}`,
          [status, ...chunk.flatMap((id) => [id, schemaFor(id)])],
        );
      }
    });
    return;
  }
  await adapter.withSession(async (s) => {
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      await s.query(
        `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc)
         SELECT id::uuid, 'bench', sch, $3, now(), now() FROM unnest($1::text[], $2::text[]) AS t(id, sch)`,
        [chunk, chunk.map(schemaFor), status],
      );
    }
  });
}

/**
 * Raw: the engine's rendered SQL, one transaction per migration with its meta row (the meta table
 * created with the schema, by the engine's own DDL), no locks, no checks, no summary, no ledger.
 */
async function rawBaseline(target: Target, m: MigratorImpl, tenants: Tenant[], files: MigrationFile[], create: boolean) {
  const exec = await executors(target, m, C);
  const adapter = await m.adapter();
  const render = await rendererFor(m.context, adapter.syntax);
  const statements = postgresSql(adapter.names);
  const durations: number[] = [];
  const r = await measure(() =>
    limitAll(tenants, exec.workers, async (t, w) => {
      const t0 = performance.now();
      if (create) await exec.run(w, `CREATE SCHEMA "${t.schema}";\n${statements.createMetaTable(t.schema)}`);
      for (const f of files) {
        const sql = render.tenant(f, t);
        const row = inlineParams(statements.insertApplied(t.schema), [f.id, f.checksum, checksumOf(sql), new Date(), 1, null]);
        await exec.run(w, `BEGIN;\n${sql}\n;${row};COMMIT;`);
      }
      durations.push(performance.now() - t0);
    }),
  );
  await exec.close();
  return { ...r, durations };
}

/**
 * Raw T-SQL: the engine's rendered batches over the mssql package, C connections (one pool of one
 * connection per worker, so a transaction spans that worker's batches), one transaction per schema:
 * SET XACT_ABORT ON; BEGIN TRANSACTION; CREATE SCHEMA (EXEC: it must be alone in its batch) and the
 * meta table (the engine's DDL); every batch of every file (split on GO like the engine); the meta
 * rows and COMMIT. No locks, no checks, no summary, no ledger.
 */
async function rawMssqlBaseline(target: Target, m: MigratorImpl, tenants: Tenant[], files: MigrationFile[], create: boolean) {
  const config = toMssqlConfig(parseMssqlUrl(target.url), { poolMax: 1, requestTimeoutMs: 0 });
  const pools = await Promise.all(Array.from({ length: C }, async () => {
    const pool = new sql.ConnectionPool(config);
    pool.on('error', () => undefined);
    return pool.connect();
  }));
  const adapter = await m.adapter();
  const render = await rendererFor(m.context, adapter.syntax);
  const statements = mssqlSql(adapter.names);
  const durations: number[] = [];
  const r = await measure(() =>
    limitAll(tenants, C, async (t, w) => {
      const pool = pools[w]!;
      const t0 = performance.now();
      await pool.request().batch(
        `SET XACT_ABORT ON; BEGIN TRANSACTION;${create ? ` EXEC(${quoteMssqlString(`CREATE SCHEMA ${quoteMssqlIdent(t.schema)}`)});\n${statements.createMetaTable(t.schema)}` : ''}`,
      );
      try {
        const rows: string[] = [];
        for (const f of files) {
          const sql = render.tenant(f, t);
          for (const batch of mssqlSyntax.splitBatches(sql)) {
            for (let i = 0; i < batch.repeat; i++) await pool.request().batch(batch.sql);
          }
          rows.push(inlineMssqlParams(statements.insertApplied(t.schema), [f.id, f.checksum, checksumOf(sql), new Date(), 1, null]));
        }
        await pool.request().batch(`${rows.join('\n')}\nCOMMIT TRANSACTION;`);
      } catch (err) {
        await pool.request().batch('IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;').catch(() => undefined);
        throw err;
      }
      durations.push(performance.now() - t0);
    }),
  );
  await Promise.all(pools.map((p) => p.close()));
  return { ...r, durations };
}

/** What a user writes by hand: for each schema in turn, a new Umzug over a meta table. */
async function naiveUmzug(target: Target, m: MigratorImpl, tenants: Tenant[], files: MigrationFile[]) {
  const exec = await executors(target, m, 1);
  const render = await rendererFor(m.context, (await m.adapter()).syntax);
  const durations: number[] = [];
  const r = await measure(async () => {
    for (const t of tenants) {
      const t0 = performance.now();
      const meta = `"${t.schema}".umzug_meta`;
      await exec.run(0, `CREATE SCHEMA IF NOT EXISTS "${t.schema}"; CREATE TABLE IF NOT EXISTS ${meta} (name text PRIMARY KEY)`);
      const umzug = new Umzug({
        migrations: files.map((f) => ({ name: f.id, up: () => exec.run(0, `BEGIN;\n${render.tenant(f, t)}\n;INSERT INTO ${meta} VALUES ('${f.id}');COMMIT;`) })),
        storage: {
          executed: async () => ((await exec.query(0, `SELECT name FROM ${meta}`)) as { name: string }[]).map((x) => x.name),
          logMigration: async () => undefined,
          unlogMigration: async () => undefined,
        },
        logger: undefined,
      });
      await umzug.up();
      durations.push(performance.now() - t0);
    }
  });
  await exec.close();
  return { ...r, durations };
}

function tenantsOf(ids: readonly string[]): Tenant[] {
  return ids.map((id) => ({ workspaceId: id, name: 'bench', dbSchemaName: schemaFor(id), status: 'Active', lastSeenUtc: null, createdUtc: null, schema: schemaFor(id), needsBackfill: false }));
}

function push(dialect: string, scenario: string, variant: string, n: number, r: { seconds: number; rssMb: number }, durations?: number[], note?: string) {
  rows.push({ dialect, scenario, variant, tenants: n, seconds: r.seconds, perSecond: n / r.seconds, p50: durations && pct(durations, 50), p95: durations && pct(durations, 95), rssMb: r.rssMb, ...(note ? { note } : {}) });
  const last = rows.at(-1)!;
  console.error(`${dialect} ${scenario} ${variant}: ${n} tenants in ${r.seconds.toFixed(2)} s (${last.perSecond.toFixed(1)}/s), peak RSS ${r.rssMb.toFixed(0)} MB`);
}

/** Status at STATUS_N: register tenants and create their schemas + meta rows directly (fast seed). */
async function seedStatusTenants(target: Target, m: MigratorImpl, count: number, files: MigrationFile[]) {
  const ids = Array.from({ length: count }, () => randomUUID());
  await registerTenants(m, ids);
  const adapter = await m.adapter();
  if (target.name === 'mssql') {
    // The adapter's own DDL for schema and meta table (exactly what the engine reads), C sessions at a time.
    await limitAll(ids, C, async (id) => {
      const schema = schemaFor(id);
      await adapter.withSession(async (s) => {
        await adapter.meta.ensureSchema(s, schema);
        await adapter.meta.ensureMetaTable(s, schema);
        for (const f of files) await adapter.meta.insertApplied(s, schema, { id: f.id, checksum: f.checksum, renderedChecksum: f.checksum, appliedUtc: new Date(), durationMs: 1, runId: null });
      });
    });
    return ids;
  }
  const cols = 'id, checksum, rendered_checksum, applied_utc, duration_ms, run_id';
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200).map(schemaFor);
    const sql = chunk
      .map((s) => `CREATE SCHEMA "${s}"; ${adapter.name === 'pglite' || adapter.name === 'postgres' ? '' : ''}CREATE TABLE "${s}".__schema_migrations (id varchar(255) PRIMARY KEY, checksum char(64) NOT NULL, rendered_checksum char(64) NOT NULL, applied_utc timestamp(6) NOT NULL, duration_ms integer NOT NULL, run_id varchar(64));
INSERT INTO "${s}".__schema_migrations (${cols}) VALUES ${files.map((f) => `('${f.id}', '${f.checksum}', '${f.checksum}', now(), 1, NULL)`).join(', ')};`)
      .join('\n');
    await adapter.withSession((s) => s.runScript(sql));
  }
  return ids;
}

async function benchDialect(target: Target) {
  const project = mkdtempSync(path.join(tmpdir(), 'tm-bench-'));
  for (const dir of ['master-migrations', 'tenant-migrations', 'templates']) cpSync(path.join(ROOT, dir), path.join(project, dir), { recursive: true });
  // BENCH_TENANTS_PER_SEND: the engine's tenantsPerSend (default: the config default); 1 = a request per tenant.
  const perSend = process.env.BENCH_TENANTS_PER_SEND ? { tenantsPerSend: Number(process.env.BENCH_TENANTS_PER_SEND) } : {};
  const open = () => createMigrator({ url: target.url, rootDir: project, concurrency: C, lockTimeoutMs: 60_000, ...perSend }) as MigratorImpl;
  let m = open();
  try {
    await m.up(); // master only: no tenants yet
    const files = (await m.loadFiles()).tenant;
    const engineIds = Array.from({ length: N }, () => randomUUID());
    const rawIds = Array.from({ length: N }, () => randomUUID());
    const naiveIds = Array.from({ length: N }, () => randomUUID());
    await registerTenants(m, engineIds);
    const d = target.name;
    const workers = target.name === 'pglite' ? 1 : C;

    // (a) fresh tenants.
    let durations: number[] = [];
    const collect = m.on((e) => e.type === 'tenant:done' && durations.push(e.result.durationMs));
    // Warm-up, not a result: the first DDL-heavy pass on a fresh database pays for catalog growth and
    // full-page WAL images after CREATE DATABASE's checkpoint (measured: the same raw pass took
    // 3.47 s first and 1.22 s later). Without it whichever variant runs first looks ~2x slower.
    const raw = target.name === 'mssql' ? rawMssqlBaseline : rawBaseline;
    {
      const warm = await raw(target, m, tenantsOf(Array.from({ length: N }, () => randomUUID())), files, true);
      console.error(`${d} warm-up (raw SQL on ${N} throw-away tenants, not a result): ${warm.seconds.toFixed(2)} s`);
      notes.push(`warm-up before (a): raw SQL on ${N} throw-away tenants took ${warm.seconds.toFixed(2)} s (not a result)`);
    }
    const ac = await counted(N, () => measure(() => m.up({ concurrency: C })));
    const a = ac.value;
    if (a.value.tenants.succeeded !== N) throw new Error(`engine migrated ${a.value.tenants.succeeded}/${N}`);
    push(d, '(a) migrate fresh', `engine, ${workers} worker(s)`, N, a, durations, target.name === 'postgres' ? ac.note : undefined);
    const baselines = target.name !== 'mssql';
    if (!baselines) {
      console.error(BASELINES_SKIPPED_MSSQL);
      notes.push(BASELINES_SKIPPED_MSSQL);
    }
    const ra = await raw(target, m, tenantsOf(rawIds), files, true);
    push(d, '(a) migrate fresh', `raw ${target.name === 'mssql' ? 'T-SQL' : 'SQL'}, ${workers} connection(s)`, N, ra, ra.durations);
    if (baselines) {
      const na = await naiveUmzug(target, m, tenantsOf(naiveIds), files);
      push(d, '(a) migrate fresh', 'naive umzug loop, sequential', N, na, na.durations);
    }

    // (b) no-op status of N.
    const b = await measure(() => m.status());
    push(d, '(b) no-op status', 'engine status', N, b);
    const bu = await measure(() => m.up({ concurrency: C }));
    push(d, '(b) no-op status', 'engine no-op up', N, bu);

    // (c) one new migration.
    writeFileSync(path.join(project, 'tenant-migrations/0003_add_job_priority.sql.hbs'), NEW_MIGRATION);
    collect();
    await m.close();
    m = open();
    durations = [];
    m.on((e) => e.type === 'tenant:done' && durations.push(e.result.durationMs));
    const files3 = (await m.loadFiles()).tenant;
    const cc = await counted(N, () => measure(() => m.up({ concurrency: C })));
    const c = cc.value;
    if (c.value.tenants.succeeded !== N) throw new Error(`engine migrated ${c.value.tenants.succeeded}/${N} in (c)`);
    push(d, '(c) one new migration', `engine, ${workers} worker(s)`, N, c, durations, target.name === 'postgres' ? cc.note : undefined);
    const rc = await raw(target, m, tenantsOf(rawIds), files3.slice(-1), false);
    push(d, '(c) one new migration', `raw ${target.name === 'mssql' ? 'T-SQL' : 'SQL'}, ${workers} connection(s)`, N, rc, rc.durations);
    if (baselines) {
      const nc = await naiveUmzug(target, m, tenantsOf(naiveIds), files3);
      push(d, '(c) one new migration', 'naive umzug loop, sequential', N, nc, nc.durations);
    }

    // (b) at STATUS_N (PostgreSQL only by default: seeding 10,000 schemas into PGlite is slow).
    const statusN =
      target.name === 'postgres'
        ? STATUS_N
        : target.name === 'mssql'
          ? Number(process.env.BENCH_MSSQL_STATUS_N ?? STATUS_N)
          : Math.min(STATUS_N, Number(process.env.BENCH_PGLITE_STATUS_N ?? 2000));
    if (statusN > N) {
      const t0 = performance.now();
      await seedStatusTenants(target, m, statusN - N, files3);
      console.error(`seeded ${statusN - N} more tenants in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await m.close();
      m = open();
      const b2 = await measure(() => m.status());
      if (b2.value.tenants.total !== statusN || b2.value.tenants.upToDate !== statusN) throw new Error(`status saw ${b2.value.tenants.upToDate}/${b2.value.tenants.total}`);
      push(d, '(b) no-op status', 'engine status', statusN, b2);
      const bu2 = await measure(() => m.up({ concurrency: C }));
      push(d, '(b) no-op status', 'engine no-op up', statusN, bu2);
    }
  } finally {
    await m.close();
    rmSync(project, { recursive: true, force: true });
  }
}

/** Planning PLAN_N tenants: pure planner over synthetic applied sets (no database). */
async function benchPlanning() {
  const files = (await (createMigrator({ url: 'pglite:memory', rootDir: ROOT }) as MigratorImpl).loadFiles()).tenant;
  global.gc?.();
  const r = await measure(async () => {
    const applied = new Map<string, AppliedMigration[]>();
    for (let i = 0; i < PLAN_N; i++) {
      const schema = `ws_${i.toString(16).padStart(32, '0')}`;
      applied.set(schema, files.slice(0, i % 3 === 0 ? 1 : files.length).map((f) => ({ id: f.id, checksum: f.checksum, renderedChecksum: f.checksum, appliedUtc: new Date(), durationMs: 1, runId: null })));
    }
    let behind = 0;
    for (const [schema, rows] of applied) if (planSchema(schema, files, rows).state !== 'up-to-date') behind++;
    return behind;
  });
  push('(none)', 'planning', 'pure planner, synthetic applied sets', PLAN_N, r, undefined, `${r.value} behind`);
}

const started = Date.now();
// Planning first, in a fresh process, so its peak RSS is not the PGlite heap of a later stage.
await benchPlanning();
for (const name of DIALECTS) {
  let target: Target | undefined;
  if (name === 'postgres') target = await pgTarget();
  else if (name === 'pglite') target = { name: 'pglite', url: `pglite:${mkdtempSync(path.join(tmpdir(), 'tm-bench-pglite-'))}`, drop: async () => undefined };
  else if (name === 'mssql') {
    if (MSSQL_URL) target = await mssqlTarget(MSSQL_URL);
    else console.error('mssql skipped: no --url mssql://… and no TM_BENCH_MSSQL_URL');
  } else console.error(`unknown dialect "${name}" skipped (postgres, pglite, mssql)`);
  if (!target) continue;
  try {
    await benchDialect(target);
  } finally {
    await target.drop();
  }
}

const fmt = (x: number | undefined, d = 1) => (x === undefined ? '–' : x.toFixed(d));
const table = [
  '| dialect | scenario | variant | tenants | seconds | tenants/s | p50 ms | p95 ms | peak RSS MB | note |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.dialect} | ${r.scenario} | ${r.variant} | ${r.tenants} | ${fmt(r.seconds, 2)} | ${fmt(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.rssMb, 0)} | ${r.note ?? ''} |`),
].join('\n');
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GB RAM, Node ${process.version}`;
const noteText = notes.length > 0 ? `\n${[...new Set(notes)].map((n) => `Note: ${n}.`).join('\n')}\n` : '';
process.stdout.write(`${table}\n${noteText}\nN=${N}, status N=${STATUS_N}, plan N=${PLAN_N}, concurrency ${C}; ${machine}; total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
if (process.argv.includes('--write')) writeFileSync(path.join(ROOT, 'bench/last-run.md'), `${table}\n${noteText}\n${machine}\n`);
