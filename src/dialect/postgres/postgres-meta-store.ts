import pLimit from 'p-limit';
import type { AppliedMigration } from '../../types.js';
import type { Driver, SqlSession } from '../contracts/driver.js';
import { MetaRowWrites, type MetaStore, sortAppliedLists } from '../contracts/meta-store.js';
import type { SchemaSummary } from '../../planner/applied-summary.js';
import type { AdapterNames } from '../dialect.js';
import { rowToApplied } from '../row-mapping.js';
import type { PostgresSql } from './postgres-sql.js';

/** Schemas per UNION ALL query when reading many meta tables. */
export const META_READ_BATCH = 200;
/** Connections used at once for those queries. */
export const META_READ_PARALLEL = 4;

/** Schemas and meta tables on PostgreSQL (and PGlite). */
export class PostgresMetaStore extends MetaRowWrites implements MetaStore {
  readonly #driver: Driver;
  readonly #sql: PostgresSql;
  readonly #names: AdapterNames;

  constructor(driver: Driver, sql: PostgresSql, names: AdapterNames) {
    super(sql, (d) => d.toISOString());
    this.#driver = driver;
    this.#sql = sql;
    this.#names = names;
  }

  // Write-only (no read before the write), so the tenant's prepare step can be folded into the
  // first migration's send. A DO block rather than CREATE SCHEMA IF NOT EXISTS, which needs the
  // CREATE privilege on the database even when the schema exists.
  async ensureSchema(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.#sql.ensureSchema(schema));
  }

  async schemaExists(session: SqlSession, schema: string): Promise<boolean> {
    return (await session.query(this.#sql.schemaExists, [schema])).length > 0;
  }

  async dropSchema(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.#sql.dropSchema(schema));
    await session.query(this.#sql.deleteSummary(schema));
  }

  async ensureMetaTable(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.#sql.createMetaTable(schema));
  }

  async readApplied(session: SqlSession, schema: string): Promise<AppliedMigration[]> {
    const rows = await session.query(this.#sql.schemasWithMeta, [this.#names.metaTable, [schema]]);
    if (rows.length === 0) return [];
    return (await session.query(this.#sql.selectApplied(schema))).map(rowToApplied);
  }

  async readAppliedMany(schemas: readonly string[]): Promise<Map<string, AppliedMigration[]>> {
    const result = new Map<string, AppliedMigration[]>(schemas.map((s) => [s, []]));
    if (schemas.length === 0) return result;
    const existing = await this.#driver.withSession((session) =>
      session.query<{ schema_name: string }>(this.#sql.schemasWithMeta, [this.#names.metaTable, schemas]),
    );
    const withMeta = existing.map((r) => r.schema_name);
    const chunks: string[][] = [];
    for (let i = 0; i < withMeta.length; i += META_READ_BATCH) chunks.push(withMeta.slice(i, i + META_READ_BATCH));
    // Chunks are independent: read them on several pooled connections at once (one on PGlite).
    const limit = pLimit(Math.max(1, Math.min(META_READ_PARALLEL, this.#driver.maxConnections)));
    await Promise.all(
      chunks.map((chunk) =>
        limit(() =>
          this.#driver.withSession(async (session) => {
            const rows = await session.query(this.#sql.selectAppliedMany(chunk));
            for (const row of rows) result.get(String(row.schema_name))?.push(rowToApplied(row));
          }),
        ),
      ),
    );
    return sortAppliedLists(result);
  }

  async ensureSummary(session: SqlSession): Promise<void> {
    // Present with its current columns (every run after the first): no DDL, which would also take an
    // exclusive lock on the table that concurrent planners read.
    const [found] = await session.query<{ found: boolean }>(this.#sql.summaryExists);
    if (found?.found) return;
    for (const statement of this.#sql.ensureSummary) {
      try {
        await session.query(statement);
      } catch (err) {
        // Two processes creating it at once (a unique violation on the catalog): it exists now.
        if ((err as { code?: string }).code !== '23505') throw err;
      }
    }
  }

  async readSummaries(schemas: readonly string[]): Promise<Map<string, SchemaSummary> | undefined> {
    return this.#driver.withSession(async (session) => {
      const [found] = await session.query<{ found: boolean }>(this.#sql.summaryExists);
      if (!found?.found) return undefined;
      const rows = await session.query<{ schema_name: string; applied_count: number; last_id: string | null; applied_digest: string }>(
        this.#sql.selectSummaries,
        [schemas],
      );
      return new Map(rows.map((r) => [r.schema_name, { schema: r.schema_name, count: Number(r.applied_count), lastId: r.last_id, digest: r.applied_digest }]));
    });
  }

  async backfillSummaries(rows: readonly SchemaSummary[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#driver.withSession((session) =>
      session.query(this.#sql.backfillSummaries, [rows.map((r) => r.schema), rows.map((r) => r.count), rows.map((r) => r.lastId), rows.map((r) => r.digest)]),
    );
  }

  async refreshSummary(session: SqlSession, schema: string): Promise<void> {
    // The master schema's own meta table is read directly by every command: no row for it.
    if (schema !== this.#names.masterSchema) await session.query(this.#sql.refreshSummary(schema));
  }
}
