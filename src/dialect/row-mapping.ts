/**
 * Database rows → typed records, shared by every dialect (drivers return the same column names;
 * SQL Server CHAR columns come back padded, hence the trims).
 */
import type { AppliedMigration, TenantRow } from '../types.js';
import type { LedgerRun, LedgerRunCounts, LedgerTenant, RunStatus } from './ledger-types.js';

const toDate = (v: unknown): Date | null => (v == null ? null : v instanceof Date ? v : new Date(String(v)));

function parseJson<T>(v: unknown, fallback: T): T {
  if (v == null || v === '') return fallback;
  try {
    return JSON.parse(String(v)) as T;
  } catch {
    return fallback;
  }
}

/** Per-status counts → the counts object (absent statuses are 0). */
export function countsFrom(rows: readonly { status: string; n: number | string }[]): LedgerRunCounts {
  const by: Record<string, number> = {};
  for (const r of rows) by[String(r.status).trim()] = Number(r.n);
  const c = { pending: by.pending ?? 0, running: by.running ?? 0, succeeded: by.succeeded ?? 0, failed: by.failed ?? 0, skipped: by.skipped ?? 0 };
  return { total: c.pending + c.running + c.succeeded + c.failed + c.skipped, ...c };
}

export function rowToRun(row: Record<string, unknown>): LedgerRun {
  return {
    runId: String(row.run_id),
    runKey: String(row.run_key),
    target: String(row.target),
    options: parseJson<Record<string, unknown>>(row.options, {}),
    status: String(row.status).trim() as RunStatus,
    startedBy: String(row.started_by),
    startedUtc: toDate(row.started_utc) ?? new Date(0),
    finishedUtc: toDate(row.finished_utc),
    heartbeatUtc: toDate(row.heartbeat_utc),
    heartbeatAgeMs: row.heartbeat_age_ms === null || row.heartbeat_age_ms === undefined ? null : Number(row.heartbeat_age_ms),
    counts: {
      total: Number(row.total ?? 0),
      succeeded: Number(row.succeeded ?? 0),
      failed: Number(row.failed ?? 0),
      skipped: Number(row.skipped ?? 0),
      pending: 0,
      running: 0,
    },
  };
}

export function rowToLedgerTenant(row: Record<string, unknown>): LedgerTenant {
  return {
    schema: String(row.schema_name),
    workspaceId: String(row.workspace_id),
    seq: Number(row.seq),
    wave: Number(row.wave),
    status: String(row.status).trim() as LedgerTenant['status'],
    attempts: Number(row.attempts),
    claimedBy: row.claimed_by == null ? null : String(row.claimed_by),
    leaseUntil: toDate(row.lease_until),
    startedUtc: toDate(row.started_utc),
    finishedUtc: toDate(row.finished_utc),
    durationMs: row.duration_ms == null ? null : Number(row.duration_ms),
    applied: parseJson<string[]>(row.applied, []),
    error: parseJson<Record<string, unknown> | null>(row.error, null),
  };
}

export function rowToApplied(row: Record<string, unknown>): AppliedMigration {
  return {
    id: String(row.id),
    checksum: String(row.checksum).trim(),
    renderedChecksum: String(row.rendered_checksum).trim(),
    appliedUtc: toDate(row.applied_utc) ?? new Date(0),
    durationMs: Number(row.duration_ms),
    runId: row.run_id == null ? null : String(row.run_id),
  };
}

export function rowToTenant(row: Record<string, unknown>): TenantRow {
  return {
    workspaceId: String(row.workspace_id).toLowerCase(),
    name: row.name == null ? null : String(row.name),
    dbSchemaName: row.db_schema_name == null ? null : String(row.db_schema_name),
    status: String(row.status ?? 'Active'),
    lastSeenUtc: toDate(row.last_seen_utc),
    createdUtc: toDate(row.created_utc),
    ...(row.db_target == null || String(row.db_target).trim() === '' ? {} : { target: String(row.db_target).trim() }),
  };
}
