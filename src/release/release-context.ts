/**
 * Small pieces the release commands (plan, baseline, down, repair) share with `up`: render
 * contexts, tenant selection and the master lock key (from src/operations/), and which folder a
 * migration id belongs to.
 */
import { TenantMigrateError } from '../errors.js';
import type { MigrationFile, MigrationScope } from '../types.js';

export { MASTER_LOCK } from '../operations/context.js';
export { discoverTenants, selectTenants } from '../operations/discover.js';
export { contextFor, workspaceRecord } from '../operations/templates.js';
export type { DiscoveryResult as TenantSelection } from '../registry/tenant-discovery.js';

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
