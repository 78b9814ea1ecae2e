import { type Access, DML, type RightsNeeded, type SchemaGrants, type TenantRoles } from '../contracts/access.js';
import type { SqlSession } from '../contracts/driver.js';
import type { AdapterNames } from '../dialect.js';
import { mssqlSyntax, quoteMssqlString } from './mssql-syntax.js';

const q = (name: string) => mssqlSyntax.quoteIdent(name);
const lit = quoteMssqlString;

/** Registry columns the schema-name lookup reads (the same as on PostgreSQL). */
const REGISTRY_LOOKUP_COLUMNS = ['workspace_id', 'name', 'db_schema_name', 'status', 'last_seen_utc', 'created_utc'] as const;

/** Schema-level permissions of the application and workspace roles (EXECUTE: procedures and functions of the schema). */
const SCHEMA_DML = [...DML, 'EXECUTE'] as const;

/**
 * Grants on SQL Server: permissions granted on the schema securable (`GRANT … ON SCHEMA::[ws_…]`)
 * apply to every object in the schema, including tables created later, so later migrations need
 * nothing; the meta table is excluded with an object-level `DENY`, which wins over the schema-level
 * GRANT (https://learn.microsoft.com/sql/t-sql/statements/grant-schema-permissions-transact-sql,
 * https://learn.microsoft.com/sql/relational-databases/security/permissions-database-engine).
 *
 * Babelfish for PostgreSQL (a T-SQL engine used in development) supports GRANT ON SCHEMA but not
 * `DENY` ("'DENY' is not currently supported in Babelfish") and exposes no rows in
 * sys.database_permissions: there the meta table stays readable by the roles, and drift cannot
 * read grants. docs/security.md says so.
 */
export class MssqlAccess implements Access {
  readonly #names: AdapterNames;
  #babelfish: Promise<boolean> | undefined;

  constructor(names: AdapterNames) {
    this.#names = names;
  }

  /** The answer of a probe that ran on a real session; undefined until one did. */
  #known: boolean | undefined;

  /**
   * Once per process: is this Babelfish? (@@VERSION starts with "Babelfish" there.) A session that
   * records statements instead of running them (the folded send's prelude) answers no rows: that
   * is no answer, and it is not kept.
   */
  isBabelfish(session: SqlSession): Promise<boolean> {
    if (this.#babelfish) return this.#babelfish;
    const probe = session
      .query<{ bbf: number }>("SELECT CASE WHEN @@VERSION LIKE 'Babelfish%' THEN 1 ELSE 0 END AS bbf")
      .then((rows) => {
        if (rows.length === 0) {
          if (this.#babelfish === probe) this.#babelfish = undefined;
          return false;
        }
        this.#known = rows[0]?.bbf === 1;
        return this.#known;
      })
      .catch(() => false);
    this.#babelfish = probe;
    return probe;
  }

  async missingRights(session: SqlSession, needed: RightsNeeded): Promise<string[]> {
    // HAS_PERMS_BY_NAME: 1 granted, 0 missing, NULL when the server cannot say (Babelfish) — only 0 is reported.
    const [row] = await session.query<{ db: string; login: string; create_schema: number | null; create_table: number | null; create_role: number | null }>(
      `SELECT DB_NAME() AS db, USER_NAME() AS login,
  HAS_PERMS_BY_NAME(NULL, 'DATABASE', 'CREATE SCHEMA') AS create_schema,
  HAS_PERMS_BY_NAME(NULL, 'DATABASE', 'CREATE TABLE') AS create_table,
  HAS_PERMS_BY_NAME(NULL, 'DATABASE', 'CREATE ROLE') AS create_role`,
    );
    const missing: string[] = [];
    if (row?.create_schema === 0) missing.push(`CREATE SCHEMA on database ${row.db} (or db_owner membership for ${row.login})`);
    if (row?.create_table === 0) missing.push(`CREATE TABLE on database ${row.db} (or db_owner membership for ${row.login})`);
    if (needed.createRoles && row?.create_role === 0) missing.push(`CREATE ROLE on database ${row.db} (access.workspaceRolePattern creates one role per workspace)`);
    if (needed.roles.length > 0) {
      const values = needed.roles.map((r) => `(${lit(r)})`).join(', ');
      const rows = await session.query<{ role_name: string }>(
        `SELECT v.role_name FROM (VALUES ${values}) AS v(role_name) WHERE DATABASE_PRINCIPAL_ID(v.role_name) IS NULL`,
      );
      for (const r of rows) missing.push(`database role ${r.role_name} does not exist (CREATE ROLE ${q(r.role_name)}, as an administrator)`);
    }
    return missing;
  }

  /** `babelfish` undefined: not known yet; the DENY is then decided by the server when the batch runs. */
  grantTenantSql(schema: string, roles: TenantRoles, babelfish: boolean | undefined): string {
    const s = `SCHEMA::${q(schema)}`;
    const meta = `OBJECT::${q(schema)}.${q(this.#names.metaTable)}`;
    const dml = [roles.appRole, roles.workspaceRole].filter((r): r is string => !!r).map(q);
    const read = roles.readOnlyRole ? [q(roles.readOnlyRole)] : [];
    const all = [...dml, ...read];
    if (all.length === 0) return '';
    const out: string[] = [];
    // CREATE ROLE through EXEC: a CREATE inside IF is fine for roles, but EXEC keeps it one statement per name.
    if (roles.workspaceRole) out.push(`IF DATABASE_PRINCIPAL_ID(${lit(roles.workspaceRole)}) IS NULL EXEC(N'CREATE ROLE ${q(roles.workspaceRole).replace(/'/g, "''")}');`);
    if (dml.length > 0) out.push(`GRANT ${SCHEMA_DML.join(', ')} ON ${s} TO ${dml.join(', ')};`);
    if (read.length > 0) out.push(`GRANT SELECT ON ${s} TO ${read.join(', ')};`);
    const deny = `DENY ${DML.join(', ')} ON ${meta} TO ${all.join(', ')};`;
    // SERVERPROPERTY('Babelfish') is 1 on Babelfish and NULL on SQL Server; EXEC: Babelfish rejects a DENY it would only parse.
    if (babelfish === undefined) out.push(`IF SERVERPROPERTY('Babelfish') IS NULL EXEC(N'${deny.replace(/'/g, "''")}');`);
    else if (!babelfish) out.push(deny);
    return out.join('\n');
  }

  async dropWorkspaceRole(session: SqlSession, role: string): Promise<void> {
    await session.query(`IF DATABASE_PRINCIPAL_ID(${lit(role)}) IS NOT NULL EXEC(N'DROP ROLE ${q(role).replace(/'/g, "''")}');`);
  }

  async grantTenant(session: SqlSession, schema: string, roles: TenantRoles): Promise<void> {
    // Not probed here: the folded send records this batch instead of running it, so a probe would
    // have no answer there (and used to keep "not Babelfish", sending a DENY Babelfish refuses).
    const sql = this.grantTenantSql(schema, roles, this.#known);
    if (sql) await session.query(sql);
  }

  async grantMaster(session: SqlSession, roles: readonly string[]): Promise<void> {
    if (roles.length === 0) return;
    // Column list after the table, without the optional OBJECT:: class (Babelfish rejects the combination).
    const registry = `${q(this.#names.masterSchema)}.${q(this.#names.registryTable)}`;
    await session.query(`GRANT SELECT ON ${registry} (${REGISTRY_LOOKUP_COLUMNS.map(q).join(', ')}) TO ${roles.map(q).join(', ')};`);
  }

  async readGrants(session: SqlSession, schemas: readonly string[], roleNames: readonly string[]): Promise<Map<string, SchemaGrants>> {
    const result = new Map<string, { tables: string[]; grants: string[] }>(schemas.map((s) => [s, { tables: [], grants: [] }]));
    if (schemas.length === 0) return result;
    // Names were validated (schema pattern, role identifiers) before they get here, then quoted.
    const inSchemas = schemas.map(lit).join(', ');
    const inRoles = [...roleNames, 'public'].map(lit).join(', ');
    const rows = await session.query<{ schema_name: string; class: number; state_desc: string; permission_name: string; object_name: string | null; grantee: string }>(
      `SELECT s.name AS schema_name, p.class, p.state_desc, p.permission_name, o.name AS object_name, dp.name AS grantee
FROM sys.database_permissions AS p
JOIN sys.database_principals AS dp ON dp.principal_id = p.grantee_principal_id
LEFT JOIN sys.objects AS o ON p.class = 1 AND o.object_id = p.major_id
JOIN sys.schemas AS s ON (p.class = 3 AND s.schema_id = p.major_id) OR (p.class = 1 AND s.schema_id = o.schema_id)
WHERE p.class IN (1, 3) AND s.name IN (${inSchemas}) AND dp.name IN (${inRoles})
UNION ALL
SELECT s.name, -1, N'', N'', t.name, N''
FROM sys.schemas AS s JOIN sys.tables AS t ON t.schema_id = s.schema_id
WHERE s.name IN (${inSchemas})`,
    );
    for (const row of rows) {
      if (Number(row.class) === -1) {
        result.get(row.schema_name)?.tables.push(row.object_name!);
        continue;
      }
      const state = row.state_desc.startsWith('GRANT') ? 'GRANT' : row.state_desc;
      const on = Number(row.class) === 3 ? 'SCHEMA' : `OBJECT ${row.object_name}`;
      result.get(row.schema_name)?.grants.push(`${state} ${row.permission_name} ON ${on} TO ${row.grantee === 'public' ? 'PUBLIC' : row.grantee}`);
    }
    return result;
  }

  expectedGrants(_tables: readonly string[], roles: TenantRoles): string[] {
    const out: string[] = [];
    const give = (role: string | undefined, privileges: readonly string[]) => {
      if (!role) return;
      for (const p of privileges) out.push(`GRANT ${p} ON SCHEMA TO ${role}`);
      for (const p of DML) out.push(`DENY ${p} ON OBJECT ${this.#names.metaTable} TO ${role}`);
    };
    give(roles.appRole, SCHEMA_DML);
    give(roles.workspaceRole, SCHEMA_DML);
    give(roles.readOnlyRole, ['SELECT']);
    return [...new Set(out)];
  }

  async grantsUnreadable(session: SqlSession): Promise<string | undefined> {
    return (await this.isBabelfish(session)) ? 'Babelfish exposes no rows in sys.database_permissions; grants were not compared' : undefined;
  }
}
