/**
 * Why one file past ~300 lines: `WorkspaceService` is one concept, a workspace's lifecycle
 * (provision with its undo, archive, touch, lookup, show), whose steps share the cache and the
 * operation context; its inputs and results are in workspace-types.ts.
 */
import type { ConfigInput, Config } from '../config/config-schema.js';
import { inTransaction } from '../dialect/contracts/driver.js';
import type { Dialect } from '../dialect/dialect.js';
import { TenantMigrateError, describeError } from '../errors.js';
import type { FailureInfo } from '../events.js';
import { MigratorImpl, type Migrator, createMigrator } from '../migrator.js';
import { OperationContext } from '../operations/context.js';
import { accessPlan } from '../operations/grants.js';
import { createAccess } from '../dialect/create-access.js';
import { MASTER_TARGET, placeByRule } from '../operations/targets.js';
import { type Renderer, rendererFor } from '../operations/templates.js';
import { planSchema } from '../planner/plan.js';
import { deriveSchemaName, normalizeGuid, validateTenants } from '../registry/tenant-discovery.js';
import { runTenant } from '../runner/tenant-runner.js';
import type { MigrationFile, Tenant, TenantRow } from '../types.js';
import { WorkspaceCache } from './workspace-cache.js';
import {
  PROVISIONING,
  ProvisionError,
  type ProvisionInput,
  type ProvisionResult,
  type WorkspaceDetails,
  type WorkspaceInfo,
  type WorkspaceServiceOptions,
} from './workspace-types.js';

export * from './workspace-types.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The application-side API: provision, archive, touch and look up workspaces at runtime, from a
 * long-lived process. One service holds one migrator (one pool) and reuses it for every call;
 * migration files are read once, on first use.
 *
 * Provisioning is all-or-nothing from the caller's view: the row is inserted as 'Provisioning'
 * (invisible to `up` and to {@link getWorkspaceSchemaName}), the schema is built by the same
 * per-tenant runner and lock as `up` (so provisioning beside a running `up` is safe), and only then
 * the row becomes Active (with the OWNER member, in one transaction). If building fails and this call
 * created the row, the row and the schema it created are removed again; otherwise the row stays
 * 'Provisioning' and a retry resumes where it stopped.
 *
 * @example
 * const workspaces = createWorkspaceService({ url: process.env.DATABASE_URL });
 * const { schema } = await workspaces.provisionWorkspace({ workspaceId: randomUUID(), name: 'Acme', ownerUserId: 'u1' });
 * const same = await workspaces.getWorkspaceSchemaName(id); // cached 60 s
 * await workspaces.close();
 */
export class WorkspaceService {
  /** The migrator facade over this service's operation context (the same pool). */
  readonly migrator: MigratorImpl;
  readonly #ctx: OperationContext;
  readonly #ownsMigrator: boolean;
  readonly #cache: WorkspaceCache<WorkspaceInfo | undefined>;
  readonly #memberTable: string;
  readonly #pattern: RegExp;
  #ready: Promise<{ dialect: Dialect; files: MigrationFile[]; render: Renderer }> | undefined;

  /** Over a migrator's operation context (or the migrator itself); `ownsMigrator`: close it on {@link close}. */
  constructor(source: OperationContext | MigratorImpl, options: WorkspaceServiceOptions & { ownsMigrator?: boolean } = {}) {
    this.#ctx = source instanceof OperationContext ? source : source.context;
    this.migrator = source instanceof MigratorImpl ? source : new MigratorImpl(source);
    this.#ownsMigrator = options.ownsMigrator ?? false;
    this.#cache = new WorkspaceCache(options.cache);
    this.#memberTable = options.memberTable ?? 'WorkspaceMember';
    if (!IDENT.test(this.#memberTable)) {
      throw new TenantMigrateError('CONFIG_INVALID', `memberTable "${this.#memberTable}" is not a plain identifier`, { key: 'memberTable' });
    }
    this.#pattern = this.#ctx.schemaPattern;
  }

  /**
   * Create (or finish, or confirm) a workspace: schema `ws_<guid>`, every tenant migration, the
   * registry row Active, the owner as OWNER. Idempotent: calling it again for an Active workspace
   * applies any pending tenant migrations and returns outcome `existing`.
   *
   * @throws INVALID_WORKSPACE_ID (not a GUID), WORKSPACE_NOT_ACTIVE (the workspace is Archived),
   *   LOCK_TIMEOUT (its schema stayed locked by a migration for lockTimeoutMs),
   *   PROVISION_FAILED ({@link ProvisionError}: master not migrated, or a tenant migration failed).
   */
  async provisionWorkspace(input: ProvisionInput): Promise<ProvisionResult> {
    const started = Date.now();
    const workspaceId = this.#guid(input.workspaceId);
    const derived = this.#derive(workspaceId);
    const { dialect, files, render } = await this.#context();
    const { config } = this.#ctx;

    // 1. Register the row as Provisioning unless it exists (on the target the placement picks when
    //    targets are configured, recorded in the same insert); learn whether we created it.
    const existing = await dialect.withSession((s) => dialect.registry.getTenant(s, workspaceId));
    const requested = this.#requestedTarget(input.target, !existing);
    if (existing && requested !== undefined && (existing.target ?? null) !== requested) {
      throw new TenantMigrateError(
        'USAGE',
        `Workspace ${workspaceId} already lives on ${existing.target ?? MASTER_TARGET}, not ${requested ?? MASTER_TARGET}; moving a workspace between targets is not automated (docs/fleet.md)`,
        { workspaceId, key: 'target', target: existing.target ?? null },
      );
    }
    const target = existing ? (existing.target ?? null) : requested !== undefined ? requested : await this.#place(dialect);
    const home = await this.#ctx.targets.dialectOf(target);
    const schemaExisted = await home.withSession((s) => home.meta.schemaExists(s, derived));
    const { row, created } = await dialect.withSession(async (session) => {
      const created = await dialect.workspaces.insertWorkspace(session, {
        workspaceId,
        name: input.name ?? workspaceId,
        schema: derived,
        status: PROVISIONING,
        ...(target ? { target } : {}),
      });
      return { row: await dialect.registry.getTenant(session, workspaceId), created };
    });
    this.#cache.invalidate(workspaceId);
    if (!row) throw new ProvisionError(`Workspace ${workspaceId} was deleted while it was being provisioned; retry`, { workspaceId });
    if (row.status !== 'Active' && row.status !== PROVISIONING) {
      throw new TenantMigrateError(
        'WORKSPACE_NOT_ACTIVE',
        `Workspace ${workspaceId} is ${row.status}; it is not provisioned again (restore it to Active first)`,
        { workspaceId, status: row.status },
      );
    }
    const tenant = this.#tenant(row);

    // 2. Build the schema under the per-tenant lock `up` takes too, in the database it lives in.
    const result = await runTenant(tenant, {
      dialect: await this.#ctx.targets.dialectOf(tenant.target),
      files,
      render: render.tenant,
      runId: null,
      lockTimeoutMs: config.lockTimeoutMs,
      emit: this.#ctx.emit,
    });
    if (result.status === 'failed') {
      const error = result.error!;
      if (error.code === 'LOCK_TIMEOUT') {
        throw new TenantMigrateError('LOCK_TIMEOUT', error.message, { workspaceId, tenant: tenant.schema });
      }
      const cleanup = created && !schemaExisted ? await this.#undo(dialect, workspaceId, tenant) : 'kept';
      const where = error.file ? ` at ${error.file}${error.line ? `:${error.line}` : ''}` : error.migrationId ? ` in ${error.migrationId}` : '';
      const after =
        cleanup === 'removed'
          ? 'the schema and the registry row it created were removed'
          : `the workspace stays '${row.status}' (not Active)${row.status === PROVISIONING ? '; call provisionWorkspace again to resume' : ''}`;
      throw new ProvisionError(
        `Provisioning workspace ${workspaceId} (${tenant.schema}) failed${where}: ${error.message}; ${after}`,
        { workspaceId, tenant: tenant.schema, cleanedUp: cleanup === 'removed', ...pick(error) },
        error,
      );
    }

    // 3. Activate and add the owner in one transaction.
    await dialect.withSession((session) =>
      inTransaction(session, async () => {
        if (row.status === PROVISIONING && !(await dialect.workspaces.transitionWorkspaceStatus(session, workspaceId, PROVISIONING, 'Active'))) {
          const now = await dialect.registry.getTenant(session, workspaceId);
          if (now?.status !== 'Active') {
            throw new TenantMigrateError(
              'WORKSPACE_NOT_ACTIVE',
              `Workspace ${workspaceId} became ${now ? now.status : 'deleted'} while it was being provisioned`,
              { workspaceId, status: now?.status ?? null },
            );
          }
        }
        if (input.ownerUserId !== undefined) {
          await dialect.workspaces.addWorkspaceMember(session, { workspaceId, userId: input.ownerUserId, role: 'OWNER', table: this.#memberTable });
        }
      }),
    );
    this.#cache.invalidate(workspaceId);
    return {
      workspaceId,
      schema: tenant.schema,
      ...(tenant.target ? { target: tenant.target } : {}),
      outcome: created ? 'created' : row.status === PROVISIONING ? 'resumed' : 'existing',
      applied: result.applied,
      durationMs: Date.now() - started,
    };
  }

  /**
   * Set the workspace Archived: `up` skips it from then on (unless `--include-archived`) and
   * {@link getWorkspaceSchemaName} refuses it. The schema and its data are kept. Idempotent.
   * @throws NOT_FOUND when no such workspace exists.
   */
  async archiveWorkspace(workspaceIdInput: string): Promise<WorkspaceInfo> {
    const workspaceId = this.#guid(workspaceIdInput);
    const dialect = await this.#ctx.dialect();
    this.#cache.invalidate(workspaceId);
    const row = await dialect.withSession(async (session) => {
      if (!(await dialect.workspaces.setWorkspaceStatus(session, workspaceId, 'Archived'))) return undefined;
      return dialect.registry.getTenant(session, workspaceId);
    });
    this.#cache.invalidate(workspaceId);
    if (!row) throw notFound(workspaceId);
    return this.#info(row);
  }

  /**
   * Record activity (last_seen_utc = now, UTC). One UPDATE by primary key; call it from a
   * request path sparingly (e.g. at most once a minute per workspace).
   * @throws NOT_FOUND when no such workspace exists.
   */
  async touchWorkspace(workspaceIdInput: string): Promise<void> {
    const workspaceId = this.#guid(workspaceIdInput);
    const dialect = await this.#ctx.dialect();
    if (!(await dialect.withSession((s) => dialect.workspaces.touchWorkspace(s, workspaceId)))) throw notFound(workspaceId);
  }

  /**
   * The validated schema name of an **Active** workspace, for building per-workspace queries
   * (quote it with the dialect before use). Cached: see {@link WorkspaceCache} for the rule
   * (TTL, default 60 s; dropped at once by provision/archive through this service).
   * @throws INVALID_WORKSPACE_ID, NOT_FOUND, WORKSPACE_NOT_ACTIVE (Archived or still Provisioning).
   */
  async getWorkspaceSchemaName(workspaceIdInput: string): Promise<string> {
    const workspaceId = this.#guid(workspaceIdInput);
    const info = await this.#cache.get(workspaceId, () => this.lookupWorkspace(workspaceId), (v) => v?.status === 'Active');
    if (!info) throw notFound(workspaceId);
    if (info.status !== 'Active') {
      throw new TenantMigrateError('WORKSPACE_NOT_ACTIVE', `Workspace ${workspaceId} is ${info.status}, not Active`, {
        workspaceId,
        status: info.status,
        tenant: info.schema,
      });
    }
    return info.schema;
  }

  /** The registry row with its validated schema name, any status, uncached; undefined when absent. */
  async lookupWorkspace(workspaceIdInput: string): Promise<WorkspaceInfo | undefined> {
    const workspaceId = this.#guid(workspaceIdInput);
    const dialect = await this.#ctx.dialect();
    const row = await dialect.withSession(async (s) => ((await dialect.registry.registryExists(s)) ? dialect.registry.getTenant(s, workspaceId) : undefined));
    return row ? this.#info(row) : undefined;
  }

  /** Row, schema, applied and pending tenant migrations (for `workspace show`). @throws NOT_FOUND */
  async showWorkspace(workspaceIdInput: string): Promise<WorkspaceDetails> {
    const info = await this.lookupWorkspace(workspaceIdInput);
    if (!info) throw notFound(this.#guid(workspaceIdInput));
    const dialect = await this.#ctx.targets.dialectOf(info.target);
    const { tenant } = await this.#ctx.files();
    // The planning reads: they never wait behind a migration running on this tenant right now
    // (whose uncommitted rows do not count yet).
    const exists = await dialect.withSession((s) => dialect.meta.schemaExists(s, info.schema));
    const applied = (await dialect.meta.readAppliedMany([info.schema])).get(info.schema) ?? [];
    return { ...info, schemaExists: exists, applied, pending: planSchema(info.schema, tenant, applied).pending };
  }

  /** Drop cached lookups: one workspace, or all. Use after changing the registry outside this service. */
  invalidate(workspaceId?: string): void {
    this.#cache.invalidate(workspaceId === undefined ? undefined : (normalizeGuid(workspaceId) ?? workspaceId));
  }

  /** Close the pool when this service created the migrator; a migrator passed in stays open. */
  async close(): Promise<void> {
    this.#cache.invalidate();
    if (this.#ownsMigrator) await this.#ctx.close();
  }

  /** Adapter, tenant files and renderer, once; refuses to provision before master is migrated. */
  #context() {
    if (this.#ready) return this.#ready;
    const ready = (async () => {
      const dialect = await this.#ctx.dialect();
      const files = await this.#ctx.files();
      const required = files.master.filter((f) => !f.directives.afterTenants).map((f) => f.id);
      const applied = await dialect.withSession(async (s) => new Set((await dialect.meta.readApplied(s, this.#ctx.config.masterSchema)).map((a) => a.id)));
      const missing = required.filter((id) => !applied.has(id));
      if (missing.length > 0) {
        throw new ProvisionError(
          `Master migrations are not applied yet (${missing.join(', ')}); run \`tenant-migrate up\` before provisioning workspaces`,
          { pendingMaster: missing },
        );
      }
      return { dialect, files: files.tenant, render: await rendererFor(this.#ctx, dialect.syntax) };
    })();
    // Not cached on failure: the next call checks again (master may have been migrated meanwhile).
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    this.#ready = ready;
    return ready;
  }

  /**
   * Remove the row and schema this call created, under the tenant lock (taken in the tenant's own
   * database). On the master's database the row and the schema go in one transaction; on a target
   * the row (master) is deleted first, only while still Provisioning, then the schema (target).
   */
  async #undo(dialect: Dialect, workspaceId: string, tenant: Tenant): Promise<'removed' | 'kept'> {
    const { schema, target } = tenant;
    try {
      const home = await this.#ctx.targets.dialectOf(target);
      const outcome: 'removed' | 'kept' = await this.#ctx.withLock(
        schema,
        async (session) => {
          if (!target) {
            return inTransaction(session, async () => {
              // Only while still Provisioning: never remove a row someone else activated meanwhile.
              if (!(await dialect.workspaces.deleteWorkspace(session, workspaceId, PROVISIONING))) return 'kept';
              await dialect.meta.dropSchema(session, schema);
              return 'removed';
            });
          }
          if (!(await dialect.withSession((s) => dialect.workspaces.deleteWorkspace(s, workspaceId, PROVISIONING)))) return 'kept';
          await home.meta.dropSchema(session, schema);
          return 'removed';
        },
        { onBusy: () => 'kept', target },
      );
      if (outcome === 'removed') await this.#dropWorkspaceRole(home, schema);
      return outcome;
    } catch {
      return 'kept';
    }
  }

  /**
   * With per-workspace roles configured, the role of a schema just removed goes too (a first
   * migration that committed created it; one that rolled back took it along). A role the server
   * will not drop (it still holds something elsewhere) is kept, with a warning naming it.
   */
  async #dropWorkspaceRole(home: Dialect, schema: string): Promise<void> {
    const role = accessPlan(this.#ctx.config)?.rolesFor(schema).workspaceRole;
    if (!role) return;
    try {
      const access = await createAccess(home);
      await home.withSession((session) => access.dropWorkspaceRole(session, role));
    } catch (err) {
      this.#ctx.emit({ type: 'warning', message: `the workspace role ${role} of the removed schema ${schema} was kept: ${describeError(err)}` });
    }
  }

  /**
   * `ProvisionInput.target` resolved: a configured name, null for the master's own database,
   * undefined when none was given. A full target is refused only for a new workspace (`creating`):
   * one that already lives there is provisioned again where it is.
   */
  #requestedTarget(name: string | undefined, creating: boolean): string | null | undefined {
    if (name === undefined) return undefined;
    if (name === MASTER_TARGET) return null;
    const { targets, fullTargets } = this.#ctx.config;
    if (!(name in targets)) {
      throw new TenantMigrateError('USAGE', `--target ${name}: not a name in config targets (${Object.keys(targets).join(', ') || 'none configured'}); nothing was created`, {
        key: 'target',
        target: name,
      });
    }
    if (creating && fullTargets.includes(name)) {
      throw new TenantMigrateError('USAGE', `--target ${name}: the target is in config fullTargets and takes no new workspaces; nothing was created`, {
        key: 'target',
        target: name,
      });
    }
    return name;
  }

  /**
   * Where a new workspace goes when none was named: the master's database without targets, else
   * {@link placeByRule} over the registry's counts per target (best effort under concurrency).
   */
  async #place(dialect: Dialect): Promise<string | null> {
    const { targets, fullTargets } = this.#ctx.config;
    const names = Object.keys(targets);
    if (names.length === 0) return null;
    let counts: Map<string | null, number>;
    try {
      counts = await dialect.withSession((s) => dialect.workspaces.countPlaced(s));
    } catch (err) {
      throw new ProvisionError(
        `Could not count workspaces per target to place a new one (the registry needs the db_target column of master migration 0004_workspace_target): ${describeError(err)}`,
        {},
        undefined,
        err,
      );
    }
    const chosen = placeByRule(names, fullTargets, counts);
    if (chosen === undefined) {
      throw new TenantMigrateError('CONFIG_INVALID', `Every target is in config fullTargets (${fullTargets.join(', ')}): nowhere to place a new workspace; name one with --target or add a target. Nothing was created`, {
        key: 'fullTargets',
      });
    }
    return chosen;
  }

  #guid(value: string): string {
    const guid = typeof value === 'string' ? normalizeGuid(value) : undefined;
    if (!guid) {
      throw new TenantMigrateError('INVALID_WORKSPACE_ID', `${JSON.stringify(value)} is not a workspace GUID`, { workspaceId: String(value) });
    }
    return guid;
  }

  #derive(workspaceId: string): string {
    const schema = deriveSchemaName(workspaceId, this.#ctx.config.registry.schemaPrefix)!;
    if (!this.#pattern.test(schema)) {
      throw new TenantMigrateError('INVALID_SCHEMA_NAME', `Derived schema name ${schema} does not match ${this.#pattern.source}`, {
        workspaceId,
        tenant: schema,
      });
    }
    return schema;
  }

  #tenant(row: TenantRow): Tenant {
    const { tenants, invalid } = validateTenants([row], this.#pattern, this.#ctx.config.registry.schemaPrefix, new Set(this.#ctx.targets.names));
    if (!tenants[0]) throw new TenantMigrateError('INVALID_SCHEMA_NAME', invalid[0]!.reason, { workspaceId: row.workspaceId });
    return tenants[0];
  }

  #info(row: TenantRow): WorkspaceInfo {
    const t = this.#tenant(row);
    return {
      workspaceId: t.workspaceId,
      name: t.name,
      schema: t.schema,
      status: t.status,
      lastSeenUtc: t.lastSeenUtc,
      createdUtc: t.createdUtc,
      ...(t.target ? { target: t.target } : {}),
    };
  }
}

/**
 * A workspace service over a migrator you already have (it stays open on close), or over a config
 * (the service opens and closes its own migrator).
 */
export function createWorkspaceService(
  source: Migrator | Config | (ConfigInput & { rootDir?: string }),
  options: WorkspaceServiceOptions = {},
): WorkspaceService {
  if (source instanceof MigratorImpl) return new WorkspaceService(source, options);
  if (isMigrator(source)) {
    throw new TenantMigrateError('USAGE', 'createWorkspaceService needs a migrator made by createMigrator/openMigrator', {});
  }
  return new WorkspaceService(createMigrator(source) as MigratorImpl, { ...options, ownsMigrator: true });
}

function isMigrator(value: object): value is Migrator {
  return typeof (value as { up?: unknown }).up === 'function';
}

function notFound(workspaceId: string): TenantMigrateError {
  return new TenantMigrateError('NOT_FOUND', `No workspace ${workspaceId} in the registry`, { workspaceId });
}

function pick(error: FailureInfo): Record<string, unknown> {
  const { migrationId, file, line, statementIndex, dbCode } = error;
  return Object.fromEntries(Object.entries({ migrationId, file, line, statementIndex, dbCode, failureCode: error.code }).filter(([, v]) => v !== undefined));
}
