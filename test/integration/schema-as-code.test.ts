/**
 * Schema as code end to end, through the real CLI, on every dialect under test: a model change →
 * `diff` → the generated migration applied by `up` → `check` (the migrations replayed in PGlite
 * make the model) and `drift` (every tenant is what the migrations make) both pass; destructive
 * changes refused until allowed by name; renames through renamedFrom; `check` catches a
 * hand-edited migration; `pull` from a live schema → `diff --init` → `check` passes.
 */
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { createMigrator } from '../../src/migrator.js';
import { REPO_ROOT, createProject, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { MASTER } from './sql-helpers.js';

const BUILDERS = path.join(REPO_ROOT, 'src/schema-model/index.ts');

/** The repository's models and snapshots, importing the builders from the repository. */
function copySchema(root: string): void {
  cpSync(path.join(REPO_ROOT, 'schema'), path.join(root, 'schema'), { recursive: true });
  for (const f of ['tenant.ts', 'master.ts']) {
    const file = path.join(root, 'schema', f);
    writeFileSync(file, readFileSync(file, 'utf8').replace("'../src/schema-model/index.js'", JSON.stringify(BUILDERS)));
  }
}

/** Edit the tenant model: replace `from` (must occur) with `to`. */
function edit(root: string, from: string, to: string): void {
  const file = path.join(root, 'schema/tenant.ts');
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`model edit: "${from}" not found`);
  writeFileSync(file, text.replace(from, to));
}

async function fleet(url: string, root: string, n: number): Promise<string[]> {
  const m = createMigrator({ url, rootDir: root, concurrency: 2 });
  try {
    await m.up({ masterTo: '0001_initial_layout' });
    await seedDemo(await m.adapter(), MASTER, n);
    await m.up();
    // ws_<32 hex> → the workspace GUID.
    return (await m.status()).plans.map((p) => p.schema.slice(3).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')).sort();
  } finally {
    await m.close();
  }
}

async function cli(root: string, args: string[], expected = 0) {
  const r = await runCli(args, { cwd: root });
  if (r.code !== expected) throw new Error(`tenant-migrate ${args.join(' ')}: exit ${r.code}, expected ${expected}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** diff → up → check → drift: the fleet equals the model. */
async function roundTrip(root: string, name: string, allow?: string) {
  const d = await cli(root, ['diff', name, ...(allow ? ['--allow', allow] : [])]);
  expect(d.stdout).toContain(`Wrote 000`);
  await cli(root, ['up']);
  await cli(root, ['check']);
  await cli(root, ['drift']);
  return d.stdout;
}

describe.each(runnableTargets)('schema as code on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 2 });

  it('every change kind round-trips: model → diff → up → check and drift pass', { timeout: 600_000 }, async () => {
    const root = fx.project.root;
    copySchema(root);
    await fleet(fx.db.url, root, 2);
    await cli(root, ['check']);
    expect((await cli(root, ['diff', 'nothing'])).stdout).toContain('No changes');

    // Add a column with a default, an index on it, widen a type, a new table with a foreign key.
    edit(root, "next_run_utc: col.datetime2().nullable(),", "next_run_utc: col.datetime2().nullable(),\n        priority: col.int().default(0, 'df_automation_jobs_priority'),");
    edit(root, "indexes: [{ name: 'ix_automation_jobs_status_next_run', columns: ['status', 'next_run_utc'] }],", "indexes: [\n        { name: 'ix_automation_jobs_status_next_run', columns: ['status', 'next_run_utc'] },\n        { name: 'ix_automation_jobs_priority', columns: [{ column: 'priority', descending: true }], include: ['name'], where: 'next_run_utc IS NOT NULL' },\n      ],");
    edit(root, 'kind: col.nvarchar(50),', 'kind: col.nvarchar(80),');
    edit(
      root,
      "    table('file_artifacts', {",
      "    table('job_labels', {\n      columns: { job_id: col.uuid(), label: col.nvarchar(50), is_system: col.bit().default(false) },\n      primaryKey: { name: 'pk_job_labels', columns: ['job_id', 'label'] },\n      foreignKeys: [{ name: 'fk_job_labels_job', columns: ['job_id'], references: { table: 'automation_jobs', columns: ['job_id'] }, onDelete: 'cascade' }],\n    }),\n\n    table('file_artifacts', {",
    );
    const first = await roundTrip(root, 'add_job_priority');
    expect(first).toContain('add column automation_jobs.priority int NOT NULL');
    expect(first).toContain('create table job_labels');

    // Rename a column (renamedFrom), change a default, drop a column (refused until allowed), a type change that needs the SQL Server index dance.
    edit(root, 'schedule_cron: col.nvarchar(100).nullable(),', "cron: col.nvarchar(100).nullable().renamedFrom('schedule_cron'),");
    edit(root, "status: col.nvarchar(20).default('active', 'df_automation_jobs_status'),", "status: col.nvarchar(30).default('paused', 'df_automation_jobs_status'),");
    edit(root, '        payload: col.json().nullable(),\n', '');
    const refused = await cli(root, ['diff', 'reshape_jobs'], 2);
    expect(refused.stdout).toContain('drop-column: column automation_jobs.payload is dropped with its data');
    expect(readdirSync(path.join(root, 'tenant-migrations')).filter((f) => f.includes('reshape_jobs'))).toEqual([]);
    const second = await roundTrip(root, 'reshape_jobs', 'drop-column');
    expect(second).toContain('rename column automation_jobs.schedule_cron → cron');
    const written = readdirSync(path.join(root, 'tenant-migrations')).find((f) => f.endsWith('_reshape_jobs.sql.hbs'))!;
    expect(readFileSync(path.join(root, 'tenant-migrations', written), 'utf8')).toContain('DESTRUCTIVE (drop-column');

    // NOT NULL without a default on an existing table: refused, then generated with a backfill marker.
    edit(root, "sha256: col.varchar(64),", "sha256: col.varchar(64),\n        checksum_kind: col.nvarchar(20),");
    expect((await cli(root, ['diff', 'artifact_checksum_kind'], 2)).stdout).toContain('not-null');
    await roundTrip(root, 'artifact_checksum_kind', 'not-null');

    expect((await cli(root, ['diff', 'again'])).stdout).toContain('No changes');
  });

  it('pull from a live tenant schema → diff --init → check passes', { timeout: 300_000 }, async () => {
    const root = fx.project.root;
    const [workspace] = await fleet(fx.db.url, root, 1);
    const pulled = await cli(root, ['pull', '--workspace', workspace!, '--import-from', BUILDERS]);
    expect(pulled.stdout).toMatch(/Wrote schema[/\\]tenant\.ts \(5 tables/);
    await cli(root, ['diff', '--init', '--scope', 'tenant']);
    const check = await cli(root, ['check', '--scope', 'tenant']);
    expect(check.stdout).toContain('model, snapshot and migrations agree');
  });
});

describe('check', () => {
  it('fails (exit 2) when a migration was edited by hand, naming the difference', { timeout: 120_000 }, async () => {
    const project = createProject({ url: 'pglite:memory' });
    try {
      copySchema(project.root);
      await cli(project.root, ['check']);
      const file = path.join(project.root, 'tenant-migrations/0001_create_workspace_tables.sql.hbs');
      writeFileSync(file, readFileSync(file, 'utf8').replace('kind {{nvarchar 50}} NOT NULL', 'kind {{nvarchar 60}} NOT NULL'));
      const r = await cli(project.root, ['check'], 2);
      expect(r.stdout).toContain('column workspace_agents.kind: type is nvarchar(50), expected nvarchar(60)');
      // A model change not generated into a migration.
      writeFileSync(file, readFileSync(file, 'utf8').replace('kind {{nvarchar 60}} NOT NULL', 'kind {{nvarchar 50}} NOT NULL'));
      edit(project.root, 'kind: col.nvarchar(50),', 'kind: col.nvarchar(70),');
      const r2 = await cli(project.root, ['check'], 2);
      expect(r2.stdout).toContain('alter column workspace_agents.kind: type nvarchar(50) → nvarchar(70)');
    } finally {
      project.remove();
      rmSync(path.join(project.root), { recursive: true, force: true });
    }
  });
});
