/**
 * Fleets beyond one database (docs/fleet.md): the master database (registry, ledger, master lock)
 * and two target databases on the local PostgreSQL server, driven through the real CLI. Fresh up
 * across targets, per-target reports, one target unreachable (its tenants fail, the others
 * succeed, a re-run after fixing the URL resumes), `--target`, two concurrent `up`, an unknown
 * target in the registry.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorkspaceService } from '../../src/workspaces/workspace-service.js';
import { type TestDatabase, type TestProject, guid, runCli, runnableTargets } from './harness.js';
import { MASTER, createTargetFleet, query, schemaOf, writeTargetConfig, wsSchemas } from './target-fleet.js';

const postgres = runnableTargets.find((t) => t.name === 'postgres');
const TENANT_IDS = ['0001_create_notes', '0002_add_note_priority'];

describe.skipIf(!postgres)('fleet over several databases (PostgreSQL)', () => {
  let master: TestDatabase;
  let t1: TestDatabase;
  let t2: TestDatabase;
  let project: TestProject;
  /** workspace id → target (null: master's database). */
  let placement: Map<string, string | null>;

  const cli = (...args: string[]) => runCli(args, { cwd: project.root });
  const writeConfig = (targets: Record<string, string>, extra: Record<string, unknown> = {}) => writeTargetConfig({ master, project }, targets, extra);

  beforeEach(async () => {
    ({ master, t1, t2, project, placement } = await createTargetFleet(postgres!));
  });

  afterEach(async () => {
    await Promise.all([master, t1, t2].map((d) => d?.drop()));
    project?.remove();
  });

  const idsOn = (target: string | null) => [...placement].filter(([, t]) => t === target).map(([id]) => id);

  it('one up migrates every target with one ledger; each schema lives in its own database; status and up report per target', async () => {
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    const report = JSON.parse(up.stdout);
    expect(report).toMatchObject({ ok: true, opening: 'new', run: { total: 8, succeeded: 8, failed: 0 } });
    expect(report.targets).toMatchObject({ '(master)': { total: 2, succeeded: 2 }, t1: { total: 3, succeeded: 3 }, t2: { total: 3, succeeded: 3 } });

    expect(await wsSchemas(t1.url)).toEqual(idsOn('t1').map(schemaOf).sort());
    expect(await wsSchemas(t2.url)).toEqual(idsOn('t2').map(schemaOf).sort());
    expect(await wsSchemas(master.url)).toEqual(idsOn(null).map(schemaOf).sort());
    // One ledger, in the master database only.
    const ledger = await query<{ n: string }>(master.url, `SELECT count(*) AS n FROM ${MASTER}.__tm_run_tenants`);
    expect(Number(ledger[0]!.n)).toBe(8);
    for (const db of [t1, t2]) {
      expect(await query(db.url, `SELECT 1 FROM information_schema.schemata WHERE schema_name = '${MASTER}'`)).toEqual([]);
    }

    // A new migration: status per target, then up.
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', 'ALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n');
    const st = await cli('status', '--json');
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).targets).toEqual({
      '(master)': { total: 2, upToDate: 0, behind: 2, failed: 0, invalid: 0 },
      t1: { total: 3, upToDate: 0, behind: 3, failed: 0, invalid: 0 },
      t2: { total: 3, upToDate: 0, behind: 3, failed: 0, invalid: 0 },
    });
    const text = await cli('status');
    expect(text.stdout).toContain('target t1: 0/3 up to date, 3 behind');

    // --target limits a run to one target database.
    const only = await cli('up', '--target', 't1', '--json');
    expect(only.code, only.stderr).toBe(0);
    expect(JSON.parse(only.stdout)).toMatchObject({ run: { total: 3, succeeded: 3 } });
    const after = JSON.parse((await cli('status', '--json')).stdout).targets;
    expect(after).toMatchObject({ t1: { upToDate: 3, behind: 0 }, t2: { behind: 3 }, '(master)': { behind: 2 } });
    const rest = await cli('up', '--json');
    expect(rest.code, rest.stderr).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ ok: true, run: { total: 5, succeeded: 5 } });
    const meta = await query<{ id: string }>(t2.url, `SELECT id FROM "${schemaOf(idsOn('t2')[0]!)}".__schema_migrations ORDER BY id`);
    expect(meta.map((r) => r.id)).toEqual(TENANT_IDS);

    const bad = await cli('up', '--target', 'nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a name in config targets');
  });

  it('a target that is down fails its tenants only (exit 1); a re-run after fixing its URL resumes the run', async () => {
    writeConfig({ t1: t1.url, t2: 'postgres://postgres@127.0.0.1:1/nowhere' });
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(1);
    const report = JSON.parse(up.stdout);
    expect(report.targets).toMatchObject({ '(master)': { succeeded: 2 }, t1: { succeeded: 3 }, t2: { failed: 3 } });
    expect(report.failed.map((f: { schema: string }) => f.schema).sort()).toEqual(idsOn('t2').map(schemaOf).sort());
    expect(report.failed[0]).toMatchObject({ attempts: 3, error: { transient: true } });

    const st = await cli('status', '--json');
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).targets.t2).toMatchObject({ total: 3, behind: 3, unreachable: expect.any(String) });

    writeConfig({ t1: t1.url, t2: t2.url });
    const again = await cli('up', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, opening: 'resumed', run: { succeeded: 8, failed: 0 } });
    expect(await wsSchemas(t2.url)).toEqual(idsOn('t2').map(schemaOf).sort());
  });

  it('two concurrent up split one run across targets; each tenant is migrated once', async () => {
    const first = await cli('up', '--json');
    expect(first.code, first.stderr).toBe(0);
    // Slow enough that the second process joins the first one's run before it is done.
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', 'SELECT pg_sleep(0.5);\nALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n');
    const [a, b] = await Promise.all([cli('up', '--json', '--concurrency', '2'), cli('up', '--json', '--concurrency', '2')]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    const ra = JSON.parse(a.stdout);
    const rb = JSON.parse(b.stdout);
    expect(ra.runId).toBe(rb.runId);
    expect(ra.tenants.succeeded + rb.tenants.succeeded).toBe(8);
    for (const [id, target] of placement) {
      const url = target === 't1' ? t1.url : target === 't2' ? t2.url : master.url;
      const rows = await query<{ id: string }>(url, `SELECT id FROM "${schemaOf(id)}".__schema_migrations ORDER BY id`);
      expect(rows.map((r) => r.id)).toEqual(TENANT_IDS);
    }
  });

  it('plan and down work on each tenant where it lives', async () => {
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', 'ALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n');
    project.write('tenant-migrations/0002_add_note_priority.down.sql.hbs', 'ALTER TABLE {{table "notes"}} DROP COLUMN priority;\n');
    const first = await cli('up', '--to', '0001_create_notes', '--json');
    expect(first.code, first.stderr).toBe(0);
    const plan = await cli('plan', '--format', 'json');
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).targets).toEqual({
      '(master)': { total: 2, upToDate: 0, behind: 2, blocked: 0 },
      t1: { total: 3, upToDate: 0, behind: 3, blocked: 0 },
      t2: { total: 3, upToDate: 0, behind: 3, blocked: 0 },
    });
    const md = await cli('plan', '--format', 'markdown');
    expect(md.stdout).toContain('| t2 | 3 | 0 | 3 | 0 |');
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);

    const down = await cli('down', '--to', '0001_create_notes', '--json');
    expect(down.code, down.stdout + down.stderr).toBe(0);
    for (const [id, target] of placement) {
      const url = target === 't1' ? t1.url : target === 't2' ? t2.url : master.url;
      const rows = await query<{ id: string }>(url, `SELECT id FROM "${schemaOf(id)}".__schema_migrations`);
      expect(rows.map((r) => r.id)).toEqual([TENANT_IDS[0]]);
    }
  });

  it('the workspace service finds where a workspace lives and provisions it there', async () => {
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', 'ALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n');
    const service = createWorkspaceService({ url: master.url, rootDir: project.root, targets: { t1: t1.url, t2: t2.url } });
    try {
      const id = idsOn('t2')[0]!;
      expect(await service.lookupWorkspace(id)).toMatchObject({ schema: schemaOf(id), target: 't2' });
      const result = await service.provisionWorkspace({ workspaceId: id });
      expect(result).toMatchObject({ outcome: 'existing', applied: [TENANT_IDS[1]] });
      expect((await service.showWorkspace(id)).applied.map((a) => a.id)).toEqual(TENANT_IDS);
    } finally {
      await service.close();
    }
    expect(await wsSchemas(master.url)).toEqual(idsOn(null).map(schemaOf).sort());
  });

  it('kill -9 in the middle of a run over targets, then a re-run: every tenant at target, each migration once', async () => {
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', 'SELECT pg_sleep(0.7);\nALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n');
    const killed = await runCli(['up', '--concurrency', '2', '--lease-ms', '2000'], {
      cwd: project.root,
      onSpawn: (child) => {
        const poll = setInterval(() => {
          void query<{ n: string }>(master.url, `SELECT count(*) AS n FROM ${MASTER}.__tm_run_tenants WHERE status = 'succeeded'`)
            .then((r) => {
              if (Number(r[0]?.n) >= 10) child.kill('SIGKILL'); // 8 of the first run + 2 of this one
            })
            .catch(() => undefined);
        }, 100);
        child.on('close', () => clearInterval(poll));
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    const again = await cli('up', '--json', '--lease-ms', '2000');
    expect(again.code, again.stderr).toBe(0);
    for (const [id, target] of placement) {
      const url = target === 't1' ? t1.url : target === 't2' ? t2.url : master.url;
      const rows = await query<{ id: string }>(url, `SELECT id FROM "${schemaOf(id)}".__schema_migrations ORDER BY id`);
      expect(rows.map((r) => r.id)).toEqual(TENANT_IDS);
    }
  });

  it('a registry row naming an unknown target is reported as invalid and never migrated', async () => {
    const stray = guid();
    await query(master.url, `INSERT INTO ${MASTER}."Workspace" (workspace_id, name, status, db_target) VALUES ($1, 'stray', 'Active', 'eu9')`, [stray]);
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    const report = JSON.parse(up.stdout);
    expect(report.invalid).toEqual([expect.objectContaining({ workspaceId: stray, target: 'eu9', reason: expect.stringContaining('not a name in config targets') })]);
    expect(report.run).toMatchObject({ total: 8, succeeded: 8 });
    for (const db of [master, t1, t2]) expect(await wsSchemas(db.url)).not.toContain(schemaOf(stray));
  });
});
