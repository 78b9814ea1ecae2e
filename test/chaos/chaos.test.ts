/**
 * Chaos: several CLI workers on one run, killed with SIGKILL (and now and then interrupted with
 * SIGINT) at random moments, while a seeded TCP proxy resets, stalls and slows their database
 * connections. Round 1 creates a fresh fleet (schemas, tables, backfilled names); later rounds add
 * a migration each, until the kill and fault budgets are spent. Each round's run must end
 * succeeded; then a final `up` on a calm connection must be a no-op, and the database must show:
 * every tenant at target, exactly one meta row per migration, no half-created schema, and every
 * ledger row that says "succeeded" backed by its meta table.
 *
 * Scale: small by default (CI); `npm run test:chaos` (TM_CHAOS=full) runs 500 tenants, 20 kills
 * and 100 faults. TM_CHAOS_SEED reproduces a schedule. Figures are printed at the end; tests
 * never assert timings.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createMigrator } from '../../src/index.js';
import { parseMssqlUrl } from '../../src/dialect/mssql/mssql-url.js';
import { runCli, runnableTargets, useProjectFixture, reportSkipped } from '../integration/harness.js';
import { dialectSql, withDatabase } from '../integration/sql-helpers.js';
import { type FaultProxy, seededRandom, startFaultProxy } from '../support/fault-proxy.js';

const FULL = process.env.TM_CHAOS === 'full';
const num = (name: string, small: number, full: number) => Number(process.env[name] ?? (FULL ? full : small));
const TENANTS = num('TM_CHAOS_TENANTS', 120, 500);
const KILLS = num('TM_CHAOS_KILLS', 6, 20);
const FAULTS = num('TM_CHAOS_FAULTS', 30, 100);
const WORKERS = num('TM_CHAOS_WORKERS', 3, 3);
const SEED = Number(process.env.TM_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

const BASE_TENANT_IDS = ['0001_create_workspace_tables', '0002_copy_workspace_external_links'];

/** Several processes on one database: server dialects only (PGlite admits one process per directory). */
const servers = runnableTargets.filter((t) => t.name !== 'pglite');
if (servers.length === 0) reportSkipped('postgres', 'chaos (needs a database server)');

/** host/port of a database URL and the same URL pointed at the proxy instead. */
function proxied(url: string): { host: string; port: number; via(port: number): string } {
  if (/^postgres(ql)?:/i.test(url)) {
    const u = new URL(url);
    return {
      host: u.hostname,
      port: Number(u.port || 5432),
      via: (port) => {
        const v = new URL(url);
        v.hostname = '127.0.0.1';
        v.port = String(port);
        return v.toString();
      },
    };
  }
  const s = parseMssqlUrl(url);
  return { host: s.server, port: s.port ?? 1433, via: (port) => url.replace(/((?:^|;)\s*(?:server|data source)\s*=)[^;]*/i, `$1127.0.0.1,${port}`) };
}

interface Worker {
  readonly child: ChildProcess;
  readonly started: number;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  signalled?: NodeJS.Signals;
}

describe.each(servers)('chaos on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4, lockTimeoutMs: 4_000 });
  const { master, table, sleep } = dialectSql(target.name, target.engine);

  it(`${TENANTS} tenants, ${KILLS} kills, ${FAULTS} connection faults, ${WORKERS} workers per run → every tenant at target, ledger agrees`, async () => {
    const began = Date.now();
    const random = seededRandom(SEED);
    const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
    const q = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => withDatabase(fx.db.url, (h) => h.query<R>(sql, params));

    // Legacy layout + TENANTS registry rows without a schema: round 1 builds a fresh fleet.
    const seedMigrator = await createMigrator({ url: fx.db.url, rootDir: fx.project.root });
    try {
      await seedMigrator.up({ masterTo: '0001_initial_layout' });
    } finally {
      await seedMigrator.close();
    }
    await withDatabase(fx.db.url, async (h) => {
      for (let i = 0; i < TENANTS; i++) {
        const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
        const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
        await h.insertWorkspace({ workspaceId: id, name: `chaos ${i + 1}` });
      }
    });

    const db = proxied(fx.db.url);
    const proxy: FaultProxy = await startFaultProxy({ targetHost: db.host, targetPort: db.port, seed: SEED, stallMs: [200, 1500] });
    const viaProxy = db.via(proxy.port);
    const figures = { sigkill: 0, sigint: 0, exits: new Map<string, number>(), retries: 0, ledgerRetries: 0, handbacks: 0, rounds: 0, workersStarted: 0 };
    const tally = (key: string) => figures.exits.set(key, (figures.exits.get(key) ?? 0) + 1);
    let kills = 0;
    /** Unexpected worker exits, asserted at the end (a failed expect in a detached promise would be lost). */
    const problems: string[] = [];
    const tenantIds = [...BASE_TENANT_IDS];

    const spawnWorker = (): Worker => {
      let child!: ChildProcess;
      figures.workersStarted++;
      const done = runCli(['up', '--json', '--events', '--url', viaProxy, '--lease-ms', '2000'], { cwd: fx.project.root, onSpawn: (c) => (child = c) }).then(
        (r) => ({ code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr }),
      );
      return { child, started: Date.now(), done };
    };

    const runStatus = async (migrationTarget: string) => {
      const rows = await q<{ status: string }>(`SELECT status FROM ${master('__tm_runs')} WHERE target = $1 ORDER BY started_utc DESC`, [migrationTarget]).catch(() => []);
      return rows[0]?.status;
    };

    try {
      for (let round = 1; round === 1 || ((kills < KILLS || proxy.faults.length < FAULTS) && round <= 30); round++) {
        figures.rounds = round;
        if (round > 1) {
          const id = `${String(round + 1).padStart(4, '0')}_chaos_round_${round}`;
          fx.project.write(
            `tenant-migrations/${id}.sql.hbs`,
            `ALTER TABLE {{schema}}.automation_jobs ADD chaos_${round} {{int}} NULL;\n${sleep(15)};\nCREATE INDEX ix_jobs_chaos_${round} ON {{schema}}.automation_jobs (chaos_${round});\n`,
          );
          tenantIds.push(id);
        }
        const migrationTarget = tenantIds[tenantIds.length - 1]!;
        const live = new Set<Worker>();
        const finish = async (w: Worker) => {
          const r = await w.done;
          live.delete(w);
          figures.retries += r.stderr.split('\n').filter((l) => l.includes('"type":"tenant:retry"')).length;
          figures.ledgerRetries += r.stderr.split('\n').filter((l) => l.includes('"type":"ledger:retry"')).length;
          figures.handbacks += r.stderr.split('\n').filter((l) => l.includes('"type":"tenant:handed-back"')).length;
          // A worker can finish just before a signal lands (0/1); faults can exhaust a tenant's
          // retries (exit 1); SIGINT must end in 130 (interrupted); anything else is a defect.
          // A SIGINT that lands before the CLI has installed its handler (during start-up, nothing
          // begun) ends the process the default way: a shell sees 130 for that too.
          const allowed = w.signalled === 'SIGKILL' ? [null, 0, 1] : w.signalled === 'SIGINT' ? [130, 0, 1] : [0, 1];
          const interruptedEarly = w.signalled === 'SIGINT' && r.signal === 'SIGINT';
          // Exit 3 is a clean refusal: the master lock stayed with another worker past lockTimeoutMs
          // (a stalled connection, a slow engine), nothing begun; the run goes on without this worker.
          const lockRefusal = r.code === 3 && errorCodeOf(r.stdout) === 'LOCK_TIMEOUT';
          if (!allowed.includes(r.code) && !interruptedEarly && !lockRefusal) problems.push(`worker ${w.signalled ?? 'unsignalled'} exited ${r.code ?? r.signal}: ${r.stderr.slice(-1500)}`);
          let kind = '';
          if (r.code === 1 && !w.signalled) {
            // Why: tenants that failed after their retries, or an error that stopped the worker
            // (a fault during planning, before the fan-out retries anything) — both resumable.
            try {
              const report = JSON.parse(r.stdout) as { error?: { code?: string }; failed?: unknown[] };
              kind = report.error ? ` (${report.error.code})` : ` (${report.failed?.length ?? 0} tenant(s) failed)`;
            } catch {
              problems.push(`worker exited 1 without a JSON report: ${r.stderr.slice(-1500)}`);
            }
          }
          tally(w.signalled === 'SIGKILL' ? (r.signal ?? `exit ${r.code}`) : `exit ${r.code}${w.signalled ? ' (SIGINT)' : kind}`);
        };
        const start = () => {
          const w = spawnWorker();
          live.add(w);
          void finish(w);
        };
        for (let i = 0; i < WORKERS; i++) start();

        // Disturb the run until it is done: kills and faults at seeded random moments.
        for (;;) {
          await new Promise((r) => setTimeout(r, between(100, 600)));
          if (proxy.faults.length < FAULTS) proxy.inject();
          const candidates = [...live].filter((w) => !w.signalled && Date.now() - w.started > 400);
          if (kills < KILLS && candidates.length > 0 && random() < 0.35) {
            const victim = candidates[Math.floor(random() * candidates.length)]!;
            victim.signalled = kills % 5 === 4 ? 'SIGINT' : 'SIGKILL';
            victim.child.kill(victim.signalled);
            kills++;
            if (victim.signalled === 'SIGKILL') figures.sigkill++;
            else figures.sigint++;
            start();
          }
          if (live.size === 0) {
            if ((await runStatus(migrationTarget)) === 'succeeded') break;
            start(); // the run failed or was interrupted: a new worker resumes it
          }
        }
      }
    } finally {
      proxy.calm();
      await proxy.stop();
    }

    expect(problems).toEqual([]);

    // A final up on a calm, direct connection: nothing left to do.
    const final = await runCli(['up', '--json'], { cwd: fx.project.root });
    expect(final.code, final.stderr).toBe(0);
    expect(JSON.parse(final.stdout)).toMatchObject({ ok: true, opening: null });

    // Every registry row has its schema, every schema is complete, one meta row per migration.
    const registry = await q<{ db_schema_name: string | null }>(`SELECT db_schema_name FROM ${master('Workspace')}`);
    expect(registry).toHaveLength(TENANTS);
    expect(registry.every((r) => r.db_schema_name)).toBe(true);
    const schemas = await withDatabase(fx.db.url, (h) => h.tenantSchemas());
    expect(schemas.sort()).toEqual(registry.map((r) => r.db_schema_name!).sort());
    const expectedIds = [...tenantIds].sort();
    const metaRows = await q<{ schema_name: string; id: string }>(
      schemas.map((s) => `SELECT '${s}' AS schema_name, id FROM ${table(s, '__schema_migrations')}`).join(' UNION ALL '),
    );
    const bySchema = new Map<string, string[]>();
    for (const r of metaRows) bySchema.set(r.schema_name, [...(bySchema.get(r.schema_name) ?? []), r.id]);
    for (const s of schemas) expect(bySchema.get(s)?.sort(), s).toEqual(expectedIds);
    const tables = await q<{ table_schema: string; n: number | string }>(
      `SELECT table_schema, COUNT(*) AS n FROM information_schema.tables WHERE table_schema LIKE 'ws!_%' ESCAPE '!' GROUP BY table_schema`,
    );
    // five workspace tables + the meta table in every schema
    expect(tables.filter((t) => Number(t.n) !== 6)).toEqual([]);

    // The ledger agrees with the meta tables: every run finished succeeded, and every row that
    // says succeeded lists only migrations its schema really has.
    const runs = await q<{ run_id: string; status: string }>(`SELECT run_id, status FROM ${master('__tm_runs')}`);
    expect(runs.length).toBeGreaterThanOrEqual(figures.rounds);
    expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
    const ledger = await q<{ run_id: string; schema_name: string; status: string; applied: string | null }>(
      `SELECT run_id, schema_name, status, applied FROM ${master('__tm_run_tenants')}`,
    );
    expect(ledger.filter((r) => r.status !== 'succeeded')).toEqual([]);
    for (const row of ledger) {
      const applied: string[] = row.applied ? JSON.parse(row.applied) : [];
      for (const id of applied) expect(bySchema.get(row.schema_name), `${row.run_id} ${row.schema_name} ${id}`).toContain(id);
    }

    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    process.stdout.write(
      `[chaos ${target.name}] seed ${SEED}: ${TENANTS} tenants, ${figures.rounds} rounds (${tenantIds.length} tenant migrations), ` +
        `${figures.workersStarted} workers started, kills ${figures.sigkill} SIGKILL + ${figures.sigint} SIGINT, ` +
        `faults ${JSON.stringify(proxy.tally())} over ${proxy.connections} proxied connections, tenant retries ${figures.retries}, ledger retries ${figures.ledgerRetries}, hand-backs ${figures.handbacks}, ` +
        `worker exits ${JSON.stringify(Object.fromEntries(figures.exits))}, ${seconds} s\n`,
    );
  });
});

/** The error code of a CLI JSON report on stdout, if it is one. */
function errorCodeOf(stdout: string): string | undefined {
  try {
    return (JSON.parse(stdout) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}
