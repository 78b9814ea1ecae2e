import { type Access, DML, type RightsNeeded, type SchemaGrants, type TenantRoles } from '../contracts/access.js';
import type { SqlSession } from '../contracts/driver.js';
import type { AdapterNames } from '../dialect.js';
import { doBlock, postgresSyntax } from './postgres-syntax.js';

const q = (name: string) => postgresSyntax.quoteIdent(name);
const lit = (value: string) => postgresSyntax.quoteString(value);

/** Registry columns the schema-name lookup (`getWorkspaceSchemaName`, `lookupWorkspace`) reads. */
export const REGISTRY_LOOKUP_COLUMNS = ['workspace_id', 'name', 'db_schema_name', 'status', 'last_seen_utc', 'created_utc'] as const;

const DEFAULT_OBJECT: Record<string, string> = { r: 'TABLES', S: 'SEQUENCES', f: 'FUNCTIONS', T: 'TYPES', n: 'SCHEMAS' };

/**
 * Grants on PostgreSQL (and PGlite, which has roles and SET ROLE too).
 *
 * Per tenant schema: USAGE on the schema; DML (or SELECT) on ALL TABLES IN SCHEMA; then every
 * privilege of these roles on the meta table is revoked; and ALTER DEFAULT PRIVILEGES IN SCHEMA
 * makes every table the engine's login creates there later carry the same grants. The meta table
 * exists before the default privileges are set and is never re-created, so it stays excluded after
 * any number of later migrations. Default privileges belong to the login that sets them
 * (https://www.postgresql.org/docs/current/sql-alterdefaultprivileges.html): tables created by
 * another login are covered by the next run's `GRANT … ON ALL TABLES` (or `tenant-migrate grants`).
 */
export class PostgresAccess implements Access {
  readonly #names: AdapterNames;

  constructor(names: AdapterNames) {
    this.#names = names;
  }

  async missingRights(session: SqlSession, needed: RightsNeeded): Promise<string[]> {
    const [row] = await session.query<{
      db: string;
      login: string;
      can_create_schema: boolean;
      can_create_role: boolean;
      can_use_master: boolean;
      missing_roles: string[];
    }>(
      `SELECT current_database() AS db, current_user AS login,
  has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
  COALESCE((SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user), false) AS can_create_role,
  CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege($1, 'CREATE') ELSE true END AS can_use_master,
  ARRAY(SELECT r FROM unnest($2::text[]) AS r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)) AS missing_roles`,
      [this.#names.masterSchema, [...needed.roles]],
    );
    if (!row) return [];
    const missing: string[] = [];
    if (!row.can_create_schema) missing.push(`CREATE on database ${row.db} (to create tenant schemas; or make ${row.login} the database owner)`);
    if (!row.can_use_master) missing.push(`CREATE on schema ${this.#names.masterSchema} (master migrations and the run ledger; or own it)`);
    if (needed.createRoles && !row.can_create_role) missing.push('CREATEROLE (access.workspaceRolePattern creates one role per workspace)');
    for (const role of row.missing_roles) missing.push(`role ${role} does not exist (CREATE ROLE ${q(role)} NOLOGIN, as an administrator)`);
    return missing;
  }

  grantTenantSql(schema: string, roles: TenantRoles): string {
    const s = q(schema);
    const dml = [roles.appRole, roles.workspaceRole].filter((r): r is string => !!r).map(q);
    const read = roles.readOnlyRole ? [q(roles.readOnlyRole)] : [];
    const all = [...dml, ...read];
    if (all.length === 0) return '';
    const out: string[] = [];
    if (roles.workspaceRole) {
      out.push(
        `${doBlock(`BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${lit(roles.workspaceRole)}) THEN CREATE ROLE ${q(roles.workspaceRole)} NOLOGIN; END IF; END`)};`,
      );
    }
    out.push(`GRANT USAGE ON SCHEMA ${s} TO ${all.join(', ')};`);
    if (dml.length > 0) out.push(`GRANT ${DML.join(', ')} ON ALL TABLES IN SCHEMA ${s} TO ${dml.join(', ')};`);
    if (read.length > 0) out.push(`GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${read.join(', ')};`);
    out.push(`REVOKE ALL ON TABLE ${s}.${q(this.#names.metaTable)} FROM ${all.join(', ')};`);
    if (dml.length > 0) out.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT ${DML.join(', ')} ON TABLES TO ${dml.join(', ')};`);
    if (read.length > 0) out.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${read.join(', ')};`);
    return out.join('\n');
  }

  async grantTenant(session: SqlSession, schema: string, roles: TenantRoles): Promise<void> {
    const sql = this.grantTenantSql(schema, roles);
    if (sql) await session.runScript(sql); // one round trip
  }

  async dropWorkspaceRole(session: SqlSession, role: string): Promise<void> {
    await session.query(`DROP ROLE IF EXISTS ${q(role)}`);
  }

  async grantMaster(session: SqlSession, roles: readonly string[]): Promise<void> {
    if (roles.length === 0) return;
    const to = roles.map(q).join(', ');
    const registry = `${q(this.#names.masterSchema)}.${q(this.#names.registryTable)}`;
    await session.runScript(
      `GRANT USAGE ON SCHEMA ${q(this.#names.masterSchema)} TO ${to};\nGRANT SELECT (${REGISTRY_LOOKUP_COLUMNS.join(', ')}) ON ${registry} TO ${to};`,
    );
  }

  async readGrants(session: SqlSession, schemas: readonly string[], roleNames: readonly string[]): Promise<Map<string, SchemaGrants>> {
    const result = new Map<string, { tables: string[]; grants: string[] }>(schemas.map((s) => [s, { tables: [], grants: [] }]));
    if (schemas.length === 0) return result;
    // One query for all the schemas; PUBLIC (grantee 0) is always read: a PUBLIC grant breaks isolation.
    const rows = await session.query<{ schema_name: string; kind: string; object_name: string | null; grantee: string | null; privilege_type: string | null }>(
      `SELECT n.nspname AS schema_name, 'schema' AS kind, NULL::text AS object_name, COALESCE(r.rolname, 'PUBLIC') AS grantee, a.privilege_type
FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = ANY($1::text[]) AND (a.grantee = 0 OR r.rolname = ANY($2::text[]))
UNION ALL
SELECT n.nspname, 'table', c.relname::text, COALESCE(r.rolname, 'PUBLIC'), a.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND (a.grantee = 0 OR r.rolname = ANY($2::text[]))
UNION ALL
SELECT n.nspname, 'default', d.defaclobjtype::text, COALESCE(r.rolname, 'PUBLIC'), a.privilege_type
FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = ANY($1::text[]) AND (a.grantee = 0 OR r.rolname = ANY($2::text[]))
UNION ALL
SELECT n.nspname, 'exists', c.relname::text, NULL, NULL
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')`,
      [[...schemas], [...roleNames]],
    );
    for (const row of rows) {
      const entry = result.get(row.schema_name);
      if (!entry) continue;
      if (row.kind === 'exists') entry.tables.push(row.object_name!);
      else if (row.kind === 'schema') entry.grants.push(`${row.privilege_type} ON SCHEMA TO ${row.grantee}`);
      else if (row.kind === 'table') entry.grants.push(`${row.privilege_type} ON TABLE ${row.object_name} TO ${row.grantee}`);
      else entry.grants.push(`DEFAULT ${row.privilege_type} ON ${DEFAULT_OBJECT[row.object_name!] ?? row.object_name} TO ${row.grantee}`);
    }
    return result;
  }

  expectedGrants(tables: readonly string[], roles: TenantRoles): string[] {
    const out: string[] = [];
    const give = (role: string | undefined, privileges: readonly string[]) => {
      if (!role) return;
      out.push(`USAGE ON SCHEMA TO ${role}`);
      for (const p of privileges) {
        out.push(`DEFAULT ${p} ON TABLES TO ${role}`);
        for (const t of tables) if (t !== this.#names.metaTable) out.push(`${p} ON TABLE ${t} TO ${role}`);
      }
    };
    give(roles.appRole, DML);
    give(roles.workspaceRole, DML);
    give(roles.readOnlyRole, ['SELECT']);
    return [...new Set(out)];
  }

  async grantsUnreadable(): Promise<string | undefined> {
    return undefined;
  }
}
