import type { AppliedMigration } from '../../types.js';
import type { SqlSession } from './driver.js';

/**
 * One transactional migration of one tenant, sent as one round trip (DESIGN.md "Flow of up",
 * step 5). The plan already read the tenant's meta table; instead of taking a session lock and
 * re-reading it, the send itself takes the transaction-scoped tenant lock and checks, under that
 * lock, that the meta table still holds exactly `expected`:
 *
 *   BEGIN; try-lock(tenant, transaction-scoped) + check(meta = expected); prelude;
 *   <migration script>; INSERT meta row; COMMIT;
 *
 * If the lock is busy or the check fails, nothing was applied and the caller falls back to the
 * careful path (session lock, re-read, apply), so the result is still exactly-once.
 */
export interface FoldedMigration {
  readonly schema: string;
  /** What the meta table must hold before this migration (ids and checksums are compared). */
  readonly expected: readonly Pick<AppliedMigration, 'id' | 'checksum'>[];
  /**
   * Write-only statements run after the lock and the check, before the script (schema and meta
   * table for a fresh tenant, grants, registry name). A missing meta table passes the check only
   * when `expected` is empty, so the prelude must create it then.
   */
  readonly prelude: readonly string[];
  /** The rendered migration script. */
  readonly script: string;
  /** The meta row; applied time and duration come from the database clock. */
  readonly row: Pick<AppliedMigration, 'id' | 'checksum' | 'renderedChecksum' | 'runId'>;
}

/**
 * `busy`: another session holds the tenant's lock; `stale`: the meta table is not what the plan read;
 * `unfoldable`: the script kept the send from finishing (SQL Server: a top-level RETURN ends the batch
 * before the meta row). Nothing was applied in any of these; the careful path takes over.
 */
export type FoldedOutcome = 'applied' | 'busy' | 'stale' | 'unfoldable';

/** What a dialect that can fold a migration into one send provides (PostgreSQL, PGlite, SQL Server). */
export interface FoldedApply {
  /**
   * A session that records the statements it is given instead of running them (parameters are
   * inlined as literals with the dialect's quoting), for the prelude. Only write-only statements
   * belong there: `query` returns no rows, transactions are refused.
   */
  recorder(): { readonly session: SqlSession; readonly statements: readonly string[] };
  /**
   * Send the migration as one round trip. Returns `applied`, or `busy`/`stale` after rolling
   * back; a failing statement throws a ScriptExecutionError whose line is relative to `script`.
   */
  apply(session: SqlSession, migration: FoldedMigration): Promise<FoldedOutcome>;
  /**
   * Several folded migrations — usually of several tenants — in one request, in order: each is its
   * own transaction with its own lock and check exactly as in {@link apply}, and the session is reset
   * between them, so one tenant's script leaves nothing to the next. Resolves when every one of them
   * committed, to each tenant's time inside the request (its schema → the milliseconds its
   * transactions took by the server's clock, the same figure its meta rows record; a tenant missing
   * from the map: not measured). Rejects (after ending any open transaction) when one failed, was
   * busy or stale: the ones before it in the request may have committed and the ones after it did
   * not run, so the caller reads the meta tables (the truth) to learn which. Absent: the dialect
   * sends one at a time.
   */
  applyMany?(session: SqlSession, migrations: readonly FoldedMigration[]): Promise<ReadonlyMap<string, number>>;
  /** Whether a migration may go into {@link applyMany} with other tenants' (absent: every one may). */
  shareable?(migration: FoldedMigration): boolean;
}

/**
 * The {@link FoldedApply.recorder} both dialects use: a session that records each statement with
 * its parameters inlined by `inline` (the dialect's literal quoting) and returns no rows.
 */
export function recordingSession(inline: (sql: string, params?: readonly unknown[]) => string): { session: SqlSession; statements: string[] } {
  const statements: string[] = [];
  const refuse = async () => {
    throw new Error('A folded prelude runs inside the migration transaction: it cannot begin, commit or roll back');
  };
  const session: SqlSession = {
    query: async <R>(sql: string, params?: readonly unknown[]) => {
      statements.push(inline(sql, params));
      return [] as R[];
    },
    runScript: async (sql) => void statements.push(sql),
    begin: refuse,
    commit: refuse,
    rollback: refuse,
    inTransaction: true,
  };
  return { session, statements };
}

/** Rows `{ tm_tenant, tm_ms }` a shared send returned, summed per schema (other rows are the scripts'). */
export function tenantTimes(rows: readonly Record<string, unknown>[]): Map<string, number> {
  const times = new Map<string, number>();
  for (const row of rows) {
    const { tm_tenant: schema, tm_ms: ms } = row;
    if (typeof schema !== 'string' || ms === null || ms === undefined || !Number.isFinite(Number(ms))) continue;
    times.set(schema, (times.get(schema) ?? 0) + Number(ms));
  }
  return times;
}
