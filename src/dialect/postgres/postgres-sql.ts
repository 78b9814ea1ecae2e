import type { AdapterNames } from '../dialect-adapter.js';
import { quotePostgresIdent as q, quotePostgresString as lit } from './postgres-syntax.js';

/**
 * Every SQL text the PostgreSQL/PGlite adapters run. Identifiers arrive validated (config schema
 * or schema-name pattern) and are quoted here; values travel as $n parameters.
 */
export function postgresSql(names: AdapterNames) {
  const master = q(names.masterSchema);
  const registry = `${master}.${q(names.registryTable)}`;
  const meta = (schema: string) => `${q(schema)}.${q(names.metaTable)}`;
  const registryColumns =
    'workspace_id::text AS workspace_id, name, db_schema_name, status, last_seen_utc, created_utc';

  return {
    createSchema: (schema: string) => `CREATE SCHEMA IF NOT EXISTS ${q(schema)}`,
    schemaExists: 'SELECT 1 AS found FROM pg_namespace WHERE nspname = $1',
    createMetaTable: (schema: string) => `CREATE TABLE IF NOT EXISTS ${meta(schema)} (
  id varchar(255) NOT NULL PRIMARY KEY,
  checksum char(64) NOT NULL,
  rendered_checksum char(64) NOT NULL,
  applied_utc timestamp(6) NOT NULL DEFAULT (now() at time zone 'utc'),
  duration_ms integer NOT NULL,
  run_id varchar(64) NULL
)`,
    /** Which of the given schemas already have a meta table: one query for any number. */
    schemasWithMeta:
      'SELECT n.nspname AS schema_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ' +
      "WHERE c.relname = $1 AND c.relkind = 'r' AND n.nspname = ANY($2::text[])",
    selectApplied: (schema: string) =>
      `SELECT id, checksum, rendered_checksum, applied_utc, duration_ms, run_id FROM ${meta(schema)} ORDER BY id`,
    /** UNION ALL over many schemas: one round trip for a few hundred tenants. */
    selectAppliedMany: (schemas: readonly string[]) =>
      schemas
        .map(
          (s) =>
            `SELECT ${lit(s)} AS schema_name, id, checksum, rendered_checksum, applied_utc, duration_ms, run_id FROM ${meta(s)}`,
        )
        .join('\nUNION ALL\n'),
    insertApplied: (schema: string) =>
      `INSERT INTO ${meta(schema)} (id, checksum, rendered_checksum, applied_utc, duration_ms, run_id) VALUES ($1, $2, $3, $4, $5, $6)`,
    deleteApplied: (schema: string) => `DELETE FROM ${meta(schema)} WHERE id = $1`,
    updateChecksums: (schema: string) =>
      `UPDATE ${meta(schema)} SET checksum = $2, rendered_checksum = $3 WHERE id = $1`,
    /** Advisory locks take a bigint; hashtextextended gives a stable 64-bit hash of the key. */
    tryLock: "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked",
    unlock: "SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS unlocked",
    registryReady:
      'SELECT 1 AS found FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3',
    listTenants: (includeArchived: boolean) =>
      `SELECT ${registryColumns} FROM ${registry}${includeArchived ? '' : " WHERE status = 'Active'"} ORDER BY workspace_id`,
    getTenant: `SELECT ${registryColumns} FROM ${registry} WHERE workspace_id = $1::uuid`,
    setSchemaName: `UPDATE ${registry} SET db_schema_name = $2 WHERE workspace_id = $1::uuid AND (db_schema_name IS NULL OR db_schema_name = $2)`,
    upsertWorkspace: `INSERT INTO ${registry} (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc)
VALUES ($1::uuid, $2, $3, $4, (now() at time zone 'utc'), (now() at time zone 'utc'))
ON CONFLICT (workspace_id) DO UPDATE SET name = EXCLUDED.name, db_schema_name = EXCLUDED.db_schema_name,
  status = EXCLUDED.status, last_seen_utc = EXCLUDED.last_seen_utc`,
    setStatus: `UPDATE ${registry} SET status = $2 WHERE workspace_id = $1::uuid`,
    touch: `UPDATE ${registry} SET last_seen_utc = (now() at time zone 'utc') WHERE workspace_id = $1::uuid`,
  };
}

export type PostgresSql = ReturnType<typeof postgresSql>;
