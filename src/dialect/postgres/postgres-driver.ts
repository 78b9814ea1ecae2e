import type * as PG from 'pg';
import pg from './pg-module.js';
import type { Driver, ErrorClassification, SqlSession } from '../contracts/driver.js';
import { DriverSession, type SessionDriver } from '../sql-session.js';
import { classifyPostgresError } from './postgres-errors.js';
import { postgresHygiene } from './postgres-session.js';
import { postgresSyntax } from './postgres-syntax.js';

export interface PostgresDriverOptions {
  readonly url: string;
  readonly maxConnections: number;
}

// `timestamp without time zone` columns hold UTC; read them as UTC, not local time.
const TIMESTAMP_OID = 1114;
const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === TIMESTAMP_OID) return (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as PG.CustomTypesConfig;

/**
 * Sessions over a `pg` pool. A connection that failed, or whose state is unknown (a lock it held
 * could not be released), is destroyed; one that ran a script goes back to the pool marked, and its
 * next session resets it before anything else runs (DESIGN.md, safety invariant 2).
 */
export class PostgresDriver implements Driver {
  maxConnections: number;
  #pool: PG.Pool | undefined;
  /** Pooled connections that ran a script in their last session: reset before their next use. */
  readonly #dirty = new WeakSet<PG.PoolClient>();
  readonly #url: string;

  constructor(options: PostgresDriverOptions) {
    this.maxConnections = options.maxConnections;
    this.#url = options.url;
  }

  #getPool(): PG.Pool {
    if (!this.#pool) {
      this.#pool = new pg.Pool({
        connectionString: this.#url,
        max: this.maxConnections,
        types: pgTypes,
        application_name: 'tenant-migrate',
      });
      // A backend killed under an idle client (pg_terminate_backend, failover) must not crash the
      // process; the client is discarded and the next checkout opens a new connection.
      this.#pool.on('error', () => undefined);
    }
    return this.#pool;
  }

  ensureCapacity(n: number): void {
    if (n <= this.maxConnections) return;
    this.maxConnections = n;
    // pg-pool reads `options.max` on every checkout, so an open pool grows in place.
    if (this.#pool) (this.#pool as unknown as { options: { max: number } }).options.max = n;
  }

  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.#getPool().connect();
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    const driver: SessionDriver = {
      query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
      exec: async (sql) => {
        const result = (await client.query(sql)) as PG.QueryResult | PG.QueryResult[];
        return Array.isArray(result) ? result.flatMap((r) => r.rows ?? []) : (result.rows ?? []);
      },
      errorPosition: (err) => pgPosition(err),
    };
    // A multi-statement request (simple protocol): the rows of its first statement.
    const run = async (sql: string) => {
      const result = (await client.query(sql)) as PG.QueryResult | PG.QueryResult[];
      return (Array.isArray(result) ? result[0]?.rows : result.rows) ?? [];
    };
    const resetPending = this.#dirty.delete(client);
    const session = new DriverSession(driver, postgresSyntax, 'BEGIN', postgresHygiene(resetPending, run));
    try {
      return await fn(session);
    } catch (err) {
      broken ??= classifyPostgresError(err).transient ? (err as Error) : undefined;
      throw err;
    } finally {
      if (session.inTransaction && !broken) await session.rollback().catch((e: Error) => (broken = e));
      if (!broken && session.unusable) broken = new Error('session state unknown (a lock it held could not be released)');
      client.off('error', onError);
      if (!broken && session.resetPending) this.#dirty.add(client);
      // Destroy a connection that failed (or may hold session state such as an advisory lock).
      client.release(broken ?? undefined);
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }

  classifyError(err: unknown): ErrorClassification {
    return classifyPostgresError(err);
  }
}

/** PostgreSQL reports the error position as a 1-based character offset string. */
export function pgPosition(err: unknown): number | undefined {
  const position = (err as { position?: unknown } | null)?.position;
  const n = typeof position === 'string' || typeof position === 'number' ? Number(position) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
