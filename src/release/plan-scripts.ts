/**
 * The SQL report of `plan --format sql`: the exact scripts `up` would run for a {@link ReleasePlan}.
 */
import { describeError } from '../errors.js';
import type { OperationContext } from '../operations/context.js';
import type { MigrationFile, Tenant } from '../types.js';
import type { ReleasePlan } from './plan.js';
import { contextFor, discoverTenants, selectTenants } from './release-context.js';

/** The rendered SQL `up` would run: master pending, then per tenant its pending migrations. */
export interface PlannedScript {
  /** `master` or the tenant schema. */
  readonly target: string;
  readonly workspaceId?: string;
  readonly migrations: readonly { readonly id: string; readonly file: string; readonly sql?: string; readonly error?: string }[];
}

/**
 * Render the exact SQL of the plan for the SQL report: master (unless `workspaceId` narrows to one
 * tenant) and each tenant that is behind. Render errors are kept in place of the SQL.
 */
export async function renderPlannedScripts(
  ctx: OperationContext,
  plan: ReleasePlan,
  options: { readonly workspaceId?: string | undefined } = {},
): Promise<PlannedScript[]> {
  const dialect = await ctx.dialect();
  const engine = await ctx.templates();
  const files = await ctx.files();
  const { tenants } = await dialect.withSession((s) =>
    options.workspaceId ? selectTenants(ctx, dialect.registry, s, { workspaceId: options.workspaceId }) : discoverTenants(ctx, dialect.registry, s, true),
  );
  const bySchema = new Map(tenants.map((t) => [t.schema, t]));
  const render = (file: MigrationFile, tenant?: Tenant) => {
    try {
      return { id: file.id, file: file.path, sql: engine.render(file, contextFor(ctx.config, dialect.syntax, tenant)) };
    } catch (err) {
      return { id: file.id, file: file.path, error: describeError(err) };
    }
  };
  const scripts: PlannedScript[] = [];
  if (!options.workspaceId && plan.master.pending.length > 0) {
    scripts.push({
      target: 'master',
      migrations: plan.master.pending.map((p) => render(files.master.find((f) => f.id === p.id)!)),
    });
  }
  for (const row of plan.schemas) {
    const tenant = bySchema.get(row.schema);
    if (!tenant || row.state === 'blocked') continue;
    if (row.pending.length === 0 && !options.workspaceId) continue;
    scripts.push({
      target: row.schema,
      workspaceId: row.workspaceId,
      migrations: row.pending.map((id) => render(files.tenant.find((f) => f.id === id)!, tenant)),
    });
  }
  return scripts;
}
