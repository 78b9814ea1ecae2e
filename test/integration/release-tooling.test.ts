/**
 * Release tooling over real databases: plan (JSON shape, Markdown, SQL, exit codes, changes
 * nothing), baseline, down (incl. the refusal for a missing down file) and repair, all through the
 * real CLI; create/render/validate on a project.
 */
import { rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TestDatabase, type TestProject, createProject, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { type SqlHelpers, dialectSql, withDatabase } from './sql-helpers.js';
import { summaryOf } from '../../src/planner/applied-summary.js';

const ADD_PRIORITY = 'ALTER TABLE {{table "automation_jobs"}} ADD priority {{int}} NULL;\n';
const DROP_PRIORITY = 'ALTER TABLE {{table "automation_jobs"}} DROP COLUMN priority;\n';
const ADD_NOTES = 'ALTER TABLE {{table "automation_jobs"}} ADD notes {{nvarchar 200}} NULL;\n';
const DROP_NOTES = 'ALTER TABLE {{table "automation_jobs"}} DROP COLUMN notes;\n';

interface PlanJson {
  version: number;
  clean: boolean;
  counts: { errors: number; warnings: number };
  master: { applied: string[]; pending: { id: string }[] };
  tenants: Record<string, number>;
  pending: { id: string; file: string; tenants: number; hasDown: boolean; noTransaction: boolean }[];
  groups: { pending: string[]; count: number; schemas: string[] }[];
  problems: { kind: string; severity: string; migrationId?: string; schemas: string[]; message: string }[];
  archived: { workspaceId: string; schema: string }[];
  schemas: { workspaceId: string; schema: string; state: string; pending: string[] }[];
}

describe.each(runnableTargets)('release tooling on $name', (target) => {
  // No URL in the project's config: the commands get `--url`, so `validate` can also run offline.
  const fx = useProjectFixture(target, { url: undefined });

  /** This test's project (shipped migrations) and a database after `demo` (3 workspaces, all migrated). */
  async function setup(): Promise<{ db: TestDatabase; project: TestProject; cli: (...args: string[]) => ReturnType<typeof runCli> }> {
    const { db, project } = fx;
    const cli = (...args: string[]) => runCli([...args, '--url', db.url], { cwd: project.root });
    const demo = await cli('demo', '--workspaces', '3', '--json');
    expect(demo.code, demo.stderr).toBe(0);
    return { db, project, cli };
  }

  const { table, master, types } = dialectSql(target.name, target.engine);

  /** Open the database only for this call: the CLI (a child process) needs PGlite's directory between calls. */
  const onDb = <T>(db: TestDatabase, fn: (sql: SqlHelpers) => Promise<T>) => withDatabase(db.url, fn);
  const query = <R>(db: TestDatabase, sql: string, params: unknown[] = []) => onDb(db, (h) => h.query<R>(sql, params));

  const hasColumn = (db: TestDatabase, schema: string, column: string) => onDb(db, (h) => h.columnExists(schema, 'automation_jobs', column));

  const planJson = async (cli: (...a: string[]) => ReturnType<typeof runCli>, ...args: string[]) => {
    const r = await cli('plan', '--format', 'json', ...args);
    return { code: r.code, plan: JSON.parse(r.stdout) as PlanJson, stderr: r.stderr };
  };

  it('plan: JSON shape, Markdown report, SQL per tenant, exit 2 on problems, and changes nothing', async () => {
    const { db, project, cli } = await setup();
    project.write('tenant-migrations/0003_add_job_priority.sql.hbs', ADD_PRIORITY);
    project.write('tenant-migrations/0003_add_job_priority.down.sql.hbs', DROP_PRIORITY);
    project.write('tenant-migrations/0004_add_job_notes.sql.hbs', ADD_NOTES);

    // Archive one workspace: plan lists it as skipped.
    const before = await planJson(cli);
    expect(before.code, before.stderr).toBe(0);
    const archivedId = before.plan.schemas[0]!.workspaceId;
    await query(db, `UPDATE ${master('Workspace')} SET status = $1 WHERE workspace_id = $2`, ['Archived', archivedId]);

    const { code, plan } = await planJson(cli);
    expect(code).toBe(0);
    expect(plan).toMatchObject({
      version: 1,
      clean: true,
      counts: { errors: 0, warnings: 0 },
      master: { pending: [] },
      tenants: { total: 2, upToDate: 0, behind: 2, blocked: 0, archivedSkipped: 1, invalid: 0 },
      pending: [
        { id: '0003_add_job_priority', file: 'tenant-migrations/0003_add_job_priority.sql.hbs', tenants: 2, hasDown: true, noTransaction: false },
        { id: '0004_add_job_notes', tenants: 2, hasDown: false },
      ],
      groups: [{ pending: ['0003_add_job_priority', '0004_add_job_notes'], count: 2 }],
      problems: [],
      archived: [{ workspaceId: archivedId }],
    });
    expect(plan.master.applied).toContain('0001_initial_layout');
    expect(plan.schemas.map((s) => s.state)).toEqual(['behind', 'behind']);

    // The exact SQL one tenant would get.
    const one = plan.schemas[0]!;
    const sql = await cli('plan', '--format', 'sql', '--workspace', one.workspaceId);
    expect(sql.code, sql.stderr).toBe(0);
    const q = table(one.schema, 'automation_jobs');
    expect(sql.stdout).toContain(`-- 0003_add_job_priority (tenant-migrations/0003_add_job_priority.sql.hbs)\nALTER TABLE ${q} ADD priority`);
    expect(sql.stdout).toContain('-- 0004_add_job_notes');
    const folder = path.join(project.root, 'plan-sql');
    const all = await cli('plan', '--format', 'sql', '--out', folder);
    expect(all.code, all.stderr).toBe(0);
    expect(readFileSync(path.join(folder, `${plan.schemas[1]!.schema}.sql`), 'utf8')).toContain('ADD notes');

    // A template error and an edited applied migration: exit 2, both in the Markdown report.
    project.write('tenant-migrations/0005_broken.sql.hbs', 'SELECT {{nope}};\n');
    const original = readFileSync(path.join(project.root, 'tenant-migrations/0002_copy_workspace_external_links.sql.hbs'), 'utf8');
    await query(db, `UPDATE ${table(plan.schemas[1]!.schema, '__schema_migrations')} SET checksum = $1 WHERE id = $2`, ['0'.repeat(64), '0002_copy_workspace_external_links']);
    // As if that tenant had been migrated from another version of the file: the engine would have
    // written that checksum into its applied-version summary row too (docs/fleet.md).
    const tampered = plan.schemas[1]!.schema;
    const rows = summaryOf(tampered, await query<{ id: string; checksum: string }>(db, `SELECT id, checksum FROM ${table(tampered, '__schema_migrations')}`));
    await query(db, `UPDATE ${master('__tm_schema_versions')} SET applied_digest = $2 WHERE schema_name = $1`, [tampered, rows.digest]);
    const out = path.join(project.root, 'plan.md');
    const md = await cli('plan', '--format', 'markdown', '--out', out);
    expect(md.code).toBe(2);
    const report = readFileSync(out, 'utf8');
    expect(report.split('\n')[0]).toBe('## tenant-migrate plan: ❌ 2 error(s)');
    expect(report).toContain('| Tenants | 2: 0 up to date, 1 to migrate, 1 blocked |');
    expect(report).toContain('| Archived tenants skipped | 1 |');
    expect(report).toMatch(/\| error \| render-error \| `0005_broken` \| 1 \| tenant-migrations\/0005_broken\.sql\.hbs:1: "nope" not defined/);
    expect(report).toContain('| error | checksum-mismatch | `0002_copy_workspace_external_links` | 1 |');
    expect(report).toContain(`<summary>Archived tenants skipped (1)</summary>`);
    expect(original.length).toBeGreaterThan(0);

    // Nothing was applied by any of the plans.
    for (const s of plan.schemas) expect(await hasColumn(db, s.schema, 'priority')).toBe(false);
    const json = await planJson(cli);
    expect(json.code).toBe(2);
    expect(json.plan.problems.map((p) => p.kind).sort()).toEqual(['checksum-mismatch', 'render-error']);
  });

  it('baseline records migrations without running them: one workspace, then all, master', async () => {
    const { db, project, cli } = await setup();
    project.write('tenant-migrations/0003_add_job_priority.sql.hbs', ADD_PRIORITY);
    const { plan } = await planJson(cli);
    const [first, ...rest] = plan.schemas;
    // The column was added by hand (outside the tool) in the first tenant.
    await query(db, `ALTER TABLE ${table(first!.schema, 'automation_jobs')} ADD priority ${types.int} NULL`);

    const one = await cli('baseline', '--to', '0003_add_job_priority', '--workspace', first!.workspaceId, '--json');
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ scope: 'tenant', to: '0003_add_job_priority', schemas: [{ schema: first!.schema, recorded: ['0003_add_job_priority'], status: 'recorded' }] });
    const rows = await query<{ checksum: string; rendered_checksum: string }>(db, `SELECT checksum, rendered_checksum FROM ${table(first!.schema, '__schema_migrations')} WHERE id = $1`, ['0003_add_job_priority']);
    expect(rows[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.rendered_checksum).toMatch(/^[0-9a-f]{64}$/);

    const after = await planJson(cli);
    expect(after.plan.schemas.find((s) => s.schema === first!.schema)!.state).toBe('up-to-date');
    expect(after.plan.pending).toEqual([expect.objectContaining({ id: '0003_add_job_priority', tenants: rest.length })]);

    // `up` then runs 0003 only where it is not recorded.
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    for (const s of rest) expect(await hasColumn(db, s.schema, 'priority')).toBe(true);

    // All tenants / master: already recorded.
    const all = await cli('baseline', '--to', '0002_copy_workspace_external_links', '--json');
    expect(JSON.parse(all.stdout).schemas.map((s: { status: string }) => s.status)).toEqual(plan.schemas.map(() => 'already'));
    const master = await cli('baseline', '--to', '0001_initial_layout', '--json');
    expect(JSON.parse(master.stdout)).toMatchObject({ scope: 'master', schemas: [{ schema: 'pmassist_master', status: 'already' }] });
    const unknown = await cli('baseline', '--to', '0099_nothing');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No migration with id "0099_nothing"');
  });

  it('down refuses when a down file is missing, then reverts in reverse under locks; up re-applies', async () => {
    const { db, project, cli } = await setup();
    project.write('tenant-migrations/0003_add_job_priority.sql.hbs', ADD_PRIORITY);
    project.write('tenant-migrations/0003_add_job_priority.down.sql.hbs', DROP_PRIORITY);
    project.write('tenant-migrations/0004_add_job_notes.sql.hbs', ADD_NOTES);
    expect((await cli('up', '--json')).code).toBe(0);
    const { plan } = await planJson(cli);

    const refused = await cli('down', '--to', '0002_copy_workspace_external_links');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('no down file for 0004_add_job_notes');
    expect(refused.stderr).toContain('tenant-migrations/0004_add_job_notes.down.sql.hbs');
    for (const s of plan.schemas) expect(await hasColumn(db, s.schema, 'notes')).toBe(true);

    project.write('tenant-migrations/0004_add_job_notes.down.sql.hbs', DROP_NOTES);
    // One workspace first.
    const one = await cli('down', '--to', '0003_add_job_priority', '--workspace', plan.schemas[0]!.workspaceId, '--json');
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ failed: 0, schemas: [{ schema: plan.schemas[0]!.schema, status: 'reverted', reverted: ['0004_add_job_notes'] }] });
    expect(await hasColumn(db, plan.schemas[0]!.schema, 'notes')).toBe(false);
    expect(await hasColumn(db, plan.schemas[1]!.schema, 'notes')).toBe(true);

    const all = await cli('down', '--to', '0002_copy_workspace_external_links', '--json');
    expect(all.code, all.stderr).toBe(0);
    const result = JSON.parse(all.stdout) as { schemas: { schema: string; reverted: string[] }[] };
    const bySchema = new Map(result.schemas.map((s) => [s.schema, s.reverted]));
    expect(bySchema.get(plan.schemas[0]!.schema)).toEqual(['0003_add_job_priority']);
    expect(bySchema.get(plan.schemas[1]!.schema)).toEqual(['0004_add_job_notes', '0003_add_job_priority']);
    for (const s of plan.schemas) {
      expect(await hasColumn(db, s.schema, 'priority')).toBe(false);
      expect(await hasColumn(db, s.schema, 'notes')).toBe(false);
    }
    const again = await planJson(cli);
    expect(again.plan.pending.map((p) => [p.id, p.tenants])).toEqual([
      ['0003_add_job_priority', 3],
      ['0004_add_job_notes', 3],
    ]);
    expect((await cli('up', '--json')).code).toBe(0);
    for (const s of plan.schemas) expect(await hasColumn(db, s.schema, 'notes')).toBe(true);
  });

  it('repair lists changed checksums, writes them only with --yes, and up proceeds', async () => {
    const { db, project, cli } = await setup();
    const file = 'tenant-migrations/0002_copy_workspace_external_links.sql.hbs';
    const source = readFileSync(path.join(project.root, file), 'utf8');
    project.write(file, `{{!-- reviewed: comment only --}}\n${source}`);
    project.write('tenant-migrations/0003_add_job_priority.sql.hbs', ADD_PRIORITY);

    const refused = await cli('up');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('repair');

    const listed = await cli('repair', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const list = JSON.parse(listed.stdout) as { applied: boolean; changes: { migrationId: string; renderedSame: boolean; file: string }[] };
    expect(list.applied).toBe(false);
    expect(list.changes).toHaveLength(3);
    for (const c of list.changes) expect(c).toMatchObject({ migrationId: '0002_copy_workspace_external_links', file, renderedSame: true });
    expect((await planJson(cli)).code).toBe(2);

    const text = await cli('repair', '--yes');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('repaired 3 checksum(s)');
    expect(text.stdout).toContain('(rendered SQL unchanged)');
    const clean = await planJson(cli);
    expect(clean.code).toBe(0);
    expect((await cli('repair')).stdout).toContain('nothing to repair');
    expect((await cli('up', '--json')).code).toBe(0);
    for (const s of clean.plan.schemas) expect(await hasColumn(db, s.schema, 'priority')).toBe(true);
  });

  it('validate: the fast-forward rule with a URL', async () => {
    const { project, cli } = await setup();
    project.write('tenant-migrations/0004_later_branch.sql.hbs', ADD_NOTES);
    expect((await cli('up', '--json')).code).toBe(0);
    project.write('tenant-migrations/0003_earlier_branch.sql.hbs', ADD_PRIORITY);
    const r = await cli('validate');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/error: tenant-migrations\/0003_earlier_branch\.sql\.hbs: \[fast-forward\] 0003_earlier_branch is numbered below a migration already applied in 3 tenant schema/);
    // Offline (no URL), the same folder is fine.
    const offline = await runCli(['validate'], { cwd: project.root });
    expect(offline.code, offline.stdout).toBe(0);
  });
});

describe('authoring without a database: create → render → validate', () => {
  it('scaffolds, renders for both dialects and validates', async () => {
    const project = createProject({});
    try {
      const cli = (...args: string[]) => runCli(args, { cwd: project.root });
      const created = await cli('create', 'tenant', 'add_job_priority', '--down');
      expect(created.code, created.stderr).toBe(0);
      const id = created.stdout.match(/created tenant-migrations\/(\d+_add_job_priority)\.sql\.hbs/)![1]!;
      expect(created.stdout).toContain(`created tenant-migrations/${id}.down.sql.hbs`);
      expect((await cli('create', 'tenant', 'Bad Name')).code).toBe(2);

      project.write(`tenant-migrations/${id}.sql.hbs`, ADD_PRIORITY);
      const rendered = await cli('render', id, '--all-dialects');
      expect(rendered.code, rendered.stderr).toBe(0);
      expect(rendered.stdout).toContain(`-- ===== ${id} · mssql =====\nALTER TABLE [ws_123e4567e89b12d3a456426614174000].[automation_jobs] ADD priority INT NULL;`);
      expect(rendered.stdout).toContain(`-- ===== ${id} · postgres =====\nALTER TABLE "ws_123e4567e89b12d3a456426614174000"."automation_jobs" ADD priority integer NULL;`);

      const ok = await cli('validate');
      expect(ok.code, ok.stdout).toBe(0);

      project.write(`tenant-migrations/${id}.sql.hbs`, 'CREATE TABLE job_notes (id int);\nALTER TABLE {{table "automation_jobs"}} DROP COLUMN name;\nSELECT {{isMsql}};\n');
      const bad = await cli('lint', '--json');
      expect(bad.code).toBe(2);
      const result = JSON.parse(bad.stdout) as { ok: boolean; findings: { severity: string; check: string; where: string }[] };
      expect(result.ok).toBe(false);
      const findings = result.findings.map((f) => `${f.severity} ${f.check} ${f.where}`);
      expect(findings).toContain(`error unqualified-create tenant-migrations/${id}.sql.hbs:1`);
      expect(findings).toContain(`warning drop-column tenant-migrations/${id}.sql.hbs:2`);
      expect(findings.filter((f) => f.startsWith('error template'))).toHaveLength(2);
    } finally {
      project.remove();
      rmSync(path.join(project.root), { recursive: true, force: true });
    }
  });
});
