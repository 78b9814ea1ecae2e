/**
 * Fleet signals and the expand/contract status, with real processes:
 * - SIGINT to a running `up` on each server (PostgreSQL, SQL Server/Babelfish): in-flight tenants finish, exit 130, the run is
 *   `interrupted` in the ledger, no tenant is half-migrated, and a re-run resumes it to target.
 * - `status --json` for an `after-tenants` master migration: which one waits and for how many tenants.
 */
import { describe, expect, it } from 'vitest';
import { createMigrator } from '../../src/migrator.js';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { shardOf } from '../../src/runner/run-ledger.js';
import { createProject, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { dialectSql, withDatabase } from './sql-helpers.js';

const MASTER = 'pmassist_master';
const TARGET_IDS = ['0001_create_workspace_tables', '0002_copy_workspace_external_links', '0003_add_job_priority'];
// Servers only: a signal to a child process needs a database another process can open (PGlite: one process per directory).
const servers = runnableTargets.filter((t) => t.name !== 'pglite');

describe.each(servers)('SIGINT on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4, lockTimeoutMs: 30_000 });
  const { table, master, uuidText, sleep, types } = dialectSql(target.name, target.engine);
  const q = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => withDatabase(fx.db.url, (h) => h.query<R>(sql, params));

  /**
   * The legacy layout (master 0001 only) with N pre-existing workspaces that have no schema yet —
   * what `demo` seeds before its `up` — plus a slow third tenant migration, so the `up` under test
   * creates every schema and is still mid-run when the signal arrives.
   */
  async function legacyWorkspaces(n: number): Promise<void> {
    const m = createMigrator({ url: fx.db.url, rootDir: fx.project.root });
    try {
      await m.up({ masterTo: '0001_initial_layout' });
      const seeded = await seedDemo(await m.adapter(), MASTER, n);
      expect(seeded.workspaces).toBe(n);
    } finally {
      await m.close();
    }
    fx.project.write(
      'tenant-migrations/0003_add_job_priority.sql.hbs',
      `ALTER TABLE {{schema}}.automation_jobs ADD priority ${types.int} NOT NULL DEFAULT 0;\n${sleep(30)};\nCREATE TABLE {{schema}}.job_tags (tag varchar(50) NOT NULL PRIMARY KEY);\n`,
    );
  }

  /** Every workspace is either untouched (no schema, no name recorded) or complete; returns how many are complete. */
  async function expectNoHalfMigratedTenant(): Promise<number> {
    const workspaces = await q<{ workspace_id: string; db_schema_name: string | null }>(
      `SELECT ${uuidText('workspace_id')} AS workspace_id, db_schema_name FROM ${master('Workspace')}`,
    );
    const schemas = new Set(await withDatabase(fx.db.url, (h) => h.tenantSchemas()));
    let complete = 0;
    for (const w of workspaces) {
      const derived = `ws_${w.workspace_id.replace(/-/g, '')}`;
      if (!schemas.has(derived)) {
        expect(w.db_schema_name, `${derived}: name recorded without a schema`).toBeNull();
        continue;
      }
      const meta = await q<{ id: string }>(`SELECT id FROM ${table(derived, '__schema_migrations')} ORDER BY id`);
      expect(meta.map((m) => m.id), `${derived} is half-migrated`).toEqual(TARGET_IDS);
      const parts = await q(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'automation_jobs' AND column_name = 'priority'
         UNION ALL SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'job_tags'`,
        [derived],
      );
      expect(parts, `${derived}: 0003 half-applied`).toHaveLength(2);
      expect(w.db_schema_name, `${derived}: migrated but its name was not recorded`).toBe(derived);
      complete++;
    }
    return complete;
  }

  it('SIGINT mid-run: in-flight tenants finish, exit 130, run interrupted, nothing half-migrated; a re-run resumes it to target', { timeout: 300_000 }, async () => {
    // Fewer on SQL Server: a tenant costs ~10x more there on this local T-SQL engine (Babelfish); 40 still leaves most pending at the signal.
    const N = target.name === 'mssql' ? 40 : 150;
    await legacyWorkspaces(N);

    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    let stderr = '';
    let signalled = false;
    const done = { n: 0 };
    const first = runCli(['up', '--json', '--events'], {
      cwd: fx.project.root,
      onSpawn: (c) => {
        child = c;
        c.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
          done.n = stderr.split('\n').filter((l) => l.includes('"type":"tenant:done"')).length;
          if (!signalled && done.n >= 10) {
            signalled = true;
            c.kill('SIGINT');
          }
        });
      },
    });
    const interrupted = await first;
    expect(child).toBeDefined();
    expect(signalled, `the run ended before 10 tenants were done:\n${interrupted.stderr}`).toBe(true);
    expect(interrupted.signal).toBeNull();
    expect(interrupted.code, interrupted.stderr).toBe(130);

    const report = JSON.parse(interrupted.stdout);
    expect(report).toMatchObject({ ok: false, interrupted: true, stopped: 'interrupted', opening: 'new' });
    expect(report.run.running).toBe(0); // in-flight tenants finished, unstarted claims were released
    expect(report.run.succeeded).toBeGreaterThanOrEqual(10);
    expect(report.run.pending).toBeGreaterThan(0);
    expect(report.run.succeeded + report.run.pending).toBe(N);
    const events = interrupted.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string });
    expect(events.some((e) => e.type === 'run:interrupted')).toBe(true);
    // Every tenant that started also finished.
    expect(events.filter((e) => e.type === 'tenant:done')).toHaveLength(events.filter((e) => e.type === 'tenant:start').length);

    const status = await runCli(['status', '--run', '--json'], { cwd: fx.project.root });
    expect(status.code, status.stderr).toBe(0);
    const run = JSON.parse(status.stdout);
    expect(run).toMatchObject({ run: { runId: report.runId, status: 'interrupted' }, counts: { total: N, running: 0, failed: 0 }, running: [] });
    expect(run.counts.succeeded).toBe(report.run.succeeded);

    const complete = await expectNoHalfMigratedTenant();
    expect(complete).toBe(report.run.succeeded);

    // The re-run resumes the interrupted run, says so, and finishes it.
    const rerun = await runCli(['up'], { cwd: fx.project.root });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`resuming run ${report.runId}`);
    expect(rerun.stdout).toContain(`resumed run ${report.runId}`);
    const after = JSON.parse((await runCli(['status', '--run', '--json'], { cwd: fx.project.root })).stdout);
    expect(after).toMatchObject({ run: { runId: report.runId, status: 'succeeded' }, counts: { total: N, succeeded: N, pending: 0, running: 0, failed: 0 } });
    expect(await expectNoHalfMigratedTenant()).toBe(N);
    const st = JSON.parse((await runCli(['status', '--json'], { cwd: fx.project.root })).stdout);
    expect(st.tenants).toMatchObject({ total: N, upToDate: N, behind: 0 });
  });
});

/** A shard i/n holding some but not all of `ids`. */
function partialShard(ids: readonly string[]): { index: number; count: number; members: number } {
  for (let count = 2; count < 100; count++) {
    for (let index = 1; index <= count; index++) {
      const members = ids.filter((id) => shardOf(id, count) === index).length;
      if (members > 0 && members < ids.length) return { index, count, members };
    }
  }
  throw new Error('no partial shard');
}

describe.each(runnableTargets)('status of an after-tenants master migration on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 2, lockTimeoutMs: 20_000 });

  const cli = (...args: string[]) => runCli(args, { cwd: fx.project.root });

  it('status --json lists it in master.waiting and master.waitingFor counts the tenants it waits for', async () => {
    const demo = await cli('demo', '--workspaces', '4', '--json');
    expect(demo.code, demo.stderr).toBe(0);
    // Contract step: waits until every Active tenant has the new tenant migration.
    fx.project.write(
      'master-migrations/0005_drop_legacy_marker.sql.hbs',
      '-- tenant-migrate: after-tenants\nCREATE TABLE {{master}}.{{ident "contract_done"}} (id {{int}} NOT NULL);\n',
    );
    fx.project.write('tenant-migrations/0003_add_job_notes.sql.hbs', 'CREATE TABLE {{schema}}.{{ident "job_notes"}} (id {{int}} NOT NULL);\n');

    const before = await cli('status', '--json');
    expect(before.code, before.stderr).toBe(0);
    const s1 = JSON.parse(before.stdout);
    expect(s1.master.pending).toEqual(['0005_drop_legacy_marker']);
    expect(s1.master.waiting).toEqual(['0005_drop_legacy_marker']);
    expect(s1.master.waitingFor).toBe(4);
    expect(s1.master.applied).toEqual(expect.arrayContaining(['0001_initial_layout', '0002_two_level_tenancy']));
    expect(s1.master.applied.every((id: unknown) => typeof id === 'string')).toBe(true);
    expect(s1.tenants).toMatchObject({ total: 4, behind: 4 });
    const text = await cli('status');
    expect(text.stdout).toContain('0005_drop_legacy_marker waiting for 4 tenant(s)');

    // Part of the fleet (a shard holding 1 to 3 of the 4 tenants): it still waits, for the others.
    const verbose = JSON.parse((await cli('status', '--json', '--verbose')).stdout) as { schemas: { schema: string }[] };
    const ids = verbose.schemas.map(({ schema: s }) => `${s.slice(3, 11)}-${s.slice(11, 15)}-${s.slice(15, 19)}-${s.slice(19, 23)}-${s.slice(23)}`);
    expect(ids).toHaveLength(4);
    const partial = partialShard(ids);
    const shard = await cli('up', '--json', '--shard', `${partial.index}/${partial.count}`);
    expect(shard.code, shard.stderr).toBe(0);
    expect(JSON.parse(shard.stdout)).toMatchObject({ tenants: { total: partial.members, succeeded: partial.members }, master: { applied: [], waiting: ['0005_drop_legacy_marker'] } });
    const s2 = JSON.parse((await cli('status', '--json')).stdout);
    expect(s2.master.waiting).toEqual(['0005_drop_legacy_marker']);
    expect(s2.master.waitingFor).toBe(4 - partial.members);
    expect((await cli('status')).stdout).toContain(`0005_drop_legacy_marker waiting for ${4 - partial.members} tenant(s)`);

    // The rest: the up applies it, nothing waits any more.
    const rest = await cli('up', '--json');
    expect(rest.code, rest.stderr).toBe(0);
    expect(JSON.parse(rest.stdout).master).toMatchObject({ applied: ['0005_drop_legacy_marker'], waiting: [] });
    const s3 = JSON.parse((await cli('status', '--json')).stdout);
    expect(s3.master).toMatchObject({ pending: [], waiting: [], waitingFor: 0 });
    expect(s3.master.applied).toContain('0005_drop_legacy_marker');
  });
});

describe('fleet option errors (real CLI)', () => {
  it('a bad --shard/--waves/--order/--max-failures/--lease-ms exits 2 naming the flag, before the database is opened', async () => {
    const project = createProject({ url: 'postgres://nobody@127.0.0.1:1/unreachable' });
    try {
      const cases: [string[], RegExp][] = [
        [['--shard', '5/4'], /--shard "5\/4": expected i\/n/],
        [['--waves', '10,5'], /--waves "10,5": "5" does not grow after 10/],
        [['--order', 'random'], /order.*random/s],
        [['--max-failures', '0'], /--max-failures 0: expected a positive integer/],
        [['--lease-ms', 'soon'], /--lease-ms: expected a positive integer/],
      ];
      const results = await Promise.all(cases.map(([args]) => runCli(['up', ...args], { cwd: project.root })));
      results.forEach((r, i) => {
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(cases[i]![1]);
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      });
      const json = await runCli(['up', '--json', '--shard', '0/2'], { cwd: project.root });
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'USAGE', key: 'shard' } });
    } finally {
      project.remove();
    }
  });
});
