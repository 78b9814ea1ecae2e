import type { ErrorClassification } from '../dialect-adapter.js';

/**
 * SQL Server / Azure SQL error numbers worth a retry: running the same work again later can succeed.
 * Sources: Azure SQL "Troubleshoot transient connection errors"
 * (https://learn.microsoft.com/en-us/azure/azure-sql/database/troubleshoot-common-errors-issues#transient-fault-error-messages-40197-40613-and-others)
 * and the list EF Core retries on (dotnet/efcore SqlServerTransientExceptionDetector.cs).
 *
 * Decisions:
 * - 1222 (lock request time-out, raised when SET LOCK_TIMEOUT expires) is **transient**: it means
 *   another session held a lock we needed — application traffic on a tenant table — not that the
 *   migration is wrong. Retrying after backoff is what an operator would do by hand. Our own
 *   per-tenant lock does not surface as 1222: sp_getapplock reports a timeout as return code -1.
 * - 4060 (cannot open database) is **transient**: on Azure SQL it is raised while a database
 *   moves during reconfiguration/failover. A misspelt database name is retried a bounded number
 *   of times and then reported with this number, which is a cheap price.
 * - 18456 (login failed) is **permanent**: retrying a wrong password only risks an account lockout.
 */
const TRANSIENT_NUMBERS: ReadonlyMap<number, string> = new Map([
  [-2, 'client timeout'],
  [20, 'instance does not support encryption / connection dropped during login'],
  [64, 'network name no longer available during login'],
  [233, 'connection initialisation failed (server busy or at its connection limit)'],
  [1204, 'cannot obtain a LOCK resource at this time'],
  [1205, 'deadlock victim'],
  [1222, 'lock request time-out'],
  [4060, 'cannot open database (Azure: database moving)'],
  [4221, 'login to read-secondary failed during redo'],
  [10053, 'transport-level error: connection aborted'],
  [10054, 'transport-level error: connection reset by peer'],
  [10060, 'network error: connection attempt timed out'],
  [10928, 'Azure resource limit reached (workers/sessions)'],
  [10929, 'Azure resource limit: minimum guarantee not met'],
  [40143, 'Azure: service encountered an error processing the request'],
  [40197, 'Azure: error processing the request (failover / upgrade)'],
  [40501, 'Azure: service is busy'],
  [40540, 'Azure: service encountered an error processing the request'],
  [40613, 'Azure: database not currently available'],
  [41301, 'memory-optimised table commit dependency failed'],
  [41302, 'memory-optimised table update conflict'],
  [41305, 'memory-optimised table repeatable-read validation failure'],
  [41325, 'memory-optimised table serializable validation failure'],
  [49918, 'Azure: not enough resources to process the request'],
  [49919, 'Azure: too many create/update operations in progress'],
  [49920, 'Azure: too many operations in progress'],
]);

/**
 * Driver error codes (the `code` of mssql's ConnectionError/RequestError, or of the tedious/Node
 * error under it) that mean the connection or request was lost, not that the SQL was wrong.
 * https://github.com/tediousjs/node-mssql#error-codes
 */
const TRANSIENT_DRIVER_CODES: ReadonlySet<string> = new Set([
  'ESOCKET', // socket error (reset, closed by server, failover)
  'ETIMEOUT', // connect timeout (ConnectionError) or request timeout (RequestError)
  'ECONNCLOSED', // mssql: connection closed before the request completed
  'ECLOSE', // tedious: connection closed
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN', // transient DNS failure
]);

interface MssqlLikeError {
  number?: unknown;
  code?: unknown;
  message?: unknown;
  originalError?: unknown;
  precedingErrors?: unknown;
  errors?: unknown;
  cause?: unknown;
  info?: { number?: unknown };
  name?: unknown;
}

/**
 * Classify an error from the `mssql` package (RequestError, ConnectionError, TransactionError),
 * tedious or Node's socket layer. `code` is the SQL Server error number when the server raised
 * it, otherwise the driver code (`ESOCKET`, `ETIMEOUT`, …).
 *
 * @example
 * classifyMssqlError(Object.assign(new Error('deadlocked'), { number: 1205 }))
 * // → { transient: true, code: 1205, message: 'deadlocked' }
 */
export function classifyMssqlError(err: unknown): ErrorClassification {
  const message = messageOf(err);
  const number = serverNumber(err);
  const driverCode = driverCodeOf(err);
  const code = number ?? driverCode;
  const transient = isTransient(err, new Set());
  return code === undefined ? { transient, message } : { transient, code, message };
}

/** The SQL Server error number of a server-raised error, if any. */
export function mssqlErrorNumber(err: unknown): number | undefined {
  return serverNumber(err);
}

/** The 1-based line inside the batch that the server reported, if any. */
export function mssqlErrorLine(err: unknown): number | undefined {
  const e = err as { caughtLine?: unknown; lineNumber?: unknown; originalError?: { info?: { lineNumber?: unknown } } } | null;
  const line = e?.caughtLine ?? e?.lineNumber ?? e?.originalError?.info?.lineNumber;
  return typeof line === 'number' && Number.isInteger(line) && line > 0 ? line : undefined;
}

/**
 * What a CATCH block of the engine's PRINTs before it re-raises (`THROW;`): the line of the error it
 * caught. SQL Server's re-raised error keeps that line; Babelfish's carries the THROW's own. The
 * driver reads the message and sets `caughtLine` on the error, which {@link mssqlErrorLine} prefers.
 */
export const CAUGHT_LINE_PREFIX = 'tm_error_line=';
/** The PRINT of {@link CAUGHT_LINE_PREFIX}, for a CATCH block. */
export const PRINT_CAUGHT_LINE = `PRINT CONCAT(N'${CAUGHT_LINE_PREFIX}', ERROR_LINE());`;

/** The line a CATCH block reported in an info message, if this is one. */
export function caughtLineOf(message: string | undefined): number | undefined {
  if (!message?.startsWith(CAUGHT_LINE_PREFIX)) return undefined;
  const line = Number(message.slice(CAUGHT_LINE_PREFIX.length));
  return Number.isInteger(line) && line > 0 ? line : undefined;
}

/**
 * Babelfish sends a PostgreSQL error it has no T-SQL mapping for as this one number with
 * PostgreSQL's message (its mappings: babelfish_extensions contrib/babelfishpg_tds/error_mapping.txt;
 * a deadlock is mapped to 1205 there, these are not).
 */
export const BABELFISH_UNMAPPED_ERROR = 33557097;
/** Unmapped PostgreSQL errors that are worth a retry: serialization failure (40001), lock timeout (55P03). */
const BABELFISH_TRANSIENT_MESSAGES = /could not serialize access|canceling statement due to lock timeout|could not obtain lock/i;

/** PostgreSQL's lock timeout (55P03) as Babelfish reports it, unmapped. */
const BABELFISH_LOCK_TIMEOUT_MESSAGE = /canceling statement due to lock timeout|could not obtain lock/i;

/**
 * A lock request that gave up under `SET LOCK_TIMEOUT`: SQL Server's error 1222, or Babelfish's
 * unmapped PostgreSQL lock timeout (number 33557097 with PostgreSQL's message) — also when wrapped
 * (mssql's RequestError keeps the server error as originalError; ours as cause).
 */
export function isMssqlLockTimeout(err: unknown, seen = new Set<unknown>()): boolean {
  if (err === null || typeof err !== 'object' || seen.has(err)) return false;
  seen.add(err);
  const e = err as MssqlLikeError;
  const number = serverNumber(err);
  if (number === 1222) return true;
  if (number === BABELFISH_UNMAPPED_ERROR && BABELFISH_LOCK_TIMEOUT_MESSAGE.test(String(e.message))) return true;
  return isMssqlLockTimeout(e.originalError, seen) || isMssqlLockTimeout(e.cause, seen);
}

function isTransient(err: unknown, seen: Set<unknown>): boolean {
  if (err === null || typeof err !== 'object' || seen.has(err)) return false;
  seen.add(err);
  const e = err as MssqlLikeError;
  const number = serverNumber(err);
  if (number !== undefined && TRANSIENT_NUMBERS.has(number)) return true;
  if (number === BABELFISH_UNMAPPED_ERROR && BABELFISH_TRANSIENT_MESSAGES.test(String(e.message))) return true;
  if (typeof e.code === 'string' && TRANSIENT_DRIVER_CODES.has(e.code)) return true;
  // tarn's pool acquire timeout: every connection busy or the server not answering
  if (e.name === 'TimeoutError' && /acquire/i.test(String(e.message))) return true;
  // A batch can raise several errors; SQL Server reports the deadlock among them.
  if (Array.isArray(e.precedingErrors) && e.precedingErrors.some((p) => isTransient(p, seen))) return true;
  // Connection attempts to several addresses fail with an AggregateError.
  if (Array.isArray(e.errors) && e.errors.some((p) => isTransient(p, seen))) return true;
  return isTransient(e.originalError, seen) || isTransient(e.cause, seen);
}

function serverNumber(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as MssqlLikeError;
  const n = e.number ?? e.info?.number;
  if (typeof n === 'number' && Number.isInteger(n)) return n;
  if (e.originalError && e.originalError !== err) return serverNumber(e.originalError);
  return undefined;
}

function driverCodeOf(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as MssqlLikeError;
  if (typeof e.code === 'string') return e.code;
  if (e.originalError && e.originalError !== err) return driverCodeOf(e.originalError);
  return undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err !== null && typeof err === 'object' && typeof (err as MssqlLikeError).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}
