/**
 * Scratch schemas for replaying tenant migrations: `tm_scratch_<pid>_<8 hex>`. The process that
 * creates one holds a session lock named after it for as long as it exists, so a scratch schema
 * whose lock is free belongs to a process that died (kill -9, lost connection) and is dropped by
 * the next run. Nothing that does not match {@link SCRATCH_PATTERN} exactly is ever dropped.
 */
import { randomBytes } from 'node:crypto';
import type { SqlSession } from '../dialect/contracts/driver.js';
import type { Dialect } from '../dialect/dialect.js';

export const SCRATCH_PATTERN = /^tm_scratch_\d{1,10}_[0-9a-f]{8}$/;

export function newScratchName(): string {
  return `tm_scratch_${process.pid}_${randomBytes(4).toString('hex')}`;
}

const lockKey = (schema: string): string => `scratch:${schema}`;

/** Scratch schemas on the server (information_schema.schemata exists on both families). */
export async function listScratchSchemas(session: SqlSession): Promise<string[]> {
  const rows = await session.query<{ schema_name: string }>(
    "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'tm!_scratch!_%' ESCAPE '!'",
  );
  return rows.map((r) => r.schema_name).filter((s) => SCRATCH_PATTERN.test(s));
}

/**
 * Drop scratch schemas whose owner is gone (their lock can be taken at once). Run before this
 * session takes its own scratch lock: session locks are re-entrant on PostgreSQL. Returns the
 * dropped names.
 */
export async function dropStaleScratchSchemas(adapter: Dialect, session: SqlSession): Promise<string[]> {
  const dropped: string[] = [];
  for (const schema of await listScratchSchemas(session)) {
    if (!(await adapter.locks.acquireLock(session, lockKey(schema), 0))) continue; // a live process's
    try {
      await adapter.meta.dropSchema(session, schema);
      dropped.push(schema);
    } finally {
      await adapter.locks.releaseLock(session, lockKey(schema)).catch(() => undefined);
    }
  }
  return dropped;
}

/**
 * Create a scratch schema on `session`, run `fn` with its name, drop it in `finally`. The lock is
 * held on the same session for the whole time: if this process dies, the server ends the session,
 * frees the lock, and the next run's {@link dropStaleScratchSchemas} removes the leftover.
 */
export async function withScratchSchema<T>(
  adapter: Dialect,
  session: SqlSession,
  fn: (schema: string) => Promise<T>,
): Promise<T> {
  await dropStaleScratchSchemas(adapter, session);
  const schema = newScratchName();
  if (!SCRATCH_PATTERN.test(schema)) throw new Error(`scratch schema name ${schema} does not match its pattern`);
  if (!(await adapter.locks.acquireLock(session, lockKey(schema), 5_000))) {
    throw new Error(`could not take the lock of scratch schema ${schema}`);
  }
  try {
    await adapter.meta.ensureSchema(session, schema);
    await adapter.meta.ensureMetaTable(session, schema);
    return await fn(schema);
  } finally {
    await session.rollback().catch(() => undefined);
    await adapter.meta.dropSchema(session, schema).catch(() => undefined);
    await adapter.locks.releaseLock(session, lockKey(schema)).catch(() => undefined);
  }
}
