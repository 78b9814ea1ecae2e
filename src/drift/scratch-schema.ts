/**
 * Scratch schemas for replaying tenant migrations: `tm_scratch_<pid>_<8 hex>`. The replay creates
 * one inside a transaction it always rolls back (drift/rollback-only.ts), so it never outlives the
 * replay. Older versions committed theirs and held a session lock named after it while it existed:
 * such a leftover whose lock is free belongs to a process that died and is dropped by the next
 * run. Nothing that does not match {@link SCRATCH_PATTERN} exactly is ever dropped.
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
