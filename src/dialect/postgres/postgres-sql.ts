import type { SchemaSummary } from '../../planner/applied-summary.js';
import type { AdapterNames } from '../dialect.js';
import { doBlock, quotePostgresIdent as q, quotePostgresString as lit } from './postgres-syntax.js';

/**
 * Every SQL text the PostgreSQL/PGlite adapters run. Identifiers arrive validated (config schema
 * or schema-name pattern) and are quoted here; values travel as $n parameters.
 */
export function postgresSql(names: AdapterNames) {
  const master = q(names.masterSchema);
  const registry = `${master}.${q(names.registryTable)}`;
  const meta = (schema: string) => `${q(schema)}.${q(names.metaTable)}`;
  const summary = `${master}.${q(summaryTableName(names))}`;
  const registryColumns =
    'workspace_id::text AS workspace_id, name, db_schema_name, status, last_seen_utc, created_utc';

  return {
    ensureSchema: (schema: string) =>
      doBlock(`BEGIN IF to_regnamespace(${lit(q(schema))}) IS NULL THEN CREATE SCHEMA ${q(schema)}; END IF; END`),
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
    // to_regclass is one index probe per schema; a pg_class ⋈ pg_namespace filter scans pg_class,
    // which holds every tenant's tables (~20 relations per tenant) and took ~5 ms a call at 200
    // tenants on PGlite (profiled with bench/_prof.ts).
    schemasWithMeta:
      'SELECT s AS schema_name FROM unnest($2::text[]) AS s ' +
      'WHERE to_regclass(quote_ident(s) || \'.\' || quote_ident($1::text)) IS NOT NULL',
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
    /**
     * The applied-version summary (docs/fleet.md): one row per tenant schema, in a schema named like
     * the master schema in every database (in a target database it holds only this table).
     */
    ensureSummary: [
      doBlock(`BEGIN IF to_regnamespace(${lit(master)}) IS NULL THEN CREATE SCHEMA ${master}; END IF; END`),
      `CREATE TABLE IF NOT EXISTS ${summary} (
  schema_name varchar(128) NOT NULL PRIMARY KEY,
  applied_count integer NOT NULL,
  last_id varchar(255) NULL,
  applied_digest char(64) NOT NULL,
  updated_utc timestamp(6) NOT NULL DEFAULT (now() at time zone 'utc'),
  meta_oid bigint NULL
)`,
      // A summary table made by an older version: rows without the identity are never trusted.
      `ALTER TABLE ${summary} ADD COLUMN IF NOT EXISTS meta_oid bigint NULL`,
    ],
    /** The table exists and carries the meta tables' identity (an older one is read as "no summary"). */
    summaryExists: `SELECT to_regclass(${lit(summary)}) IS NOT NULL AND EXISTS (
  SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(${lit(summary)}) AND attname = 'meta_oid' AND NOT attisdropped) AS found`,
    /**
     * Rows whose meta table is still the one they describe: a meta table dropped and recreated — a
     * schema restored from a dump, a table rebuilt by hand — has another oid, and its row is ignored
     * (the schema is then read from its meta table and the row rewritten).
     */
    selectSummaries: `SELECT schema_name, applied_count, last_id, applied_digest FROM ${summary}
WHERE schema_name = ANY($1::text[]) AND meta_oid = ${metaOidOf('schema_name', names.metaTable)}`,
    /**
     * Backfill: rows for schemas that have none, or whose row describes another meta table; a row
     * of the same meta table (written by a migration meanwhile) wins.
     */
    backfillSummaries: `INSERT INTO ${summary} AS v (schema_name, applied_count, last_id, applied_digest, meta_oid)
SELECT s, c, l, d, ${metaOidOf('s', names.metaTable)} FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS t(s, c, l, d)
ON CONFLICT (schema_name) DO UPDATE SET applied_count = EXCLUDED.applied_count, last_id = EXCLUDED.last_id,
  applied_digest = EXCLUDED.applied_digest, meta_oid = EXCLUDED.meta_oid, updated_utc = ${NOW}
WHERE v.meta_oid IS DISTINCT FROM EXCLUDED.meta_oid`,
    /**
     * Recompute one schema's summary row from its meta table (no parameters: it is also folded into
     * the one-send migration). A database without the summary table (created by `up`) is skipped.
     */
    refreshSummary: (schema: string) =>
      doBlock(`BEGIN IF to_regclass(${lit(summary)}) IS NOT NULL THEN
INSERT INTO ${summary} AS v (schema_name, applied_count, last_id, applied_digest, updated_utc, meta_oid)
SELECT ${lit(schema)}, count(*), max(id COLLATE "C"), ${appliedDigest}, ${NOW}, to_regclass(${lit(meta(schema))})::oid::bigint FROM ${meta(schema)}
ON CONFLICT (schema_name) DO UPDATE SET applied_count = EXCLUDED.applied_count, last_id = EXCLUDED.last_id,
  applied_digest = EXCLUDED.applied_digest, updated_utc = EXCLUDED.updated_utc, meta_oid = EXCLUDED.meta_oid;
END IF; END`),
    /**
     * The folded send's summary row, computed by the engine: its check has just proved, under the
     * tenant lock, that the meta table holds what the plan read, and it adds one row — so the row
     * is known without aggregating the meta table again.
     */
    upsertSummary: (row: SchemaSummary) =>
      doBlock(`BEGIN IF to_regclass(${lit(summary)}) IS NOT NULL THEN
INSERT INTO ${summary} AS v (schema_name, applied_count, last_id, applied_digest, updated_utc, meta_oid)
VALUES (${lit(row.schema)}, ${row.count}, ${row.lastId === null ? 'NULL' : lit(row.lastId)}, ${lit(row.digest)}, ${NOW}, to_regclass(${lit(meta(row.schema))})::oid::bigint)
ON CONFLICT (schema_name) DO UPDATE SET applied_count = EXCLUDED.applied_count, last_id = EXCLUDED.last_id,
  applied_digest = EXCLUDED.applied_digest, updated_utc = EXCLUDED.updated_utc, meta_oid = EXCLUDED.meta_oid;
END IF; END`),
    deleteSummary: (schema: string) =>
      doBlock(`BEGIN IF to_regclass(${lit(summary)}) IS NOT NULL THEN DELETE FROM ${summary} WHERE schema_name = ${lit(schema)}; END IF; END`),
    /** Advisory locks take a bigint; hashtextextended gives a stable 64-bit hash of the key. */
    tryLock: "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked",
    unlock: "SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS unlocked",
    // pg_attribute, not information_schema.columns: the view joins a dozen catalogs and checks
    // privileges per row (~4 ms to plan and run on every command that reads the registry).
    registryReady:
      "SELECT 1 AS found FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1::text) || '.' || quote_ident($2::text)) AND attname = $3 AND attnum > 0 AND NOT attisdropped",
    /** `withTarget`: the registry has the optional `db_target` column (master migration 0004). */
    listTenants: (includeArchived: boolean, withTarget = false) =>
      `SELECT ${registryColumns}${withTarget ? ', db_target' : ''} FROM ${registry}${includeArchived ? '' : " WHERE status = 'Active'"} ORDER BY workspace_id`,
    getTenant: (withTarget = false) => `SELECT ${registryColumns}${withTarget ? ', db_target' : ''} FROM ${registry} WHERE workspace_id = $1::uuid`,
    setSchemaName: `UPDATE ${registry} SET db_schema_name = $2 WHERE workspace_id = $1::uuid AND (db_schema_name IS NULL OR db_schema_name = $2)`,
    upsertWorkspace: `INSERT INTO ${registry} (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc)
VALUES ($1::uuid, $2, $3, $4, (now() at time zone 'utc'), (now() at time zone 'utc'))
ON CONFLICT (workspace_id) DO UPDATE SET name = EXCLUDED.name, db_schema_name = EXCLUDED.db_schema_name,
  status = EXCLUDED.status, last_seen_utc = EXCLUDED.last_seen_utc`,
    setStatus: `UPDATE ${registry} SET status = $2 WHERE workspace_id = $1::uuid`,
    /** `withTarget`: also record `db_target` ($5; master migration 0004), for a workspace placed on a target. */
    insertWorkspace: (withTarget: boolean) => `INSERT INTO ${registry} (workspace_id, name, db_schema_name, status, last_seen_utc, created_utc${withTarget ? ', db_target' : ''})
VALUES ($1::uuid, $2, $3, $4, (now() at time zone 'utc'), (now() at time zone 'utc')${withTarget ? ', $5' : ''})
ON CONFLICT (workspace_id) DO NOTHING RETURNING 1 AS inserted`,
    /** Workspaces per target (NULL: the master's database) that count for placement: Active and being provisioned. */
    countPlaced: `SELECT db_target, COUNT(*) AS n FROM ${registry} WHERE status IN ('Active', 'Provisioning') GROUP BY db_target`,
    transitionStatus: `UPDATE ${registry} SET status = $3, last_seen_utc = (now() at time zone 'utc') WHERE workspace_id = $1::uuid AND status = $2 RETURNING 1 AS found`,
    deleteWorkspace: `DELETE FROM ${registry} WHERE workspace_id = $1::uuid AND status = $2 RETURNING 1 AS found`,
    addMember: (table: string) => `INSERT INTO ${master}.${q(table)} (workspace_id, user_id, role, added_utc)
VALUES ($1::uuid, $2, $3, (now() at time zone 'utc')) ON CONFLICT (workspace_id, user_id) DO NOTHING`,
    dropSchema: (schema: string) => `DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`,
    touch: `UPDATE ${registry} SET last_seen_utc = (now() at time zone 'utc') WHERE workspace_id = $1::uuid`,
    ...ledgerSql(master, names.ledgerPrefix),
  };
}

export type PostgresSql = ReturnType<typeof postgresSql>;

const NOW = "(now() at time zone 'utc')";

/** The oid of the meta table of the schema named by the SQL expression `schemaExpr` (NULL when it has none). */
const metaOidOf = (schemaExpr: string, metaTable: string) =>
  `to_regclass(quote_ident(${schemaExpr}) || '.' || quote_ident(${lit(metaTable)}))::oid::bigint`;

/** The summary table's name (in the master schema; tenant-migrate's own tables share the ledger prefix). */
export const summaryTableName = (names: AdapterNames) => `${names.ledgerPrefix}schema_versions`;

/**
 * appliedFingerprint (src/planner/applied-summary.ts) of the meta table in FROM, in SQL: sha256 of
 * the `id:checksum` pairs in byte order, joined by commas.
 */
export const appliedDigest = `encode(sha256(convert_to(coalesce(string_agg(id || ':' || checksum, ',' ORDER BY id COLLATE "C"), ''), 'UTF8')), 'hex')`;

/**
 * The run ledger. Leases use the server clock. Claims use `FOR UPDATE SKIP LOCKED` so concurrent
 * workers skip each other's rows instead of queueing on them:
 * https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE
 */
/** Seconds since the run's last heartbeat on the database clock (workers' clocks need not agree). */
const HEARTBEAT_AGE = `(EXTRACT(EPOCH FROM (${NOW} - heartbeat_utc)) * 1000)::bigint AS heartbeat_age_ms`;

function ledgerSql(master: string, prefix: string) {
  const runs = `${master}.${q(`${prefix}runs`)}`;
  const tenants = `${master}.${q(`${prefix}run_tenants`)}`;
  const tenantColumns =
    'schema_name, workspace_id, seq, wave, status, attempts, claimed_by, lease_until, started_utc, finished_utc, duration_ms, applied, error';
  return {
    createLedger: [
      `CREATE TABLE IF NOT EXISTS ${runs} (
  run_id varchar(64) NOT NULL PRIMARY KEY,
  run_key varchar(512) NOT NULL,
  target varchar(255) NOT NULL,
  options text NOT NULL,
  status varchar(20) NOT NULL,
  started_by varchar(255) NOT NULL,
  started_utc timestamp(6) NOT NULL DEFAULT ${NOW},
  finished_utc timestamp(6) NULL,
  heartbeat_utc timestamp(6) NULL,
  total integer NOT NULL DEFAULT 0,
  succeeded integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0
)`,
      `CREATE INDEX IF NOT EXISTS ${q(`${prefix}runs_key`)} ON ${runs} (run_key, started_utc)`,
      `CREATE TABLE IF NOT EXISTS ${tenants} (
  run_id varchar(64) NOT NULL,
  schema_name varchar(128) NOT NULL,
  workspace_id varchar(64) NOT NULL,
  seq integer NOT NULL,
  wave integer NOT NULL DEFAULT 0,
  status varchar(20) NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  claimed_by varchar(255) NULL,
  lease_until timestamp(6) NULL,
  started_utc timestamp(6) NULL,
  finished_utc timestamp(6) NULL,
  duration_ms integer NULL,
  applied text NULL,
  error text NULL,
  PRIMARY KEY (run_id, schema_name)
)`,
      `CREATE INDEX IF NOT EXISTS ${q(`${prefix}run_tenants_claim`)} ON ${tenants} (run_id, status, wave, seq)`,
    ],
    /** Whether every ledger table and index exists (then creating them is skipped: no DDL, no lock). */
    ledgerPresent: `SELECT to_regclass(${lit(runs)}) IS NOT NULL AND to_regclass(${lit(tenants)}) IS NOT NULL
  AND to_regclass(${lit(`${master}.${q(`${prefix}runs_key`)}`)}) IS NOT NULL
  AND to_regclass(${lit(`${master}.${q(`${prefix}run_tenants_claim`)}`)}) IS NOT NULL AS present`,
    createRun: `INSERT INTO ${runs} (run_id, run_key, target, options, status, started_by, heartbeat_utc)
VALUES ($1, $2, $3, $4, 'running', $5, ${NOW})`,
    findResumableRun: `SELECT *, ${HEARTBEAT_AGE} FROM ${runs} WHERE run_key = $1 AND status IN ('running', 'interrupted', 'failed')
ORDER BY started_utc DESC LIMIT 1`,
    reopenRun: `UPDATE ${runs} SET status = 'running', finished_utc = NULL, heartbeat_utc = ${NOW} WHERE run_id = $1`,
    getRun: `SELECT *, ${HEARTBEAT_AGE} FROM ${runs} WHERE run_id = $1`,
    latestRun: `SELECT *, ${HEARTBEAT_AGE} FROM ${runs} ORDER BY started_utc DESC LIMIT 1`,
    /** Whether the runs table exists (to_regclass: NULL, not an error, when it does not). */
    runsTableExists: `SELECT to_regclass($1) IS NOT NULL AS present`,
    runsTableName: runs,
    recentRuns: `SELECT *, ${HEARTBEAT_AGE} FROM ${runs} ORDER BY started_utc DESC LIMIT $1`,
    /** Bulk insert from parallel arrays: one statement for thousands of rows. */
    addRunTenants: `INSERT INTO ${tenants} (run_id, schema_name, workspace_id, seq, wave, status)
SELECT $1, s, w, q, v, 'pending' FROM unnest($2::text[], $3::text[], $4::int[], $5::int[]) AS t(s, w, q, v)
ON CONFLICT (run_id, schema_name) DO NOTHING`,
    requeueRunTenants: `UPDATE ${tenants} SET status = 'pending', claimed_by = NULL, lease_until = NULL
WHERE run_id = $1 AND status IN ('failed', 'skipped')`,
    // The claimable rows are picked once, in a MATERIALIZED CTE: as a subquery in FROM the planner may
    // put the LIMIT … FOR UPDATE SKIP LOCKED scan on the inner side of a nested loop and rescan it
    // per outer row, and each rescan skips the rows the previous one locked — one claim of n then
    // took every eligible row of the run.
    claimTenants: `WITH c AS MATERIALIZED (
  SELECT schema_name FROM ${tenants}
  WHERE run_id = $1 AND wave <= $5
    AND EXISTS (SELECT 1 FROM ${runs} r WHERE r.run_id = $1 AND r.status = 'running')
    AND (status = 'pending' OR (status = 'running' AND lease_until < ${NOW}))
  ORDER BY seq
  LIMIT $3
  FOR UPDATE SKIP LOCKED
)
UPDATE ${tenants} AS t
SET status = 'running', claimed_by = $2, lease_until = ${NOW} + make_interval(secs => $4::float8 / 1000),
    attempts = t.attempts + 1, started_utc = ${NOW}, error = NULL
FROM c
WHERE t.run_id = $1 AND t.schema_name = c.schema_name
RETURNING ${tenantColumns.split(', ').map((c) => `t.${c}`).join(', ')}`,
    renewLease: `UPDATE ${tenants} SET lease_until = ${NOW} + make_interval(secs => $3::float8 / 1000)
WHERE run_id = $1 AND claimed_by = $2 AND status = 'running'`,
    heartbeat: `UPDATE ${runs} SET heartbeat_utc = ${NOW} WHERE run_id = $1`,
    completeTenants: `UPDATE ${tenants} AS t
SET status = o.status, finished_utc = ${NOW}, duration_ms = o.duration_ms, attempts = t.attempts + o.extra,
    applied = o.applied, error = o.error, lease_until = NULL
FROM unnest($3::text[], $4::text[], $5::int[], $6::int[], $7::text[], $8::text[])
  AS o(schema_name, status, duration_ms, extra, applied, error)
WHERE t.run_id = $1 AND t.schema_name = o.schema_name
  AND ((t.claimed_by = $2 AND t.status = 'running')
    -- A success is the truth whoever claims the row now: a worker that outlived its lease still
    -- finished the tenant under its lock (the meta table says so). Failures of a lost claim are dropped.
    OR (o.status = 'succeeded' AND t.status <> 'succeeded'))`,
    reconcileTenants: `UPDATE ${tenants} SET status = 'succeeded', lease_until = NULL,
error = NULL, finished_utc = COALESCE(finished_utc, ${NOW})
WHERE run_id = $1 AND status = 'failed' AND schema_name = ANY($2::text[])`,
    releaseTenants: `UPDATE ${tenants} SET status = 'pending', claimed_by = NULL, lease_until = NULL,
attempts = GREATEST(attempts - 1, 0)
WHERE run_id = $1 AND claimed_by = $2 AND status = 'running' AND schema_name = ANY($3::text[])`,
    countRunTenants: `SELECT status, count(*)::int AS n FROM ${tenants} WHERE run_id = $1 AND wave <= $2 GROUP BY status`,
    finishRun: `UPDATE ${runs} SET status = $2, finished_utc = ${NOW}, heartbeat_utc = ${NOW},
total = $3, succeeded = $4, failed = $5, skipped = $6 WHERE run_id = $1`,
    listRunTenants: `SELECT ${tenantColumns} FROM ${tenants}
WHERE run_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY seq LIMIT $3`,
  };
}
