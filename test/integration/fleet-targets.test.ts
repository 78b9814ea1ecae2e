/**
 * Fleets beyond one database (docs/fleet.md): the master database (registry, ledger, master lock)
 * and two target databases, driven through the real CLI, in three layouts:
 * - PostgreSQL, master + 2 target databases on the local server (every test);
 * - PostgreSQL, target t2 on a second server (`TM_TEST_PG2_URL`, the cluster `.ci/run` starts;
 *   unset outside CI: a named skip; in CI it must run);
 * - T-SQL (SQL Server / Babelfish, `TM_TEST_MSSQL_URL`), master + 2 databases on one server.
 * Fresh up across targets, per-target reports, one target unreachable (its tenants fail, the others
 * succeed, a re-run after fixing the URL resumes), kill -9 + re-run, placement of new workspaces
 * (`workspace add [--target]`, the fewest-workspaces rule, fullTargets, concurrent adds), grants
 * per target; on the local layout also `--target`, two concurrent `up`, plan/down, the workspace
 * service, an unknown target in the registry.
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorkspaceService } from '../../src/workspaces/workspace-service.js';
import {
  type DialectTarget,
  REPO_ROOT,
  type TestDatabase,
  type TestProject,
  createProject,
  dialectTargets,
  guid,
  runCli,
  runnableTargets,
  secondPostgres,
} from './harness.js';
import { MASTER, type SqlHelpers, dialectSql, withDatabase } from './sql-helpers.js';

const TENANT_IDS = ['0001_create_notes', '0002_add_note_priority'];
const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;

interface Layout {
  readonly title: string;
  /** Engine of the master and of t1. */
  readonly engine: DialectTarget;
  /** Where t2 lives (another server in the two-server layout). */
  readonly second: DialectTarget;
  /** Every test, or the cross-database subset. */
  readonly all: boolean;
  /** A URL of the engine's family that nothing answers (refused connection). */
  readonly deadUrl: string;
}

const postgres = runnableTargets.find((t) => t.name === 'postgres');
const mssql = runnableTargets.find((t) => t.name === 'mssql');
const PG_DEAD = 'postgres://postgres@127.0.0.1:1/nowhere';
const MSSQL_DEAD = 'mssql://sa:unused@127.0.0.1:1/nowhere?encrypt=false&trustServerCertificate=true';

const layouts: Layout[] = [];
if (postgres) {
  layouts.push({ title: 'PostgreSQL: master + 2 target databases on the local server', engine: postgres, second: postgres, all: true, deadUrl: PG_DEAD });
  if (secondPostgres && !secondPostgres.skipped) {
    layouts.push({ title: 'PostgreSQL: target t2 on a second server (TM_TEST_PG2_URL)', engine: postgres, second: secondPostgres, all: false, deadUrl: PG_DEAD });
  } else {
    describe('PostgreSQL: target t2 on a second server', () => {
      it.skip(`SKIPPED: ${secondPostgres?.skipped ?? 'PostgreSQL not selected (TM_TEST_DIALECTS)'}`, () => undefined);
    });
  }
} else {
  describe('PostgreSQL fleets over several databases', () => {
    it.skip(`SKIPPED: ${dialectTargets.find((t) => t.name === 'postgres')?.skipped ?? 'postgres not selected (TM_TEST_DIALECTS)'}`, () => undefined);
  });
}
if (mssql) {
  layouts.push({ title: `T-SQL (${mssql.engine}): master + 2 databases on one server`, engine: mssql, second: mssql, all: false, deadUrl: MSSQL_DEAD });
} else {
  describe('T-SQL fleets over several databases', () => {
    it.skip(`SKIPPED: ${dialectTargets.find((t) => t.name === 'mssql')?.skipped ?? 'mssql not selected (TM_TEST_DIALECTS)'}`, () => undefined);
  });
}

const wsSchemas = (url: string) => withDatabase(url, (h) => h.tenantSchemas());
const appliedIds = (url: string, schema: string) =>
  withDatabase(url, async (h) => (await h.query<{ id: string }>(`SELECT id FROM ${h.table(schema, '__schema_migrations')} ORDER BY id`)).map((r) => r.id));
const registryTarget = (h: SqlHelpers, id: string) =>
  h.query<{ db_target: string | null }>(`SELECT db_target FROM ${h.master('Workspace')} WHERE workspace_id = ${h.uuidParam(1)}`, [id]);

describe.each(layouts)('fleet over several databases — $title', (layout) => {
  const { engine } = layout;
  const sql = dialectSql(engine.name, engine.engine);
  let master: TestDatabase;
  let t1: TestDatabase;
  let t2: TestDatabase;
  let project: TestProject;
  /** workspace id → target (null: master's database). */
  let placement: Map<string, string | null>;
  /** Run after the databases are dropped (roles outlive databases and are dropped once nothing in them refers to them). */
  let cleanups: (() => Promise<unknown>)[] = [];

  const cli = (...args: string[]) => runCli(args, { cwd: project.root });
  const writeConfig = (targets: Record<string, string>, extra: Record<string, unknown> = {}) =>
    project.write('tenant-migrate.config.json', JSON.stringify({ url: master.url, targets, concurrency: 4, lockTimeoutMs: 20_000, ...extra }));
  const urlOf = (target: string | null | undefined) => (target === 't1' ? t1.url : target === 't2' ? t2.url : master.url);
  const json = (r: { stdout: string; stderr: string }) => {
    try {
      return JSON.parse(r.stdout);
    } catch {
      throw new Error(`not JSON: ${r.stdout}\n${r.stderr}`);
    }
  };

  beforeEach(async () => {
    [master, t1, t2] = await Promise.all([engine.createDatabase(), engine.createDatabase(), layout.second.createDatabase()]);
    project = createProject({});
    // Tenant migrations of this test: self-contained (pmassist's 0002 reads master tables, which a
    // schema in another database cannot; see docs/fleet.md).
    rmSync(path.join(project.root, 'tenant-migrations'), { recursive: true, force: true });
    mkdirSync(path.join(project.root, 'tenant-migrations'));
    project.write('tenant-migrations/0001_create_notes.sql.hbs', 'CREATE TABLE {{table "notes"}} (id {{int}} NOT NULL PRIMARY KEY, body {{nvarchar 200}} NULL);\n');
    writeConfig({ t1: t1.url, t2: t2.url });
    // The master step builds the registry (with db_target); then 2 + 3 + 3 workspaces.
    const first = await cli('up', '--json');
    expect(first.code, first.stderr).toBe(0);
    placement = new Map();
    for (const target of [null, null, 't1', 't1', 't1', 't2', 't2', 't2']) placement.set(guid(), target);
    await withDatabase(master.url, async (h) => {
      for (const [id, target] of placement) {
        await h.exec(
          `INSERT INTO ${h.master('Workspace')} (workspace_id, name, status, db_target) VALUES (${h.uuidParam(1)}, $2, 'Active', ${target ? '$3' : 'NULL'})`,
          target ? [id, `w ${id}`, target] : [id, `w ${id}`],
        );
      }
    });
  });

  afterEach(async () => {
    await Promise.all([master, t1, t2].map((d) => d?.drop()));
    project?.remove();
    for (const cleanup of cleanups) await cleanup();
    cleanups = [];
  });

  const idsOn = (target: string | null) => [...placement].filter(([, t]) => t === target).map(([id]) => id);
  const expectAllAt = async (ids: readonly string[]) => {
    for (const [id, target] of placement) expect(await appliedIds(urlOf(target), schemaOf(id)), id).toEqual(ids);
  };

  it('one up migrates every target with one ledger; each schema lives in its own database; status and up report per target', async () => {
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    const report = json(up);
    expect(report).toMatchObject({ ok: true, opening: 'new', run: { total: 8, succeeded: 8, failed: 0 } });
    expect(report.targets).toMatchObject({ '(master)': { total: 2, succeeded: 2 }, t1: { total: 3, succeeded: 3 }, t2: { total: 3, succeeded: 3 } });

    expect(await wsSchemas(t1.url)).toEqual(idsOn('t1').map(schemaOf).sort());
    expect(await wsSchemas(t2.url)).toEqual(idsOn('t2').map(schemaOf).sort());
    expect(await wsSchemas(master.url)).toEqual(idsOn(null).map(schemaOf).sort());
    // One ledger, in the master database only.
    expect(await withDatabase(master.url, (h) => h.count(h.master('__tm_run_tenants')))).toBe(8);
    // A target holds its tenants' applied-version summary (docs/fleet.md) in a schema named like the
    // master schema, and nothing else there: no registry, no ledger. Each row matches its meta table.
    for (const [db, name] of [[t1, 't1'], [t2, 't2']] as const) {
      await withDatabase(db.url, async (h) => {
        const tables = await h.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = '${MASTER}' ORDER BY 1`);
        expect(tables.map((r) => r.t)).toEqual(['__tm_schema_versions']);
        const rows = await h.query<{ schema_name: string; applied_count: number }>(`SELECT schema_name, applied_count FROM ${h.master('__tm_schema_versions')} ORDER BY 1`);
        expect(rows.map((r) => ({ schema_name: r.schema_name, applied_count: Number(r.applied_count) }))).toEqual(idsOn(name).map(schemaOf).sort().map((s) => ({ schema_name: s, applied_count: 1 })));
      });
    }

    // A new migration: status per target, then up.
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', 'ALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n');
    const st = await cli('status', '--json');
    expect(st.code, st.stderr).toBe(0);
    expect(json(st).targets).toEqual({
      '(master)': { total: 2, upToDate: 0, behind: 2, failed: 0, invalid: 0 },
      t1: { total: 3, upToDate: 0, behind: 3, failed: 0, invalid: 0 },
      t2: { total: 3, upToDate: 0, behind: 3, failed: 0, invalid: 0 },
    });
    const text = await cli('status');
    expect(text.stdout).toContain('target t1: 0/3 up to date, 3 behind');

    // --target limits a run to one target database.
    const only = await cli('up', '--target', 't2', '--json');
    expect(only.code, only.stderr).toBe(0);
    expect(json(only)).toMatchObject({ run: { total: 3, succeeded: 3 } });
    const after = json(await cli('status', '--json')).targets;
    expect(after).toMatchObject({ t2: { upToDate: 3, behind: 0 }, t1: { behind: 3 }, '(master)': { behind: 2 } });
    const rest = await cli('up', '--json');
    expect(rest.code, rest.stderr).toBe(0);
    expect(json(rest)).toMatchObject({ ok: true, run: { total: 5, succeeded: 5 } });
    await expectAllAt(TENANT_IDS);

    const bad = await cli('up', '--target', 'nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a name in config targets');
  });

  it('a target that is down fails its tenants only (exit 1); a re-run after fixing its URL resumes the run', async () => {
    writeConfig({ t1: t1.url, t2: layout.deadUrl });
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(1);
    const report = json(up);
    expect(report.targets).toMatchObject({ '(master)': { succeeded: 2 }, t1: { succeeded: 3 }, t2: { failed: 3 } });
    expect(report.failed.map((f: { schema: string }) => f.schema).sort()).toEqual(idsOn('t2').map(schemaOf).sort());
    expect(report.failed[0]).toMatchObject({ attempts: 3, error: { transient: true } });

    const st = await cli('status', '--json');
    expect(st.code, st.stderr).toBe(0);
    expect(json(st).targets.t2).toMatchObject({ total: 3, behind: 3, unreachable: expect.any(String) });

    writeConfig({ t1: t1.url, t2: t2.url });
    const again = await cli('up', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(json(again)).toMatchObject({ ok: true, opening: 'resumed', run: { succeeded: 8, failed: 0 } });
    expect(await wsSchemas(t2.url)).toEqual(idsOn('t2').map(schemaOf).sort());
  });

  it('kill -9 in the middle of a run over targets, then a re-run: every tenant at target, each migration once', async () => {
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', `${sql.sleep(700)};\nALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n`);
    const killed = await withDatabase(master.url, (h) =>
      runCli(['up', '--concurrency', '2', '--lease-ms', '2000'], {
        cwd: project.root,
        onSpawn: (child) => {
          const poll = setInterval(() => {
            void h
              .count(h.master('__tm_run_tenants'), "status = 'succeeded'")
              .then((n) => {
                if (n >= 10) child.kill('SIGKILL'); // 8 of the first run + 2 of this one
              })
              .catch(() => undefined);
          }, 100);
          child.on('close', () => clearInterval(poll));
        },
      }),
    );
    expect(killed.signal).toBe('SIGKILL');
    const again = await cli('up', '--json', '--lease-ms', '2000');
    expect(again.code, again.stderr).toBe(0);
    await expectAllAt(TENANT_IDS);
  });

  it('workspace add places new workspaces: the fewest-workspaces rule, --target, fullTargets, concurrent adds, refusals that create nothing', async () => {
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    /** Where the registry says a workspace lives, checked against the databases: its schema there and nowhere else. */
    const placedOn = async (id: string): Promise<string | null> => {
      const [row] = await withDatabase(master.url, (h) => registryTarget(h, id));
      const target = row?.db_target ?? null;
      for (const [name, url] of [[null, master.url], ['t1', t1.url], ['t2', t2.url]] as const) {
        expect((await wsSchemas(url)).includes(schemaOf(id)), `${id} on ${name ?? '(master)'}`).toBe(name === target);
      }
      expect(await appliedIds(urlOf(target), schemaOf(id))).toEqual([TENANT_IDS[0]]);
      return target;
    };
    const add = async (id: string, ...args: string[]) => {
      const r = await cli('workspace', 'add', id, '--json', ...args);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      return json(r);
    };
    const nothingCreated = async (id: string) => {
      expect(await withDatabase(master.url, (h) => registryTarget(h, id))).toEqual([]);
      for (const db of [master, t1, t2]) expect(await wsSchemas(db.url)).not.toContain(schemaOf(id));
    };

    // Counts: (master) 2, t1 3, t2 3 → a tie, broken by name: t1; then t2 has fewer.
    const a = guid();
    expect(await add(a)).toMatchObject({ ok: true, outcome: 'created', target: 't1', schema: schemaOf(a), applied: [TENANT_IDS[0]] });
    expect(await placedOn(a)).toBe('t1');
    const b = guid();
    expect(await add(b)).toMatchObject({ target: 't2' });
    expect(await placedOn(b)).toBe('t2');

    // Two adds at once both succeed; each schema is where its registry row says (best-effort balance).
    const [c, d] = [guid(), guid()];
    const both = await Promise.all([cli('workspace', 'add', c, '--json'), cli('workspace', 'add', d, '--json')]);
    expect(both.map((r) => r.code), both.map((r) => r.stdout + r.stderr).join('\n')).toEqual([0, 0]);
    for (const id of [c, d]) expect(['t1', 't2']).toContain(await placedOn(id));

    // Named explicitly: a target, the master's own database.
    const e = guid();
    expect(await add(e, '--target', 't2')).toMatchObject({ target: 't2' });
    expect(await placedOn(e)).toBe('t2');
    const m = guid();
    const onMaster = await add(m, '--target', '(master)');
    expect(onMaster.target).toBeUndefined();
    expect(await placedOn(m)).toBeNull();
    // An existing workspace stays where it lives; naming another target is refused.
    const moved = await cli('workspace', 'add', a, '--target', 't2', '--json');
    expect(moved.code).toBe(2);
    expect(json(moved).error.message).toContain('already lives on t1');
    expect(await add(a)).toMatchObject({ outcome: 'existing', target: 't1' });

    // fullTargets: the rule skips t1 even when it has fewer; naming it is refused.
    writeConfig({ t1: t1.url, t2: t2.url }, { fullTargets: ['t1'] });
    const f = guid();
    expect(await add(f)).toMatchObject({ target: 't2' });
    const full = guid();
    const refused = await cli('workspace', 'add', full, '--target', 't1', '--json');
    expect(refused.code).toBe(2);
    expect(json(refused).error).toMatchObject({ code: 'USAGE', message: expect.stringContaining('fullTargets') });
    await nothingCreated(full);
    // A workspace already on the full target is provisioned again where it lives.
    expect(await add(a, '--target', 't1')).toMatchObject({ outcome: 'existing', target: 't1' });
    const unknown = await cli('workspace', 'add', full, '--target', 'eu9');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('not a name in config targets');
    await nothingCreated(full);
    writeConfig({ t1: t1.url, t2: t2.url }, { fullTargets: ['t1', 't2'] });
    const nowhere = await cli('workspace', 'add', full, '--json');
    expect(nowhere.code).toBe(2);
    expect(json(nowhere).error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('nowhere to place') });
    await nothingCreated(full);

    // A provisioning that fails on a target is undone there: no registry row, no schema.
    writeConfig({ t1: t1.url, t2: t2.url });
    project.write('tenant-migrations/0002_broken.sql.hbs', 'SELECT nothing FROM {{table "no_such_table"}};\n');
    const broken = guid();
    const failed = await cli('workspace', 'add', broken, '--target', 't2', '--json');
    expect(failed.code, failed.stdout + failed.stderr).toBe(1);
    expect(json(failed).error).toMatchObject({ code: 'PROVISION_FAILED', cleanedUp: true });
    await nothingCreated(broken);
    rmSync(path.join(project.root, 'tenant-migrations/0002_broken.sql.hbs'));

    // Per-target reports count the new workspaces where they were placed.
    const st = json(await cli('status', '--json'));
    const placedNow = new Map<string | null, number>([[null, 2], ['t1', 3], ['t2', 3]]);
    for (const id of [a, b, c, d, e, m, f]) {
      const [row] = await withDatabase(master.url, (h) => registryTarget(h, id));
      placedNow.set(row!.db_target ?? null, placedNow.get(row!.db_target ?? null)! + 1);
    }
    expect(placedNow.get(null)).toBe(3);
    expect(st.targets).toMatchObject({
      '(master)': { total: 3, upToDate: 3 },
      t1: { total: placedNow.get('t1'), upToDate: placedNow.get('t1') },
      t2: { total: placedNow.get('t2'), upToDate: placedNow.get('t2') },
    });
  });

  it("pmassist's shipped tenant 0002 copies legacy links on the master's database and nothing on a target; an unguarded {{master}} read for tenants on targets is refused before anything is applied", async () => {
    rmSync(path.join(project.root, 'tenant-migrations'), { recursive: true, force: true });
    cpSync(path.join(REPO_ROOT, 'tenant-migrations'), path.join(project.root, 'tenant-migrations'), { recursive: true });
    const [onMaster, onT1] = [idsOn(null)[0]!, idsOn('t1')[0]!];
    await withDatabase(master.url, async (h) => {
      for (const id of [onMaster, onT1]) {
        await h.exec(
          `INSERT INTO ${h.master('WorkspaceExternalLink')} (workspace_id, provider, external_id, display_name) VALUES (${h.uuidParam(1)}, 'jira', $2, 'legacy')`,
          [id, `ext-${id}`],
        );
      }
    });
    const up = await cli('up', '--json');
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const integrations = (url: string, id: string) => withDatabase(url, (h) => h.count(h.table(schemaOf(id), 'workspace_integrations')));
    expect(await integrations(master.url, onMaster)).toBe(1);
    expect(await integrations(t1.url, onT1)).toBe(0);

    project.write('tenant-migrations/0003_reads_master.sql.hbs', `SELECT COUNT(*) AS n FROM {{master}}.{{ident "Workspace"}};\n`);
    // Every pending file is rendered for every tenant before the run opens: the template error of the
    // tenants on targets is a usage error (exit 2) and no tenant, on the master's database either, applies 0003.
    const bad = await cli('up', '--json');
    expect(bad.code, bad.stdout + bad.stderr).toBe(2);
    const message = `${bad.stdout}${bad.stderr}`;
    expect(message).toContain('TEMPLATE_ERROR');
    expect(message).toContain('onMasterDatabase');
    expect(message).toContain('0003_reads_master.sql.hbs');
    const applied = await withDatabase(master.url, (h) => h.count(h.table(schemaOf(onMaster), '__schema_migrations'), "id = '0003_reads_master'"));
    expect(applied).toBe(0);
  });

  const grantsTest = engine.name === 'postgres' ? it : it.skip;
  grantsTest(
    engine.name === 'postgres'
      ? 'grants are applied and checked in each tenant’s own database; a role missing on one server fails the rights check naming that target'
      : 'SKIPPED: grants per target are asserted with PostgreSQL catalog functions (has_table_privilege); T-SQL grants are covered by access-mssql.test.ts',
    async () => {
      const role = `tm_app_${guid().slice(0, 8)}`;
      const servers = [...new Set([master.url, t2.url].map(adminOf))];
      const twoServers = servers.length > 1;
      // Two servers: created first on the master's server only, so t2's lacks it.
      await adminExec(servers[0]!, `CREATE ROLE ${role} NOLOGIN`);
      cleanups.push(() => Promise.all(servers.map((u) => adminExec(u, `DROP ROLE IF EXISTS ${role}`))));
      writeConfig({ t1: t1.url, t2: t2.url }, { access: { appRole: role } });
      if (twoServers) {
        const refused = await cli('up', '--json');
        expect(refused.code, refused.stdout + refused.stderr).toBe(2);
        expect(json(refused).error).toMatchObject({ code: 'INSUFFICIENT_PRIVILEGE', message: expect.stringContaining(`on target t2: role ${role} does not exist`) });
        expect(json(refused).error.message).not.toContain('on target t1');
        expect(await wsSchemas(t1.url)).toEqual([]); // nothing changed
        await adminExec(servers[1]!, `CREATE ROLE ${role} NOLOGIN`);
      }
      const up = await cli('up', '--json');
      expect(up.code, up.stderr).toBe(0);
      const canRead = (url: string, id: string) =>
        withDatabase(url, async (h) => {
          const [row] = await h.query<{ ok: boolean }>(`SELECT has_table_privilege($1, $2, 'SELECT') AS ok`, [role, `${schemaOf(id)}.notes`]);
          return row!.ok;
        });
      for (const [id, target] of placement) expect(await canRead(urlOf(target), id), id).toBe(true);
      // Revoked by hand on a t2 tenant: `grants` restores it where the tenant lives.
      const victim = idsOn('t2')[0]!;
      await withDatabase(t2.url, (h) => h.exec(`REVOKE ALL ON ALL TABLES IN SCHEMA ${h.ident(schemaOf(victim))} FROM ${role}`));
      expect(await canRead(t2.url, victim)).toBe(false);
      const grants = await cli('grants', '--json');
      expect(grants.code, grants.stdout + grants.stderr).toBe(0);
      expect(json(grants)).toMatchObject({ tenants: 8, failed: [] });
      expect(await canRead(t2.url, victim)).toBe(true);
    },
  );

  if (!layout.all) return;

  it('two concurrent up split one run across targets; each tenant is migrated once', async () => {
    const first = await cli('up', '--json');
    expect(first.code, first.stderr).toBe(0);
    // Slow enough that the second process joins the first one's run before it is done.
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', `${sql.sleep(500)};\nALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n`);
    const [a, b] = await Promise.all([cli('up', '--json', '--concurrency', '2'), cli('up', '--json', '--concurrency', '2')]);
    // With --json the error is in the report on stdout.
    expect([a.code, b.code], `${a.stderr}${b.stderr}\n${a.stdout}\n${b.stdout}`).toEqual([0, 0]);
    const ra = json(a);
    const rb = json(b);
    expect(ra.runId).toBe(rb.runId);
    expect(ra.tenants.succeeded + rb.tenants.succeeded).toBe(8);
    await expectAllAt(TENANT_IDS);
  });

  it('plan and down work on each tenant where it lives', async () => {
    project.write('tenant-migrations/0002_add_note_priority.sql.hbs', 'ALTER TABLE {{table "notes"}} ADD priority {{int}} NOT NULL DEFAULT 0;\n');
    project.write('tenant-migrations/0002_add_note_priority.down.sql.hbs', 'ALTER TABLE {{table "notes"}} DROP COLUMN priority;\n');
    const first = await cli('up', '--to', '0001_create_notes', '--json');
    expect(first.code, first.stderr).toBe(0);
    const plan = await cli('plan', '--format', 'json');
    expect(plan.code, plan.stderr).toBe(0);
    expect(json(plan).targets).toEqual({
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
    await expectAllAt([TENANT_IDS[0]!]);
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
      expect(result).toMatchObject({ outcome: 'existing', target: 't2', applied: [TENANT_IDS[1]] });
      expect((await service.showWorkspace(id)).applied.map((a) => a.id)).toEqual(TENANT_IDS);
      // The library's provisioning API places like the CLI: explicitly, or by the rule.
      const named = guid();
      expect(await service.provisionWorkspace({ workspaceId: named, target: 't1' })).toMatchObject({ outcome: 'created', target: 't1', applied: TENANT_IDS });
      expect(await wsSchemas(t1.url)).toContain(schemaOf(named));
    } finally {
      await service.close();
    }
    expect(await wsSchemas(master.url)).toEqual(idsOn(null).map(schemaOf).sort());
  });

  it('a registry row naming an unknown target is reported as invalid and never migrated', async () => {
    const stray = guid();
    await withDatabase(master.url, (h) =>
      h.exec(`INSERT INTO ${h.master('Workspace')} (workspace_id, name, status, db_target) VALUES (${h.uuidParam(1)}, 'stray', 'Active', 'eu9')`, [stray]),
    );
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    const report = json(up);
    expect(report.invalid).toEqual([expect.objectContaining({ workspaceId: stray, target: 'eu9', reason: expect.stringContaining('not a name in config targets') })]);
    expect(report.run).toMatchObject({ total: 8, succeeded: 8 });
    for (const db of [master, t1, t2]) expect(await wsSchemas(db.url)).not.toContain(schemaOf(stray));
  });
});

/** The admin URL (database `postgres`) of the server a PostgreSQL URL points at. */
function adminOf(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

async function adminExec(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
