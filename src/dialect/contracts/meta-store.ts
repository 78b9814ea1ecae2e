import type { SchemaSummary } from '../../planner/applied-summary.js';
import type { AppliedMigration } from '../../types.js';
import { type SqlSession, inTransaction } from './driver.js';

/**
 * Schemas and their meta tables (`__schema_migrations`): the truth of what is applied where.
 * umzug's storage in src/runner/schema-migrator.ts is written over this contract.
 *
 * Beside them, each database has the applied-version summary (src/planner/applied-summary.ts,
 * docs/fleet.md): `insertApplied`, `deleteApplied` and `updateChecksums` recompute the schema's
 * summary row from its meta table on the same session, inside the caller's transaction (or in
 * one of their own with the meta change when there is none), and `dropSchema` deletes it. A
 * database without the summary table (before the first `up` of this version) skips the summary.
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
   * schemas), each list sorted by id. Schemas without a meta table map to []. A schema that could
   * not be read without waiting (SQL Server: its meta table is being created by an uncommitted first
   * migration) maps to [] and is named in the result's `unknown` ({@link AppliedReads}): its state is
   * decided under the tenant lock, never taken as "nothing applied" by a command that would skip it.
   */
  readAppliedMany(schemas: readonly string[]): Promise<Map<string, AppliedMigration[]>>;
  insertApplied(session: SqlSession, schema: string, row: AppliedMigration): Promise<void>;
  deleteApplied(session: SqlSession, schema: string, id: string): Promise<void>;
  updateChecksums(session: SqlSession, schema: string, id: string, checksum: string, renderedChecksum: string): Promise<void>;

  /** Create this database's summary table (and the schema named like the master schema) if missing. */
  ensureSummary(session: SqlSession): Promise<void>;
  /** Summary rows of these schemas (absent: no row); undefined when the database has no summary table. */
  readSummaries(schemas: readonly string[]): Promise<Map<string, SchemaSummary> | undefined>;
  /** Insert rows for schemas that have none (never overwrites a row: one written meanwhile is newer). */
  backfillSummaries(rows: readonly SchemaSummary[]): Promise<void>;
  /** Recompute `schema`'s summary row from its meta table on `session` (the caller holds the tenant lock). */
  refreshSummary(session: SqlSession, schema: string): Promise<void>;
}

/**
 * A meta-table change and the summary row's refresh in one transaction: the caller's when one is
 * open (a transactional migration), else one of their own (a no-transaction migration's meta row).
 */
export async function withSummary(
  store: Pick<MetaStore, 'refreshSummary'>,
  session: SqlSession,
  schema: string,
  change: () => Promise<void>,
): Promise<void> {
  const both = async () => {
    await change();
    await store.refreshSummary(session, schema);
  };
  if (session.inTransaction) await both();
  else await inTransaction(session, both);
}

/** The SQL texts of the meta-row writes (`$1…` parameters in the order of {@link MetaRowWrites}). */
export interface MetaWriteSql {
  insertApplied(schema: string): string;
  deleteApplied(schema: string): string;
  updateChecksums(schema: string): string;
}

/**
 * The three meta-row writes, each followed by the summary refresh on the same session
 * ({@link withSummary}), over a dialect's SQL texts. `appliedUtc`: how the dialect's driver takes a
 * timestamp parameter.
 */
export abstract class MetaRowWrites {
  constructor(
    private readonly writeSql: MetaWriteSql,
    private readonly appliedUtc: (d: Date) => unknown,
  ) {}

  abstract refreshSummary(session: SqlSession, schema: string): Promise<void>;

  async insertApplied(session: SqlSession, schema: string, row: AppliedMigration): Promise<void> {
    const params = [row.id, row.checksum, row.renderedChecksum, this.appliedUtc(row.appliedUtc), Math.round(row.durationMs), row.runId];
    await withSummary(this, session, schema, async () => void (await session.query(this.writeSql.insertApplied(schema), params)));
  }

  async deleteApplied(session: SqlSession, schema: string, id: string): Promise<void> {
    await withSummary(this, session, schema, async () => void (await session.query(this.writeSql.deleteApplied(schema), [id])));
  }

  async updateChecksums(session: SqlSession, schema: string, id: string, checksum: string, rendered: string): Promise<void> {
    await withSummary(this, session, schema, async () => void (await session.query(this.writeSql.updateChecksums(schema), [id, checksum, rendered])));
  }
}

/** Sort each schema's applied rows by id (the order the batched reads promise). */
export function sortAppliedLists(result: Map<string, AppliedMigration[]>): Map<string, AppliedMigration[]> {
  for (const list of result.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return result;
}

/** A batched meta read that also names the schemas it could not read without waiting. */
export class AppliedReads<T = AppliedMigration> extends Map<string, T[]> {
  readonly unknown = new Set<string>();
}

/** The schemas a batched read could not read (none for a plain Map). */
export function unknownOf(read: Map<string, unknown>): ReadonlySet<string> {
  return read instanceof AppliedReads ? read.unknown : new Set();
}
