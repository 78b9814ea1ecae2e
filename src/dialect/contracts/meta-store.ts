import type { AppliedMigration } from '../../types.js';
import type { SqlSession } from './driver.js';

/**
 * Schemas and their meta tables (`__schema_migrations`): the truth of what is applied where.
 * umzug's storage in src/runner/schema-migrator.ts is written over this contract.
 */
export interface MetaStore {
  ensureSchema(session: SqlSession, schema: string): Promise<void>;
  schemaExists(session: SqlSession, schema: string): Promise<boolean>;
  /**
   * Drop a tenant schema and everything in it (PostgreSQL `DROP SCHEMA … CASCADE`; SQL Server has
   * no CASCADE, so the adapter drops the schema's objects first). Only called by provisioning to
   * undo a schema it created itself in the same call; a missing schema is not an error.
   */
  dropSchema(session: SqlSession, schema: string): Promise<void>;
  ensureMetaTable(session: SqlSession, schema: string): Promise<void>;
  /** Applied rows of one schema; [] when the schema or the meta table does not exist yet. */
  readApplied(session: SqlSession, schema: string): Promise<AppliedMigration[]>;
  /**
   * Applied rows of many schemas in as few round trips as possible (one query per few hundred
   * schemas), each list sorted by id. Schemas without a meta table map to [].
   */
  readAppliedMany(schemas: readonly string[]): Promise<Map<string, AppliedMigration[]>>;
  insertApplied(session: SqlSession, schema: string, row: AppliedMigration): Promise<void>;
  deleteApplied(session: SqlSession, schema: string, id: string): Promise<void>;
  updateChecksums(session: SqlSession, schema: string, id: string, checksum: string, renderedChecksum: string): Promise<void>;
}

/** Sort each schema's applied rows by id (the order the batched reads promise). */
export function sortAppliedLists(result: Map<string, AppliedMigration[]>): Map<string, AppliedMigration[]> {
  for (const list of result.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return result;
}
