/**
 * The JSON contract of `workspace add|show|archive --json` and of the provisioning service's
 * routes (docs/workspace-api.md). One builder per answer, used by the CLI and the service alike, so
 * a client parses one shape whichever path it calls. Fields are only ever added, never renamed or
 * removed, within a major version.
 */
import { TenantMigrateError, describeError, isTenantMigrateError } from '../errors.js';
// The exit codes are a contract of the whole tool (pure data), defined beside the CLI that exits with them.
import { exitCodeForError } from '../cli/exit-codes.js';
import type { ProvisionResult, WorkspaceDetails, WorkspaceInfo } from '../workspaces/workspace-types.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** `workspace add --json` / `POST /v1/workspaces`. */
export function provisionJson(result: ProvisionResult) {
  return {
    ok: true as const,
    workspaceId: result.workspaceId,
    schema: result.schema,
    // Present only for a workspace on a configured target (absent: the master's own database), as
    // this document has always had it; show and archive say `null` instead.
    ...(result.target ? { target: result.target } : {}),
    outcome: result.outcome,
    applied: [...result.applied],
    durationMs: result.durationMs,
  };
}

/** `workspace show --json` / `GET /v1/workspaces/:id`. */
export function workspaceJson(w: WorkspaceDetails) {
  return {
    ok: true as const,
    workspaceId: w.workspaceId,
    name: w.name,
    schema: w.schema,
    target: w.target ?? null,
    status: w.status,
    schemaExists: w.schemaExists,
    lastSeenUtc: iso(w.lastSeenUtc),
    createdUtc: iso(w.createdUtc),
    applied: w.applied.map((a) => ({ id: a.id, appliedUtc: a.appliedUtc.toISOString(), durationMs: a.durationMs, runId: a.runId })),
    pending: [...w.pending],
  };
}

/** `workspace archive --json` / `POST /v1/workspaces/:id/archive`. */
export function archiveJson(info: WorkspaceInfo) {
  return { ok: true as const, workspaceId: info.workspaceId, schema: info.schema, target: info.target ?? null, status: info.status };
}

/**
 * An error answer: `{ ok: false, exitCode, error: { name, code, message, …context } }`. `exitCode` is
 * what the CLI exits with for it (the same number over HTTP, so one client handles both paths).
 */
export function errorJson(err: unknown) {
  const error = isTenantMigrateError(err) ? err.toJSON() : { name: 'Error', ...databaseErrorOf(err) ?? { code: 'UNEXPECTED' }, message: describeError(err) };
  return { ok: false as const, exitCode: exitCodeForError(err), error };
}

const NETWORK_CODES = /^E(?:CONN(?:RESET|REFUSED|ABORTED)|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|AI_AGAIN|SOCKET|INSTLOOKUP)$/;

/**
 * An error the database or the connection to it raised, which reached the caller without the engine
 * wrapping it (a connection lost past its retries, a refused statement outside a migration):
 * `DATABASE_ERROR` with PostgreSQL's SQLSTATE or SQL Server's error number. Undefined otherwise.
 */
export function databaseErrorOf(err: unknown): { code: 'DATABASE_ERROR'; sqlState?: string; dbCode?: number } | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { name?: unknown; code?: unknown; severity?: unknown; number?: unknown; originalError?: unknown };
  // PostgreSQL (pg, PGlite): a server error carries its severity and a 5-character SQLSTATE.
  if (typeof e.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return { code: 'DATABASE_ERROR', sqlState: e.code };
  // SQL Server (mssql/tedious): request and connection errors, with the server's error number when it sent one.
  if (e.name === 'RequestError' || e.name === 'ConnectionError' || e.name === 'TransactionError') {
    return typeof e.number === 'number' ? { code: 'DATABASE_ERROR', dbCode: e.number } : { code: 'DATABASE_ERROR' };
  }
  if (typeof e.code === 'string' && NETWORK_CODES.test(e.code)) return { code: 'DATABASE_ERROR' };
  if (err instanceof Error && /^Connection terminated/.test(err.message)) return { code: 'DATABASE_ERROR' };
  return undefined;
}

/** Errors of the HTTP layer itself (never thrown by the engine): their codes are the service's own. */
export type ServiceErrorCode = 'UNAUTHORIZED' | 'ROUTE_NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'PAYLOAD_TOO_LARGE' | 'SHUTTING_DOWN';

/** An error of the HTTP layer, answered with its own status; not an engine error. */
export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  readonly status: number;
  constructor(code: ServiceErrorCode, status: number, message: string) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
    this.status = status;
  }
}

/**
 * The HTTP status of each error code (contract, docs/workspace-api.md): the client's own mistakes
 * are 4xx, what a retry may cure is 503, the rest 500.
 */
export const HTTP_STATUS: Readonly<Record<string, number>> = {
  USAGE: 400,
  INVALID_WORKSPACE_ID: 400,
  INVALID_SCHEMA_NAME: 400,
  NOT_FOUND: 404,
  WORKSPACE_NOT_ACTIVE: 409,
  LOCK_TIMEOUT: 503,
  DATABASE_ERROR: 503,
  PROVISION_FAILED: 500,
  CONFIG_INVALID: 500,
  UNEXPECTED: 500,
};

/** Status and body of an error answer. */
export function errorResponse(err: unknown): { status: number; body: ReturnType<typeof errorJson> | { ok: false; exitCode: number; error: { name: string; code: string; message: string } } } {
  if (err instanceof ServiceError) {
    return { status: err.status, body: { ok: false, exitCode: err.status === 503 ? 1 : 2, error: { name: err.name, code: err.code, message: err.message } } };
  }
  const body = errorJson(err);
  return { status: HTTP_STATUS[body.error.code as string] ?? 500, body };
}

/** A usage error about the request body, naming the key. */
export function badRequest(message: string, key?: string): TenantMigrateError {
  return new TenantMigrateError('USAGE', message, key ? { key } : {});
}
