import type { DialectName } from '../dialect/dialect-syntax.js';
import { syntaxFor } from '../dialect/syntax-registry.js';
import { TenantMigrateError } from '../errors.js';
import { normalizeGuid, validateTenants } from '../registry/tenant-discovery.js';
import { sampleRenderContext } from '../templating/render-context.js';
import type { OperationContext } from './context.js';
import { contextFor } from './templates.js';

export interface RenderOptions {
  /** Tenant to render for; default a sample workspace. */
  readonly workspaceId?: string;
  /** Render for another dialect than the configured database's. */
  readonly dialect?: DialectName;
  readonly scope?: 'master' | 'tenant';
}

/**
 * The SQL one migration renders to. Opens the database only to render for a named workspace
 * (its registry row, when there is one); otherwise for master or a sample tenant.
 */
export async function render(ctx: OperationContext, migrationId: string, options: RenderOptions = {}): Promise<string> {
  const files = await ctx.files();
  const scope = options.scope ?? (files.tenant.some((f) => f.id === migrationId) ? 'tenant' : 'master');
  const file = files[scope].find((f) => f.id === migrationId);
  if (!file) {
    throw new TenantMigrateError('NOT_FOUND', `No ${scope} migration with id "${migrationId}"`, { migrationId });
  }
  const engine = await ctx.templates();
  const syntax = syntaxFor(options.dialect ?? ctx.dialectName);
  const { masterSchema, vars } = ctx.config;
  if (scope === 'master') return engine.render(file, contextFor(ctx.config, syntax));
  if (!options.workspaceId) return engine.render(file, sampleRenderContext(syntax, masterSchema, vars));
  const workspaceId = normalizeGuid(options.workspaceId);
  if (!workspaceId) {
    throw new TenantMigrateError('INVALID_WORKSPACE_ID', `"${options.workspaceId}" is not a GUID`, { workspaceId: options.workspaceId });
  }
  // Render for the registered row when the database has it; else for the derived name.
  const dialect = await ctx.dialect();
  const row = await dialect.withSession(async (s) =>
    (await dialect.registry.registryExists(s)) ? dialect.registry.getTenant(s, workspaceId) : undefined,
  );
  const base = row ?? { workspaceId, name: null, dbSchemaName: null, status: 'Active', lastSeenUtc: null, createdUtc: null };
  // Where it lives (config `targets`) decides `target`/`onMasterDatabase` in its context (docs/fleet.md).
  const { tenants, invalid } = validateTenants([base], ctx.schemaPattern, ctx.config.registry.schemaPrefix, new Set(ctx.targets.names));
  if (!tenants[0]) throw new TenantMigrateError('INVALID_SCHEMA_NAME', invalid[0]!.reason, { workspaceId });
  return engine.render(file, contextFor(ctx.config, syntax, tenants[0]));
}
