/**
 * Fleet reliability with real processes: kill -9 and re-run, two concurrent `up`, a sabotaged
 * tenant, a backend killed mid-run, canary waves, shards, status --run. Tests never assert timings.
 * The tests' own SQL goes through ./sql-helpers.ts, so they run on SQL Server as well.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { runCli, runnableTargets, useProjectFixture } from './harness.js';
import { type SqlHelpers, dialectSql, withDatabase } from './sql-helpers.js';

/**
 * Several CLI processes against one database: server dialects only. PGlite admits one process
 * per data directory, so concurrent workers and a killed-and-rerun worker are not possible there.
 */
const servers = runnableTargets.filter((t) => t.name !== 'pglite');
const TENANT_IDS = ['0001_create_workspace_tables', '0002_copy_workspace_external_links'];

describe.each(runnableTargets)('fleet on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4, lockTimeoutMs: 20_000 });

  const cli = (...args: string[]) => runCli(args, { cwd: fx.project.root });
  const { master, table, types, uuidOrder } = dialectSql(target.name, target.engine);

  /** Seed N legacy workspaces (demo), then add one tenant migration so there is work to do. */
  async function seeded(n: number) {
    const demo = await cli('demo', '--workspaces', String(n), '--json');
    expect(demo.code, demo.stderr).toBe(0);
    fx.project.write('tenant-migrations/0003_add_job_priority.sql.hbs', 'ALTER TABLE {{schema}}.automation_jobs ADD priority {{int}} NOT NULL DEFAULT 0;\n');
  }

  it('up --json reports the run; status --run shows it; a no-op up opens no run', async () => {
    await seeded(6);
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    const report = JSON.parse(up.stdout);
    expect(report).toMatchObject({ ok: true, opening: 'new', run: { total: 6, succeeded: 6, failed: 0, pending: 0 } });
    const st = await cli('status', '--run', report.runId, '--json');
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ run: { runId: report.runId, status: 'succeeded' }, counts: { succeeded: 6 } });
    const again = await cli('up', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, opening: null, tenants: { upToDate: 6 } });
  });

  it('a sabotaged tenant fails alone (exit 1), its error is in the ledger and the report, and a re-run resumes the run', async () => {
    await seeded(5);
    const schemas = await listSchemas();
    const victim = schemas[2]!;
    await exec(`ALTER TABLE ${table(victim, 'automation_jobs')} ADD priority ${types.text}`);
    const up = await cli('up', '--json', '--events');
    expect(up.code, up.stderr).toBe(1);
    const report = JSON.parse(up.stdout);
    expect(report.tenants).toMatchObject({ failed: 1, succeeded: 4 });
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({ schema: victim, error: { migrationId: '0003_add_job_priority', statementIndex: 0, file: 'tenant-migrations/0003_add_job_priority.sql.hbs' } });
    // --events: JSON lines on stderr.
    const events = up.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === 'run:opened')).toBe(true);
    expect(events.filter((e) => e.type === 'tenant:done')).toHaveLength(5);

    const ledger = await rows<{ status: string; error: string | null }>(
      `SELECT status, error FROM ${master('__tm_run_tenants')} WHERE run_id = $1 AND schema_name = $2`,
      [report.runId, victim],
    );
    expect(ledger[0]!.status).toBe('failed');
    expect(JSON.parse(ledger[0]!.error!)).toMatchObject({ migrationId: '0003_add_job_priority', statementIndex: 0, code: 'MIGRATION_FAILED' });

    // Fix the tenant by hand; the next up resumes the failed run and says so.
    await exec(`ALTER TABLE ${table(victim, 'automation_jobs')} DROP COLUMN priority`);
    const resumed = await cli('up');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming run ${report.runId}`);
    expect(resumed.stdout).toContain(`resumed run ${report.runId}`);
    await expectAllAtTarget();
  });

  it('--waves stops after a failed canary wave; --max-failures stops taking tenants', async () => {
    await seeded(6);
    const schemas = await listSchemas();
    // Order by registry (workspace_id); sabotage the first tenant of that order.
    const order = await rows<{ db_schema_name: string }>(`SELECT db_schema_name FROM ${master('Workspace')} ORDER BY ${uuidOrder('workspace_id')}`);
    const first = order[0]!.db_schema_name;
    expect(schemas).toContain(first);
    await exec(`ALTER TABLE ${table(first, 'automation_jobs')} ADD priority ${types.text}`);
    const waves = await cli('up', '--json', '--waves', '1,50%,100%');
    expect(waves.code).toBe(1);
    const report = JSON.parse(waves.stdout);
    expect(report).toMatchObject({ stopped: 'wave-failed', run: { failed: 1, pending: 5 } });
    const untouched = await onDb((h) => h.count(master('__tm_run_tenants'), "run_id = $1 AND status = 'pending'", [report.runId]));
    expect(untouched).toBe(5);
  });

  /** The database is opened per call only: the CLI (a child process) needs PGlite's directory in between. */
  const onDb = <T>(fn: (sql: SqlHelpers) => Promise<T>) => withDatabase(fx.db.url, fn);
  const rows = <R>(sql: string, params: unknown[] = []) => onDb((h) => h.query<R>(sql, params));
  const exec = (sql: string) => onDb((h) => h.exec(sql));
  const listSchemas = () => onDb((h) => h.tenantSchemas());

  async function expectAllAtTarget() {
    const schemas = await listSchemas();
    expect(schemas.length).toBeGreaterThan(0);
    for (const s of schemas) {
      const meta = await rows<{ id: string }>(`SELECT id FROM ${table(s, '__schema_migrations')} ORDER BY id`);
      expect(meta.map((m) => m.id)).toEqual([...TENANT_IDS, '0003_add_job_priority']);
    }
  }
});

describe.each(servers)('fleet processes on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4, lockTimeoutMs: 30_000 });

  const cli = (args: string[], onSpawn?: Parameters<typeof runCli>[1]['onSpawn']) =>
    runCli(args, { cwd: fx.project.root, ...(onSpawn ? { onSpawn } : {}) });

  const { master, table, sleep } = dialectSql(target.name, target.engine);
  const q = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => withDatabase(fx.db.url, (h) => h.query<R>(sql, params));

  /** demo with N workspaces, then a slow-ish migration (pg_sleep / WAITFOR DELAY) so a run lasts long enough to disturb. */
  async function seeded(n: number, sleepMs = 30) {
    const demo = await cli(['demo', '--workspaces', String(n), '--json']);
    expect(demo.code, demo.stderr).toBe(0);
    fx.project.write(
      'tenant-migrations/0003_add_job_priority.sql.hbs',
      `ALTER TABLE {{schema}}.automation_jobs ADD priority {{int}} NOT NULL DEFAULT 0;\n${sleep(sleepMs)};\nCREATE TABLE {{schema}}.job_tags (tag varchar(50) NOT NULL PRIMARY KEY);\n`,
    );
  }

  async function expectAllAtTarget() {
    const schemas = await withDatabase(fx.db.url, (h) => h.tenantSchemas());
    expect(schemas.length).toBeGreaterThan(0);
    for (const s of schemas) {
      const meta = await q<{ id: string }>(`SELECT id FROM ${table(s, '__schema_migrations')} ORDER BY id`);
      // Exactly one meta row per migration (the primary key would refuse a duplicate anyway).
      expect(meta.map((m) => m.id)).toEqual([...TENANT_IDS, '0003_add_job_priority']);
      // No half-applied migration: both the column and the table exist.
      const parts = await q(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'automation_jobs' AND column_name = 'priority'
         UNION ALL SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'job_tags'`,
        [s],
      );
      expect(parts).toHaveLength(2);
    }
  }

  async function waitForSucceeded(min: number) {
    for (let i = 0; i < 400; i++) {
      const [row] = await q<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM ${master('__tm_run_tenants')} t JOIN ${master('__tm_runs')} r ON r.run_id = t.run_id
         WHERE t.status = 'succeeded' AND r.target = '0003_add_job_priority'`,
      ).catch(() => [{ n: 0 }]);
      if (Number(row!.n) >= min) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the run never progressed');
  }

  it('kill -9 mid-run, then a re-run: every tenant at target, no duplicate meta rows, no half-created tables', async () => {
    await seeded(40);
    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    const first = cli(['up', '--lease-ms', '1500'], (c) => (child = c));
    await waitForSucceeded(3 + Math.floor(Math.random() * 10));
    child!.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    const [killedRun] = await q<{ run_id: string; status: string }>(
      `SELECT run_id, status FROM ${master('__tm_runs')} WHERE target = '0003_add_job_priority'`,
    );
    expect(killedRun!.status).toBe('running');
    const rerun = await cli(['up', '--json', '--lease-ms', '1500']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const report = JSON.parse(rerun.stdout);
    // Right after the kill the dead worker's heartbeat can still look fresh: the re-run then
    // reports "joined" and takes the dead worker's tenants over when their leases expire.
    expect(['resumed', 'joined']).toContain(report.opening);
    expect(report).toMatchObject({ ok: true, runId: killedRun!.run_id, run: { failed: 0, pending: 0, running: 0 } });
    await expectAllAtTarget();
  });

  it('two concurrent up: each tenant done by exactly one of them, both exit 0', async () => {
    await seeded(30);
    const [a, b] = await Promise.all([cli(['up', '--json']), cli(['up', '--json'])]);
    // With --json the error is in the report on stdout, not on stderr.
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    expect(b.code, `${b.stderr}\n${b.stdout}`).toBe(0);
    const ra = JSON.parse(a.stdout);
    const rb = JSON.parse(b.stdout);
    await expectAllAtTarget();
    // One run, joined by the second process; every tenant applied once, by one worker.
    const runs = await q<{ run_id: string }>(`SELECT run_id FROM ${master('__tm_runs')} WHERE status = 'succeeded' AND target = '0003_add_job_priority'`);
    expect(runs).toHaveLength(1);
    expect([ra.runId, rb.runId]).toContain(runs[0]!.run_id);
    const applied = await q<{ schema_name: string; n: string }>(
      `SELECT schema_name, COUNT(*) AS n FROM ${master('__tm_run_tenants')} WHERE run_id = $1 AND applied LIKE '%0003%' GROUP BY schema_name`,
      [runs[0]!.run_id],
    );
    expect(applied).toHaveLength(30);
  });

  // PostgreSQL only: pg_terminate_backend has no drop-in T-SQL twin here (KILL <spid> would be the
  // SQL Server variant). The statement goes through a plain pg client on purpose: the adapter's
  // connections are named 'tenant-migrate' too, and would terminate themselves.
  it.runIf(target.name === 'postgres')('pg_terminate_backend mid-run (PostgreSQL only): retried or cleanly failed, and resumable', async () => {
    await seeded(30, 60);
    const run = cli(['up', '--json']);
    await waitForSucceeded(3);
    for (let i = 0; i < 3; i++) {
      const client = new pg.Client({ connectionString: fx.db.url });
      await client.connect();
      try {
        await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tenant-migrate' AND datname = current_database() AND state = 'active'");
      } finally {
        await client.end();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const first = await run;
    expect([0, 1]).toContain(first.code);
    if (first.code === 1) {
      const again = await cli(['up', '--json']);
      expect(again.code, again.stderr).toBe(0);
    }
    await expectAllAtTarget();
  });

  it('--shard i/n partitions the tenants; --run joins a run as another worker', async () => {
    await seeded(20, 0);
    const s1 = JSON.parse((await cli(['up', '--json', '--shard', '1/2'])).stdout);
    const s2 = JSON.parse((await cli(['up', '--json', '--shard', '2/2'])).stdout);
    expect(s1.tenants.total + s2.tenants.total).toBe(20);
    expect(s1.runId).not.toBe(s2.runId);
    await expectAllAtTarget();
    const status = await cli(['status', '--run', '--json']);
    expect(JSON.parse(status.stdout).run.runId).toBe(s2.runId);
    const joined = await cli(['up', '--json', '--run', s1.runId]);
    expect(JSON.parse(joined.stdout)).toMatchObject({ ok: true, opening: 'joined', runId: s1.runId });
  });
});
