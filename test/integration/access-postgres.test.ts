/**
 * Least privilege on PostgreSQL and PGlite (docs/security.md): the engine runs as a
 * non-superuser database owner, grants the configured roles on every tenant schema, and a role
 * reaches exactly what is configured. Roles are cluster-wide on PostgreSQL: every test makes its own
 * with a random suffix and drops them after its database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MigratorImpl, createMigrator } from '../../src/migrator.js';
import { createWorkspaceService } from '../../src/workspaces/workspace-service.js';
import { type DialectTarget, type TestDatabase, type TestProject, createProject, guid, runnableTargets, reportSkipped } from './harness.js';

const pgTargets = runnableTargets.filter((t) => t.name === 'postgres' || t.name === 'pglite');
if (pgTargets.length === 0) reportSkipped('postgres', 'least privilege on PostgreSQL / PGlite');
const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;
const q = (name: string) => `"${name}"`;

const LATER_TABLE = `CREATE TABLE {{table "job_notes"}} (note_id {{int}} NOT NULL PRIMARY KEY, body {{text}} NULL);\n`;

describe.each(pgTargets)('least privilege on $name', (target: DialectTarget) => {
  const suffix = () => randomBytes(4).toString('hex');
  let db: TestDatabase;
  let project: TestProject;
  let s: string;
  let roles: { deploy: string; app: string; ro: string };
  let admin: pg.Client | undefined;
  let migrator: MigratorImpl | undefined;
  const extraRoles: string[] = [];
  const isPg = target.name === 'postgres';

  /** The engine's URL: on PostgreSQL the non-superuser deploy login, on PGlite the single user. */
  const engineUrl = () => {
    if (!isPg) return db.url;
    const u = new URL(db.url);
    u.username = roles.deploy;
    return u.toString();
  };
  const open = (access: Record<string, unknown>, url = engineUrl()) => {
    migrator = createMigrator({ url, rootDir: project.root, concurrency: 2, lockTimeoutMs: 20_000, access }) as MigratorImpl;
    return migrator;
  };

  beforeEach(async () => {
    db = await target.createDatabase();
    project = createProject({});
    s = suffix();
    roles = { deploy: `tm_deploy_${s}`, app: `tm_app_${s}`, ro: `tm_ro_${s}` };
    if (isPg) {
      admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      // The documented minimum: a LOGIN that owns the database; no SUPERUSER, no CREATEROLE (unless per-workspace roles).
      await admin.query(`CREATE ROLE ${q(roles.deploy)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
      await admin.query(`CREATE ROLE ${q(roles.app)} NOLOGIN`);
      await admin.query(`CREATE ROLE ${q(roles.ro)} NOLOGIN`);
      await admin.query(`ALTER DATABASE ${q(new URL(db.url).pathname.slice(1))} OWNER TO ${q(roles.deploy)}`);
    } else {
      const m = createMigrator({ url: db.url, rootDir: project.root });
      await (await m.adapter()).withSession(async (x) => {
        await x.query(`CREATE ROLE ${q(roles.app)} NOLOGIN`);
        await x.query(`CREATE ROLE ${q(roles.ro)} NOLOGIN`);
      });
      await m.close();
    }
  });

  afterEach(async () => {
    await migrator?.close();
    migrator = undefined;
    await admin?.end().catch(() => undefined);
    admin = undefined;
    await db.drop(); // first: privileges in the dropped database go with it
    if (isPg) {
      const c = new pg.Client({ connectionString: new URL('/postgres', db.url).toString() });
      await c.connect();
      for (const r of [roles.app, roles.ro, roles.deploy, ...extraRoles.splice(0)]) await c.query(`DROP ROLE IF EXISTS ${q(r)}`);
      await c.end();
    }
    project.remove();
  });

  /** Run `sql` as `role` (SET LOCAL ROLE from a superuser session, rolled back); resolves to the rows. */
  async function asRole(role: string, sql: string): Promise<unknown[]> {
    if (isPg) {
      await admin!.query('BEGIN');
      try {
        await admin!.query(`SET LOCAL ROLE ${q(role)}`);
        return (await admin!.query(sql)).rows;
      } finally {
        await admin!.query('ROLLBACK');
      }
    }
    const adapter = await migrator!.adapter();
    return adapter.withSession(async (x) => {
      await x.begin();
      try {
        await x.query(`SET LOCAL ROLE ${q(role)}`);
        return await x.query(sql);
      } finally {
        await x.rollback();
      }
    });
  }
  const denied = (role: string, sql: string) => expect(asRole(role, sql)).rejects.toThrow(/permission denied|must be owner/);

  async function twoWorkspaces(m: MigratorImpl) {
    await m.up();
    const service = createWorkspaceService(m);
    const a = guid();
    const b = guid();
    await service.provisionWorkspace({ workspaceId: a, name: 'A', ownerUserId: 'u1' });
    await service.provisionWorkspace({ workspaceId: b, name: 'B', ownerUserId: 'u2' });
    return { a: schemaOf(a), b: schemaOf(b) };
  }

  it('the app role reads and writes tenant tables, and nothing else: not the meta table, the ledger, master tables, nor DDL', async () => {
    const m = open({ appRole: roles.app, readOnlyRole: roles.ro });
    const { a, b } = await twoWorkspaces(m);
    const agents = (schema: string) => `${q(schema)}.workspace_agents`;
    expect(await asRole(roles.app, `INSERT INTO ${agents(a)} (name, kind) VALUES ('bot', 'x') RETURNING name`)).toEqual([{ name: 'bot' }]);
    await expect(asRole(roles.app, `UPDATE ${agents(b)} SET kind = 'y'`)).resolves.toEqual([]);
    await expect(asRole(roles.app, `DELETE FROM ${agents(a)}`)).resolves.toEqual([]);
    // The registry lookup columns only.
    expect(await asRole(roles.app, `SELECT db_schema_name FROM pmassist_master."Workspace" WHERE db_schema_name = '${a}'`)).toEqual([{ db_schema_name: a }]);
    await denied(roles.app, `SELECT * FROM pmassist_master."WorkspaceMember"`);
    await denied(roles.app, `UPDATE pmassist_master."Workspace" SET status = 'Archived'`);
    await denied(roles.app, `SELECT * FROM pmassist_master.__tm_runs`);
    // The applied-version summary (created by the next up): planning trusts it, so no role of the application may write it.
    await m.up();
    await denied(roles.app, `UPDATE pmassist_master.__tm_schema_versions SET applied_count = 0`);
    await denied(roles.app, `INSERT INTO pmassist_master.__tm_schema_versions (schema_name, applied_count, applied_digest) VALUES ('x', 0, 'x')`);
    await denied(roles.ro, `DELETE FROM pmassist_master.__tm_schema_versions`);
    await denied(roles.app, `SELECT * FROM pmassist_master.__schema_migrations`);
    await denied(roles.app, `SELECT * FROM ${q(a)}.__schema_migrations`);
    await denied(roles.app, `INSERT INTO ${q(a)}.__schema_migrations (id) VALUES ('x')`);
    await denied(roles.app, `CREATE TABLE ${q(a)}.evil (id int)`);
    await denied(roles.app, `DROP TABLE ${agents(a)}`);
    await denied(roles.app, `ALTER TABLE ${agents(a)} ADD COLUMN x int`);
    // Read-only: SELECT, no writes.
    await expect(asRole(roles.ro, `SELECT count(*)::int AS n FROM ${agents(a)}`)).resolves.toEqual([{ n: 0 }]);
    await denied(roles.ro, `INSERT INTO ${agents(a)} (name, kind) VALUES ('bot', 'x')`);
    await denied(roles.ro, `SELECT * FROM ${q(b)}.__schema_migrations`);
  });

  it('grants survive a later migration that adds a table; the meta table stays excluded; drift sees grant changes', async () => {
    const m = open({ appRole: roles.app, readOnlyRole: roles.ro });
    const { a, b } = await twoWorkspaces(m);
    expect((await m.drift()).grants).toMatchObject({ checkedTenants: 2, driftedTenants: 0 });
    project.write('tenant-migrations/0003_add_job_notes.sql.hbs', LATER_TABLE);
    const result = await m.up();
    expect(result.tenants.failed).toBe(0);
    for (const schema of [a, b]) {
      await expect(asRole(roles.app, `INSERT INTO ${q(schema)}.job_notes (note_id, body) VALUES (1, 'n') RETURNING note_id`)).resolves.toEqual([{ note_id: 1 }]);
      await expect(asRole(roles.ro, `SELECT * FROM ${q(schema)}.job_notes`)).resolves.toEqual([]);
      await denied(roles.ro, `INSERT INTO ${q(schema)}.job_notes (note_id) VALUES (2)`);
      await denied(roles.app, `SELECT * FROM ${q(schema)}.__schema_migrations`);
    }
    const clean = await m.drift();
    expect(clean.grants).toMatchObject({ checkedTenants: 2, driftedTenants: 0 });
    expect(clean.driftedTenants).toBe(0);
    // A hand-made grant on the meta table and a revoked one are reported per tenant.
    const adapter = await m.adapter();
    await adapter.withSession(async (x) => {
      await x.query(`GRANT SELECT ON ${q(a)}.__schema_migrations TO ${q(roles.app)}`);
      await x.query(`REVOKE DELETE ON ${q(b)}.job_notes FROM ${q(roles.app)}`);
    });
    const drift = await m.drift();
    expect(drift.grants?.driftedTenants).toBe(2);
    const bySchema = new Map(drift.grants!.tenants.map((t) => [t.schema, t]));
    expect(bySchema.get(a)).toMatchObject({ extra: [`SELECT ON TABLE __schema_migrations TO ${roles.app}`], missing: [] });
    expect(bySchema.get(b)).toMatchObject({ missing: [`DELETE ON TABLE job_notes TO ${roles.app}`], extra: [] });
    // `grants` repairs both: it re-grants what is missing and revokes every privilege on the meta table.
    expect(await m.grants()).toEqual({ tenants: 2, failed: [] });
    expect((await m.drift()).grants).toMatchObject({ driftedTenants: 0, tenants: [] });
  });

  it('per-workspace roles: each reaches only its own schema (and nothing in master)', async () => {
    if (isPg) await admin!.query(`ALTER ROLE ${q(roles.deploy)} CREATEROLE`); // the extra right of this mode
    const pattern = `{schema}_${s}`;
    const m = open({ workspaceRolePattern: pattern });
    const { a, b } = await twoWorkspaces(m);
    const roleA = `${a}_${s}`;
    const roleB = `${b}_${s}`;
    extraRoles.push(roleA, roleB);
    await expect(asRole(roleA, `INSERT INTO ${q(a)}.workspace_agents (name, kind) VALUES ('a', 'x') RETURNING name`)).resolves.toEqual([{ name: 'a' }]);
    await expect(asRole(roleB, `SELECT count(*)::int AS n FROM ${q(b)}.workspace_agents`)).resolves.toEqual([{ n: 0 }]);
    await denied(roleA, `SELECT * FROM ${q(b)}.workspace_agents`);
    await denied(roleB, `SELECT * FROM ${q(a)}.workspace_agents`);
    await denied(roleA, `SELECT * FROM ${q(a)}.__schema_migrations`);
    await denied(roleA, `SELECT db_schema_name FROM pmassist_master."Workspace"`);
    await denied(roleA, `CREATE TABLE ${q(a)}.evil (id int)`);
    project.write('tenant-migrations/0003_add_job_notes.sql.hbs', LATER_TABLE);
    await m.up();
    await expect(asRole(roleA, `SELECT * FROM ${q(a)}.job_notes`)).resolves.toEqual([]);
    await denied(roleA, `SELECT * FROM ${q(b)}.job_notes`);
    expect((await m.drift()).grants).toMatchObject({ checkedTenants: 2, driftedTenants: 0 });
  });

  it('a provisioning undone drops the workspace role its first migration created', async () => {
    if (isPg) await admin!.query(`ALTER ROLE ${q(roles.deploy)} CREATEROLE`);
    const m = open({ workspaceRolePattern: `{schema}_${s}` });
    await m.up();
    // 0001 and 0002 commit (the first creates the role and grants it); 0003 fails.
    project.write('tenant-migrations/0003_broken.sql.hbs', 'SELECT * FROM {{schema}}.does_not_exist;\n');
    const id = guid();
    const role = `${schemaOf(id)}_${s}`;
    extraRoles.push(role);
    const err = await createWorkspaceService(m).provisionWorkspace({ workspaceId: id }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVISION_FAILED', context: { cleanedUp: true } });
    const exists = async () => (await asRole(roles.app, `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = '${role}'`)) as { n: number }[];
    expect(await exists()).toEqual([{ n: 0 }]);
    // Provisioned once the migration is mended: the role is made again and reaches its schema.
    project.write('tenant-migrations/0003_broken.sql.hbs', 'SELECT 1;\n');
    await expect(createWorkspaceService(m).provisionWorkspace({ workspaceId: id })).resolves.toMatchObject({ outcome: 'created' });
    expect(await exists()).toEqual([{ n: 1 }]);
    await expect(asRole(role, `SELECT count(*)::int AS n FROM ${q(schemaOf(id))}.workspace_agents`)).resolves.toEqual([{ n: 0 }]);
  });

  it.runIf(isPg)('up with a login missing a right fails early, naming the right (PostgreSQL only: PGlite has one superuser)', async () => {
    // Not the owner, no CREATE on the database.
    await admin!.query(`ALTER DATABASE ${q(new URL(db.url).pathname.slice(1))} OWNER TO postgres`);
    await admin!.query(`REVOKE CREATE ON DATABASE ${q(new URL(db.url).pathname.slice(1))} FROM PUBLIC`);
    const m = open({ appRole: `tm_nosuch_${s}`, workspaceRolePattern: '{schema}_x' });
    const err = await m.up().then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(err?.code).toBe('INSUFFICIENT_PRIVILEGE');
    expect(err?.message).toMatch(/CREATE on database/);
    expect(err?.message).toMatch(/CREATEROLE/);
    expect(err?.message).toMatch(new RegExp(`role tm_nosuch_${s} does not exist`));
    // Nothing was created.
    const { rows } = await admin!.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'pmassist_master'`);
    expect(rows).toEqual([]);
  });
});
