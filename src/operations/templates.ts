import type { Config } from '../config/config-schema.js';
import type { DialectSyntax } from '../dialect/dialect-syntax.js';
import { type RenderContext, buildRenderContext } from '../templating/render-context.js';
import { TenantSpecializer, type WorkspaceWatch } from '../templating/specialize.js';
import type { MigrationFile, Tenant } from '../types.js';
import type { OperationContext } from './context.js';

/** The registry row as templates see it (`workspace.name`, `workspace.status`, …). */
export function workspaceRecord(t: Tenant): Record<string, unknown> {
  return {
    workspace_id: t.workspaceId,
    name: t.name,
    db_schema_name: t.schema,
    status: t.status,
    last_seen_utc: t.lastSeenUtc,
    created_utc: t.createdUtc,
  };
}

/** Render context for one tenant (or master when `tenant` is undefined), built the same way everywhere. */
export function contextFor(config: Pick<Config, 'masterSchema' | 'vars'>, syntax: DialectSyntax, tenant?: Tenant, watch?: WorkspaceWatch): RenderContext {
  const { masterSchema, vars } = config;
  const workspace = (t: Tenant) => (watch ? watch(workspaceRecord(t)) : workspaceRecord(t));
  return buildRenderContext({
    syntax,
    masterSchema,
    vars,
    ...(tenant && { tenant: { workspaceId: tenant.workspaceId, schemaName: tenant.schema, workspace: workspace(tenant), target: tenant.target ?? null } }),
  });
}

export interface Renderer {
  readonly master: (file: MigrationFile) => string;
  readonly tenant: (file: MigrationFile, tenant: Tenant) => string;
}

/** Render functions for one dialect's syntax (the open database's, normally). */
export async function rendererFor(ctx: OperationContext, syntax: DialectSyntax): Promise<Renderer> {
  const engine = await ctx.templates();
  const masterContext = contextFor(ctx.config, syntax);
  // Templates that read only a tenant's identity render once per file and are specialized per
  // tenant (proven equal to a full render, see TenantSpecializer); the rest render per tenant.
  const specializer = new TenantSpecializer((file, tenant, watch) => engine.render(file, contextFor(ctx.config, syntax, tenant, watch)));
  return {
    master: (file) => engine.render(file, masterContext),
    tenant: (file, tenant) => specializer.render(file, tenant),
  };
}
