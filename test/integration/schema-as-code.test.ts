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
import { type DialectTarget, REPO_ROOT, createProject, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { MASTER, withDatabase } from './sql-helpers.js';

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

/**
 * A model pulled from SQL Server is checked on the server: SQL Server has no JSON type (a `json`
 * column is NVARCHAR(MAX) there), so the PGlite replay would tell the migrations' jsonb from the
 * pulled nvarchar(max) while the real dialect cannot.
 */
const onServerFor = (target: DialectTarget): string[] => (target.name === 'mssql' ? ['--on-server'] : []);

const PULL_ON_BABELFISH =
  'skipped on Babelfish: it stores index names as <name><table><md5> cut to 63 characters, so longer ones cannot be read back, and it cannot drop the temporary default a column rebuild leaves';

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

  it('identity added and removed, computed columns, renamed keys/checks/foreign keys/indexes round-trip; identity changes keep the values', { timeout: 600_000 }, async () => {
    const root = fx.project.root;
    copySchema(root);
    const [workspace] = await fleet(fx.db.url, root, 2);
    const schema = `ws_${workspace!.replace(/-/g, '')}`;
    edit(
      root,
      "    table('file_artifacts', {",
      "    table('job_counters', {\n      columns: { counter_id: col.bigint(), hits: col.int().default(0, 'df_job_counters_hits') },\n      primaryKey: { name: 'pk_job_counters', columns: ['counter_id'] },\n    }),\n\n    table('job_events', {\n      columns: { event_id: col.identity(), label: col.nvarchar(40) },\n      primaryKey: { name: 'pk_job_events', columns: ['event_id'] },\n    }),\n\n    table('file_artifacts', {",
    );
    edit(root, 'sha256: col.varchar(64),', "sha256: col.varchar(64),\n        size_kb: col.bigint().computed('size_bytes / 1024'),");
    edit(root, "indexes: [{ name: 'ix_file_artifacts_job_run', columns: ['job_run_id'] }],", "indexes: [{ name: 'ix_file_artifacts_job_run', columns: ['job_run_id'] }, { name: 'ix_file_artifacts_size_kb', columns: ['size_kb'] }],");
    const first = await roundTrip(root, 'counters_and_sizes');
    expect(first).toContain('add computed column file_artifacts.size_kb bigint');

    // Rows the identity changes must keep.
    await withDatabase(fx.db.url, async (db) => {
      await db.exec(`INSERT INTO ${db.table(schema, 'job_counters')} (counter_id, hits) VALUES (41, 1), (42, 2)`);
      await db.exec(`INSERT INTO ${db.table(schema, 'job_events')} (label) VALUES ('a'), ('b')`);
      await db.exec(`INSERT INTO ${db.table(schema, 'file_artifacts')} (file_name, content_type, size_bytes, storage_uri, sha256) VALUES ('a.txt', 'text/plain', 4096, 's3://a', '00')`);
      const [row] = await db.query<{ size_kb: number | string }>(`SELECT size_kb FROM ${db.table(schema, 'file_artifacts')}`);
      expect(Number(row!.size_kb)).toBe(4);
    });

    edit(root, 'columns: { counter_id: col.bigint(),', 'columns: { counter_id: col.identity(),');
    edit(root, 'columns: { event_id: col.identity(),', 'columns: { event_id: col.bigint(),');
    edit(root, "size_kb: col.bigint().computed('size_bytes / 1024'),", "size_kb: col.bigint().computed('size_bytes / 1000', { persisted: true }),");
    edit(root, "{ name: 'ix_automation_jobs_status_next_run', columns: ['status', 'next_run_utc'] }", "{ name: 'ix_automation_jobs_due', columns: ['status', 'next_run_utc'], renamedFrom: 'ix_automation_jobs_status_next_run' }");
    edit(root, "{ name: 'ck_file_artifacts_size', expression: 'size_bytes >= 0' }", "{ name: 'ck_file_artifacts_size_bytes', expression: 'size_bytes >= 0', renamedFrom: 'ck_file_artifacts_size' }");
    edit(root, "{ name: 'fk_automation_jobs_agent', columns: ['agent_id']", "{ name: 'fk_automation_jobs_agent_id', renamedFrom: 'fk_automation_jobs_agent', columns: ['agent_id']");
    edit(root, "primaryKey: { name: 'pk_workspace_agents', columns: ['agent_id'] },", "primaryKey: { name: 'pk_workspace_agent', columns: ['agent_id'], renamedFrom: 'pk_workspace_agents' },");
    const refused = await cli(root, ['diff', 'identity_and_renames'], 2);
    expect(refused.stdout).toContain('identity: column job_counters.counter_id gains IDENTITY');
    const second = await roundTrip(root, 'identity_and_renames', 'identity');
    for (const change of [
      'rename index ix_automation_jobs_status_next_run → ix_automation_jobs_due on automation_jobs',
      'rename check ck_file_artifacts_size → ck_file_artifacts_size_bytes on file_artifacts',
      'rename foreign key fk_automation_jobs_agent → fk_automation_jobs_agent_id on automation_jobs',
      'rename primary key pk_workspace_agents → pk_workspace_agent on workspace_agents',
      'alter column job_counters.counter_id: IDENTITY added',
      'alter column job_events.event_id: IDENTITY removed',
      'add computed column file_artifacts.size_kb bigint PERSISTED',
    ]) expect(second).toContain(change);

    await withDatabase(fx.db.url, async (db) => {
      const ids = async (t: string, c: string) => (await db.query<{ id: number | string }>(`SELECT ${c} AS id FROM ${db.table(schema, t)} ORDER BY ${c}`)).map((r) => Number(r.id));
      expect(await ids('job_counters', 'counter_id')).toEqual([41, 42]);
      expect(await ids('job_events', 'event_id')).toEqual([1, 2]);
      // The new identity continues after the kept values.
      await db.exec(`INSERT INTO ${db.table(schema, 'job_counters')} (hits) VALUES (3)`);
      expect(await ids('job_counters', 'counter_id')).toEqual([41, 42, 43]);
      // No longer an identity: the value is given.
      await db.exec(`INSERT INTO ${db.table(schema, 'job_events')} (event_id, label) VALUES (10, 'c')`);
      const [row] = await db.query<{ size_kb: number | string }>(`SELECT size_kb FROM ${db.table(schema, 'file_artifacts')}`);
      expect(Number(row!.size_kb)).toBe(4);
    });
    expect((await cli(root, ['diff', 'again'])).stdout).toContain('No changes');
    if (target.engine === 'babelfish') return; // the pull below: registered as skipped on Babelfish (see PULL_ON_BABELFISH)
    // pull reads the identity and the computed column back: the pulled model is what the migrations make.
    await cli(root, ['pull', '--workspace', workspace!, '--import-from', BUILDERS, '--force']);
    const pulledModel = readFileSync(path.join(root, 'schema/tenant.ts'), 'utf8');
    expect(pulledModel).toContain('counter_id: col.identity(),');
    expect(pulledModel).toMatch(/size_kb: col\.bigint\(\)\.computed\('[^']*size_bytes[^']*1000[^']*'\),/);
    expect(pulledModel).toContain("name: 'pk_workspace_agent'");
    await cli(root, ['diff', '--init', '--scope', 'tenant']);
    await cli(root, ['check', '--scope', 'tenant', ...onServerFor(target)]);
  });

  if (target.engine === 'babelfish') it.skip(`pull after identity and computed-column changes (the end of the test above) — ${PULL_ON_BABELFISH}`, () => {});

  it('check --on-server replays in scratch schemas on the database itself, catches a hand-edited migration, leaves no scratch schema', { timeout: 300_000 }, async () => {
    const root = fx.project.root;
    copySchema(root);
    await fleet(fx.db.url, root, 1);
    const ok = await cli(root, ['check', '--on-server']);
    expect(ok.stdout).toMatch(/tenant: schema\/tenant\.ts — model, snapshot and migrations agree \(replayed on the \w+ database, in scratch schemas\)/);
    expect(ok.stdout).toMatch(/master: schema\/master\.ts — model, snapshot and migrations agree/);
    const file = path.join(root, 'tenant-migrations/0001_create_workspace_tables.sql.hbs');
    writeFileSync(file, readFileSync(file, 'utf8').replace('kind {{nvarchar 50}} NOT NULL', 'kind {{nvarchar 60}} NOT NULL'));
    // --url on check means on the server too.
    const r = await cli(root, ['check', '--url', fx.db.url, '--json'], 2);
    const result = JSON.parse(r.stdout) as { ok: boolean; replayedOn: string; dialect: string; scopes: { scope: string; differences: { kind: string; name?: string; property?: string }[] }[] };
    expect(result.ok).toBe(false);
    expect(result.replayedOn).toBe('server');
    expect(result.dialect).toBe(target.name);
    expect(result.scopes.find((s) => s.scope === 'tenant')!.differences).toEqual([expect.objectContaining({ kind: 'column', name: 'kind', property: 'type' })]);
    await withDatabase(fx.db.url, async (db) => expect(await db.schemasLike('tm_scratch%')).toEqual([]));
  });

  it.skipIf(target.engine === 'babelfish')(`pull from a live tenant schema → diff --init → check passes${target.engine === 'babelfish' ? ` — ${PULL_ON_BABELFISH}` : ''}`, { timeout: 300_000 }, async () => {
    const root = fx.project.root;
    const [workspace] = await fleet(fx.db.url, root, 1);
    const pulled = await cli(root, ['pull', '--workspace', workspace!, '--import-from', BUILDERS]);
    expect(pulled.stdout).toMatch(/Wrote schema[/\\]tenant\.ts \(5 tables/);
    await cli(root, ['diff', '--init', '--scope', 'tenant']);
    const check = await cli(root, ['check', '--scope', 'tenant', ...onServerFor(target)]);
    expect(check.stdout).toContain('model, snapshot and migrations agree');
  });
});

describe('check', () => {
  it('fails (exit 2) when a migration was edited by hand, naming the difference', { timeout: 300_000 }, async () => {
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
