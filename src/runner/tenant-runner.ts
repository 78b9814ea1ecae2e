import { tenantGrantsOf } from '../dialect/contracts/access.js';
import { holdLock } from '../dialect/contracts/locks.js';
import type { Dialect } from '../dialect/dialect.js';
import { LockTimeoutError, TenantMigrateError, describeError } from '../errors.js';
import type { FailureInfo, MigratorListener, TenantResult } from '../events.js';
import type { MigrationFile, Tenant } from '../types.js';
import { migrateSchema } from './schema-migrator.js';

export interface TenantRunOptions {
  readonly dialect: Dialect;
  readonly files: readonly MigrationFile[];
  readonly render: (file: MigrationFile, tenant: Tenant) => string;
  readonly runId: string | null;
  readonly lockTimeoutMs: number;
  readonly to?: string;
  /** Attempts for transient errors (deadlock, serialization, connection loss); default 3. */
  readonly maxAttempts?: number;
  readonly emit: MigratorListener;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The stack-free description of a failure that results, events and the ledger carry. */
export function failureInfo(err: unknown, dialect: Dialect): FailureInfo {
  if (err instanceof TenantMigrateError) {
    const c = err.context;
    return {
      code: err.code,
      message: err.message,
      ...(c.migrationId ? { migrationId: c.migrationId } : {}),
      ...(c.file ? { file: c.file } : {}),
      ...(c.line ? { line: c.line } : {}),
      ...(c.statementIndex !== undefined ? { statementIndex: c.statementIndex } : {}),
      ...(c.dbCode !== undefined ? { dbCode: c.dbCode } : {}),
      transient: c.transient === true,
    };
  }
  const cls = dialect.driver.classifyError(err);
  return {
    code: 'DATABASE_ERROR',
    message: describeError(err),
    ...(cls.code !== undefined ? { dbCode: cls.code } : {}),
    transient: cls.transient,
  };
}

/**
 * Migrate one tenant: take its lock, create the schema and meta table, re-read what is applied
 * (the plan may be stale: another process may have done it), apply the rest, record a derived
 * schema name, release. Transient failures are retried with exponential backoff and jitter; the
 * result never throws.
 */
export async function runTenant(tenant: Tenant, options: TenantRunOptions): Promise<TenantResult> {
  const { dialect, emit } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  const started = Date.now();
  emit({ type: 'tenant:start', workspaceId: tenant.workspaceId, schema: tenant.schema });
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      const busy = () => {
        throw new LockTimeoutError(
          `Could not lock tenant ${tenant.schema} within ${options.lockTimeoutMs} ms (another migration holds it)`,
          { tenant: tenant.schema, workspaceId: tenant.workspaceId },
        );
      };
      const applied = await dialect.withSession((session) =>
        holdLock(dialect.locks, session, tenant.schema, options.lockTimeoutMs, async () => {
          // Schema and meta table are created inside the first migration's transaction: a failed
          // first migration leaves no empty schema behind.
          const prepare = async () => {
            await dialect.meta.ensureSchema(session, tenant.schema);
            await dialect.meta.ensureMetaTable(session, tenant.schema);
            // Configured `access` roles (docs/security.md): idempotent, in the same transaction.
            await tenantGrantsOf(dialect)?.(session, tenant.schema);
          };
          // The derived name is recorded in its own short statement once a migration has committed,
          // not inside the first migration's transaction: there it would hold a row lock on the
          // registry row for the whole migration, and on SQL Server without RCSI every registry
          // scan (discovery, status, plan) and the application's schema-name lookup would wait
          // behind it. A failed first migration still records nothing; a crash between the commit
          // and this statement leaves the row NULL, and the next run records it (the schema with
          // its meta table is the truth, and the name is derived from the workspace id).
          let committed = false;
          const backfill = async () => {
            if (tenant.needsBackfill) await dialect.registry.setSchemaName(session, tenant.workspaceId, tenant.schema);
          };
          let result: Awaited<ReturnType<typeof migrateSchema>>;
          try {
            result = await migrateSchema({
              dialect,
              session,
              schema: tenant.schema,
              files: options.files,
              render: (file) => options.render(file, tenant),
              runId: options.runId,
              ...(options.to ? { to: options.to } : {}),
              prepare,
              onMigrated: (id, durationMs) => {
                committed = true;
                emit({ type: 'tenant:migrated', workspaceId: tenant.workspaceId, schema: tenant.schema, id, durationMs });
              },
            });
          } catch (err) {
            // A later migration failed: the schema exists (earlier ones committed), so record its name.
            if (committed) await backfill().catch(() => undefined);
            throw err;
          }
          // Nothing was pending, so prepare() did not run: still make sure schema and meta table
          // exist (a backfill of an already-built schema, or no tenant files).
          if (result.applied.length === 0) await prepare();
          await backfill();
          return result.applied;
        }, busy),
      );
      const result: TenantResult = {
        workspaceId: tenant.workspaceId,
        schema: tenant.schema,
        status: applied.length > 0 ? 'succeeded' : 'up-to-date',
        applied,
        durationMs: Date.now() - started,
        attempts: attempt,
      };
      emit({ type: 'tenant:done', result });
      return result;
    } catch (err) {
      const error = failureInfo(err, dialect);
      if (error.transient && attempt < maxAttempts) {
        const delayMs = Math.round(100 * 2 ** (attempt - 1) * (0.5 + Math.random()));
        emit({ type: 'tenant:retry', workspaceId: tenant.workspaceId, schema: tenant.schema, attempt, error, delayMs });
        await sleep(delayMs);
        continue;
      }
      const result: TenantResult = {
        workspaceId: tenant.workspaceId,
        schema: tenant.schema,
        status: 'failed',
        applied: [],
        durationMs: Date.now() - started,
        attempts: attempt,
        error,
      };
      emit({ type: 'tenant:done', result });
      return result;
    }
  }
}
