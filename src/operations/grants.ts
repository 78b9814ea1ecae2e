/**
 * Least privilege (docs/security.md): which roles get what on each tenant schema, the
 * early rights check of `up`, `tenant-migrate grants` over the whole fleet, and the grant half of
 * `drift`. The SQL lives in each dialect's `*-access.ts`; this module only decides *who*.
 */
import pLimit from 'p-limit';
import { type Config, expandRolePattern } from '../config/config-schema.js';
import { type Access, type RightsNeeded, type TenantRoles, attachTenantGrants } from '../dialect/contracts/access.js';
import { createAccess } from '../dialect/create-access.js';
import type { Dialect } from '../dialect/dialect.js';
import { TenantMigrateError, describeError } from '../errors.js';
import type { Tenant } from '../types.js';
import type { OperationContext } from './context.js';
import { discoverTenants } from './discover.js';
import { MASTER_TARGET, groupByTarget } from './targets.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The `access` config resolved: roles per schema, the master roles, the rights `up` needs. */
export interface AccessPlan {
  rolesFor(schema: string): TenantRoles;
  /** Roles that read the registry lookup columns. */
  readonly masterRoles: readonly string[];
  readonly needed: RightsNeeded;
}

/** undefined when `access` is not configured (the engine grants nothing). */
export function accessPlan(config: Pick<Config, 'access' | 'registry'>): AccessPlan | undefined {
  const access = config.access;
  if (!access || (!access.appRole && !access.readOnlyRole && !access.workspaceRolePattern)) return undefined;
  const shared = [access.appRole, access.readOnlyRole].filter((r): r is string => !!r);
  const prefix = config.registry.schemaPrefix;
  return {
    rolesFor(schema) {
      let workspaceRole: string | undefined;
      if (access.workspaceRolePattern) {
        const guid = schema.startsWith(prefix) ? schema.slice(prefix.length) : schema;
        workspaceRole = expandRolePattern(access.workspaceRolePattern, schema, guid);
        // The pattern was validated with a sample; the name it makes for this schema is checked again.
        if (!IDENT.test(workspaceRole)) {
          throw new TenantMigrateError('INVALID_SCHEMA_NAME', `access.workspaceRolePattern makes "${workspaceRole}" for ${schema}: not a plain identifier of at most 63 characters`, {
            tenant: schema,
            key: 'access.workspaceRolePattern',
          });
        }
      }
      return {
        ...(access.appRole ? { appRole: access.appRole } : {}),
        ...(access.readOnlyRole ? { readOnlyRole: access.readOnlyRole } : {}),
        ...(workspaceRole ? { workspaceRole } : {}),
      };
    },
    masterRoles: shared,
    needed: { roles: shared, createRoles: !!access.workspaceRolePattern },
  };
}

/**
 * Called when the context opens the database: with `access` configured, the tenant runner's
 * `prepare` (first migration's transaction of a schema; provisioning uses the same runner) grants
 * the schema's roles.
 */
export async function installTenantGrants(config: Config, dialect: Dialect): Promise<Dialect> {
  const plan = accessPlan(config);
  if (!plan) return dialect;
  const access = await createAccess(dialect);
  attachTenantGrants(dialect, (session, schema) => access.grantTenant(session, schema, plan.rolesFor(schema)));
  return dialect;
}

/**
 * Fail early, before anything changes, when the login lacks a right `up` needs; the message names
 * each right, and the target database it is missing on (docs/fleet.md). The master's database and
 * each of `targets` (default: every configured target) are checked. A server that cannot answer
 * (a target that cannot be opened, a check query that fails) is not a failure: its tenants fail
 * on their own later.
 */
export async function checkEngineRights(ctx: OperationContext, dialect: Dialect, targets: readonly string[] = ctx.targets.names): Promise<void> {
  const plan = accessPlan(ctx.config);
  const needed = plan?.needed ?? { roles: [], createRoles: false };
  const missingOn = async (d: Dialect) => {
    const access = await createAccess(d);
    return d.withSession((s) => access.missingRights(s, needed)).catch(() => [] as string[]);
  };
  const perTarget = await Promise.all(
    targets.map(async (name) => {
      const d = await ctx.targets.dialectOf(name).catch(() => undefined);
      return d ? (await missingOn(d)).map((m) => `on target ${name}: ${m}`) : [];
    }),
  );
  const missing = [...(await missingOn(dialect)), ...perTarget.flat()];
  if (missing.length > 0) {
    throw new TenantMigrateError(
      'INSUFFICIENT_PRIVILEGE',
      `The migration login lacks rights \`up\` needs (docs/security.md):\n${missing.map((m) => `  - ${m}`).join('\n')}`,
      { missing },
    );
  }
}

/** SELECT on the registry lookup columns for the shared roles (after master migrations made the registry). */
export async function grantMaster(ctx: OperationContext, dialect: Dialect): Promise<void> {
  const plan = accessPlan(ctx.config);
  if (!plan || plan.masterRoles.length === 0) return;
  const access = await createAccess(dialect);
  await dialect.withSession(async (s) => {
    if (await dialect.registry.registryExists(s)) await access.grantMaster(s, plan.masterRoles);
  });
}

export interface GrantsResult {
  readonly tenants: number;
  readonly failed: readonly { readonly schema: string; readonly message: string }[];
}

/**
 * `tenant-migrate grants`: apply the configured grants to master and every tenant schema that
 * exists (any status), idempotently — for fleets built before `access` was configured, or after
 * the roles changed. Each tenant is granted in its own database (config `targets`); per-tenant
 * failures (a target that cannot be reached fails its tenants) are collected, not thrown.
 */
export async function applyGrants(ctx: OperationContext): Promise<GrantsResult> {
  const plan = accessPlan(ctx.config);
  if (!plan) throw new TenantMigrateError('CONFIG_INVALID', 'No `access` roles are configured: nothing to grant (docs/security.md)', { key: 'access' });
  const dialect = await ctx.dialect();
  await checkEngineRights(ctx, dialect);
  await grantMaster(ctx, dialect);
  const { tenants } = await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s, true));
  const failed: { schema: string; message: string }[] = [];
  let done = 0;
  await Promise.all(
    [...groupByTarget(tenants)].map(async ([key, group]) => {
      let home: Dialect;
      let access: Access;
      try {
        home = await ctx.targets.dialectOf(key === MASTER_TARGET ? null : key);
        access = await createAccess(home);
      } catch (err) {
        for (const t of group) failed.push({ schema: t.schema, message: `target ${key}: ${describeError(err)}` });
        return;
      }
      const limit = pLimit(Math.max(1, home.maxConnections - 1));
      await Promise.all(
        group.map((t) =>
          limit(() =>
            home
              .withSession(async (s) => {
                if (!(await home.meta.schemaExists(s, t.schema))) return;
                await access.grantTenant(s, t.schema, plan.rolesFor(t.schema));
                done++;
              })
              .catch((err: unknown) => failed.push({ schema: t.schema, message: describeError(err) })),
          ),
        ),
      );
    }),
  );
  return { tenants: done, failed };
}

/** One tenant whose grants differ from the configured ones. */
export interface GrantDifference {
  readonly schema: string;
  /** Grant lines the configuration asks for that the schema lacks. */
  readonly missing: readonly string[];
  /** Grant lines held by a configured role (or PUBLIC) that the configuration does not ask for. */
  readonly extra: readonly string[];
}

export interface GrantDrift {
  readonly checkedTenants: number;
  readonly driftedTenants: number;
  /** Drifted tenants, up to `limit` of them. */
  readonly tenants: readonly GrantDifference[];
  /** Why grants were not compared on this server (e.g. Babelfish), when they were not. */
  readonly unavailable?: string;
}

const GRANT_CHUNK = 500;

/**
 * Compare every tenant's grants with the configured expectation, set-based (one query per 500
 * schemas). Role names of the schema's own workspace role read as `{workspaceRole}` in the lines.
 */
export async function grantDrift(ctx: OperationContext, dialect: Dialect, tenants: readonly Tenant[], limit = 50): Promise<GrantDrift | undefined> {
  const plan = accessPlan(ctx.config);
  if (!plan) return undefined;
  const drifted: GrantDifference[] = [];
  let driftedTenants = 0;
  let checked = 0;
  // Each tenant's grants are read in its own database (config `targets`); `dialect` serves the master's.
  for (const [key, group] of groupByTarget(tenants)) {
    const home = key === MASTER_TARGET ? dialect : await ctx.targets.dialectOf(key);
    const access: Access = await createAccess(home);
    const unavailable = await home.withSession((s) => access.grantsUnreadable(s));
    if (unavailable) return { checkedTenants: 0, driftedTenants: 0, tenants: [], unavailable };
    for (let i = 0; i < group.length; i += GRANT_CHUNK) {
      const chunk = group.slice(i, i + GRANT_CHUNK).map((t) => t.schema);
      const roles = new Map(chunk.map((s) => [s, plan.rolesFor(s)]));
      const names = new Set<string>(plan.masterRoles);
      for (const r of roles.values()) if (r.workspaceRole) names.add(r.workspaceRole);
      const read = await home.withSession((s) => access.readGrants(s, chunk, [...names]));
      for (const schema of chunk) {
        const actual = read.get(schema);
        // No tables: the schema does not exist yet (or is empty); nothing to compare.
        if (!actual || actual.tables.length === 0) continue;
        checked++;
        const r = roles.get(schema)!;
        const want = new Set(access.expectedGrants(actual.tables, r));
        const have = new Set(actual.grants);
        const label = (line: string) => (r.workspaceRole ? line.replace(new RegExp(`\\b${r.workspaceRole}$`), '{workspaceRole}') : line);
        const missing = [...want].filter((g) => !have.has(g)).map(label).sort();
        const extra = [...have].filter((g) => !want.has(g)).map(label).sort();
        if (missing.length > 0 || extra.length > 0) {
          driftedTenants++;
          if (drifted.length < limit) drifted.push({ schema, missing, extra });
        }
      }
    }
  }
  return { checkedTenants: checked, driftedTenants, tenants: drifted };
}
