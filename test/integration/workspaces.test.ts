import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigratorImpl, createMigrator } from '../../src/migrator.js';
import { ProvisionError, WorkspaceService, createWorkspaceService } from '../../src/workspaces/workspace-service.js';
import { guid, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { sqlHelpers } from './sql-helpers.js';
const TENANT_IDS = ['0001_create_workspace_tables', '0002_copy_workspace_external_links'];
const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;

describe.each(runnableTargets)('workspace service on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4, lockTimeoutMs: 30_000 });
  let migrator: MigratorImpl;
  let service: WorkspaceService;

  const config = () => ({ url: fx.db.url, rootDir: fx.project.root, concurrency: 4, lockTimeoutMs: 30_000 });

  beforeEach(() => {
    migrator = createMigrator(config()) as MigratorImpl;
    service = createWorkspaceService(migrator);
  });

  afterEach(async () => {
    await service.close();
    await migrator.close();
  });

  async function query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const adapter = await migrator.adapter();
    return adapter.withSession((s) => s.query<R>(sql, params));
  }
  const sqlh = sqlHelpers(target.name, query, target.engine);
  const { master, table, uuidParam, ident } = sqlh;
  const byId = `workspace_id = ${uuidParam(1)}`;
  const row = async (id: string) =>
    (await query<{ status: string; db_schema_name: string; name: string; last_seen_utc: Date | null }>(
      `SELECT status, db_schema_name, name, last_seen_utc FROM ${master('Workspace')} WHERE ${byId}`,
      [id],
    ))[0];
  const schemaExists = (schema: string) => sqlh.schemaExists(schema);
  const appliedIds = async (schema: string) =>
    (await query<{ id: string }>(`SELECT id FROM ${table(schema, '__schema_migrations')} ORDER BY id`)).map((r) => r.id);

  it('provisions a workspace: schema, every tenant migration, Active row, OWNER member, lookup', async () => {
    await migrator.up();
    const id = guid();
    const result = await service.provisionWorkspace({ workspaceId: id.toUpperCase(), name: 'Acme', ownerUserId: 'user-1' });
    expect(result).toMatchObject({ workspaceId: id, schema: schemaOf(id), outcome: 'created', applied: TENANT_IDS });
    expect(await row(id)).toMatchObject({ status: 'Active', db_schema_name: schemaOf(id), name: 'Acme' });
    expect((await row(id))!.last_seen_utc).toBeInstanceOf(Date);
    expect(await appliedIds(schemaOf(id))).toEqual(TENANT_IDS);
    expect(await query(`SELECT ${ident('role')} AS role FROM ${master('WorkspaceMember')} WHERE ${byId} AND user_id = $2`, [id, 'user-1'])).toEqual([
      { role: 'OWNER' },
    ]);
    expect(await service.getWorkspaceSchemaName(`{${id}}`)).toBe(schemaOf(id));
    const details = await service.showWorkspace(id);
    expect(details).toMatchObject({ status: 'Active', schemaExists: true, pending: [] });
    expect(details.applied.map((a) => a.id)).toEqual(TENANT_IDS);
  });

  it('is idempotent, also when the same workspace is provisioned twice at once', async () => {
    await migrator.up();
    const id = guid();
    const [a, b] = await Promise.all([
      service.provisionWorkspace({ workspaceId: id, name: 'Once', ownerUserId: 'u' }),
      service.provisionWorkspace({ workspaceId: id, name: 'Twice', ownerUserId: 'u' }),
    ]);
    expect([a.schema, b.schema]).toEqual([schemaOf(id), schemaOf(id)]);
    expect([a.applied, b.applied].sort((x, y) => x.length - y.length)).toEqual([[], TENANT_IDS]);
    const again = await service.provisionWorkspace({ workspaceId: id, name: 'Renamed?' });
    expect(again).toMatchObject({ outcome: 'existing', applied: [] });
    expect(await row(id)).toMatchObject({ status: 'Active' });
    expect((await row(id))!.name).not.toBe('Renamed?');
    expect(await query(`SELECT 1 AS one FROM ${master('WorkspaceMember')} WHERE ${byId}`, [id])).toHaveLength(1);
  });

  it('rejects a non-GUID before any SQL, and refuses to provision before master is migrated', async () => {
    for (const bad of ['nope', 'ws_123', "1'; DROP TABLE x; --", '123e4567-e89b-12d3-a456-42661417400']) {
      await expect(service.provisionWorkspace({ workspaceId: bad })).rejects.toMatchObject({ code: 'INVALID_WORKSPACE_ID' });
      await expect(service.getWorkspaceSchemaName(bad)).rejects.toMatchObject({ code: 'INVALID_WORKSPACE_ID' });
      await expect(service.archiveWorkspace(bad)).rejects.toMatchObject({ code: 'INVALID_WORKSPACE_ID' });
    }
    const err = await service.provisionWorkspace({ workspaceId: guid() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProvisionError);
    expect((err as Error).message).toMatch(/run `tenant-migrate up`/);
    // The check is not cached on failure: after up, provisioning works.
    await migrator.up();
    await expect(service.provisionWorkspace({ workspaceId: guid() })).resolves.toMatchObject({ outcome: 'created' });
  });

  it('a failing tenant migration leaves nothing Active: a new workspace is removed, a resumed one stays Provisioning', async () => {
    await migrator.up();
    fx.project.write('tenant-migrations/0003_broken.sql.hbs', 'CREATE TABLE {{table "ok_before"}} (id int);\nSELECT * FROM {{schema}}.does_not_exist;\n');
    const broken = createWorkspaceService(migrator);
    const id = guid();
    const err = await broken.provisionWorkspace({ workspaceId: id, ownerUserId: 'u' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProvisionError);
    expect(err).toMatchObject({ code: 'PROVISION_FAILED', context: { migrationId: '0003_broken', cleanedUp: true } });
    expect((err as Error).message).toMatch(/tenant-migrations\/0003_broken\.sql\.hbs/);
    expect(await row(id)).toBeUndefined();
    expect(await schemaExists(schemaOf(id))).toBe(false);

    // A row already Provisioning (an earlier attempt) is kept, never Active, invisible to up and lookup.
    await sqlh.insertWorkspace({ workspaceId: id, name: 'x', dbSchemaName: schemaOf(id), status: 'Provisioning' });
    const again = await broken.provisionWorkspace({ workspaceId: id }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'PROVISION_FAILED', context: { cleanedUp: false } });
    expect((again as Error).message).toMatch(/stays 'Provisioning'.*resume/);
    expect(await row(id)).toMatchObject({ status: 'Provisioning' });
    await expect(service.getWorkspaceSchemaName(id)).rejects.toMatchObject({ code: 'WORKSPACE_NOT_ACTIVE' });
    expect((await migrator.status()).tenants.total).toBe(0);

    // Fix the migration: provisioning resumes where it stopped.
    fx.project.write('tenant-migrations/0003_broken.sql.hbs', 'CREATE TABLE {{table "ok_before"}} (id int);\n');
    const fixed = createWorkspaceService(migrator);
    const resumed = await fixed.provisionWorkspace({ workspaceId: id });
    expect(resumed).toMatchObject({ outcome: 'resumed', applied: ['0003_broken'] });
    expect(await row(id)).toMatchObject({ status: 'Active' });
  });

  it('provisioning still works once the legacy WorkspaceExternalLink is dropped (tenant 0002 copies only while it exists)', async () => {
    await migrator.up();
    // What the planned after-tenants master migration will do.
    await query(`DROP TABLE ${master('WorkspaceExternalLink')}`);
    const id = guid();
    await expect(service.provisionWorkspace({ workspaceId: id, name: 'after-contract' })).resolves.toMatchObject({ outcome: 'created', applied: TENANT_IDS });
    expect(await appliedIds(schemaOf(id))).toEqual(TENANT_IDS);
  });

  it('the cleanup after a failed provisioning drops a schema whose objects depend on each other', async () => {
    await migrator.up();
    // Committed by 0003: a sequence taken by a DEFAULT, a function called by a CHECK, a view over a view.
    // SQL Server refuses to drop the sequence or the function before the table (error 3729);
    // Babelfish (PostgreSQL views) refuses to drop a view another view is built on.
    fx.project.write(
      'tenant-migrations/0003_dependent_objects.sql.hbs',
      `{{#if isMssql}}
CREATE SEQUENCE {{schema}}.numbered_seq START WITH 1;
GO
CREATE FUNCTION {{schema}}.is_positive (@x INT) RETURNS BIT AS BEGIN RETURN CASE WHEN @x > 0 THEN 1 ELSE 0 END; END;
GO
CREATE TABLE {{schema}}.numbered (
    id INT NOT NULL CONSTRAINT df_numbered_id DEFAULT (NEXT VALUE FOR {{schema}}.numbered_seq),
    v INT NOT NULL CONSTRAINT ck_numbered_v CHECK ({{schema}}.is_positive(v) = 1)
);
GO
CREATE VIEW {{schema}}.numbered_v AS SELECT id, v FROM {{schema}}.numbered;
GO
CREATE VIEW {{schema}}.numbered_vv AS SELECT id FROM {{schema}}.numbered_v;
{{else}}
CREATE SEQUENCE {{schema}}.numbered_seq;
CREATE TABLE {{schema}}.numbered (id bigint NOT NULL DEFAULT nextval('{{schemaName}}.numbered_seq'), v int NOT NULL);
CREATE VIEW {{schema}}.numbered_v AS SELECT id, v FROM {{schema}}.numbered;
CREATE VIEW {{schema}}.numbered_vv AS SELECT id FROM {{schema}}.numbered_v;
{{/if}}
`,
    );
    fx.project.write('tenant-migrations/0004_broken.sql.hbs', 'SELECT * FROM {{schema}}.does_not_exist;\n');
    const broken = createWorkspaceService(migrator);
    const id = guid();
    const err = await broken.provisionWorkspace({ workspaceId: id }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVISION_FAILED', context: { migrationId: '0004_broken', cleanedUp: true } });
    expect(await row(id)).toBeUndefined();
    expect(await schemaExists(schemaOf(id))).toBe(false);
  });

  it(`provisions ${target.name === 'postgres' ? 50 : 10} workspaces concurrently`, async () => {
    await migrator.up();
    const n = target.name === 'postgres' ? 50 : 10;
    const ids = Array.from({ length: n }, () => guid());
    const results = await Promise.allSettled(ids.map((id, i) => service.provisionWorkspace({ workspaceId: id, name: `w${i}`, ownerUserId: `u${i}` })));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await sqlh.count(master('Workspace'), "status = 'Active'")).toBe(n);
    const applied = await migrator.adapter().then((a) => a.meta.readAppliedMany(ids.map(schemaOf)));
    for (const id of ids) expect(applied.get(schemaOf(id))!.map((a) => a.id)).toEqual(TENANT_IDS);
  });

  it('provisioning beside a running up: same tenant lock, every schema ends at the new migration once', async () => {
    await migrator.up();
    const existing = Array.from({ length: 6 }, () => guid());
    for (const id of existing) await service.provisionWorkspace({ workspaceId: id });
    fx.project.write('tenant-migrations/0003_add_priority.sql.hbs', 'ALTER TABLE {{table "automation_jobs"}} ADD priority int NULL;\n');
    const fresh = Array.from({ length: 6 }, () => guid());
    const later = createWorkspaceService(migrator); // reads the files with 0003
    const [up, ...provisioned] = await Promise.all([
      migrator.up(),
      // Re-provisioning an existing workspace races `up` for the same schema.
      ...existing.map((id) => later.provisionWorkspace({ workspaceId: id })),
      ...fresh.map((id) => later.provisionWorkspace({ workspaceId: id })),
    ]);
    expect(up.tenants.failed).toBe(0);
    expect(provisioned).toHaveLength(12);
    const applied = await migrator.adapter().then((a) => a.meta.readAppliedMany([...existing, ...fresh].map(schemaOf)));
    for (const [, rows] of applied) expect(rows.map((r) => r.id)).toEqual([...TENANT_IDS, '0003_add_priority']);
    // Each existing schema got 0003 exactly once: from up or from provisioning.
    const byUp = up.results.filter((r) => r.applied.includes('0003_add_priority')).length;
    const byProvision = provisioned.slice(0, 6).filter((p) => p.applied.includes('0003_add_priority')).length;
    expect(byUp + byProvision).toBe(6);
  });

  it('archive: up skips the workspace unless --include-archived; lookup and provisioning refuse it', async () => {
    await migrator.up();
    const [a, b] = [guid(), guid()];
    await service.provisionWorkspace({ workspaceId: a });
    await service.provisionWorkspace({ workspaceId: b });
    expect(await service.getWorkspaceSchemaName(b)).toBe(schemaOf(b)); // cached now
    await expect(service.archiveWorkspace(b)).resolves.toMatchObject({ status: 'Archived', schema: schemaOf(b) });
    await expect(service.archiveWorkspace(b)).resolves.toMatchObject({ status: 'Archived' }); // idempotent
    await expect(service.getWorkspaceSchemaName(b)).rejects.toMatchObject({ code: 'WORKSPACE_NOT_ACTIVE' });
    await expect(service.provisionWorkspace({ workspaceId: b })).rejects.toMatchObject({ code: 'WORKSPACE_NOT_ACTIVE' });
    await expect(service.archiveWorkspace(guid())).rejects.toMatchObject({ code: 'NOT_FOUND' });

    fx.project.write('tenant-migrations/0003_add_priority.sql.hbs', 'ALTER TABLE {{table "automation_jobs"}} ADD priority int NULL;\n');
    const up = await migrator.up();
    expect(up.tenants).toMatchObject({ total: 1, succeeded: 1 });
    expect(await appliedIds(schemaOf(a))).toContain('0003_add_priority');
    expect(await appliedIds(schemaOf(b))).not.toContain('0003_add_priority');

    await service.close();
    await migrator.close(); // PGlite: one process per data directory
    const cli = await runCli(['up', '--include-archived', '--json'], { cwd: fx.project.root });
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ tenants: { total: 2, succeeded: 1 } });
    migrator = createMigrator(config()) as MigratorImpl;
    service = createWorkspaceService(migrator);
    expect(await appliedIds(schemaOf(b))).toContain('0003_add_priority');
  });

  it('lookup cache: served until the TTL or an invalidation by this service; ttl 0 reads every time', async () => {
    await migrator.up();
    const id = guid();
    await service.provisionWorkspace({ workspaceId: id });
    expect(await service.getWorkspaceSchemaName(id)).toBe(schemaOf(id));
    // Archived behind the service's back (another process): the cached answer stands until TTL/invalidate.
    await query(`UPDATE ${master('Workspace')} SET status = 'Archived' WHERE ${byId}`, [id]);
    expect(await service.getWorkspaceSchemaName(id)).toBe(schemaOf(id));
    service.invalidate(id.toUpperCase());
    await expect(service.getWorkspaceSchemaName(id)).rejects.toMatchObject({ code: 'WORKSPACE_NOT_ACTIVE' });

    const uncached = createWorkspaceService(migrator, { cache: { ttlMs: 0 } });
    await query(`UPDATE ${master('Workspace')} SET status = 'Active' WHERE ${byId}`, [id]);
    expect(await uncached.getWorkspaceSchemaName(id)).toBe(schemaOf(id));
    await query(`UPDATE ${master('Workspace')} SET status = 'Archived' WHERE ${byId}`, [id]);
    await expect(uncached.getWorkspaceSchemaName(id)).rejects.toMatchObject({ code: 'WORKSPACE_NOT_ACTIVE' });
    await expect(service.getWorkspaceSchemaName(guid())).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('touch sets last_seen_utc; unknown workspace is NOT_FOUND', async () => {
    await migrator.up();
    const id = guid();
    await service.provisionWorkspace({ workspaceId: id });
    await query(`UPDATE ${master('Workspace')} SET last_seen_utc = NULL WHERE ${byId}`, [id]);
    await service.touchWorkspace(id);
    expect((await row(id))!.last_seen_utc).toBeInstanceOf(Date);
    await expect(service.touchWorkspace(guid())).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('CLI: workspace add / show / archive with --json, exit 2 for a bad GUID', async () => {
    await migrator.up();
    await service.close();
    await migrator.close();
    const id = guid();
    const add = await runCli(['workspace', 'add', id, '--name', 'Acme', '--owner', 'u1', '--json'], { cwd: fx.project.root });
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ ok: true, workspaceId: id, schema: schemaOf(id), outcome: 'created', applied: TENANT_IDS });
    const show = await runCli(['workspace', 'show', id, '--json'], { cwd: fx.project.root });
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown).toMatchObject({ workspaceId: id, schema: schemaOf(id), status: 'Active', schemaExists: true, pending: [], name: 'Acme' });
    expect(shown.applied.map((a: { id: string }) => a.id)).toEqual(TENANT_IDS);
    const archive = await runCli(['workspace', 'archive', id], { cwd: fx.project.root });
    expect(archive.code).toBe(0);
    expect(archive.stdout).toMatch(/Archived/);
    const text = await runCli(['workspace', 'show', id], { cwd: fx.project.root });
    expect(text.stdout).toMatch(/status: Archived/);
    const bad = await runCli(['workspace', 'add', 'not-a-guid', '--json'], { cwd: fx.project.root });
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, error: { code: 'INVALID_WORKSPACE_ID' } });
    const missing = await runCli(['workspace', 'show', guid()], { cwd: fx.project.root });
    expect(missing.code).toBe(2);
    migrator = createMigrator(config()) as MigratorImpl;
    service = createWorkspaceService(migrator);
  });
});
