/**
 * The public facade: `createMigrator` / `openMigrator` and the {@link Migrator} they return. Each
 * method is one operation module under src/operations/ over the migrator's {@link OperationContext}.
 */
import { loadConfig, parseConfig } from './config/load-config.js';
import type { Config, ConfigInput } from './config/config-schema.js';
import type { Dialect } from './dialect/dialect.js';
import type { DialectName } from './dialect/dialect-syntax.js';
import type { MigratorListener } from './events.js';
import { type MigrationFiles, OperationContext } from './operations/context.js';
import { type RenderOptions, render } from './operations/render.js';
import { type RunStatusResult, runStatus } from './operations/run-status.js';
import { type StatusResult, status } from './operations/status.js';
import { type UpOptions, type UpResult, up } from './operations/up.js';
import type { DriftOptions } from './drift/detect-drift.js';
import type { DriftReport } from './drift/drift-report.js';
import type { GrantsResult } from './operations/grants.js';

export { MASTER_LOCK } from './operations/context.js';
export { workspaceRecord } from './operations/templates.js';
export { DEFAULT_LEASE_MS } from './operations/up.js';
export type { RenderOptions, RunStatusResult, StatusResult, UpOptions, UpResult };

export interface Migrator {
  readonly config: Config;
  up(options?: UpOptions): Promise<UpResult>;
  status(options?: { includeArchived?: boolean; dbTarget?: string; verify?: boolean }): Promise<StatusResult>;
  render(migrationId: string, options?: RenderOptions): Promise<string>;
  /** Compare every tenant schema with what its applied migrations make (see docs/drift.md). */
  drift(options?: DriftOptions): Promise<DriftReport>;
  /**
   * Apply the configured `access` grants to master and every existing tenant schema, idempotently
   * (docs/security.md): for a fleet built before `access` was configured, or after a role changed.
   */
  grants(): Promise<GrantsResult>;
  /** Subscribe to events; returns an unsubscribe function. */
  on(listener: MigratorListener): () => void;
  /** The open database adapter (library users can run their own queries through it). */
  adapter(): Promise<Dialect>;
  close(): Promise<void>;
}

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

/** The {@link Migrator} over one {@link OperationContext}; release commands and workspaces take `.context`. */
export class MigratorImpl implements Migrator {
  readonly context: OperationContext;

  constructor(source: Config | OperationContext) {
    this.context = source instanceof OperationContext ? source : new OperationContext(source);
  }

  get config(): Config {
    return this.context.config;
  }

  get dialect(): DialectName {
    return this.context.dialectName;
  }

  on(listener: MigratorListener): () => void {
    return this.context.on(listener);
  }

  adapter(): Promise<Dialect> {
    return this.context.dialect();
  }

  loadFiles(): Promise<MigrationFiles> {
    return this.context.files();
  }

  up(options: UpOptions = {}): Promise<UpResult> {
    return up(this.context, options);
  }

  status(options: { includeArchived?: boolean; dbTarget?: string; verify?: boolean } = {}): Promise<StatusResult> {
    return status(this.context, options);
  }

  runStatus(runId?: string, options: { limit?: number } = {}): Promise<RunStatusResult | undefined> {
    return runStatus(this.context, runId, options);
  }

  render(migrationId: string, options: RenderOptions = {}): Promise<string> {
    return render(this.context, migrationId, options);
  }

  async drift(options: DriftOptions = {}): Promise<DriftReport> {
    const { detectDrift } = await import('./drift/detect-drift.js');
    return detectDrift(this.context, options);
  }

  async grants(): Promise<GrantsResult> {
    const { applyGrants } = await import('./operations/grants.js');
    return applyGrants(this.context);
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
