import path from 'node:path';
import type { Config } from '../config/config-schema.js';
import { createAdapter, dialectFromUrl } from '../dialect/create-adapter.js';
import type { SqlSession } from '../dialect/contracts/driver.js';
import { holdLock } from '../dialect/contracts/locks.js';
import type { Dialect } from '../dialect/dialect.js';
import type { DialectName } from '../dialect/dialect-syntax.js';
import { LockTimeoutError } from '../errors.js';
import type { MigratorEvent, MigratorListener } from '../events.js';
import { loadMigrations } from '../source/index.js';
import { installTenantGrants } from './grants.js';
import { TargetSet } from './targets.js';
import type { TemplateEngine } from '../templating/template-engine.js';
import type { MigrationFile } from '../types.js';

export interface MigrationFiles {
  readonly master: MigrationFile[];
  readonly tenant: MigrationFile[];
}

/**
 * What every operation (up, status, render, run status, release commands, workspaces) works
 * over: the parsed config, the dialect (opened on first use), the migration files, the template
 * engine, and the event channel. One per migrator; the operations are free functions over it.
 */
export class OperationContext {
  readonly config: Config;
  /** Schema-name pattern every discovered tenant is validated against before reaching SQL. */
  readonly schemaPattern: RegExp;
  readonly #listeners = new Set<MigratorListener>();
  #dialect: Promise<Dialect> | undefined;
  #engine: Promise<TemplateEngine> | undefined;

  readonly #open: () => Promise<Dialect>;
  /** The master's database plus one lazily opened dialect per config target (docs/fleet.md). */
  readonly targets: TargetSet;

  /**
   * `openDialect`: how to open the database (default: the dialect the URL selects; tests pass an
   * in-memory one); `openTarget`: the same for a named target (default: its URL from config `targets`).
   */
  constructor(config: Config, openDialect?: () => Promise<Dialect>, openTarget?: (name: string) => Promise<Dialect>) {
    this.config = config;
    this.schemaPattern = new RegExp(config.registry.schemaPattern);
    this.#open = openDialect ?? (() => this.#openFromUrl(config.url, config.concurrency + 1));
    const openNamed = openTarget ?? ((name: string) => this.#openFromUrl(config.targets[name]!, (config.targetConcurrency ?? config.concurrency) + 1));
    this.targets = new TargetSet(Object.keys(config.targets), () => this.dialect(), (name) =>
      openNamed(name).then((dialect) => installTenantGrants(this.config, dialect)),
    );
  }

  /** Subscribe to events; returns an unsubscribe function. */
  on(listener: MigratorListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit = (event: MigratorEvent): void => {
    for (const listener of this.#listeners) listener(event);
  };

  /** The configured database's dialect name, without opening it. */
  get dialectName(): DialectName {
    return dialectFromUrl(this.config.url);
  }

  /** The open dialect (opened once, lazily). */
  dialect(): Promise<Dialect> {
    this.#dialect ??= this.#open().then((dialect) => installTenantGrants(this.config, dialect));
    return this.#dialect;
  }

  #openFromUrl(url: string, maxConnections: number): Promise<Dialect> {
    return createAdapter({
      url,
      rootDir: this.config.rootDir,
      // One extra connection for master work and the ledger beside the tenant workers.
      maxConnections,
      names: {
        masterSchema: this.config.masterSchema,
        metaTable: this.config.metaTable,
        registryTable: this.config.registry.table,
        ledgerPrefix: this.config.ledgerPrefix,
      },
    });
  }

  templates(): Promise<TemplateEngine> {
    // Handlebars loads on first use: commands that render nothing (status, a no-op up) never load it.
    this.#engine ??= import('../templating/template-engine.js').then(({ TemplateEngine }) =>
      TemplateEngine.create({
        partialsDir: path.resolve(this.config.rootDir, this.config.templatesDir, 'partials'),
        vars: this.config.vars,
      }),
    );
    return this.#engine;
  }

  /** Master and tenant migration files, read from disk on each call (they may change between runs). */
  async files(): Promise<MigrationFiles> {
    const { rootDir } = this.config;
    const [master, tenant] = await Promise.all([
      loadMigrations({ rootDir, dir: this.config.masterMigrationsDir, scope: 'master' }),
      loadMigrations({ rootDir, dir: this.config.tenantMigrationsDir, scope: 'tenant' }),
    ]);
    return { master, tenant };
  }

  /**
   * Run `fn` on a session holding the lock `key` (a tenant schema, or {@link MASTER_LOCK}); the lock
   * is released when `fn` ends. `target`: the database of the tenant (a name of config `targets`;
   * none: the master's) — a tenant's lock is taken where its schema lives. A lock still busy after `lockTimeoutMs` is `onBusy()`, by default a
   * LockTimeoutError naming `what`.
   */
  async withLock<T>(
    key: string,
    fn: (session: SqlSession) => Promise<T>,
    options: { readonly what?: string; readonly onBusy?: () => T | Promise<T>; readonly target?: string | null | undefined } = {},
  ): Promise<T> {
    const dialect = await this.targets.dialectOf(options.target);
    const timeoutMs = this.config.lockTimeoutMs;
    const onBusy =
      options.onBusy ??
      (() => {
        const what = options.what ?? key;
        throw new LockTimeoutError(`Could not lock ${what} within ${timeoutMs} ms`, { tenant: what });
      });
    return dialect.withSession((session) => holdLock(dialect.locks, session, key, timeoutMs, () => fn(session), onBusy));
  }

  /** Close the dialect's pool (a later operation opens it again). */
  async close(): Promise<void> {
    const dialect = this.#dialect;
    this.#dialect = undefined;
    await this.targets.close();
    if (dialect) await (await dialect).close();
  }
}

/** Lock key of master migrations (`up`, and `down`/`baseline`/`repair` on master, exclude each other). */
export const MASTER_LOCK = '__master__';
