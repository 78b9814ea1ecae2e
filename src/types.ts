import type { DialectName } from './dialect/dialect-syntax.js';

export type { DialectName } from './dialect/dialect-syntax.js';

export type MigrationScope = 'master' | 'tenant';

/** Directives read from leading `-- tenant-migrate: …` comment lines. */
export interface MigrationDirectives {
  /** Run without a wrapping transaction (e.g. CREATE INDEX CONCURRENTLY). Not atomic. */
  readonly noTransaction: boolean;
  /** Master only: wait until every Active tenant is at target (expand/contract). */
  readonly afterTenants: boolean;
}

/** A migration file pair as read from disk. */
export interface MigrationFile {
  /** Contract: file name without `.down`, `.sql`, `.hbs`, e.g. `0003_add_job_priority`. */
  readonly id: string;
  readonly number: number;
  readonly name: string;
  readonly scope: MigrationScope;
  /** Path relative to the project root (what error messages show). */
  readonly path: string;
  readonly absolutePath: string;
  readonly source: string;
  /** True when the file is a Handlebars template (`.sql.hbs`). */
  readonly isTemplate: boolean;
  /** sha256 hex of the source with CRLF→LF. */
  readonly checksum: string;
  readonly directives: MigrationDirectives;
  readonly down?: {
    readonly path: string;
    readonly absolutePath: string;
    readonly source: string;
    readonly isTemplate: boolean;
    readonly checksum: string;
    readonly directives: MigrationDirectives;
  };
}

/** One row of a `__schema_migrations` meta table. */
export interface AppliedMigration {
  readonly id: string;
  readonly checksum: string;
  readonly renderedChecksum: string;
  readonly appliedUtc: Date;
  readonly durationMs: number;
  readonly runId: string | null;
}

export type TenantStatus = 'Active' | 'Archived' | (string & {});

/** A row of the tenant registry (the master Workspace table). */
export interface TenantRow {
  readonly workspaceId: string;
  readonly name: string | null;
  /** Stored schema name, or null for a workspace not yet backfilled. */
  readonly dbSchemaName: string | null;
  readonly status: TenantStatus;
  readonly lastSeenUtc: Date | null;
  readonly createdUtc: Date | null;
  /**
   * Where the workspace's schema lives: a name from config `targets`, or null for the master's own
   * database (registry column `db_target`, optional; absent = null).
   */
  readonly target?: string | null;
}

/** A tenant whose schema name passed validation and may reach SQL. */
export interface Tenant extends TenantRow {
  readonly schema: string;
  /** True when the registry had no db_schema_name and the name was derived from the GUID. */
  readonly needsBackfill: boolean;
  /**
   * The meta rows the plan read for this tenant (a reference into the plan's batched read, not a
   * copy), when this process planned it. With it the runner answers umzug's `executed()` without a
   * round trip and checks, inside each migration's transaction, that the meta table still says so.
   */
  readonly appliedAtPlan?: readonly Pick<AppliedMigration, 'id' | 'checksum'>[];
}

export interface InvalidTenant {
  readonly workspaceId: string;
  readonly dbSchemaName: string | null;
  readonly target?: string | null;
  readonly reason: string;
}

export type { DialectName as Dialect };
export const DIALECTS: readonly DialectName[] = ['mssql', 'postgres', 'pglite'];
