import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { loadConfig, parseConfig } from './config/load-config.js';
import type { Config, ConfigInput } from './config/config-schema.js';
import { createAdapter, dialectFromUrl } from './dialect/create-adapter.js';
import type { DialectAdapter, LedgerRun, LedgerRunCounts, LedgerTenant, RunStatus, SqlSession } from './dialect/dialect-adapter.js';
import type { DialectName } from './dialect/dialect-syntax.js';
import { syntaxFor } from './dialect/syntax-registry.js';
import { LockTimeoutError, TenantMigrateError } from './errors.js';
import type { MigratorEvent, MigratorListener, TenantResult } from './events.js';
import { type SchemaPlan, planSchema, summarizePlans } from './planner/plan.js';
import { normalizeGuid, validateTenants } from './registry/tenant-discovery.js';
import { assertChecksums, migrateSchema } from './runner/schema-migrator.js';
import { type FleetStop, runFleet } from './runner/fleet.js';
import { type Shard, type TenantOrder, parseFleetArgs } from './runner/fleet-options.js';
import { inShard, newWorkerId, openRun, orderTenants, runKeyOf } from './runner/run-ledger.js';
import { loadMigrations } from './source/index.js';
import { TemplateEngine } from './templating/index.js';
import { buildRenderContext, sampleRenderContext } from './templating/render-context.js';
import type { InvalidTenant, MigrationFile, Tenant } from './types.js';

export interface UpOptions {
  /** Also migrate Archived tenants. */
  readonly includeArchived?: boolean;
  /** Override the configured concurrency. */
  readonly concurrency?: number;
  /** Apply tenant migrations up to and including this id. */
  readonly to?: string;
  /** Apply master migrations up to and including this id (tenants are not touched when set). */
  readonly masterTo?: string;
  /** Stop taking new tenants when aborted; in-flight tenants finish. */
  readonly signal?: AbortSignal;
  /** Stop taking new tenants after this many failures (per worker). Default: never stop. */
  readonly maxFailures?: number;
  /** Only the tenants of this shard: `"2/4"` or `{ index: 2, count: 4 }` (stable hash of the workspace id). */
  readonly shard?: string | Shard;
  /** Canary waves, e.g. `"1,10%,100%"`: each wave must succeed before the next starts. */
  readonly waves?: string | readonly string[];
  /** Tenant order (default registry order); `last-seen` = least recently seen first. */
  readonly order?: TenantOrder;
  /** Join this ledger run (started by another worker) instead of opening one. */
  readonly runId?: string;
  /** Lease on a claimed tenant, renewed while the worker lives (default 30 s). */
  readonly leaseMs?: number;
}

/** Lease on a claimed tenant: how long before a silent worker's tenants are taken over. */
export const DEFAULT_LEASE_MS = 30_000;

export interface UpResult {
  readonly runId: string;
  /** How the ledger run was opened; absent when there was nothing to do. */
  readonly opening?: 'new' | 'resumed' | 'joined';
  /** This process's worker id in the ledger. */
  readonly workerId?: string;
  /** The run's counts across all workers when this one finished. */
  readonly run?: LedgerRunCounts;
  /** Why this worker stopped early (interrupted, max-failures, wave-failed, run-stopped). */
  readonly stopped?: FleetStop;
  readonly master: { readonly applied: readonly string[]; readonly waiting: readonly string[] };
  readonly tenants: {
    readonly total: number;
    readonly succeeded: number;
    readonly upToDate: number;
    readonly failed: number;
    readonly skipped: number;
  };
  readonly results: readonly TenantResult[];
  readonly invalid: readonly InvalidTenant[];
  readonly interrupted: boolean;
  readonly durationMs: number;
}

export interface StatusResult {
  readonly dialect: DialectName;
  readonly master: {
    readonly applied: readonly string[];
    readonly pending: readonly string[];
    /** after-tenants master migrations still waiting for tenants. */
    readonly waiting: readonly string[];
    /**
     * How many tenants the `waiting` migrations wait for: Active tenants (all shards) not at the
     * last tenant migration, plus Active registry rows that are invalid (they block the contract
     * step too). 0 when nothing waits — or when the waiting ones run on the next `up`.
     */
    readonly waitingFor: number;
  };
  readonly tenants: {
    readonly total: number;
    readonly upToDate: number;
    readonly behind: number;
    /** Tenants that cannot be migrated as they are (checksum mismatch). */
    readonly failed: number;
    readonly invalid: number;
    readonly pendingCounts: Readonly<Record<string, number>>;
  };
  readonly invalid: readonly InvalidTenant[];
  readonly plans: readonly SchemaPlan[];
}

export interface RunStatusResult {
  readonly run: LedgerRun;
  /** Live counts from the (run, tenant) rows. */
  readonly counts: LedgerRunCounts;
  /** Failed tenants with their recorded error (tenant, migration id, statement index, template line). */
  readonly failed: readonly LedgerTenant[];
  /** Tenants claimed right now, with worker and lease. */
  readonly running: readonly LedgerTenant[];
}

export interface RenderOptions {
  /** Tenant to render for; default a sample workspace. */
  readonly workspaceId?: string;
  /** Render for another dialect than the configured database's. */
  readonly dialect?: DialectName;
  readonly scope?: 'master' | 'tenant';
}

export interface Migrator {
  readonly config: Config;
  up(options?: UpOptions): Promise<UpResult>;
  status(options?: { includeArchived?: boolean }): Promise<StatusResult>;
  render(migrationId: string, options?: RenderOptions): Promise<string>;
  /** Subscribe to events; returns an unsubscribe function. */
  on(listener: MigratorListener): () => void;
  /** The open database adapter (library users can run their own queries through it). */
  adapter(): Promise<DialectAdapter>;
  close(): Promise<void>;
}

/** Lock key of master migrations (`up`, and `down`/`baseline`/`repair` on master, exclude each other). */
export const MASTER_LOCK = '__master__';

/**
 * Create a migrator. Accepts a validated {@link Config} (from loadConfig) or a plain input object,
 * which is validated the same way (every problem listed; ConfigError).
 *
 * @example
 * const m = createMigrator({ url: 'postgres://postgres@127.0.0.1/app' });
 * const result = await m.up({ concurrency: 16 });
 * await m.close();
 */
export function createMigrator(input: Config | (ConfigInput & { rootDir?: string })): Migrator {
  const config: Config = isResolved(input) ? input : parseConfig(input);
  return new MigratorImpl(config);
}

/** Load config from file + env + overrides, then create the migrator. */
export async function openMigrator(options: Parameters<typeof loadConfig>[0] = {}): Promise<Migrator> {
  return new MigratorImpl(await loadConfig(options));
}

function isResolved(input: object): input is Config {
  return 'rootDir' in input && 'url' in input && 'registry' in input && 'metaTable' in input;
}

export class MigratorImpl implements Migrator {
  readonly config: Config;
  readonly #listeners = new Set<MigratorListener>();
  #adapter: Promise<DialectAdapter> | undefined;
  #engine: Promise<TemplateEngine> | undefined;
  readonly #pattern: RegExp;

  constructor(config: Config) {
    this.config = config;
    this.#pattern = new RegExp(config.registry.schemaPattern);
  }

  on(listener: MigratorListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit = (event: MigratorEvent): void => {
    for (const listener of this.#listeners) listener(event);
  };

  get dialect(): DialectName {
    return dialectFromUrl(this.config.url);
  }

  adapter(): Promise<DialectAdapter> {
    this.#adapter ??= createAdapter({
      url: this.config.url,
      rootDir: this.config.rootDir,
      // One extra connection for master work and the ledger beside the tenant workers.
      maxConnections: this.config.concurrency + 1,
      names: {
        masterSchema: this.config.masterSchema,
        metaTable: this.config.metaTable,
        registryTable: this.config.registry.table,
        ledgerPrefix: this.config.ledgerPrefix,
      },
    });
    return this.#adapter;
  }

  engine(): Promise<TemplateEngine> {
    this.#engine ??= TemplateEngine.create({
      partialsDir: path.resolve(this.config.rootDir, this.config.templatesDir, 'partials'),
      vars: this.config.vars,
    });
    return this.#engine;
  }

  async loadFiles(): Promise<{ master: MigrationFile[]; tenant: MigrationFile[] }> {
    const { rootDir } = this.config;
    const [master, tenant] = await Promise.all([
      loadMigrations({ rootDir, dir: this.config.masterMigrationsDir, scope: 'master' }),
      loadMigrations({ rootDir, dir: this.config.tenantMigrationsDir, scope: 'tenant' }),
    ]);
    return { master, tenant };
  }

  /** Render function for the open database's dialect. */
  async renderer(adapter: DialectAdapter) {
    const engine = await this.engine();
    const { masterSchema, vars } = this.config;
    const masterContext = buildRenderContext({ syntax: adapter.syntax, masterSchema, vars });
    return {
      master: (file: MigrationFile) => engine.render(file, masterContext),
      tenant: (file: MigrationFile, tenant: Tenant) =>
        engine.render(
          file,
          buildRenderContext({
            syntax: adapter.syntax,
            masterSchema,
            vars,
            tenant: { workspaceId: tenant.workspaceId, schemaName: tenant.schema, workspace: workspaceRecord(tenant) },
          }),
        ),
    };
  }

  /** Registry rows → validated tenants (empty before the registry exists). */
  async discover(session: SqlSession, includeArchived = false) {
    const adapter = await this.adapter();
    if (!(await adapter.registry.registryExists(session))) return { tenants: [] as Tenant[], invalid: [] as InvalidTenant[] };
    const rows = await adapter.registry.listTenants(session, {
      includeArchived,
      ...(this.config.registry.query ? { customQuery: this.config.registry.query } : {}),
    });
    return validateTenants(rows, this.#pattern, this.config.registry.schemaPrefix);
  }

  async up(options: UpOptions = {}): Promise<UpResult> {
    const started = Date.now();
    // Bad fleet options are usage errors (exit 2) before anything is opened.
    const fleetArgs = parseFleetArgs({
      shard: options.shard || undefined,
      waves: options.waves && options.waves.length > 0 ? options.waves : undefined,
      order: options.order,
      maxFailures: options.maxFailures,
      concurrency: options.concurrency,
      leaseMs: options.leaseMs,
    });
    const adapter = await this.adapter();
    const files = await this.loadFiles();
    const render = await this.renderer(adapter);
    const afterTenants = new Set(files.master.filter((f) => f.directives.afterTenants).map((f) => f.id));
    const workerId = newWorkerId();
    const leaseMs = fleetArgs.leaseMs ?? DEFAULT_LEASE_MS;
    const empty = { total: 0, succeeded: 0, upToDate: 0, failed: 0, skipped: 0 };
    const { shard, waves } = fleetArgs;
    const target = options.to ?? files.tenant.at(-1)?.id ?? '';
    let runId = options.runId ?? randomUUID();

    // 1. Under the master lock: master migrations (except after-tenants), discovery, batched plan,
    //    and opening the ledger run — so two `up` processes agree on one run and split its tenants.
    const opened = await this.withMasterLock(async () => {
      const masterApplied = await this.#migrateMaster(adapter, files.master, render.master, runId, {
        only: new Set(files.master.filter((f) => !afterTenants.has(f.id)).map((f) => f.id)),
        ...(options.masterTo ? { to: options.masterTo } : {}),
      });
      if (options.masterTo) return { masterApplied, stop: true as const };
      const discovered = await adapter.withSession((s) => this.discover(s, options.includeArchived));
      const invalid = discovered.invalid;
      const tenants = discovered.tenants.filter((t) => inShard(t, shard));
      await adapter.ledger.ensureLedger();
      if (options.runId) {
        // Joining a run by id: its tenants come from the ledger, no planning here.
        const run = await adapter.ledger.getRun(options.runId);
        if (!run) throw new TenantMigrateError('NOT_FOUND', `No run with id ${options.runId} in the ledger`, { runId: options.runId });
        if (run.target !== target) {
          throw new TenantMigrateError('USAGE', `Run ${run.runId} migrates to ${run.target}, but these migration files end at ${target}; deploy the same files on every worker`, { runId: run.runId });
        }
        if (run.status !== 'running') await adapter.ledger.reopenRun(run.runId);
        const counts = await adapter.ledger.countRunTenants(run.runId);
        return { masterApplied, tenants, invalid, todoCount: counts.pending + counts.running, opened: { run, opening: 'joined' as const, previousStatus: run.status, queued: 0 } };
      }
      const applied = await adapter.meta.readAppliedMany(tenants.map((t) => t.schema));
      const plans = new Map(tenants.map((t) => [t.schema, planSchema(t.schema, files.tenant, applied.get(t.schema) ?? [], options)]));
      const blocked = [...plans.values()].filter((p) => p.state === 'blocked');
      if (blocked.length > 0) {
        const first = blocked[0]!.checksumMismatches[0]!;
        const file = files.tenant.find((f) => f.id === first.id)!;
        throw new TenantMigrateError(
          'CHECKSUM_MISMATCH',
          `${file.path} was changed after it was applied (${blocked.length} tenant(s), e.g. ${blocked[0]!.schema}); nothing was run. Revert the edit, add a new migration, or run \`tenant-migrate repair\` if the change is cosmetic.`,
          { file: file.path, migrationId: first.id, tenant: blocked[0]!.schema, tenants: blocked.length },
        );
      }
      const todo = orderTenants(
        tenants.filter((t) => plans.get(t.schema)!.state !== 'up-to-date' || t.needsBackfill),
        options.order,
      );
      const runKey = runKeyOf({ target, shard, includeArchived: options.includeArchived });
      const opened = await openRun({
        adapter,
        runId,
        runKey,
        target,
        todo,
        waves,
        workerId,
        options: {
          ...(options.to ? { to: options.to } : {}),
          ...(shard ? { shard: `${shard.index}/${shard.count}` } : {}),
          ...(options.includeArchived ? { includeArchived: true } : {}),
          ...(options.order ? { order: options.order } : {}),
          ...(options.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
          leaseMs,
        },
      });
      return { masterApplied, tenants, invalid, todoCount: todo.length, opened };
    });
    if (opened.stop) {
      return { runId, master: { applied: opened.masterApplied, waiting: [...afterTenants] }, tenants: empty, results: [], invalid: [], interrupted: false, durationMs: Date.now() - started };
    }
    const { masterApplied, tenants, invalid } = opened;
    const run = opened.opened;
    let fleet: Awaited<ReturnType<typeof runFleet>> | undefined;
    let opening = run?.opening;
    if (run) {
      runId = run.run.runId;
      const live = await adapter.ledger.countRunTenants(runId);
      // A run whose heartbeat stopped is a crashed one being resumed, not a live one being joined.
      const stale = run.opening === 'joined' && !options.runId && (run.run.heartbeatUtc?.getTime() ?? 0) < Date.now() - leaseMs;
      this.emit({
        type: 'run:opened',
        runId,
        opening: (opening = stale ? 'resumed' : run.opening),
        ...(run.previousStatus ? { previousStatus: run.previousStatus } : {}),
        total: live.total,
        remaining: live.pending + live.running,
        workerId,
      });
    }
    this.emit({ type: 'tenants:discovered', total: tenants.length, pending: run ? (await adapter.ledger.countRunTenants(runId)).pending : 0, invalid });

    // 2. Fan out over the ledger: claims, leases, batched outcomes.
    if (run) {
      const runWaves = run.run.options.waves as string[] | undefined;
      const concurrency = adapter.capabilities.multipleConnections ? (options.concurrency ?? this.config.concurrency) : 1;
      fleet = await runFleet({
        adapter,
        runId,
        workerId,
        files: files.tenant,
        render: render.tenant,
        tenants: new Map(tenants.map((t) => [t.schema, t])),
        concurrency,
        waveCount: runWaves && runWaves.length > 0 ? runWaves.length : 1,
        lockTimeoutMs: this.config.lockTimeoutMs,
        leaseMs,
        maxFailures: options.maxFailures,
        to: (run.run.options.to as string | undefined) ?? options.to,
        signal: options.signal,
        emit: this.emit,
      });
      const c = fleet.counts;
      const left = c.pending + c.running;
      const status: RunStatus | undefined =
        left > 0
          ? fleet.stopped === 'interrupted'
            ? 'interrupted'
            : fleet.stopped === 'max-failures' || fleet.stopped === 'wave-failed'
              ? 'failed'
              : undefined // stopped by another worker: it set the status
          : c.failed > 0
            ? 'failed'
            : 'succeeded';
      if (status) await adapter.ledger.finishRun(runId, status, c);
      this.emit({ type: 'run:finished', runId, status: status ?? (await adapter.ledger.getRun(runId))?.status ?? 'running', ...(fleet.stopped ? { stopped: fleet.stopped } : {}) });
    }
    const interrupted = fleet?.stopped === 'interrupted';
    if (interrupted) this.emit({ type: 'run:interrupted' });
    const results = fleet?.results ?? [];
    const counts = fleet?.counts;

    // 3. Expand/contract: after-tenants master migrations once every Active tenant is at target.
    let waiting = await this.pendingAfterTenants(adapter, files.master, afterTenants);
    const runComplete = !counts || (counts.failed === 0 && counts.pending + counts.running === 0);
    if (waiting.length > 0 && !options.to && runComplete && !interrupted && invalid.length === 0) {
      const applied = await this.withMasterLock(async () => {
        const behind = await this.tenantsBehind(adapter, files.tenant, true);
        if (behind > 0) return [];
        return this.#migrateMaster(adapter, files.master, render.master, runId, { only: afterTenants });
      });
      masterApplied.push(...applied);
      waiting = waiting.filter((id) => !applied.includes(id));
    }
    const count = (s: TenantResult['status']) => results.filter((r) => r.status === s).length;
    const failed = counts ? counts.failed : 0;
    const result: UpResult = {
      runId,
      ...(opening ? { opening } : {}),
      master: { applied: masterApplied, waiting },
      tenants: {
        total: tenants.length,
        succeeded: count('succeeded'),
        upToDate: tenants.length - opened.todoCount + count('up-to-date'),
        failed,
        skipped: count('skipped') + (counts ? counts.pending : 0),
      },
      ...(counts ? { run: counts } : {}),
      ...(fleet?.stopped ? { stopped: fleet.stopped } : {}),
      workerId,
      results,
      invalid,
      interrupted,
      durationMs: Date.now() - started,
    };
    const lockFailures = results.filter((r) => r.error?.code === 'LOCK_TIMEOUT');
    if (lockFailures.length > 0 && lockFailures.length === results.filter((r) => r.status === 'failed').length && failed === lockFailures.length) {
      throw Object.assign(new LockTimeoutError(lockFailures[0]!.error!.message, { tenant: lockFailures[0]!.schema }), { result });
    }
    return result;
  }

  /** Run `fn` holding the master lock (one session for the lock; `fn` may borrow others). */
  async withMasterLock<T>(fn: () => Promise<T>): Promise<T> {
    const adapter = await this.adapter();
    return adapter.withSession(async (session) => {
      if (!(await adapter.locks.acquireLock(session, MASTER_LOCK, this.config.lockTimeoutMs))) {
        throw new LockTimeoutError(`Could not take the master migration lock within ${this.config.lockTimeoutMs} ms`, { tenant: this.config.masterSchema });
      }
      try {
        return await fn();
      } finally {
        await adapter.locks.releaseLock(session, MASTER_LOCK).catch(() => undefined);
      }
    });
  }

  /** after-tenants master migrations not applied yet. */
  async pendingAfterTenants(adapter: DialectAdapter, master: readonly MigrationFile[], afterTenants: ReadonlySet<string>): Promise<string[]> {
    if (afterTenants.size === 0) return [];
    const applied = await adapter.withSession((s) => adapter.meta.readApplied(s, this.config.masterSchema));
    const done = new Set(applied.map((a) => a.id));
    return master.filter((f) => afterTenants.has(f.id) && !done.has(f.id)).map((f) => f.id);
  }

  /** How many Active tenants (all shards) are not at the last tenant migration: one batched read. */
  async tenantsBehind(adapter: DialectAdapter, files: readonly MigrationFile[], includeInvalid: boolean): Promise<number> {
    const { tenants, invalid } = await adapter.withSession((s) => this.discover(s, false));
    const applied = await adapter.meta.readAppliedMany(tenants.map((t) => t.schema));
    const behind = tenants.filter((t) => planSchema(t.schema, files, applied.get(t.schema) ?? []).state !== 'up-to-date').length;
    return behind + (includeInvalid ? invalid.length : 0);
  }

  /** Apply master migrations; the caller holds the master lock ({@link withMasterLock}). */
  async #migrateMaster(
    adapter: DialectAdapter,
    files: readonly MigrationFile[],
    render: (file: MigrationFile) => string,
    runId: string,
    options: { only?: ReadonlySet<string>; to?: string },
  ): Promise<string[]> {
    const schema = this.config.masterSchema;
    return adapter.withSession(async (session) => {
      await adapter.meta.ensureSchema(session, schema);
      await adapter.meta.ensureMetaTable(session, schema);
      const pending = planSchema(schema, files, await adapter.meta.readApplied(session, schema)).pending.filter(
        (id) => !options.only || options.only.has(id),
      );
      this.emit({ type: 'master:start', pending });
      const result = await migrateSchema({
        adapter,
        session,
        schema,
        files,
        render,
        runId,
        ...options,
        onMigrated: (id, durationMs) => this.emit({ type: 'master:migrated', id, durationMs }),
      });
      this.emit({ type: 'master:done', applied: result.applied, waiting: [] });
      return result.applied;
    });
  }

  async status(options: { includeArchived?: boolean } = {}): Promise<StatusResult> {
    const adapter = await this.adapter();
    const files = await this.loadFiles();
    const schema = this.config.masterSchema;
    const includeArchived = options.includeArchived ?? false;
    const { masterApplied, tenants, invalid, activeInvalid } = await adapter.withSession(async (session) => {
      const masterApplied = await adapter.meta.readApplied(session, schema);
      const discovered = await this.discover(session, includeArchived);
      // after-tenants waits for Active rows only; re-read them when Archived ones were included.
      const activeInvalid = includeArchived ? (await this.discover(session, false)).invalid.length : discovered.invalid.length;
      return { masterApplied, ...discovered, activeInvalid };
    });
    assertChecksums(schema, masterApplied, new Map(files.master.map((f) => [f.id, f])));
    const masterPlan = planSchema(schema, files.master, masterApplied);
    const applied = await adapter.meta.readAppliedMany(tenants.map((t) => t.schema));
    const plans = tenants.map((t) => planSchema(t.schema, files.tenant, applied.get(t.schema) ?? []));
    const summary = summarizePlans(plans);
    const afterTenants = new Set(files.master.filter((f) => f.directives.afterTenants).map((f) => f.id));
    const waiting = masterPlan.pending.filter((id) => afterTenants.has(id));
    // The same gate as `up` (tenantsBehind with invalid rows): every Active tenant at target.
    const waitingFor =
      waiting.length === 0
        ? 0
        : plans.filter((p, i) => p.state !== 'up-to-date' && (!includeArchived || tenants[i]!.status === 'Active')).length + activeInvalid;
    return {
      dialect: adapter.name,
      master: {
        applied: masterPlan.applied,
        pending: masterPlan.pending,
        waiting,
        waitingFor,
      },
      tenants: {
        total: summary.total,
        upToDate: summary.upToDate,
        behind: summary.behind,
        failed: summary.blocked,
        invalid: invalid.length,
        pendingCounts: summary.pendingCounts,
      },
      invalid,
      plans,
    };
  }

  /**
   * A ledger run's progress (newest run when `runId` is omitted), readable from another terminal
   * while workers are on it: live counts, failed tenants with their errors, claimed tenants.
   */
  async runStatus(runId?: string, options: { limit?: number } = {}): Promise<RunStatusResult | undefined> {
    const adapter = await this.adapter();
    await adapter.ledger.ensureLedger();
    const run = await adapter.ledger.getRun(runId);
    if (!run) return undefined;
    const limit = options.limit ?? 100;
    const [counts, failed, running] = await Promise.all([
      adapter.ledger.countRunTenants(run.runId),
      adapter.ledger.listRunTenants(run.runId, { status: 'failed', limit }),
      adapter.ledger.listRunTenants(run.runId, { status: 'running', limit }),
    ]);
    return { run, counts, failed, running };
  }

  async render(migrationId: string, options: RenderOptions = {}): Promise<string> {
    const files = await this.loadFiles();
    const scope = options.scope ?? (files.tenant.some((f) => f.id === migrationId) ? 'tenant' : 'master');
    const file = files[scope].find((f) => f.id === migrationId);
    if (!file) {
      throw new TenantMigrateError('NOT_FOUND', `No ${scope} migration with id "${migrationId}"`, { migrationId });
    }
    const engine = await this.engine();
    const syntax = syntaxFor(options.dialect ?? this.dialect);
    const { masterSchema, vars } = this.config;
    if (scope === 'master') return engine.render(file, buildRenderContext({ syntax, masterSchema, vars }));
    if (!options.workspaceId) return engine.render(file, sampleRenderContext(syntax, masterSchema, vars));
    const workspaceId = normalizeGuid(options.workspaceId);
    if (!workspaceId) {
      throw new TenantMigrateError('INVALID_WORKSPACE_ID', `"${options.workspaceId}" is not a GUID`, { workspaceId: options.workspaceId });
    }
    // Render for the registered row when the database has it; else for the derived name.
    const adapter = await this.adapter();
    const row = await adapter.withSession(async (s) => ((await adapter.registry.registryExists(s)) ? adapter.registry.getTenant(s, workspaceId) : undefined));
    const base = row ?? { workspaceId, name: null, dbSchemaName: null, status: 'Active', lastSeenUtc: null, createdUtc: null };
    const { tenants, invalid } = validateTenants([base], this.#pattern, this.config.registry.schemaPrefix);
    if (!tenants[0]) throw new TenantMigrateError('INVALID_SCHEMA_NAME', invalid[0]!.reason, { workspaceId });
    const tenant = tenants[0];
    return engine.render(
      file,
      buildRenderContext({ syntax, masterSchema, vars, tenant: { workspaceId, schemaName: tenant.schema, workspace: workspaceRecord(tenant) } }),
    );
  }

  async close(): Promise<void> {
    const adapter = this.#adapter;
    this.#adapter = undefined;
    if (adapter) await (await adapter).close();
  }
}

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
