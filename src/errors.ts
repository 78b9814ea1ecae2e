/**
 * Typed errors. Every error carries a stable `code`, a `context` object naming what it is about
 * (file, line, tenant, migration id, statement index…) and, where one exists, the underlying `cause`.
 * Messages never contain stack traces.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'SOURCE_INVALID'
  | 'TEMPLATE_ERROR'
  | 'CHECKSUM_MISMATCH'
  | 'UNKNOWN_APPLIED'
  | 'INVALID_SCHEMA_NAME'
  | 'INVALID_WORKSPACE_ID'
  | 'LOCK_TIMEOUT'
  | 'MIGRATION_FAILED'
  | 'DOWN_MISSING'
  | 'NOT_FOUND'
  | 'INTERRUPTED'
  | 'DATABASE_ERROR'
  | 'WORKSPACE_NOT_ACTIVE'
  | 'PROVISION_FAILED'
  /** The run ledger stayed unreachable past its retries; the worker stopped taking tenants (resumable). */
  | 'LEDGER_UNAVAILABLE'
  /** The migration login lacks a right `up` needs; `context.missing` names each (docs/security.md). */
  | 'INSUFFICIENT_PRIVILEGE'
  /** A schema model file (schema/*.ts) is invalid; the message names each problem by path. */
  | 'MODEL_INVALID'
  /** A migration does what the engine cannot make safe (e.g. its own COMMIT in a transactional file); names file and line. */
  | 'MIGRATION_UNSAFE';

export interface ErrorContext {
  file?: string;
  line?: number;
  column?: number;
  key?: string;
  tenant?: string;
  workspaceId?: string;
  migrationId?: string;
  statementIndex?: number;
  sqlState?: string;
  dbCode?: string | number;
  [extra: string]: unknown;
}

export class TenantMigrateError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, ...this.context };
  }
}

/** Configuration could not be parsed; `issues` lists every problem with its path. */
export class ConfigError extends TenantMigrateError {
  readonly issues: readonly string[];
  constructor(issues: readonly string[], context: ErrorContext = {}) {
    super('CONFIG_INVALID', `Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`, context);
    this.issues = issues;
  }
}

/** The migration folders are inconsistent (duplicate or malformed ids, unreadable files). */
export class SourceError extends TenantMigrateError {
  readonly issues: readonly string[];
  constructor(issues: readonly string[], context: ErrorContext = {}) {
    super('SOURCE_INVALID', `Invalid migration files:\n${issues.map((i) => `  - ${i}`).join('\n')}`, context);
    this.issues = issues;
  }
}

/** A template failed to compile or render; context names file, line and variable. */
export class TemplateError extends TenantMigrateError {
  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('TEMPLATE_ERROR', message, context, options);
  }
}

/** A statement failed inside a migration; context names tenant, migration, statement and template line. */
export class MigrationError extends TenantMigrateError {
  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('MIGRATION_FAILED', message, context, options);
  }
}

/**
 * A migration was refused before it ran: e.g. top-level transaction control in a transactional
 * migration. Context names file, line, the statement (`key`) and, at render time, the tenant.
 */
export class MigrationUnsafeError extends TenantMigrateError {
  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('MIGRATION_UNSAFE', message, context, options);
  }
}

export class LockTimeoutError extends TenantMigrateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('LOCK_TIMEOUT', message, context);
  }
}

/** Errors that map to exit code 2 (usage, configuration, validation). */
export const VALIDATION_CODES: ReadonlySet<ErrorCode> = new Set([
  'CONFIG_INVALID',
  'MODEL_INVALID',
  'USAGE',
  'SOURCE_INVALID',
  'TEMPLATE_ERROR',
  'MIGRATION_UNSAFE',
  'CHECKSUM_MISMATCH',
  'UNKNOWN_APPLIED',
  'INVALID_SCHEMA_NAME',
  'INVALID_WORKSPACE_ID',
  'DOWN_MISSING',
  'NOT_FOUND',
  'INSUFFICIENT_PRIVILEGE',
]);

export function isTenantMigrateError(err: unknown): err is TenantMigrateError {
  return err instanceof TenantMigrateError;
}

/** A one-line description of any thrown value, without stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
