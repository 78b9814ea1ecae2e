/**
 * Fleet runner under faults, each test written to fail on the defect it guards:
 * 1. a ledger write that fails once must not poison the later ones (outcomes never lost);
 * 2. `up({ concurrency })` above the configured pool grows the pool instead of starving tasks;
 * 3. a worker that outlives its lease still finishes its tenant, and the worker that took the
 *    lease over hands the locked tenant back instead of recording a failure;
 * 4. a run whose workers all died is resumed (its failed tenants requeued), not joined.
 * The database is always real; faults are injected around it (a ledger call that throws once,
 * SIGSTOP/SIGCONT, kill -9). Tests never assert timings.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Dialect } from '../../src/dialect/dialect.js';
import type { MigratorEvent } from '../../src/events.js';
import { runCli, runnableTargets, useProjectFixture } from './harness.js';
import { patchedMigrator } from './patched-migrator.js';
import { dialectSql, withDatabase } from './sql-helpers.js';

const servers = runnableTargets.filter((t) => t.name !== 'pglite');
const TENANT_IDS = ['0001_create_workspace_tables', '0002_copy_workspace_external_links', '0003_add_job_priority'];
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(runnableTargets)('fleet faults on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 2, lockTimeoutMs: 10_000 });
  const { master, table, sleep } = dialectSql(target.name, target.engine);
  const cli = (...args: string[]) => runCli(args, { cwd: fx.project.root });

  async function seeded(n: number, migrationSleepMs = 0) {
    const demo = await cli('demo', '--workspaces', String(n), '--json');
    expect(demo.code, demo.stderr).toBe(0);
    fx.project.write(
      'tenant-migrations/0003_add_job_priority.sql.hbs',
      `ALTER TABLE {{schema}}.automation_jobs ADD priority {{int}} NOT NULL DEFAULT 0;\n${migrationSleepMs ? `${sleep(migrationSleepMs)};\n` : ''}`,
    );
  }

  /** A migrator over a real dialect whose ledger store is wrapped by `patch` (fault injection). */
  async function migratorWith(patch: (dialect: Dialect) => void, config: Record<string, unknown> = {}) {
    return patchedMigrator(fx.db.url, fx.project.root, patch, { concurrency: 2, lockTimeoutMs: 10_000, ...config });
  }

  /** An error the dialect classifies as transient: a deadlock (PostgreSQL 40P01, SQL Server 1205). */
  const deadlock = () =>
    Object.assign(new Error('injected: deadlock detected while recording outcomes'), target.name === 'mssql' ? { number: 1205, code: 'EREQUEST' } : { code: '40P01' });

  async function ledgerRows(runId: string) {
    return withDatabase(fx.db.url, (h) =>
      h.query<{ schema_name: string; status: string }>(`SELECT schema_name, status FROM ${master('__tm_run_tenants')} WHERE run_id = $1`, [runId]),
    );
  }

  async function expectAllAtTarget() {
    const schemas = await withDatabase(fx.db.url, (h) => h.tenantSchemas());
    expect(schemas.length).toBeGreaterThan(0);
    for (const s of schemas) {
      const meta = await withDatabase(fx.db.url, (h) => h.query<{ id: string }>(`SELECT id FROM ${table(s, '__schema_migrations')} ORDER BY id`));
      expect(meta.map((m) => m.id), s).toEqual(TENANT_IDS);
    }
  }

  it('a ledger outcome write that fails once (transient, then permanent) loses no outcome and does not stop the worker', async () => {
    await seeded(8);
    let calls = 0;
    const events: MigratorEvent[] = [];
    const m = await migratorWith((dialect) => {
      const real = dialect.ledger.completeTenants.bind(dialect.ledger);
      dialect.ledger.completeTenants = async (...args) => {
        calls++;
        if (calls === 1) throw deadlock(); // retried inside the same flush
        if (calls === 3) throw new Error('injected: permanent failure of one outcome write'); // kept for the next flush
        return real(...args);
      };
    });
    m.on((e) => events.push(e));
    try {
      const result = await m.up();
      expect(result.tenants).toMatchObject({ failed: 0, succeeded: 8 });
      expect(result.run).toMatchObject({ total: 8, succeeded: 8, failed: 0, pending: 0, running: 0 });
      const rows = await ledgerRows(result.runId);
      expect(rows.filter((r) => r.status !== 'succeeded')).toEqual([]);
      expect(events.some((e) => e.type === 'ledger:retry' && e.operation === 'completeTenants')).toBe(true);
      expect(calls).toBeGreaterThanOrEqual(4);
    } finally {
      await m.close();
    }
    await expectAllAtTarget();
  });

  it.runIf(target.name === 'postgres')('up({ concurrency }) above the configured concurrency grows the pool: every task gets a connection (PostgreSQL: counted in pg_stat_activity)', async () => {
    await seeded(12, 400);
    const m = await migratorWith(() => undefined, { concurrency: 1 });
    const watcher = new pg.Client({ connectionString: fx.db.url });
    await watcher.connect();
    let peak = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const { rows } = await watcher.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tenant-migrate' AND state = 'active' AND query ILIKE '%pg_sleep%'",
        );
        peak = Math.max(peak, rows[0]!.n);
        await sleepMs(50);
      }
    })();
    try {
      const result = await m.up({ concurrency: 6, leaseMs: 3_000 });
      expect(result.tenants).toMatchObject({ failed: 0, succeeded: 12 });
      // The configured pool had 2 connections (concurrency 1 + 1); six tasks ran at once.
      expect(peak).toBeGreaterThanOrEqual(4);
    } finally {
      watching = false;
      await watch;
      await watcher.end();
      await m.close();
    }
  });

  it.runIf(servers.includes(target))(
    'a worker frozen past its lease (SIGSTOP) still finishes its tenant; the worker that took it over hands it back; the run ends succeeded, both exit 0',
    async () => {
      await seeded(3, 4_000);
      fx.project.write('tenant-migrate.config.json', JSON.stringify({ url: fx.db.url, concurrency: 1, lockTimeoutMs: 1_500 }));
      let a!: ChildProcess;
      const first = runCli(['up', '--json', '--lease-ms', '1000'], { cwd: fx.project.root, onSpawn: (c) => (a = c) });
      // Wait until A works on a tenant (its migration sleeps 4 s), then freeze it past its lease.
      const running = async () =>
        withDatabase(fx.db.url, (h) => h.count(master('__tm_run_tenants'), "status = 'running'")).catch(() => 0);
      for (let i = 0; i < 400 && (await running()) === 0; i++) await sleepMs(25);
      await sleepMs(1_200); // claimed → locked → inside the 4 s migration (no timing is asserted)
      a.kill('SIGSTOP');
      await sleepMs(1_600); // A's lease (1 s) and heartbeat lapse; its transaction and lock stay open
      let events = '';
      const second = runCli(['up', '--json', '--events', '--lease-ms', '1000'], {
        cwd: fx.project.root,
        onSpawn: (c) => c.stderr!.on('data', (d: Buffer) => (events += d.toString())),
      });
      // B claims A's tenant, waits on its lock and hands it back: wake A then (however long B took to
      // start). Babelfish was seen not to claim that row while A slept (below): wake A after 20 s there.
      for (let i = 0; i < 400 && !events.includes('"type":"tenant:handed-back"'); i++) await sleepMs(50);
      a.kill('SIGCONT');
      const [ra, rb] = await Promise.all([first, second]);
      expect(ra.code, `${ra.stdout}\n${ra.stderr}`).toBe(0);
      expect(rb.code, `${rb.stdout}\n${rb.stderr}`).toBe(0);
      const reportB = JSON.parse(rb.stdout);
      expect(reportB.run).toMatchObject({ failed: 0, pending: 0, running: 0 });
      // PostgreSQL: the second worker claims the frozen worker's tenant and meets its lock. On
      // Babelfish it was seen not to claim that row before the first one woke up (not explained yet:
      // docs/sql-server.md); what must hold everywhere — no false failure, both exit 0 — is above.
      if (target.engine !== 'babelfish') expect(rb.stderr).toContain('"type":"tenant:handed-back"');
      const runs = await withDatabase(fx.db.url, (h) => h.query<{ status: string }>(`SELECT status FROM ${master('__tm_runs')} WHERE target = '0003_add_job_priority'`));
      expect(runs.map((r) => r.status)).toEqual(['succeeded']);
      const rows = await ledgerRows(reportB.runId);
      expect(rows.filter((r) => r.status !== 'succeeded')).toEqual([]);
      await expectAllAtTarget();
    },
  );

  it.runIf(servers.includes(target))('a run whose only worker was killed (kill -9) is resumed, not joined: its failed tenant is retried', async () => {
    await seeded(6, 300);
    const order = await withDatabase(fx.db.url, (h) =>
      h.query<{ db_schema_name: string }>(`SELECT db_schema_name FROM ${master('Workspace')} ORDER BY ${dialectSql(target.name, target.engine).uuidOrder('workspace_id')}`),
    );
    const victim = order[0]!.db_schema_name;
    await withDatabase(fx.db.url, (h) => h.exec(`ALTER TABLE ${table(victim, 'automation_jobs')} ADD priority ${h.types.text}`));
    let child!: ChildProcess;
    const first = runCli(['up', '--lease-ms', '1000', '--concurrency', '1'], { cwd: fx.project.root, onSpawn: (c) => (child = c) });
    const failedRows = () => withDatabase(fx.db.url, (h) => h.count(master('__tm_run_tenants'), "status = 'failed'")).catch(() => 0);
    for (let i = 0; i < 400 && (await failedRows()) === 0; i++) await sleepMs(25);
    child.kill('SIGKILL');
    expect((await first).signal).toBe('SIGKILL');
    await withDatabase(fx.db.url, (h) => h.exec(`ALTER TABLE ${table(victim, 'automation_jobs')} DROP COLUMN priority`));
    await sleepMs(2_200); // longer than the lease: the dead worker's heartbeat is stale
    const rerun = await cli('up', '--json', '--lease-ms', '1000');
    expect(rerun.code, `${rerun.stdout}\n${rerun.stderr}`).toBe(0);
    const report = JSON.parse(rerun.stdout);
    expect(report).toMatchObject({ ok: true, opening: 'resumed', run: { failed: 0, pending: 0, running: 0 } });
    const rows = await ledgerRows(report.runId);
    expect(rows.find((r) => r.schema_name === victim)?.status).toBe('succeeded');
    await expectAllAtTarget();
  });
});
