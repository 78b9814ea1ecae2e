import type { TenantRow } from '../../types.js';
import type { SqlSession } from '../contracts/driver.js';
import { type Registry, type RegistryQueryOptions, filterCustomRows } from '../contracts/registry.js';
import type { AdapterNames } from '../dialect.js';
import { rowToTenant } from '../row-mapping.js';
import type { PostgresSql } from './postgres-sql.js';

/** The master `Workspace` table as tenant discovery reads it. */
export class PostgresRegistry implements Registry {
  readonly #sql: PostgresSql;
  readonly #names: AdapterNames;

  constructor(sql: PostgresSql, names: AdapterNames) {
    this.#sql = sql;
    this.#names = names;
  }

  async registryExists(session: SqlSession): Promise<boolean> {
    const rows = await session.query(this.#sql.registryReady, [this.#names.masterSchema, this.#names.registryTable, 'db_schema_name']);
    return rows.length > 0;
  }

  async listTenants(session: SqlSession, options: RegistryQueryOptions): Promise<TenantRow[]> {
    const sql = options.customQuery ?? this.#sql.listTenants(options.includeArchived, await this.#hasTargetColumn(session));
    return filterCustomRows((await session.query(sql)).map(rowToTenant), options);
  }

  /** The optional `db_target` column (fleets over several databases, docs/fleet.md) is read when it exists. */
  async #hasTargetColumn(session: SqlSession): Promise<boolean> {
    const rows = await session.query(this.#sql.registryReady, [this.#names.masterSchema, this.#names.registryTable, 'db_target']);
    return rows.length > 0;
  }

  async getTenant(session: SqlSession, workspaceId: string): Promise<TenantRow | undefined> {
    const [row] = await session.query(this.#sql.getTenant(await this.#hasTargetColumn(session)), [workspaceId]);
    return row ? rowToTenant(row) : undefined;
  }

  async setSchemaName(session: SqlSession, workspaceId: string, schema: string): Promise<void> {
    await session.query(this.#sql.setSchemaName, [workspaceId, schema]);
  }
}
