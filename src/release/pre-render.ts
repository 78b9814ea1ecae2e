/**
 * A release is decided before it starts: every pending migration is rendered for every tenant it
 * will run on (and every pending master migration once) before anything commits, so a template
 * error or a refused statement (MIGRATION_UNSAFE) applies nothing instead of half a release.
 *
 * The cost is one render per tenant per pending file, in memory — no query per tenant. The rendered
 * text is not kept: the runner renders again when it applies (rendering is deterministic for a
 * tenant), so memory stays flat at 10,000 tenants.
 */
import { TenantMigrateError } from '../errors.js';
import type { MigrationFile, Tenant } from '../types.js';

/** What to render: a tenant and the ids pending there, in order. */
export interface PendingWork {
  readonly tenant: Tenant;
  readonly pending: readonly string[];
}

/**
 * Render each pending file for each tenant. Throws the first failure (a TemplateError or
 * MigrationUnsafeError, exit 2) with the tenant in its context and in its message, counting how many
 * tenants that file fails for.
 */
export function preRenderTenants(
  render: (file: MigrationFile, tenant: Tenant) => string,
  files: readonly MigrationFile[],
  work: Iterable<PendingWork>,
): void {
  const byId = new Map(files.map((f) => [f.id, f]));
  let first: { error: TenantMigrateError; file: MigrationFile; tenant: Tenant } | undefined;
  let failedTenants = 0;
  for (const { tenant, pending } of work) {
    for (const id of pending) {
      const file = byId.get(id);
      if (!file) continue;
      try {
        render(file, tenant);
      } catch (err) {
        if (!(err instanceof TenantMigrateError)) throw err;
        // Keep going for this file only to count: the first error names the file, line and tenant.
        if (!first) first = { error: err, file, tenant };
        if (first.file === file) failedTenants++;
        break;
      }
    }
  }
  if (!first) return;
  const { error, file, tenant } = first;
  const forTenant = error.message.includes(tenant.schema) ? '' : ` (tenant ${tenant.schema})`;
  const count = failedTenants > 1 ? `; it fails for ${failedTenants} tenants` : '';
  throw new TenantMigrateError(
    error.code,
    `${error.message}${forTenant}${count}; nothing was applied to any tenant`,
    { ...error.context, file: error.context.file ?? file.path, migrationId: file.id, tenant: tenant.schema, tenants: failedTenants },
    { cause: error },
  );
}

/** Render each pending master migration once (the master context does not vary). */
export function preRenderMaster(render: (file: MigrationFile) => string, files: readonly MigrationFile[], pending: ReadonlySet<string>): void {
  for (const file of files) {
    if (!pending.has(file.id)) continue;
    try {
      render(file);
    } catch (err) {
      if (!(err instanceof TenantMigrateError)) throw err;
      throw new TenantMigrateError(err.code, `${err.message}; nothing was applied`, { ...err.context, file: err.context.file ?? file.path, migrationId: file.id }, { cause: err });
    }
  }
}
