import type { TenantRow } from '../../types.js';
import type { SqlSession } from './driver.js';

export interface RegistryQueryOptions {
  readonly includeArchived: boolean;
  /** Optional custom SELECT returning workspace_id, name, db_schema_name, status, last_seen_utc, created_utc. */
  readonly customQuery?: string;
}

/** The tenant registry (master `Workspace` table) as tenant discovery reads it. */
export interface Registry {
  /** Whether the registry table exists yet (false before the first master migration). */
  registryExists(session: SqlSession): Promise<boolean>;
  listTenants(session: SqlSession, options: RegistryQueryOptions): Promise<TenantRow[]>;
  getTenant(session: SqlSession, workspaceId: string): Promise<TenantRow | undefined>;
  /** Record a derived schema name for a workspace whose db_schema_name was NULL. */
  setSchemaName(session: SqlSession, workspaceId: string, schema: string): Promise<void>;
}

/** A custom registry query returns every row; without includeArchived only Active ones count. */
export function filterCustomRows(rows: TenantRow[], options: RegistryQueryOptions): TenantRow[] {
  return options.customQuery && !options.includeArchived ? rows.filter((r) => r.status === 'Active') : rows;
}
