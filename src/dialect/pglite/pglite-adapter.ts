import type { DialectCapabilities } from '../contracts/driver.js';
import type { AdapterNames } from '../dialect.js';
import type { DialectName, DialectSyntax } from '../dialect-syntax.js';
import { PostgresAdapter } from '../postgres/postgres-adapter.js';
import { pgliteSyntax } from '../postgres/postgres-syntax.js';
import { PgliteDriver } from './pglite-driver.js';

export interface PgliteAdapterOptions {
  /** Absolute data directory, or undefined for an in-memory database. */
  readonly dataDir: string | undefined;
  readonly names: AdapterNames;
}

/**
 * PGlite is PostgreSQL with another driver: one in-process connection ({@link PgliteDriver}).
 * Locks, meta store, registry, workspace store and ledger are PostgreSQL's; the advisory locks
 * work unchanged on the single connection, and the driver drops them when a session ends.
 */
export class PgliteAdapter extends PostgresAdapter {
  override readonly name: DialectName = 'pglite';
  override readonly syntax: DialectSyntax = pgliteSyntax;
  override readonly capabilities: DialectCapabilities = { transactionalDdl: true, multipleConnections: false };

  constructor(options: PgliteAdapterOptions) {
    super({ url: 'pglite:', names: options.names, maxConnections: 1 }, new PgliteDriver(options.dataDir));
  }
}
