/**
 * In-memory twins of the contracts the pure parts of the engine read through (meta store,
 * registry, locks, and a driver whose sessions run no SQL), after umzug's memory storage: unit
 * tests of discovery, planning and `status` run without a database. The ledger and workspace store
 * are not twinned; calling them throws.
 */
import type { AppliedMigration, TenantRow } from '../../types.js';
import type { DialectCapabilities, Driver, ErrorClassification, SqlSession } from '../contracts/driver.js';
import type { LedgerStore } from '../contracts/ledger-store.js';
import type { Locks } from '../contracts/locks.js';
import { type MetaStore, sortAppliedLists } from '../contracts/meta-store.js';
import { type SchemaSummary, summaryOf } from '../../planner/applied-summary.js';
import { type Registry, type RegistryQueryOptions, filterCustomRows } from '../contracts/registry.js';
import type { WorkspaceStore } from '../contracts/workspace-store.js';
import type { AdapterNames, Dialect } from '../dialect.js';
import { pgliteSyntax } from '../postgres/postgres-syntax.js';

/** A session that accepts transactions and refuses SQL (the twins never send any). */
const memorySession = (): SqlSession => {
  let open = false;
  return {
    query: async () => {
      throw new Error('The in-memory dialect runs no SQL');
    },
    runScript: async () => {
      throw new Error('The in-memory dialect runs no SQL');
    },
    begin: async () => void (open = true),
    commit: async () => void (open = false),
    rollback: async () => void (open = false),
    get inTransaction() {
      return open;
    },
  };
};

export class MemoryDriver implements Driver {
  readonly maxConnections = 1;

  ensureCapacity(): void {}
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return fn(memorySession());
  }
  async close(): Promise<void> {}
  classifyError(err: unknown): ErrorClassification {
    return { transient: false, message: err instanceof Error ? err.message : String(err) };
  }
}

/** Locks held in this process: a held key is busy for everyone else until released. */
export class MemoryLocks implements Locks {
  readonly held = new Map<string, SqlSession>();
  async acquireLock(session: SqlSession, key: string): Promise<boolean> {
    const owner = this.held.get(key);
    if (owner && owner !== session) return false;
    this.held.set(key, session);
    return true;
  }
  async releaseLock(session: SqlSession, key: string): Promise<void> {
    if (this.held.get(key) === session) this.held.delete(key);
  }
}

/** Schemas and their applied rows. */
export class MemoryMetaStore implements MetaStore {
  /** schema → applied rows, or undefined when the schema has no meta table. */
  readonly schemas = new Map<string, AppliedMigration[] | undefined>();
  /** The applied-version summary; undefined until ensureSummary (like a database before `up`). */
  summaries: Map<string, SchemaSummary> | undefined;
  async ensureSummary() {
    this.summaries ??= new Map();
  }
  async readSummaries(schemas: readonly string[]) {
    const all = this.summaries;
    return all && new Map(schemas.flatMap((s) => (all.has(s) ? [[s, all.get(s)!] as const] : [])));
  }
  async backfillSummaries(rows: readonly SchemaSummary[]) {
    for (const row of rows) if (this.summaries && !this.summaries.has(row.schema)) this.summaries.set(row.schema, row);
  }
  async refreshSummary(_s: SqlSession, schema: string) {
    const rows = this.schemas.get(schema);
    if (this.summaries && rows) this.summaries.set(schema, summaryOf(schema, rows));
  }
  async ensureSchema(_s: SqlSession, schema: string) {
    if (!this.schemas.has(schema)) this.schemas.set(schema, undefined);
  }
  async schemaExists(_s: SqlSession, schema: string) {
    return this.schemas.has(schema);
  }
  async dropSchema(_s: SqlSession, schema: string) {
    this.schemas.delete(schema);
    this.summaries?.delete(schema);
  }
  async ensureMetaTable(_s: SqlSession, schema: string) {
    this.schemas.set(schema, this.schemas.get(schema) ?? []);
  }
  async readApplied(_s: SqlSession, schema: string) {
    return [...(this.schemas.get(schema) ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  async readAppliedMany(schemas: readonly string[]) {
    return sortAppliedLists(new Map(schemas.map((s) => [s, [...(this.schemas.get(s) ?? [])]])));
  }
  async insertApplied(_s: SqlSession, schema: string, row: AppliedMigration) {
    const rows = this.schemas.get(schema);
    if (!rows) throw new Error(`No meta table in ${schema}`);
    if (rows.some((r) => r.id === row.id)) throw new Error(`${row.id} is already applied in ${schema}`);
    rows.push(row);
    await this.refreshSummary(_s, schema);
  }
  async deleteApplied(_s: SqlSession, schema: string, id: string) {
    const rows = this.schemas.get(schema);
    if (rows) this.schemas.set(schema, rows.filter((r) => r.id !== id));
    await this.refreshSummary(_s, schema);
  }
  async updateChecksums(_s: SqlSession, schema: string, id: string, checksum: string, renderedChecksum: string) {
    const rows = this.schemas.get(schema) ?? [];
    this.schemas.set(schema, rows.map((r) => (r.id === id ? { ...r, checksum, renderedChecksum } : r)));
    await this.refreshSummary(_s, schema);
  }
}

/** Registry rows (the master `Workspace` table); `exists: false` models a database before master 0002. */
export class MemoryRegistry implements Registry {
  readonly rows: TenantRow[] = [];
  exists = true;
  async registryExists() {
    return this.exists;
  }
  async listTenants(_s: SqlSession, options: RegistryQueryOptions) {
    if (options.customQuery) return filterCustomRows([...this.rows], options);
    return this.rows.filter((r) => options.includeArchived || r.status === 'Active');
  }
  async getTenant(_s: SqlSession, workspaceId: string) {
    return this.rows.find((r) => r.workspaceId === workspaceId);
  }
  async setSchemaName(_s: SqlSession, workspaceId: string, schema: string) {
    const i = this.rows.findIndex((r) => r.workspaceId === workspaceId);
    if (i >= 0) this.rows[i] = { ...this.rows[i]!, dbSchemaName: schema };
  }
}

function notTwinned<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_target, prop) => () => Promise.reject(new Error(`${what}.${String(prop)} has no in-memory twin`)),
  });
}

export interface MemoryDialect extends Dialect {
  readonly locks: MemoryLocks;
  readonly meta: MemoryMetaStore;
  readonly registry: MemoryRegistry;
}

/** A {@link Dialect} over the in-memory twins (PGlite syntax, one connection). */
export function memoryDialect(names: AdapterNames): MemoryDialect {
  const driver = new MemoryDriver();
  const capabilities: DialectCapabilities = { transactionalDdl: true, multipleConnections: false };
  return {
    name: 'pglite',
    syntax: pgliteSyntax,
    capabilities,
    names,
    maxConnections: 1,
    driver,
    locks: new MemoryLocks(),
    meta: new MemoryMetaStore(),
    registry: new MemoryRegistry(),
    workspaces: notTwinned<WorkspaceStore>('workspaces'),
    ledger: notTwinned<LedgerStore>('ledger'),
    withSession: (fn) => driver.withSession(fn),
    close: () => driver.close(),
  };
}
