import { tenantGrantsOf } from '../dialect/contracts/access.js';
import { holdLock } from '../dialect/contracts/locks.js';
import type { Dialect } from '../dialect/dialect.js';
import { LockTimeoutError, TenantMigrateError, describeError } from '../errors.js';
import type { FailureInfo, MigratorListener, TenantResult } from '../events.js';
import type { MigrationFile, Tenant } from '../types.js';
import { planSchema } from '../planner/plan.js';
import { type SchemaMigrationRequest, migrateSchema } from './schema-migrator.js';
import type { SqlSession } from '../dialect/contracts/driver.js';

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

/**
 * Make a tenant's schema and meta table exist, with the configured grants. Runs inside its first
 * migration's transaction (so a failed first migration leaves no empty schema behind), and on the
 * fast path is folded into that migration's send: write-only statements only, no reads. The
 * derived schema name is recorded after the commit ({@link recordSchemaName}).
 */
export async function prepareTenant(
  dialect: Dialect,
  session: SqlSession,
  tenant: Tenant,
  options: { readonly structure?: boolean } = {},
): Promise<void> {
  // `structure: false`: the folded check has just proved, under the tenant lock, that the meta
  // table (hence the schema) exists.
  if (options.structure !== false) {
    await dialect.meta.ensureSchema(session, tenant.schema);
    await dialect.meta.ensureMetaTable(session, tenant.schema);
  }
  // Configured `access` roles (docs/security.md): idempotent, in the same transaction.
  await tenantGrantsOf(dialect)?.(session, tenant.schema);
}

/**
 * Record a backfilled workspace's derived schema name in its own short statement, once a migration
 * of the schema has committed — not inside the first migration's transaction: there it would hold a
 * row lock on the registry row for the whole migration, and on SQL Server without RCSI every
 * registry scan (discovery, status, plan) and the application's schema-name lookup would wait behind
 * it. A failed first migration still records nothing; a crash between the commit and this statement
 * leaves the row NULL and the next run records it (the schema with its meta table is the truth, and
 * the name is derived from the workspace id). Costs a round trip only for legacy rows being backfilled.
 */
async function recordSchemaName(dialect: Dialect, session: SqlSession, tenant: Tenant): Promise<void> {
  if (tenant.needsBackfill) await dialect.registry.setSchemaName(session, tenant.workspaceId, tenant.schema);
}

/**
 * The fast path applies when the dialect can fold, this process planned the tenant, and every
 * pending migration is transactional (a no-transaction one needs the session lock).
 */
function foldable(tenant: Tenant, options: TenantRunOptions): boolean {
  if (!options.dialect.folded || !tenant.appliedAtPlan) return false;
  const plan = planSchema(tenant.schema, options.files, tenant.appliedAtPlan, options.to ? { to: options.to } : {});
  if (plan.state !== 'behind') return false;
  const byId = new Map(options.files.map((f) => [f.id, f]));
  return plan.pending.every((id) => !byId.get(id)!.directives.noTransaction);
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
 * Migrate one tenant. Fast path (a planned tenant on a dialect that folds): each pending
 * migration is one send that takes the tenant lock inside its transaction and checks the meta
 * table still holds what the plan read. Careful path (otherwise, or when the lock was busy or the
 * check failed): take the session lock, re-read what is applied (the plan may be stale: another
 * process may have done it), apply the rest, release. Either way the first migration also creates
 * the schema and meta table and records a derived schema name ({@link prepareTenant}).
 * Transient failures are retried with exponential backoff and jitter; the result never throws.
 */
export async function runTenant(tenant: Tenant, options: TenantRunOptions): Promise<TenantResult> {
  const { dialect, emit } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  const started = Date.now();
  emit({ type: 'tenant:start', workspaceId: tenant.workspaceId, schema: tenant.schema });
  let attempt = 0;
  /** Every migration committed for this tenant, across attempts: what the report's `applied` names, failed or not. */
  const committed: string[] = [];
  for (;;) {
    attempt++;
    try {
      const busy = () => {
        throw new LockTimeoutError(
          `Could not lock tenant ${tenant.schema} within ${options.lockTimeoutMs} ms (another migration holds it)`,
          { tenant: tenant.schema, workspaceId: tenant.workspaceId },
        );
      };
      let committedNow = false;
      const migrate = (session: SqlSession, extra: Partial<SchemaMigrationRequest>) =>
        migrateSchema({
          dialect,
          session,
          schema: tenant.schema,
          files: options.files,
          render: (file) => options.render(file, tenant),
          runId: options.runId,
          ...(options.to ? { to: options.to } : {}),
          prepare: (s) => prepareTenant(dialect, s, tenant),
          onMigrated: (id, durationMs) => {
            committedNow = true;
            committed.push(id);
            emit({ type: 'tenant:migrated', workspaceId: tenant.workspaceId, schema: tenant.schema, id, durationMs });
          },
          ...extra,
        }).catch(async (err: unknown) => {
          // A later migration failed: the schema exists (earlier ones committed), so record its name.
          if (committedNow) await recordSchemaName(dialect, session, tenant).catch(() => undefined);
          throw err;
        });
      // Fast path: one round trip per migration, lock and check inside its transaction.
      const known = tenant.appliedAtPlan;
      const folded =
        known && foldable(tenant, options)
          ? await dialect.withSession(async (session) => {
              const r = await migrate(session, { known, prepare: (s) => prepareTenant(dialect, s, tenant, { structure: known.length === 0 }) });
              if (!r.fellBack) await recordSchemaName(dialect, session, tenant);
              return r;
            })
          : undefined;
      if (!folded || folded.fellBack) {
        // Careful path: the session lock, then umzug re-reads the meta table under it.
        await dialect.withSession((session) =>
          holdLock(dialect.locks, session, tenant.schema, options.lockTimeoutMs, async () => {
            const result = await migrate(session, {});
            // Nothing was pending, so prepare() did not run: still make sure schema, meta table and
            // the recorded name exist (a backfill of an already-built schema, or no tenant files).
            if (committed.length === 0) await prepareTenant(dialect, session, tenant);
            // Nothing applied here: the plan (or the applied-version summary it read) was stale. Make
            // the summary row what the meta table says, under the lock, so the next plan is right.
            if (result.applied.length === 0) await dialect.meta.refreshSummary(session, tenant.schema);
            await recordSchemaName(dialect, session, tenant);
            return result.applied;
          }, busy),
        );
      }
      const result: TenantResult = {
        workspaceId: tenant.workspaceId,
        schema: tenant.schema,
        status: committed.length > 0 ? 'succeeded' : 'up-to-date',
        applied: [...committed],
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
        // What committed before the failure stays committed (each migration is its own transaction).
        applied: [...committed],
        durationMs: Date.now() - started,
        attempts: attempt,
        error,
      };
      emit({ type: 'tenant:done', result });
      return result;
    }
  }
}
