import type { AppliedMigration } from '../../types.js';
import type { Driver, SqlSession } from '../contracts/driver.js';
import { AppliedReads, MetaRowWrites, type MetaStore, sortAppliedLists } from '../contracts/meta-store.js';
import { type SchemaSummary, summaryOf } from '../../planner/applied-summary.js';
import type { AdapterNames } from '../dialect.js';
import { rowToApplied } from '../row-mapping.js';
import type { mssqlWorkspaceSql } from './mssql-ledger-sql.js';
import { isMssqlLockTimeout } from './mssql-errors.js';
import { META_READ_BATCH, type MssqlSql } from './mssql-sql.js';

/** Schemas and meta tables on SQL Server. */
export class MssqlMetaStore extends MetaRowWrites implements MetaStore {
  readonly #driver: Driver;
  readonly #sql: MssqlSql;
  readonly #ws: ReturnType<typeof mssqlWorkspaceSql>;
  readonly #names: AdapterNames;

  constructor(driver: Driver, statements: MssqlSql, workspaceStatements: ReturnType<typeof mssqlWorkspaceSql>, names: AdapterNames) {
    super(statements, (d) => d);
    this.#driver = driver;
    this.#sql = statements;
    this.#ws = workspaceStatements;
    this.#names = names;
  }

  /**
   * Write-only (no read before the write; `createSchema` is idempotent), so a tenant's prepare step
   * can be folded into its first migration's send.
   */
  async ensureSchema(session: SqlSession, schema: string): Promise<void> {
    try {
      await session.query(this.#sql.createSchema(schema));
    } catch (err) {
      // Another process created it between our check and CREATE SCHEMA (error 2714/2759).
      if (!(await this.schemaExists(session, schema).catch(() => false))) throw err;
    }
  }

  async schemaExists(session: SqlSession, schema: string): Promise<boolean> {
    return (await session.query(this.#sql.schemaExists, [schema])).length > 0;
  }

  async dropSchema(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.#ws.dropSchema, [schema]);
    await session.query(this.#sql.deleteSummary, [schema]);
  }

  async ensureMetaTable(session: SqlSession, schema: string): Promise<void> {
    await session.query(this.#sql.createMetaTable(schema));
  }

  async readApplied(session: SqlSession, schema: string): Promise<AppliedMigration[]> {
    const [row] = await session.query<{ found: number }>(this.#sql.metaTableExists(schema));
    if (!row || Number(row.found) !== 1) return [];
    return (await session.query(this.#sql.selectApplied(schema))).map(rowToApplied);
  }

  /**
   * The planning read: never waits behind a running migration. Schemas come from a dirty catalog
   * read; their meta rows are read without lock waits (see NO_LOCK_WAIT). A batch that hits a meta
   * table still being created by an uncommitted first migration fails at once (1222); it is split
   * in halves until that schema is alone, which is then reported in `unknown` (with no rows): its
   * first migration is not committed yet, but may be by the time anyone acts. `up` plans it as
   * pending (the runner re-reads under the tenant lock); `down` takes it and reads it under the lock.
   */
  async readAppliedMany(schemas: readonly string[]): Promise<Map<string, AppliedMigration[]>> {
    const result = new AppliedReads<AppliedMigration>(schemas.map((s) => [s, []]));
    if (schemas.length === 0) return result;
    await this.#driver.withSession(async (session) => {
      const existing = await session.query<{ schema_name: string }>(this.#sql.schemasWithMeta, [this.#names.metaTable]);
      const present = new Set(existing.map((r) => r.schema_name));
      const withMeta = schemas.filter((s) => present.has(s));
      const read = async (chunk: readonly string[]): Promise<void> => {
        try {
          const rows = await session.query(this.#sql.selectAppliedMany(chunk));
          for (const row of rows) result.get(String(row.schema_name))?.push(rowToApplied(row));
        } catch (err) {
          if (!isMssqlLockTimeout(err)) throw err;
          if (chunk.length === 1) {
            // Its meta table is not committed yet: unknown, not "nothing applied".
            result.unknown.add(chunk[0]!);
            return;
          }
          const half = Math.ceil(chunk.length / 2);
          await read(chunk.slice(0, half));
          await read(chunk.slice(half));
        }
      };
      for (let i = 0; i < withMeta.length; i += META_READ_BATCH) await read(withMeta.slice(i, i + META_READ_BATCH));
    });
    return sortAppliedLists(result);
  }

  async ensureSummary(session: SqlSession): Promise<void> {
    // Present with its current columns (every run after the first): no DDL.
    if (await this.#summaryExists(session)) return;
    for (const statement of this.#sql.ensureSummary) {
      try {
        await session.query(statement);
      } catch (err) {
        // Created by another process between the check and CREATE (2714 there is already an object).
        if (!(await this.#summaryExists(session))) throw err;
      }
    }
  }

  async #summaryExists(session: SqlSession): Promise<boolean> {
    const [row] = await session.query<{ found: number }>(this.#sql.summaryExists);
    return Number(row?.found) === 1;
  }

  async readSummaries(schemas: readonly string[]): Promise<Map<string, SchemaSummary> | undefined> {
    return this.#driver.withSession(async (session) => {
      if (!(await this.#summaryExists(session))) return undefined;
      const wanted = new Set(schemas);
      const rows = await session.query<{ schema_name: string; applied_count: number; last_id: string | null; applied_digest: string }>(this.#sql.selectSummaries);
      return new Map(
        rows
          .filter((r) => wanted.has(r.schema_name))
          .map((r) => [r.schema_name, { schema: r.schema_name, count: Number(r.applied_count), lastId: r.last_id, digest: r.applied_digest }]),
      );
    });
  }

  async backfillSummaries(rows: readonly SchemaSummary[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#driver.withSession(async (session) => {
      for (const r of rows) await session.query(this.#sql.insertSummaryIfMissing, [r.schema, r.count, r.lastId, r.digest]);
    });
  }

  async refreshSummary(session: SqlSession, schema: string): Promise<void> {
    if (schema === this.#names.masterSchema) return;
    const rows = await session.query<{ id: string; checksum: string }>(this.#sql.selectAppliedRefs(schema));
    const s = summaryOf(schema, rows);
    await session.query(this.#sql.upsertSummary, [schema, s.count, s.lastId, s.digest]);
  }
}
