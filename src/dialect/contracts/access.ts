import type { SqlSession } from './driver.js';

/**
 * Least privilege (docs/security.md): the grants the engine manages for the application's roles.
 * Role names reach a dialect only after config validated them as plain identifiers; the dialect
 * quotes them. Every statement is idempotent, so running it again (every run, `tenant-migrate
 * grants`) changes nothing.
 */

/** The roles of one tenant schema, already resolved from config (the workspace role from its pattern). */
export interface TenantRoles {
  /** DML on every table of the schema except the meta table. */
  readonly appRole?: string;
  /** SELECT on every table of the schema except the meta table. */
  readonly readOnlyRole?: string;
  /** One role per workspace (created if missing): DML on this schema only. */
  readonly workspaceRole?: string;
}

/** What `up` needs to be allowed, for the early rights check. */
export interface RightsNeeded {
  /** Roles that must already exist (appRole, readOnlyRole). */
  readonly roles: readonly string[];
  /** The per-workspace role mode is on: the login must be able to create roles. */
  readonly createRoles: boolean;
}

/** One schema's grants as the dialect reads them: normalized lines, role names as they are. */
export interface SchemaGrants {
  /** Tables of the schema (the meta table included), to derive the expected per-table grants. */
  readonly tables: readonly string[];
  /** E.g. `SELECT ON TABLE jobs TO app` (PostgreSQL), `GRANT SELECT ON SCHEMA TO app` (SQL Server). */
  readonly grants: readonly string[];
}

export interface Access {
  /**
   * The rights the current login lacks for `up`, each named (e.g. `CREATE on database x`,
   * `CREATEROLE`, `role "app" does not exist`); [] when all are present or the server cannot say.
   */
  missingRights(session: SqlSession, needed: RightsNeeded): Promise<string[]>;
  /** Grant `roles` on one tenant schema (creating the workspace role if asked); in the caller's transaction. */
  grantTenant(session: SqlSession, schema: string, roles: TenantRoles): Promise<void>;
  /**
   * Drop a per-workspace role after its schema was removed (a provisioning undone), if it exists.
   * The server refuses while the role still holds anything (PostgreSQL: privileges in any database;
   * SQL Server: owned securables or members): the caller then keeps it.
   */
  dropWorkspaceRole(session: SqlSession, role: string): Promise<void>;
  /** SELECT on the registry lookup columns (and nothing else in the master schema) to these roles. */
  grantMaster(session: SqlSession, roles: readonly string[]): Promise<void>;
  /** Grants held by `roleNames` in each schema, set-based (one query for all the schemas given). */
  readGrants(session: SqlSession, schemas: readonly string[], roleNames: readonly string[]): Promise<Map<string, SchemaGrants>>;
  /** The grant lines {@link readGrants} should return for a schema with these tables and roles. */
  expectedGrants(tables: readonly string[], roles: TenantRoles): string[];
  /** Why grants cannot be read on this server (drift then says so instead of comparing), or undefined. */
  grantsUnreadable(session: SqlSession): Promise<string | undefined>;
}

/** Per-table DML the app and workspace roles get; the read-only role gets SELECT. */
export const DML = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;

/**
 * The grant hook a dialect carries once `access` is configured: the operation context attaches
 * it when it opens the database, the tenant runner calls it inside the first migration's
 * transaction of a schema (provisioning goes through the same runner). A WeakMap keeps the
 * composed dialects (and their owners' files) untouched.
 */
export type TenantGrantHook = (session: SqlSession, schema: string) => Promise<void>;
const hooks = new WeakMap<object, TenantGrantHook>();
export function attachTenantGrants(dialect: object, hook: TenantGrantHook): void {
  hooks.set(dialect, hook);
}
export function tenantGrantsOf(dialect: object): TenantGrantHook | undefined {
  return hooks.get(dialect);
}
