import type { SqlSession } from '../dialect/dialect-adapter.js';
import type { Catalog } from './catalog-model.js';

/**
 * A dialect's catalog introspection, set-based: one query per object kind for a chunk of schemas
 * (a few hundred), grouped in memory — never a query per schema. Implemented per dialect in
 * src/dialect/<name>/<name>-catalog.ts.
 */
export interface CatalogReader {
  /**
   * The catalogs of `schemas` (validated names), handed to `onCatalog` chunk by chunk as they are
   * read, so a caller that keeps only fingerprints holds one chunk in memory. A schema that does not
   * exist gets an empty catalog. Chunks may be read on several pooled sessions at once. A schema the
   * reader could not read without waiting behind in-flight DDL (SQL Server) goes to `onBusy`.
   */
  readCatalogs(
    schemas: readonly string[],
    onCatalog: (schema: string, catalog: Catalog) => void,
    onBusy?: (schema: string) => void,
  ): Promise<void>;
  /** One schema's catalog, read on `session` (e.g. a scratch schema the session created). */
  readCatalog(session: SqlSession, schema: string): Promise<Catalog>;
}

/** Names every reader leaves out: the engine's own meta table in each schema. */
export interface CatalogReaderOptions {
  readonly metaTable: string;
  /** Schemas per query that returns full catalog rows (default 500: 1000 measured no faster on 10,000 tenants and +100 MB peak RSS). */
  readonly chunkSize?: number;
  /**
   * Schemas per digest query, where a reader first reads a digest per schema and then full rows only
   * of one schema per distinct digest (PostgreSQL). Default: the fleet split over the sessions, 500–2,500.
   */
  readonly digestChunkSize?: number;
  /** False: read every schema in full, no digests (the benchmark's baseline). Default true. */
  readonly digests?: boolean;
  /** Sessions used at once (default 4, capped by the pool). */
  readonly parallel?: number;
}
