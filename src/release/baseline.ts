/**
 * `baseline --to <id>`: record migrations as applied, without running them, for schemas that were
 * built outside the tool. Each row gets the file's checksum and the checksum of the SQL it renders
 * to for that schema, so later `up`, `plan` and `repair` treat it like a migration the tool ran.
 */
import { inTransaction } from '../dialect/contracts/driver.js';
import { holdLock } from '../dialect/contracts/locks.js';
import { LockTimeoutError, TenantMigrateError } from '../errors.js';
import type { OperationContext } from '../operations/context.js';
import { checksumOf } from '../source/index.js';
import type { MigrationFile, MigrationScope, Tenant } from '../types.js';
import { MASTER_LOCK, contextFor, resolveScope, selectTenants } from './release-context.js';

export interface BaselineOptions {
  /** Record migrations up to and including this id. */
  readonly to: string;
  /** `master` or `tenant`; default: the folder the id is in. */
  readonly scope?: MigrationScope | undefined;
  /** Only this workspace (tenant scope). */
  readonly workspaceId?: string | undefined;
  readonly includeArchived?: boolean | undefined;
}

export interface BaselineSchemaResult {
  readonly schema: string;
  readonly workspaceId?: string;
  /** Ids recorded now. */
  readonly recorded: readonly string[];
  /** `recorded`, `already` (nothing to record), or `skipped` (schema missing). */
  readonly status: 'recorded' | 'already' | 'skipped';
  readonly reason?: string;
}

export interface BaselineResult {
  readonly scope: MigrationScope;
  readonly to: string;
  readonly schemas: readonly BaselineSchemaResult[];
}

export async function baseline(ctx: OperationContext, options: BaselineOptions): Promise<BaselineResult> {
  const files = await ctx.files();
  const scope = resolveScope(files, options.to, options.scope);
  if (options.to === '0') throw new TenantMigrateError('USAGE', 'baseline --to needs a migration id');
  if (scope === 'master' && options.workspaceId) throw new TenantMigrateError('USAGE', '--workspace applies to tenant migrations only');
  const list = files[scope];
  const upTo = list.slice(0, list.findIndex((f) => f.id === options.to) + 1);
  const dialect = await ctx.dialect();
  const engine = await ctx.templates();
  const lockTimeoutMs = ctx.config.lockTimeoutMs;

  const recordOne = async (schema: string, lockKey: string, tenant?: Tenant): Promise<BaselineSchemaResult> =>
    // On the tenant's own database (docs/fleet.md); the meta SQL is the same in every database of the family.
    (await ctx.targets.dialectOf(tenant?.target)).withSession(async (session) => {
      const who = { schema, ...(tenant && { workspaceId: tenant.workspaceId }) };
      if (!(await dialect.meta.schemaExists(session, schema))) {
        return { ...who, recorded: [], status: 'skipped', reason: `schema ${schema} does not exist (baseline records existing schemas; up creates new ones)` };
      }
      const busy = () => {
        throw new LockTimeoutError(`Could not lock ${schema} within ${lockTimeoutMs} ms`, { tenant: schema });
      };
      return holdLock(dialect.locks, session, lockKey, lockTimeoutMs, async (): Promise<BaselineSchemaResult> => {
        await dialect.meta.ensureMetaTable(session, schema);
        const applied = new Set((await dialect.meta.readApplied(session, schema)).map((a) => a.id));
        const todo = upTo.filter((f) => !applied.has(f.id));
        if (todo.length === 0) return { ...who, recorded: [], status: 'already' };
        const context = contextFor(ctx.config, dialect.syntax, tenant);
        const rows = todo.map((file: MigrationFile) => ({
          id: file.id,
          checksum: file.checksum,
          renderedChecksum: checksumOf(engine.render(file, context)),
          appliedUtc: new Date(),
          durationMs: 0,
          runId: null,
        }));
        await inTransaction(session, async () => {
          for (const row of rows) await dialect.meta.insertApplied(session, schema, row);
        });
        return { ...who, recorded: todo.map((f) => f.id), status: 'recorded' };
      }, busy);
    });

  if (scope === 'master') {
    const schema = ctx.config.masterSchema;
    return { scope, to: options.to, schemas: [await recordOne(schema, MASTER_LOCK)] };
  }
  const { tenants } = await dialect.withSession((s) =>
    selectTenants(ctx, dialect.registry, s, { workspaceId: options.workspaceId, includeArchived: options.includeArchived }),
  );
  const schemas: BaselineSchemaResult[] = [];
  // One at a time: baseline writes a few rows per schema, and a clear order helps when it stops.
  for (const tenant of tenants) schemas.push(await recordOne(tenant.schema, tenant.schema, tenant));
  return { scope, to: options.to, schemas };
}
