/**
 * Small pieces the release commands (plan, baseline, down, repair) share: render contexts built
 * the way `up` builds them, tenant selection, and which folder a migration id belongs to.
 */
import type { DialectSyntax } from '../dialect/dialect-syntax.js';
import type { SqlSession } from '../dialect/dialect-adapter.js';
import { TenantMigrateError } from '../errors.js';
import { type MigratorImpl, workspaceRecord } from '../migrator.js';
import { normalizeGuid } from '../registry/tenant-discovery.js';
import { buildRenderContext, type RenderContext } from '../templating/render-context.js';
import type { InvalidTenant, MigrationFile, MigrationScope, Tenant } from '../types.js';

export { MASTER_LOCK, workspaceRecord } from '../migrator.js';

/** Render context for one tenant (or master when `tenant` is undefined). */
export function contextFor(migrator: MigratorImpl, syntax: DialectSyntax, tenant?: Tenant): RenderContext {
  const { masterSchema, vars } = migrator.config;
  return buildRenderContext({
    syntax,
    masterSchema,
    vars,
    ...(tenant && { tenant: { workspaceId: tenant.workspaceId, schemaName: tenant.schema, workspace: workspaceRecord(tenant) } }),
  });
}

export interface TenantSelection {
  readonly tenants: Tenant[];
  readonly invalid: InvalidTenant[];
}

/**
 * The tenants a command works on: every discovered tenant (Active only unless `includeArchived`),
 * or the one named by `workspaceId` (any status: naming it is asking for it).
 */
export async function selectTenants(
  migrator: MigratorImpl,
  session: SqlSession,
  options: { readonly workspaceId?: string | undefined; readonly includeArchived?: boolean | undefined },
): Promise<TenantSelection> {
  if (!options.workspaceId) return migrator.discover(session, options.includeArchived ?? false);
  const id = normalizeGuid(options.workspaceId);
  if (!id) {
    throw new TenantMigrateError('INVALID_WORKSPACE_ID', `"${options.workspaceId}" is not a GUID`, { workspaceId: options.workspaceId });
  }
  const all = await migrator.discover(session, true);
  const tenant = all.tenants.find((t) => t.workspaceId === id);
  if (tenant) return { tenants: [tenant], invalid: [] };
  const bad = all.invalid.find((t) => t.workspaceId === id);
  if (bad) throw new TenantMigrateError('INVALID_SCHEMA_NAME', `Workspace ${id}: ${bad.reason}`, { workspaceId: id });
  throw new TenantMigrateError('NOT_FOUND', `Workspace ${id} is not in the registry`, { workspaceId: id });
}

/**
 * Which folder a migration id is in. `scope` wins when given; otherwise the id must be in exactly
 * one folder. `0` (revert everything, for `down`) needs an explicit scope or defaults to tenant.
 */
export function resolveScope(
  files: { readonly master: readonly MigrationFile[]; readonly tenant: readonly MigrationFile[] },
  id: string,
  scope?: MigrationScope,
): MigrationScope {
  if (scope) {
    if (id !== '0' && !files[scope].some((f) => f.id === id)) {
      throw new TenantMigrateError('NOT_FOUND', `No ${scope} migration with id "${id}"`, { migrationId: id });
    }
    return scope;
  }
  if (id === '0') return 'tenant';
  const inMaster = files.master.some((f) => f.id === id);
  const inTenant = files.tenant.some((f) => f.id === id);
  if (inMaster && inTenant) {
    throw new TenantMigrateError('USAGE', `"${id}" is both a master and a tenant migration; say which with --scope`, { migrationId: id });
  }
  if (!inMaster && !inTenant) throw new TenantMigrateError('NOT_FOUND', `No migration with id "${id}"`, { migrationId: id });
  return inMaster ? 'master' : 'tenant';
}
