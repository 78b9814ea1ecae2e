import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { MigratorImpl, createMigrator } from '../../src/migrator.js';
import { checksumOf } from '../../src/source/index.js';
import { guid, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { MASTER, sqlHelpers } from './sql-helpers.js';

describe.each(runnableTargets)('engine core on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4, lockTimeoutMs: 2000 });
  let migrator: MigratorImpl;

  beforeEach(() => {
    migrator = createMigrator({ url: fx.db.url, rootDir: fx.project.root, concurrency: 4, lockTimeoutMs: 2000 }) as MigratorImpl;
  });

  afterEach(async () => {
    await migrator.close();
  });

  async function seed(n: number) {
    await migrator.up({ masterTo: '0001_initial_layout' });
    return seedDemo(await migrator.adapter(), MASTER, n);
  }

  async function query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const adapter = await migrator.adapter();
    return adapter.withSession((s) => s.query<R>(sql, params));
  }
  const sqlh = sqlHelpers(target.name, query, target.engine);
  const { table, master, uuidParam } = sqlh;

  it('fresh up migrates master and every workspace, backfills schema names and copies legacy links', async () => {
    const seeded = await seed(5);
    const result = await migrator.up();
    // Everything after the legacy layout (later master migrations may exist too).
    expect(result.master.applied[0]).toBe('0002_two_level_tenancy');
    expect(result.master.applied).not.toContain('0001_initial_layout');
    expect(result.tenants).toMatchObject({ total: 5, succeeded: 5, failed: 0 });

    const workspaces = await query<{ workspace_id: string; db_schema_name: string; status: string }>(
      `SELECT ${sqlh.uuidText('workspace_id')} AS workspace_id, db_schema_name, status FROM ${master('Workspace')}`,
    );
    expect(workspaces).toHaveLength(5);
    for (const w of workspaces) {
      expect(w.db_schema_name).toBe(`ws_${w.workspace_id.replace(/-/g, '')}`);
      expect(w.status).toBe('Active');
    }
    // Master meta rows: id, checksum of the template, rendered checksum, run id.
    const masterMeta = await query<{ id: string; checksum: string; rendered_checksum: string; run_id: string | null }>(
      `SELECT id, checksum, rendered_checksum, run_id FROM ${master('__schema_migrations')} ORDER BY id`,
    );
    const file = (rel: string) => checksumOf(readFileSync(path.join(fx.project.root, rel), 'utf8'));
    expect(masterMeta.map((m) => m.id).slice(0, 2)).toEqual(['0001_initial_layout', '0002_two_level_tenancy']);
    expect(masterMeta[1]!.checksum).toBe(file('master-migrations/0002_two_level_tenancy.sql.hbs'));
    expect(masterMeta[1]!.rendered_checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(masterMeta[1]!.run_id).toBe(result.runId);

    // Tenant meta rows and the copied integrations.
    let copied = 0;
    for (const w of workspaces) {
      const meta = await query<{ id: string; checksum: string; duration_ms: number }>(
        `SELECT id, checksum, duration_ms FROM ${table(w.db_schema_name, '__schema_migrations')} ORDER BY id`,
      );
      expect(meta.map((m) => m.id)).toEqual(['0001_create_workspace_tables', '0002_copy_workspace_external_links']);
      expect(meta[0]!.checksum).toBe(file('tenant-migrations/0001_create_workspace_tables.sql.hbs'));
      expect(meta[0]!.duration_ms).toBeGreaterThanOrEqual(0);
      const links = await sqlh.count(master('WorkspaceExternalLink'), `workspace_id = ${uuidParam(1)}`, [w.workspace_id]);
      const integrations = await sqlh.count(table(w.db_schema_name, 'workspace_integrations'));
      expect(integrations).toBe(links);
      copied += integrations;
    }
    expect(copied).toBe(seeded.links);
  });

  it('a re-run is a no-op', async () => {
    await seed(3);
    await migrator.up();
    const again = await migrator.up();
    expect(again.master.applied).toEqual([]);
    expect(again.tenants).toMatchObject({ total: 3, succeeded: 0, upToDate: 3, failed: 0 });
    const status = await migrator.status();
    expect(status.tenants).toMatchObject({ total: 3, upToDate: 3, behind: 0 });
    expect(status.master.pending).toEqual([]);
  });

  it('a migration added later applies only where pending', async () => {
    await seed(3);
    await migrator.up();
    fx.project.write(
      'tenant-migrations/0003_add_job_priority.sql.hbs',
      'ALTER TABLE {{schema}}.automation_jobs ADD priority {{int}} NOT NULL DEFAULT 0;\n',
    );
    const status = await migrator.status();
    expect(status.tenants).toMatchObject({ total: 3, behind: 3, pendingCounts: { '0003_add_job_priority': 3 } });
    const result = await migrator.up();
    expect(result.results.map((r) => r.applied)).toEqual([['0003_add_job_priority'], ['0003_add_job_priority'], ['0003_add_job_priority']]);
    // A workspace registered now gets all three; the others nothing.
    const id = guid();
    await sqlh.insertWorkspace({ workspaceId: id, name: 'late' });
    const late = await migrator.up();
    expect(late.results).toHaveLength(1);
    expect(late.results[0]!.applied).toEqual([
      '0001_create_workspace_tables',
      '0002_copy_workspace_external_links',
      '0003_add_job_priority',
    ]);
  });

  it('refuses to run when an applied migration was edited', async () => {
    await seed(2);
    await migrator.up();
    const rel = 'tenant-migrations/0001_create_workspace_tables.sql.hbs';
    writeFileSync(path.join(fx.project.root, rel), `${readFileSync(path.join(fx.project.root, rel), 'utf8')}\n-- edited\n`);
    await expect(migrator.up()).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH', context: { file: rel } });
    await migrator.close(); // PGlite: one process at a time
    const cli = await runCli(['up', '--json'], { cwd: fx.project.root });
    expect(cli.code).toBe(2);
    expect(JSON.parse(cli.stdout).error.code).toBe('CHECKSUM_MISMATCH');
  });

  it('a strict-template error names file, line and variable, and the tenant is not half-migrated', async () => {
    await seed(1);
    await migrator.up();
    fx.project.write(
      'tenant-migrations/0003_broken.sql.hbs',
      '-- a broken template\nCREATE TABLE {{schema}}.t1 (id {{int}});\nCREATE TABLE {{schema}}.t2 (id {{int}}, x {{nvarchar 10}} DEFAULT {{literal vars.missing}});\n',
    );
    // Every pending file is rendered for every tenant before the run opens: the error is the
    // call's (exit 2 in the CLI), and nothing of the file is applied anywhere.
    const error = (await migrator.up().then(
      () => undefined,
      (err: unknown) => err,
    )) as { code?: string; message?: string; context?: { tenant?: string } } | undefined;
    expect(error?.code).toBe('TEMPLATE_ERROR');
    expect(error?.message).toContain('tenant-migrations/0003_broken.sql.hbs:3');
    expect(error?.message).toContain('missing');
    const schema = error!.context!.tenant!;
    expect(schema).toMatch(/^ws_/);
    expect(await sqlh.tableExists(schema, 't1')).toBe(false);
  });

  it('a tenant template error stops the release before a pending master migration commits', async () => {
    await seed(2);
    await migrator.up();
    fx.project.write('master-migrations/0099_release_note.sql.hbs', 'CREATE TABLE {{master}}.release_note (id {{int}});\n');
    fx.project.write('tenant-migrations/0003_broken.sql.hbs', 'CREATE TABLE {{schema}}.t1 (id {{int}} DEFAULT {{literal vars.missing}});\n');
    await expect(migrator.up()).rejects.toMatchObject({ code: 'TEMPLATE_ERROR', context: { file: 'tenant-migrations/0003_broken.sql.hbs' } });
    expect(await sqlh.tableExists(MASTER, 'release_note')).toBe(false);
    const masterMeta = await query(`SELECT id FROM ${table(MASTER, '__schema_migrations')} WHERE id = '0099_release_note'`);
    expect(masterMeta).toHaveLength(0);
    // Mended, the same release applies both.
    fx.project.write('tenant-migrations/0003_broken.sql.hbs', 'CREATE TABLE {{schema}}.t1 (id {{int}});\n');
    const result = await migrator.up();
    expect(result.master.applied).toContain('0099_release_note');
    expect(result.tenants).toMatchObject({ succeeded: 2, failed: 0 });
  });

  it('a failing statement rolls back with its meta row and reports migration, batch and template line', async () => {
    await seed(1);
    await migrator.up();
    fx.project.write(
      'tenant-migrations/0003_bad_sql.sql.hbs',
      'CREATE TABLE {{schema}}.ok_table (id {{int}});\n\nINSERT INTO {{schema}}.no_such_table VALUES (1);\n',
    );
    const result = await migrator.up();
    const failed = result.results[0]!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'MIGRATION_FAILED', migrationId: '0003_bad_sql', line: 3, statementIndex: 0, dbCode: sqlh.undefinedTableCode });
    expect(failed.error!.message).toContain('tenant-migrations/0003_bad_sql.sql.hbs:3');
    const meta = await query(`SELECT id FROM ${table(failed.schema, '__schema_migrations')} WHERE id = '0003_bad_sql'`);
    expect(meta).toHaveLength(0);
    expect(await sqlh.tableExists(failed.schema, 'ok_table')).toBe(false);
  });

  it('a tenant whose first migration fails keeps no empty schema and no recorded name', async () => {
    await seed(1);
    await migrator.up({ masterTo: '0002_two_level_tenancy' });
    fx.project.write('tenant-migrations/0000_fails_first.sql.hbs', 'CREATE TABLE {{schema}}.t0 (id {{int}});\nSELECT * FROM {{schema}}.does_not_exist;\n');
    const result = await migrator.up();
    const failed = result.results[0]!;
    expect(failed).toMatchObject({ status: 'failed', error: { migrationId: '0000_fails_first' } });
    // Schema and meta table are created inside the first migration's transaction: rolled back with it.
    expect(await sqlh.schemaExists(failed.schema)).toBe(false);
    expect(await sqlh.count(`${MASTER}.${sqlh.ident('Workspace')}`, 'db_schema_name IS NOT NULL')).toBe(0);
  });

  it('rejects an injected db_schema_name and never executes it', async () => {
    await seed(2);
    await migrator.up();
    const evil = guid();
    // The payload uses the dialect's own quoting, so it would drop the table if it were ever executed.
    const injected = `ws_x; DROP TABLE ${MASTER}.${sqlh.ident('WorkspaceMember')}; --`;
    // Master 0002's CHECK refuses such a value; a registry filled by other means may not have it.
    await sqlh.dropConstraint(MASTER, 'Workspace', 'ck_workspace_db_schema_name');
    await sqlh.insertWorkspace({ workspaceId: evil, name: 'evil', dbSchemaName: injected });
    const result = await migrator.up();
    expect(result.invalid).toEqual([expect.objectContaining({ workspaceId: evil, dbSchemaName: injected })]);
    expect(result.results).toHaveLength(0);
    expect(await sqlh.tableExists(MASTER, 'WorkspaceMember')).toBe(true);
    expect(await sqlh.schemasLike('ws_x%')).toHaveLength(0);
    const status = await migrator.status();
    expect(status.tenants.invalid).toBe(1);
  });

  it('CLI: status --json contract, exit codes 0 / 1 / 2', async () => {
    await seed(2);
    await migrator.close();
    const up = await runCli(['up', '--json'], { cwd: fx.project.root });
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ ok: true, tenants: { total: 2, succeeded: 2, failed: 0 } });
    const status = await runCli(['status', '--json'], { cwd: fx.project.root });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      master: { applied: expect.arrayContaining(['0001_initial_layout', '0002_two_level_tenancy']), pending: [] },
      tenants: { total: 2, upToDate: 2, behind: 0, failed: 0 },
    });
    // Exit 1: one tenant's migration fails.
    fx.project.write('tenant-migrations/0003_fails.sql.hbs', 'SELECT * FROM {{schema}}.does_not_exist;\n');
    const failing = await runCli(['up', '--json'], { cwd: fx.project.root });
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.stdout).failed).toHaveLength(2);
    // Exit 2: invalid configuration, every problem with its path.
    fx.project.write('tenant-migrate.config.json', JSON.stringify({ url: fx.db.url, concurrency: 0, masterSchema: 'bad name;' }));
    const bad = await runCli(['status'], { cwd: fx.project.root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('concurrency');
    expect(bad.stderr).toContain('masterSchema');
    // Exit 2: usage error.
    const usage = await runCli(['nonsense'], { cwd: fx.project.root });
    expect(usage.code).toBe(2);
  });
});
