/**
 * `down --to <id>`: revert migrations with their `.down.sql.hbs` siblings, newest first, until
 * the schema is at `<id>` (kept applied; `--to 0` reverts everything). Same shape as `up`: master
 * under the master lock; tenants fanned out with the configured concurrency, each under its
 * per-tenant lock, each migration's down script and the removal of its meta row in one transaction.
 * Before anything runs, every down file that would be needed is checked: a missing one is a
 * refusal naming the file, not a half-reverted fleet.
 */
import pLimit from 'p-limit';
import { ScriptExecutionError } from '../dialect/contracts/driver.js';
import type { Dialect } from '../dialect/dialect.js';
import { LockTimeoutError, MigrationError, TenantMigrateError } from '../errors.js';
import type { FailureInfo } from '../events.js';
import type { OperationContext } from '../operations/context.js';
import { assertChecksums, templateLine } from '../runner/schema-migrator.js';
import { failureInfo } from '../runner/tenant-runner.js';
import type { AppliedMigration, MigrationFile, MigrationScope, Tenant } from '../types.js';
import { MASTER_LOCK, contextFor, resolveScope, selectTenants } from './release-context.js';

export interface DownOptions {
  /** Target: this id stays applied, everything after it is reverted. `0`: revert all. */
  readonly to: string;
  readonly scope?: MigrationScope | undefined;
  readonly workspaceId?: string | undefined;
  readonly includeArchived?: boolean | undefined;
  readonly concurrency?: number | undefined;
  /** Stop taking new tenants when aborted; in-flight tenants finish. */
  readonly signal?: AbortSignal | undefined;
  /** Called after each reverted migration (progress). */
  readonly onReverted?: ((schema: string, id: string) => void) | undefined;
}

export interface DownSchemaResult {
  readonly schema: string;
  readonly workspaceId?: string;
  readonly status: 'reverted' | 'up-to-date' | 'failed' | 'skipped';
  /** Ids reverted, in the order they ran (newest first). */
  readonly reverted: readonly string[];
  readonly error?: FailureInfo;
}

export interface DownResult {
  readonly scope: MigrationScope;
  readonly to: string;
  readonly schemas: readonly DownSchemaResult[];
  readonly failed: number;
  readonly interrupted: boolean;
}

/** Ids to revert for one schema, newest first. Pure. */
export function revertList(files: readonly MigrationFile[], applied: readonly Pick<AppliedMigration, 'id'>[], to: string): string[] {
  const keep = to === '0' ? -1 : files.findIndex((f) => f.id === to);
  const ids = new Set(applied.map((a) => a.id));
  return files
    .filter((f, i) => i > keep && ids.has(f.id))
    .map((f) => f.id)
    .reverse();
}

/** Expected path of a down file: `tenant-migrations/0003_x.sql.hbs` → `tenant-migrations/0003_x.down.sql.hbs`. */
export function downPathOf(file: MigrationFile): string {
  return file.path.replace(/\.sql(\.hbs)?$/, '.down.sql$1');
}

export async function down(ctx: OperationContext, options: DownOptions): Promise<DownResult> {
  const files = await ctx.files();
  const scope = resolveScope(files, options.to, options.scope);
  if (scope === 'master' && options.workspaceId) throw new TenantMigrateError('USAGE', '--workspace applies to tenant migrations only');
  const list = files[scope];
  const byId = new Map(list.map((f) => [f.id, f]));
  const dialect = await ctx.dialect();
  const { masterSchema } = ctx.config;

  // Targets and what each would revert, read in one batch (re-read under the lock before running).
  const targets: { schema: string; lockKey: string; tenant?: Tenant }[] = [];
  if (scope === 'master') {
    targets.push({ schema: masterSchema, lockKey: MASTER_LOCK });
  } else {
    const { tenants } = await dialect.withSession((s) =>
      selectTenants(ctx, dialect.registry, s, { workspaceId: options.workspaceId, includeArchived: options.includeArchived }),
    );
    for (const tenant of tenants) targets.push({ schema: tenant.schema, lockKey: tenant.schema, tenant });
  }
  const read =
    scope === 'master'
      ? { applied: new Map([[masterSchema, await dialect.withSession((s) => dialect.meta.readApplied(s, masterSchema))]]), unknown: new Set<string>() }
      : await ctx.targets.readAppliedMany(targets.map((t) => ({ schema: t.schema, target: t.tenant?.target ?? null })));
  const { applied } = read;
  // Schemas the batched read could not read without waiting (a first migration in flight): their
  // state is read under the tenant lock like every other target's, never taken as "nothing to revert".
  const unknown: ReadonlySet<string> = read.unknown;

  // Refuse before touching anything: missing down files, changed up files, unknown applied ids above the target.
  const needed = new Set<string>();
  for (const t of targets) {
    const rows = applied.get(t.schema) ?? [];
    assertChecksums(t.schema, rows, byId);
    for (const id of revertList(list, rows, options.to)) needed.add(id);
  }
  const missing = [...needed].map((id) => byId.get(id)!).filter((f) => !f.down);
  if (missing.length > 0) {
    const paths = missing.map(downPathOf);
    throw new TenantMigrateError(
      'DOWN_MISSING',
      `Cannot revert to ${options.to}: no down file for ${missing.map((f) => f.id).join(', ')}. Expected ${paths.join(', ')}. Nothing was reverted.`,
      { migrationId: missing[0]!.id, file: paths[0], missing: paths },
    );
  }

  const engine = await ctx.templates();
  const lockTimeoutMs = ctx.config.lockTimeoutMs;
  const revertOne = async (target: (typeof targets)[number]): Promise<DownSchemaResult> => {
    const who = { schema: target.schema, ...(target.tenant && { workspaceId: target.tenant.workspaceId }) };
    const reverted: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        const busy = () => {
          throw new LockTimeoutError(`Could not lock ${target.schema} within ${lockTimeoutMs} ms (another migration holds it)`, { tenant: target.schema });
        };
        await ctx.withLock(target.lockKey, async (session) => {
          const rows = await dialect.meta.readApplied(session, target.schema);
          assertChecksums(target.schema, rows, byId);
          const context = contextFor(ctx.config, dialect.syntax, target.tenant);
          for (const id of revertList(list, rows, options.to)) {
            const file = byId.get(id)!;
            const downFile = file.down;
            // Only a schema read under the lock for the first time (see `unknown`) can get here without one.
            if (!downFile) throw new TenantMigrateError('DOWN_MISSING', `Cannot revert ${id} in ${target.schema}: no down file (expected ${downPathOf(file)})`, { tenant: target.schema, migrationId: id, file: downPathOf(file) });
            const sql = engine.render(downFile, context);
            const atomic = !downFile.directives.noTransaction;
            if (atomic) await session.begin();
            try {
              await session.runScript(sql);
              await dialect.meta.deleteApplied(session, target.schema, id);
              if (atomic) await session.commit();
            } catch (err) {
              await session.rollback().catch(() => undefined);
              throw toDownError(err, file, sql, target.schema, dialect);
            }
            reverted.push(id);
            options.onReverted?.(target.schema, id);
          }
        }, { onBusy: busy, target: target.tenant?.target ?? null });
        return { ...who, status: reverted.length > 0 ? 'reverted' : 'up-to-date', reverted };
      } catch (err) {
        const error = failureInfo(err, dialect);
        if (error.transient && attempt < 3) {
          await new Promise((r) => setTimeout(r, Math.round(100 * 2 ** (attempt - 1) * (0.5 + Math.random()))));
          continue;
        }
        return { ...who, status: 'failed', reverted, error };
      }
    }
  };

  const concurrency = dialect.capabilities.multipleConnections ? (options.concurrency ?? ctx.config.concurrency) : 1;
  const limit = pLimit(concurrency);
  let interrupted = false;
  const todo = targets.filter((t) => unknown.has(t.schema) || revertList(list, applied.get(t.schema) ?? [], options.to).length > 0);
  const results = await Promise.all(
    todo.map((t) =>
      limit(async (): Promise<DownSchemaResult> => {
        if (options.signal?.aborted) {
          interrupted = true;
          return { schema: t.schema, ...(t.tenant && { workspaceId: t.tenant.workspaceId }), status: 'skipped', reverted: [] };
        }
        return revertOne(t);
      }),
    ),
  );
  const done = new Set(todo.map((t) => t.schema));
  const untouched = targets
    .filter((t) => !done.has(t.schema))
    .map((t): DownSchemaResult => ({ schema: t.schema, ...(t.tenant && { workspaceId: t.tenant.workspaceId }), status: 'up-to-date', reverted: [] }));
  const schemas = [...results, ...untouched];
  return { scope, to: options.to, schemas, failed: schemas.filter((s) => s.status === 'failed').length, interrupted };
}

function toDownError(err: unknown, file: MigrationFile, sql: string, schema: string, dialect: Dialect): TenantMigrateError {
  if (err instanceof TenantMigrateError) return err;
  const downFile = file.down!;
  const cls = dialect.driver.classifyError(err instanceof ScriptExecutionError ? err.cause : err);
  const line = err instanceof ScriptExecutionError ? templateLine({ ...file, source: downFile.source }, sql, err.line) : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return new MigrationError(
    `${downFile.path}${line ? `:${line}` : ''}: ${message} (schema ${schema}, reverting ${file.id})`,
    {
      tenant: schema,
      migrationId: file.id,
      file: downFile.path,
      ...(line ? { line } : {}),
      ...(err instanceof ScriptExecutionError ? { statementIndex: err.batchIndex } : {}),
      ...(cls.code !== undefined ? { dbCode: cls.code } : {}),
      transient: cls.transient,
    },
    { cause: err },
  );
}
