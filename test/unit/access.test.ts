import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { MssqlAccess } from '../../src/dialect/mssql/mssql-access.js';
import { PostgresAccess } from '../../src/dialect/postgres/postgres-access.js';
import { accessPlan } from '../../src/operations/grants.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const S = `ws_${'a'.repeat(32)}`;

describe('access config', () => {
  it('accepts plain role names and a pattern with one placeholder', () => {
    const c = parseConfig({ access: { appRole: 'pm_app', readOnlyRole: 'pm_ro', workspaceRolePattern: '{schema}_app' } });
    expect(c.access).toEqual({ appRole: 'pm_app', readOnlyRole: 'pm_ro', workspaceRolePattern: '{schema}_app' });
  });

  it.each([
    [{ appRole: 'app"; DROP ROLE x; --' }, /access\.appRole/],
    [{ readOnlyRole: 'has space' }, /access\.readOnlyRole/],
    [{ workspaceRolePattern: 'app_{schema}_{guid}' }, /exactly one/],
    [{ workspaceRolePattern: 'app_role' }, /exactly one/],
    [{ workspaceRolePattern: '{schema}-app' }, /plain identifier/],
    [{ workspaceRolePattern: `{schema}_${'x'.repeat(30)}` }, /at most 63/],
    [{ other: 1 }, /access/],
  ])('refuses %j', (access, message) => {
    expect(() => parseConfig({ access } as never)).toThrow(message);
  });

  it('resolves the roles of a schema; {guid} is the schema without its prefix', () => {
    const plan = accessPlan(parseConfig({ access: { appRole: 'app', workspaceRolePattern: 'ws_app_{guid}' } }))!;
    expect(plan.rolesFor(S)).toEqual({ appRole: 'app', workspaceRole: `ws_app_${'a'.repeat(32)}` });
    expect(plan.needed).toEqual({ roles: ['app'], createRoles: true });
    expect(accessPlan(parseConfig({}))).toBeUndefined();
  });
});

describe('grant statements', () => {
  it('PostgreSQL: schema usage, DML on all tables, meta table revoked, default privileges for later tables', () => {
    const sql = new PostgresAccess(names).grantTenantSql(S, { appRole: 'app', readOnlyRole: 'ro', workspaceRole: `${S}_app` });
    expect(sql.split('\n')).toEqual([
      `DO $tm$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${S}_app') THEN CREATE ROLE "${S}_app" NOLOGIN; END IF; END$tm$;`,
      `GRANT USAGE ON SCHEMA "${S}" TO "app", "${S}_app", "ro";`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${S}" TO "app", "${S}_app";`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA "${S}" TO "ro";`,
      `REVOKE ALL ON TABLE "${S}"."__schema_migrations" FROM "app", "${S}_app", "ro";`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA "${S}" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app", "${S}_app";`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA "${S}" GRANT SELECT ON TABLES TO "ro";`,
    ]);
    expect(new PostgresAccess(names).grantTenantSql(S, {})).toBe('');
  });

  it('PostgreSQL: expected grants skip the meta table', () => {
    const lines = new PostgresAccess(names).expectedGrants(['jobs', '__schema_migrations'], { readOnlyRole: 'ro' });
    expect(lines.sort()).toEqual(['DEFAULT SELECT ON TABLES TO ro', 'SELECT ON TABLE jobs TO ro', 'USAGE ON SCHEMA TO ro']);
  });

  it('SQL Server: schema-level grants cover later tables, DENY on the meta table (not on Babelfish)', () => {
    const access = new MssqlAccess(names);
    expect(access.grantTenantSql(S, { appRole: 'app', readOnlyRole: 'ro', workspaceRole: 'wsr' }, false).split('\n')).toEqual([
      `IF DATABASE_PRINCIPAL_ID(N'wsr') IS NULL EXEC(N'CREATE ROLE [wsr]');`,
      `GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON SCHEMA::[${S}] TO [app], [wsr];`,
      `GRANT SELECT ON SCHEMA::[${S}] TO [ro];`,
      `DENY SELECT, INSERT, UPDATE, DELETE ON OBJECT::[${S}].[__schema_migrations] TO [app], [wsr], [ro];`,
    ]);
    expect(access.grantTenantSql(S, { appRole: 'app' }, true)).not.toMatch(/DENY/);
    expect(access.expectedGrants([], { readOnlyRole: 'ro' }).sort()).toEqual([
      'DENY DELETE ON OBJECT __schema_migrations TO ro',
      'DENY INSERT ON OBJECT __schema_migrations TO ro',
      'DENY SELECT ON OBJECT __schema_migrations TO ro',
      'DENY UPDATE ON OBJECT __schema_migrations TO ro',
      'GRANT SELECT ON SCHEMA TO ro',
    ]);
  });
});

describe('reporting', () => {
  it('a missing right is a usage/config error (exit 2)', async () => {
    const { exitCodeForError } = await import('../../src/cli/exit-codes.js');
    const { TenantMigrateError } = await import('../../src/errors.js');
    expect(exitCodeForError(new TenantMigrateError('INSUFFICIENT_PRIVILEGE', 'x', { missing: ['CREATEROLE'] }))).toBe(2);
  });

  it('grant drift makes the report drifted and is listed per tenant', async () => {
    const { formatDrift } = await import('../../src/drift/drift-report-format.js');
    const { hasDrift } = await import('../../src/drift/drift-report.js');
    const report = {
      dialect: 'postgres' as const,
      expectedFrom: 'scratch-schema' as const,
      tenants: 2,
      driftedTenants: 0,
      versions: [],
      groups: [],
      busyTenants: [],
      grants: { checkedTenants: 2, driftedTenants: 1, tenants: [{ schema: S, missing: ['DELETE ON TABLE jobs TO app'], extra: [] }] },
      durationMs: 1,
    };
    expect(hasDrift(report)).toBe(true);
    expect(formatDrift(report, 'text')).toContain(`Grants: 1 of 2 tenants differ`);
    expect(formatDrift(report, 'text')).toContain('    - missing: DELETE ON TABLE jobs TO app');
    expect(JSON.parse(formatDrift(report, 'json')).drift).toBe(true);
    expect(formatDrift(report, 'markdown')).toContain('#### Grants');
  });
});
