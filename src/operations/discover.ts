import type { SqlSession } from '../dialect/contracts/driver.js';
import type { Registry } from '../dialect/contracts/registry.js';
import { TenantMigrateError } from '../errors.js';
import { type DiscoveryResult, normalizeGuid, validateTenants } from '../registry/tenant-discovery.js';
import type { OperationContext } from './context.js';

/**
 * Registry rows → validated tenants (empty before the registry exists). Every schema name is
 * checked against the configured pattern here, before it reaches any SQL.
 */
export async function discoverTenants(
  ctx: OperationContext,
  registry: Registry,
  session: SqlSession,
  includeArchived = false,
): Promise<DiscoveryResult> {
  if (!(await registry.registryExists(session))) return { tenants: [], invalid: [] };
  const rows = await registry.listTenants(session, {
    includeArchived,
    ...(ctx.config.registry.query ? { customQuery: ctx.config.registry.query } : {}),
  });
  return validateTenants(rows, ctx.schemaPattern, ctx.config.registry.schemaPrefix, new Set(Object.keys(ctx.config.targets)));
}

/**
 * The tenants a command works on: every discovered tenant (Active only unless `includeArchived`),
 * or the one named by `workspaceId` (any status: naming it is asking for it).
 */
export async function selectTenants(
  ctx: OperationContext,
  registry: Registry,
  session: SqlSession,
  options: { readonly workspaceId?: string | undefined; readonly includeArchived?: boolean | undefined },
): Promise<DiscoveryResult> {
  if (!options.workspaceId) return discoverTenants(ctx, registry, session, options.includeArchived ?? false);
  const id = normalizeGuid(options.workspaceId);
  if (!id) {
    throw new TenantMigrateError('INVALID_WORKSPACE_ID', `"${options.workspaceId}" is not a GUID`, { workspaceId: options.workspaceId });
  }
  const all = await discoverTenants(ctx, registry, session, true);
  const tenant = all.tenants.find((t) => t.workspaceId === id);
  if (tenant) return { tenants: [tenant], invalid: [] };
  const bad = all.invalid.find((t) => t.workspaceId === id);
  if (bad) throw new TenantMigrateError('INVALID_SCHEMA_NAME', `Workspace ${id}: ${bad.reason}`, { workspaceId: id });
  throw new TenantMigrateError('NOT_FOUND', `Workspace ${id} is not in the registry`, { workspaceId: id });
}
