import type { ErrorClassification } from '../dialect-adapter.js';

/**
 * SQLSTATEs worth a retry: the statement may succeed if run again.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
  '55P03', // lock_not_available
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
]);

const TRANSIENT_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);
const TRANSIENT_MESSAGES = [/Connection terminated/i, /Client has encountered a connection error/i, /timeout exceeded when trying to connect/i];

export function classifyPostgresError(err: unknown): ErrorClassification {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; cause?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code))) {
    return { transient: true, code, message };
  }
  if (TRANSIENT_MESSAGES.some((re) => re.test(message))) return { transient: true, code, message };
  if (e.cause && e.cause !== err) {
    const inner = classifyPostgresError(e.cause);
    if (inner.transient) return { ...inner, message };
  }
  return { transient: false, ...(code ? { code } : {}), message };
}
