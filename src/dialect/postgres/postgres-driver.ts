import pg from 'pg';
import type { Driver, ErrorClassification, SqlSession } from '../contracts/driver.js';
import { DriverSession, type SessionDriver } from '../sql-session.js';
import { classifyPostgresError } from './postgres-errors.js';
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
} as pg.CustomTypesConfig;

/** Sessions over a `pg` pool; a connection that failed (or may hold session state) is destroyed. */
export class PostgresDriver implements Driver {
  maxConnections: number;
  #pool: pg.Pool | undefined;
  readonly #url: string;

  constructor(options: PostgresDriverOptions) {
    this.maxConnections = options.maxConnections;
    this.#url = options.url;
  }

  #getPool(): pg.Pool {
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
        await client.query(sql);
      },
      errorPosition: (err) => pgPosition(err),
    };
    const session = new DriverSession(driver, postgresSyntax);
    try {
      return await fn(session);
    } catch (err) {
      broken ??= classifyPostgresError(err).transient ? (err as Error) : undefined;
      throw err;
    } finally {
      if (session.inTransaction && !broken) await session.rollback().catch((e: Error) => (broken = e));
      client.off('error', onError);
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
