import type { DialectName, DialectSyntax } from '../dialect/dialect-syntax.js';

/**
 * Where a render context keeps its dialect syntax for the helpers. A symbol key keeps it out of
 * reach of templates (`{{syntax}}` is not a variable) and out of JSON dumps, but spreading the
 * context (`{ ...ctx, vars }`) still carries it, so one engine serves every dialect.
 */
export const RENDER_SYNTAX: unique symbol = Symbol('tenant-migrate.renderSyntax');

/** The variables a migration template sees. */
export interface RenderContext {
  /** Schema the migration targets, quoted for the dialect: the tenant schema, or the master schema. */
  readonly schema: string;
  /** Raw (validated) name of `schema`. */
  readonly schemaName: string;
  /** Tenant workspace GUID; null when rendering a master migration. */
  readonly workspaceId: string | null;
  /** The tenant's registry row; empty for master migrations. */
  readonly workspace: Readonly<Record<string, unknown>>;
  /**
   * Master schema, quoted. For a tenant on a target database (docs/fleet.md) the master schema is
   * in another database: rendering `{{master}}`/`{{masterSchema}}` there is a template error (see
   * {@link MASTER_ELSEWHERE}); guard such reads with `{{#if onMasterDatabase}}`.
   */
  readonly master: string;
  /** Master schema, raw. */
  readonly masterSchema: string;
  /**
   * The tenant's target database (a name of config `targets`); null on the master's own database
   * and for master migrations.
   */
  readonly target: string | null;
  /**
   * True when the master schema is in the database this migration runs in: every master migration,
   * and tenants of the master's own database. False for a tenant on a target database, where a
   * query cannot reach master tables (PostgreSQL has no cross-database queries; Azure SQL Database none
   * without elastic query).
   */
  readonly onMasterDatabase: boolean;
  readonly dialect: DialectName;
  readonly isMssql: boolean;
  readonly isPostgres: boolean;
  /** Free variables from the configuration (`vars:`). */
  readonly vars: Readonly<Record<string, unknown>>;
  readonly [RENDER_SYNTAX]: DialectSyntax;
}

export interface BuildRenderContextOptions {
  readonly syntax: DialectSyntax;
  readonly masterSchema: string;
  readonly vars?: Record<string, unknown>;
  /** Omit for a master migration. */
  readonly tenant?: {
    readonly workspaceId: string;
    readonly schemaName: string;
    readonly workspace: Record<string, unknown>;
    /** The tenant's target database; absent/null: the master's own. */
    readonly target?: string | null;
  };
}

/**
 * What `{{master}}` and `{{masterSchema}}` render to for a tenant on a target database: never valid
 * SQL, and found by the template engine after rendering, which then fails the render naming the
 * file and the target (a migration that reads master tables must say what to do on a target,
 * `{{#if onMasterDatabase}}`, instead of silently finding nothing there).
 */
export const MASTER_ELSEWHERE = '\u27E6master schema: not in this target database\u27E7';

/**
 * Build the context for one render. Schema names must already be validated: they are quoted
 * here, not checked.
 *
 * @example
 * buildRenderContext({ syntax: syntaxFor('mssql'), masterSchema: 'pmassist_master' }).schema
 * // → '[pmassist_master]'
 */
export function buildRenderContext(opts: BuildRenderContextOptions): RenderContext {
  const { syntax, masterSchema, tenant } = opts;
  const target = tenant?.target ?? null;
  const master = target ? MASTER_ELSEWHERE : syntax.quoteIdent(masterSchema);
  return {
    schema: tenant ? syntax.quoteIdent(tenant.schemaName) : master,
    schemaName: tenant ? tenant.schemaName : masterSchema,
    workspaceId: tenant ? tenant.workspaceId : null,
    workspace: tenant ? tenant.workspace : {},
    master,
    masterSchema: target ? MASTER_ELSEWHERE : masterSchema,
    target,
    onMasterDatabase: !target,
    dialect: syntax.name,
    isMssql: syntax.family === 'mssql',
    isPostgres: syntax.family === 'postgres',
    vars: opts.vars ?? {},
    [RENDER_SYNTAX]: syntax,
  };
}

/** The helpers' dialect for a context. */
export function syntaxOfContext(context: RenderContext): DialectSyntax {
  return context[RENDER_SYNTAX];
}

export const SAMPLE_WORKSPACE_ID = '123e4567-e89b-12d3-a456-426614174000';
export const SAMPLE_SCHEMA_NAME = 'ws_123e4567e89b12d3a456426614174000';

/**
 * A context for a sample tenant, for `render`, golden files and template checks without a
 * database: workspace `123e4567-e89b-12d3-a456-426614174000`, schema `ws_123e4567e89b12d3a456426614174000`.
 */
export function sampleRenderContext(
  syntax: DialectSyntax,
  masterSchema: string,
  vars?: Record<string, unknown>,
): RenderContext {
  return buildRenderContext({
    syntax,
    masterSchema,
    ...(vars && { vars }),
    tenant: {
      workspaceId: SAMPLE_WORKSPACE_ID,
      schemaName: SAMPLE_SCHEMA_NAME,
      workspace: {
        workspace_id: SAMPLE_WORKSPACE_ID,
        name: 'Sample workspace',
        db_schema_name: SAMPLE_SCHEMA_NAME,
        status: 'Active',
        last_seen_utc: null,
        created_utc: '2024-01-01T00:00:00.000Z',
      },
    },
  });
}
