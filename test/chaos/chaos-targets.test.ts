/**
 * Chaos over a fleet of several databases (docs/fleet.md, "Fleets beyond one database"): the master
 * database (registry, ledger) and two target databases t1/t2, every connection — the master's and
 * each target's — through one seeded fault proxy that resets, stalls and slows them, while several
 * CLI workers on one run are killed with SIGKILL (now and then SIGINT) at random moments. Round 1
 * migrates the freshly registered tenants of all three databases; later rounds add a migration
 * each, until the kill and fault budgets are spent. Each round's run must end succeeded; then a
 * final `up` on calm, direct connections must be a no-op, and every database must show: every
 * tenant of its placement at target, exactly one meta row per migration, no tenant schema in a
 * database it is not placed on, and every ledger row that says "succeeded" backed by its meta table.
 *
 * PostgreSQL only (the multi-database fleet of test/integration/target-fleet.ts). Small by default
 * (CI); `npm run test:chaos` (TM_CHAOS=full) runs more. TM_CHAOS_SEED reproduces a schedule.
 * Figures are printed at the end; tests never assert timings.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { guid, reportSkipped, runCli, runnableTargets } from '../integration/harness.js';
import { MASTER, type TargetFleet, createTargetFleet, query, schemaOf, writeTargetConfig } from '../integration/target-fleet.js';
import { type FaultProxy, seededRandom, startFaultProxy } from '../support/fault-proxy.js';

const FULL = process.env.TM_CHAOS === 'full';
const num = (name: string, small: number, full: number) => Number(process.env[name] ?? (FULL ? full : small));
/** Extra tenants per database on top of the fleet's 2 + 3 + 3. */
const EXTRA_PER_DB = num('TM_CHAOS_TARGET_TENANTS', 8, 60);
const KILLS = num('TM_CHAOS_KILLS', 4, 15);
const FAULTS = num('TM_CHAOS_FAULTS', 20, 80);
const WORKERS = num('TM_CHAOS_WORKERS', 3, 3);
const SEED = Number(process.env.TM_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

const postgres = runnableTargets.find((t) => t.name === 'postgres');
if (!postgres) reportSkipped('postgres', 'chaos over target databases (needs the PostgreSQL server)');

/** The URL with its host and port replaced by the proxy's. */
function via(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

interface Worker {
  readonly child: ChildProcess;
  readonly started: number;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  signalled?: NodeJS.Signals;
}

describe.runIf(postgres !== undefined)('chaos over target databases on PostgreSQL', () => {
  it(`master + 2 targets, ${EXTRA_PER_DB} extra tenants per database, ${KILLS} kills, ${FAULTS} connection faults, ${WORKERS} workers per run → every tenant at target in its own database, ledger agrees`, async () => {
    const began = Date.now();
    const random = seededRandom(SEED);
    const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
    const fleet: TargetFleet = await createTargetFleet(postgres!);
    const urlOf = (target: string | null) => (target === 't1' ? fleet.t1.url : target === 't2' ? fleet.t2.url : fleet.master.url);
    let proxy: FaultProxy | undefined;
    try {
      // More tenants, spread over the three databases (the fleet placed 2 + 3 + 3 already).
      for (const target of [null, 't1', 't2']) {
        for (let i = 0; i < EXTRA_PER_DB; i++) {
          const id = guid();
          fleet.placement.set(id, target);
          await query(fleet.master.url, `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, status, db_target) VALUES ($1, $2, 'Active', $3)`, [id, `chaos ${id}`, target]);
        }
      }
      const server = new URL(fleet.master.url);
      proxy = await startFaultProxy({ targetHost: server.hostname, targetPort: Number(server.port || 5432), seed: SEED, stallMs: [200, 1500] });
      const port = proxy.port;
      // Workers reach the master and both targets through the proxy.
      writeTargetConfig(fleet, { t1: via(fleet.t1.url, port), t2: via(fleet.t2.url, port) }, { concurrency: 4, lockTimeoutMs: 4_000 });
      const masterViaProxy = via(fleet.master.url, port);

      const figures = { sigkill: 0, sigint: 0, exits: new Map<string, number>(), retries: 0, rounds: 0, workersStarted: 0 };
      const tally = (key: string) => figures.exits.set(key, (figures.exits.get(key) ?? 0) + 1);
      const problems: string[] = [];
      let kills = 0;
      const tenantIds = ['0001_create_notes'];

      const spawnWorker = (): Worker => {
        let child!: ChildProcess;
        figures.workersStarted++;
        const done = runCli(['up', '--json', '--events', '--url', masterViaProxy, '--lease-ms', '2000'], { cwd: fleet.project.root, onSpawn: (c) => (child = c) });
        return { child, started: Date.now(), done };
      };
      const runStatus = async (migrationTarget: string) => {
        const rows = await query<{ status: string }>(fleet.master.url, `SELECT status FROM ${MASTER}.__tm_runs WHERE target = $1 ORDER BY started_utc DESC`, [migrationTarget]).catch(() => []);
        return rows[0]?.status;
      };

      for (let round = 1; round === 1 || ((kills < KILLS || proxy.faults.length < FAULTS) && round <= 20); round++) {
        figures.rounds = round;
        if (round > 1) {
          const id = `${String(round).padStart(4, '0')}_chaos_round_${round}`;
          fleet.project.write(`tenant-migrations/${id}.sql.hbs`, `ALTER TABLE {{table "notes"}} ADD chaos_${round} {{int}} NULL;\nSELECT pg_sleep(0.015);\nCREATE INDEX ix_notes_chaos_${round} ON {{table "notes"}} (chaos_${round});\n`);
          tenantIds.push(id);
        }
        const migrationTarget = tenantIds.at(-1)!;
        const live = new Set<Worker>();
        const finish = async (w: Worker) => {
          const r = await w.done;
          live.delete(w);
          figures.retries += r.stderr.split('\n').filter((l) => l.includes('"type":"tenant:retry"')).length;
          const allowed = w.signalled === 'SIGKILL' ? [null, 0, 1] : w.signalled === 'SIGINT' ? [130, 0, 1] : [0, 1];
          const interruptedEarly = w.signalled === 'SIGINT' && r.signal === 'SIGINT';
          if (!allowed.includes(r.code) && !interruptedEarly) problems.push(`worker ${w.signalled ?? 'unsignalled'} exited ${r.code ?? r.signal}: ${r.stderr.slice(-1500)}`);
          if (r.code === 1 && !w.signalled) {
            try {
              JSON.parse(r.stdout);
            } catch {
              problems.push(`worker exited 1 without a JSON report: ${r.stderr.slice(-1500)}`);
            }
          }
          tally(w.signalled === 'SIGKILL' ? (r.signal ?? `exit ${r.code}`) : `exit ${r.code}${w.signalled ? ' (SIGINT)' : ''}`);
        };
        const start = () => {
          const w = spawnWorker();
          live.add(w);
          void finish(w);
        };
        for (let i = 0; i < WORKERS; i++) start();
        for (;;) {
          await new Promise((r) => setTimeout(r, between(100, 600)));
          if (proxy.faults.length < FAULTS) proxy.inject();
          const candidates = [...live].filter((w) => !w.signalled && Date.now() - w.started > 400);
          if (kills < KILLS && candidates.length > 0 && random() < 0.35) {
            const victim = candidates[Math.floor(random() * candidates.length)]!;
            victim.signalled = kills % 4 === 3 ? 'SIGINT' : 'SIGKILL';
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
      proxy.calm();
      expect(problems).toEqual([]);

      // A final up on calm, direct connections: nothing left to do.
      writeTargetConfig(fleet, { t1: fleet.t1.url, t2: fleet.t2.url });
      const final = await runCli(['up', '--json'], { cwd: fleet.project.root });
      expect(final.code, final.stderr).toBe(0);
      expect(JSON.parse(final.stdout)).toMatchObject({ ok: true, opening: null });

      // Each database holds exactly the schemas placed on it, each complete, one meta row per migration.
      const expectedIds = [...tenantIds].sort();
      const bySchema = new Map<string, string[]>();
      for (const target of [null, 't1', 't2']) {
        const url = urlOf(target);
        const placed = [...fleet.placement].filter(([, t]) => t === target).map(([id]) => schemaOf(id)).sort();
        const present = (await query<{ s: string }>(url, "SELECT schema_name AS s FROM information_schema.schemata WHERE schema_name LIKE 'ws\\_%' ORDER BY 1")).map((r) => r.s);
        expect(present, `tenant schemas in ${target ?? '(master)'}`).toEqual(placed);
        for (const s of placed) {
          const ids = (await query<{ id: string }>(url, `SELECT id FROM "${s}".__schema_migrations ORDER BY id`)).map((r) => r.id);
          expect(ids, `${target ?? '(master)'} ${s}`).toEqual(expectedIds);
          bySchema.set(s, ids);
        }
      }
      // The ledger agrees: every run succeeded, every row succeeded, every applied id is in its meta table.
      const runs = await query<{ run_id: string; status: string }>(fleet.master.url, `SELECT run_id, status FROM ${MASTER}.__tm_runs`);
      expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
      const ledger = await query<{ run_id: string; schema_name: string; status: string; applied: string | null }>(
        fleet.master.url,
        `SELECT run_id, schema_name, status, applied FROM ${MASTER}.__tm_run_tenants`,
      );
      expect(ledger.filter((r) => r.status !== 'succeeded')).toEqual([]);
      for (const row of ledger) {
        for (const id of row.applied ? (JSON.parse(row.applied) as string[]) : []) expect(bySchema.get(row.schema_name), `${row.run_id} ${row.schema_name} ${id}`).toContain(id);
      }
      process.stdout.write(
        `[chaos targets] seed ${SEED}: ${fleet.placement.size} tenants over 3 databases, ${figures.rounds} rounds (${tenantIds.length} tenant migrations), ` +
          `${figures.workersStarted} workers started, kills ${figures.sigkill} SIGKILL + ${figures.sigint} SIGINT, faults ${JSON.stringify(proxy.tally())} ` +
          `over ${proxy.connections} proxied connections, tenant retries ${figures.retries}, worker exits ${JSON.stringify(Object.fromEntries(figures.exits))}, ` +
          `${((Date.now() - began) / 1000).toFixed(1)} s\n`,
      );
    } finally {
      if (proxy) {
        proxy.calm();
        await proxy.stop();
      }
      await Promise.all([fleet.master, fleet.t1, fleet.t2].map((d) => d.drop()));
      fleet.project.remove();
    }
  });
});
