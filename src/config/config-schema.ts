import { z } from 'zod';

/** An identifier the engine writes into SQL itself: letters, digits, underscore; validated once here. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain identifier: letters, digits and _, at most 63 characters');

/** A database role name the engine grants to: the same strict identifier (quoted with the dialect before use). */
const roleName = identifier;

/** `{schema}` or `{guid}` once, the rest identifier characters; every name it makes is a valid identifier. */
export const WORKSPACE_ROLE_SAMPLE_SCHEMA = `ws_${'f'.repeat(32)}`;
export function expandRolePattern(pattern: string, schema: string, guid: string): string {
  return pattern.replace('{schema}', schema).replace('{guid}', guid);
}
const workspaceRolePattern = z
  .string()
  .refine((p) => (p.match(/\{(schema|guid)\}/g) ?? []).length === 1, { message: 'must contain exactly one {schema} or {guid}' })
  .refine((p) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(expandRolePattern(p, WORKSPACE_ROLE_SAMPLE_SCHEMA, 'f'.repeat(32))), {
    message: 'must make a plain identifier of at most 63 characters for a schema ws_<32 hex> (letters, digits, _ around the placeholder)',
  });

const pattern = z.string().refine(
  (value) => {
    try {
      new RegExp(value);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a valid regular expression' },
);

/** Dialect family of a URL, as far as config validation needs it (create-adapter decides the driver). */
function urlFamily(url: string): 'postgres' | 'mssql' | 'pglite' | undefined {
  if (/^pglite:/i.test(url)) return 'pglite';
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres';
  if (/^(mssql|sqlserver):\/\//i.test(url) || /(^|;)\s*(server|data source|address|addr)\s*=/i.test(url)) return 'mssql';
  return undefined;
}

/**
 * The configuration file `tenant-migrate.config.json` (or `.js`/`.ts` exporting the same object).
 * Every field has a default; the smallest config is `{}`.
 */
export const configSchema = z
  .object({
    $schema: z.string().optional(),
    /**
     * Database URL. `mssql://…`, an ADO-style `Server=…;Database=…` string, `postgres://…`,
     * `pglite:<dir>` or `pglite:memory`. Default: embedded PGlite in `.tenant-migrate/pglite`.
     */
    url: z.string().min(1).optional(),
    /** Master schema holding the registry, meta table of master migrations and the run ledger. */
    masterSchema: identifier.default('pmassist_master'),
    /** Meta table created in every schema (contract). */
    metaTable: identifier.default('__schema_migrations'),
    /** Prefix of the run-ledger tables in the master schema. */
    ledgerPrefix: identifier.default('__tm_'),
    masterMigrationsDir: z.string().min(1).default('master-migrations'),
    tenantMigrationsDir: z.string().min(1).default('tenant-migrations'),
    /** Holds `partials/` and the `scaffolds/` that `create` copies. */
    templatesDir: z.string().min(1).default('templates'),
    registry: z
      .object({
        /** Registry table in the master schema. */
        table: identifier.default('Workspace'),
        /**
         * Optional custom SELECT returning workspace_id, name, db_schema_name, status, last_seen_utc,
         * created_utc. Overrides the default query on the registry table.
         */
        query: z.string().min(1).optional(),
        /** Every schema name must match this before it reaches SQL. */
        schemaPattern: pattern.default('^ws_[0-9a-f]{32}$'),
        /** Derived schema name = prefix + GUID without hyphens, lower case. */
        schemaPrefix: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('ws_'),
      })
      .strict()
      .prefault({}),
    /**
     * Fleets over several databases (docs/fleet.md): target name → database URL. A workspace's
     * registry row names its target in `db_target` (none: the master's own database). Every URL must
     * be of the master's dialect family (PostgreSQL or SQL Server; mixed families and PGlite are refused).
     * @example { "eu1": "postgres://tm@db-eu1/pmassist", "eu2": "postgres://tm@db-eu2/pmassist" }
     */
    targets: z.record(identifier, z.string().min(1)).default({}),
    /** Targets that take no new workspaces (they stay migrated); the placement rule of `workspace add` skips them and naming one is refused (docs/fleet.md). */
    fullTargets: z.array(identifier).default([]),
    /** Tenants migrated at once (PGlite always runs one at a time). */
    concurrency: z.number().int().min(1).max(512).default(8),
    /** Tenants migrated at once per target database (default: `concurrency`). */
    targetConcurrency: z.number().int().min(1).max(512).optional(),
    /**
     * At most this many tenants of one database share a request when their pending migrations are
     * all transactional; each keeps its own transaction, lock and meta check. 1: a request per tenant.
     */
    tenantsPerSend: z.number().int().min(1).max(256).default(32),
    /** How long to wait for a per-tenant or master lock before giving up (exit code 3). */
    lockTimeoutMs: z.number().int().min(0).default(60_000),
    /**
     * Least privilege (docs/security.md): database roles the engine grants on every tenant schema,
     * idempotently, inside the first migration's transaction of a schema (and by `tenant-migrate grants`).
     * Absent: the engine grants nothing (the behaviour before `access` existed).
     * @example { "appRole": "pmassist_app", "readOnlyRole": "pmassist_reader" }
     */
    access: z
      .object({
        /** Gets SELECT, INSERT, UPDATE, DELETE on every table of every tenant schema (not the meta table) and SELECT on the registry lookup columns. */
        appRole: roleName.optional(),
        /** Gets SELECT on every table of every tenant schema (not the meta table) and on the registry lookup columns. */
        readOnlyRole: roleName.optional(),
        /**
         * One role per workspace, created by the engine (PostgreSQL: needs CREATEROLE; SQL Server: CREATE ROLE)
         * and granted DML on its own schema only. `{schema}` → `ws_<hex>`, `{guid}` → the 32 hex digits.
         * @example "{schema}_app"
         */
        workspaceRolePattern: workspaceRolePattern.optional(),
      })
      .strict()
      .optional(),
    /**
     * Schema-as-code model files (docs/schema-as-code.md); each snapshot sits beside its model as
     * `<name>.snapshot.json`.
     */
    model: z
      .object({
        tenant: z.string().min(1).default('schema/tenant.ts'),
        master: z.string().min(1).default('schema/master.ts'),
      })
      .strict()
      .prefault({}),
    /** Values available to templates as `vars`. */
    vars: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const master = urlFamily(config.url ?? 'pglite:');
    for (const [name, url] of Object.entries(config.targets)) {
      const family = urlFamily(url);
      if (family === 'pglite' || master === 'pglite') {
        ctx.addIssue({ code: 'custom', path: ['targets', name], message: 'targets need a PostgreSQL or SQL Server master and target (PGlite is one in-process database)' });
      } else if (family !== master) {
        ctx.addIssue({ code: 'custom', path: ['targets', name], message: `must be a ${master} URL like the master's url (mixed dialect families are not supported)` });
      }
    }
    for (const [i, name] of config.fullTargets.entries()) {
      if (!(name in config.targets)) ctx.addIssue({ code: 'custom', path: ['fullTargets', i], message: `"${name}" is not a name in targets` });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
/** The validated configuration with defaults applied, plus where it was resolved from. */
export type Config = z.output<typeof configSchema> & {
  /** Directory relative paths are resolved against (the config file's folder, or the cwd). */
  readonly rootDir: string;
  /** The resolved database URL (never undefined after loading). */
  readonly url: string;
  /** Config file that was read, if any. */
  readonly configFile?: string;
};
