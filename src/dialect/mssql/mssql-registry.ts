import type { TenantRow } from '../../types.js';
import type { SqlSession } from '../contracts/driver.js';
import { type Registry, type RegistryQueryOptions, filterCustomRows } from '../contracts/registry.js';
import type { AdapterNames } from '../dialect.js';
import { rowToTenant } from '../row-mapping.js';
import type { MssqlSql } from './mssql-sql.js';

/** The master `Workspace` table as tenant discovery reads it. */
export class MssqlRegistry implements Registry {
  readonly #sql: MssqlSql;
  readonly #names: AdapterNames;

  constructor(statements: MssqlSql, names: AdapterNames) {
    this.#sql = statements;
    this.#names = names;
  }

  async registryExists(session: SqlSession): Promise<boolean> {
    const rows = await session.query(this.#sql.registryReady, [this.#names.masterSchema, this.#names.registryTable, 'db_schema_name']);
    return rows.length > 0;
  }

  async listTenants(session: SqlSession, options: RegistryQueryOptions): Promise<TenantRow[]> {
    const text = options.customQuery ?? this.#sql.listTenants(options.includeArchived, await this.#hasTargetColumn(session));
    return filterCustomRows((await session.query(text)).map(rowToTenant), options);
  }

  /** The optional `db_target` column (fleets over several databases, docs/fleet.md) is read when it exists. */
  async #hasTargetColumn(session: SqlSession): Promise<boolean> {
    if (this.#targetColumn) return true; // a column, once there, stays (cached: one probe per process)
    const rows = await session.query(this.#sql.registryColumnExists, [this.#names.masterSchema, this.#names.registryTable, 'db_target']);
    this.#targetColumn = rows.length > 0;
    return this.#targetColumn;
  }
  #targetColumn = false;

  async getTenant(session: SqlSession, workspaceId: string): Promise<TenantRow | undefined> {
    const [row] = await session.query(this.#sql.getTenant(await this.#hasTargetColumn(session)), [workspaceId]);
    return row ? rowToTenant(row) : undefined;
  }

  async setSchemaName(session: SqlSession, workspaceId: string, schema: string): Promise<void> {
    await session.query(this.#sql.setSchemaName, [workspaceId, schema]);
  }
}
