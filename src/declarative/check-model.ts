/**
 * `check` (CI, also part of `validate`): the schema model, its snapshot and the migrations agree.
 * 1. The model equals the snapshot — no change waiting for `diff`.
 * 2. Replaying every migration into PGlite yields exactly the catalog the model's own CREATE
 *    script yields — the migrations make the model (a hand-edited migration is caught here).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Difference, describeDifference, diffCatalogs } from '../catalog/catalog-diff.js';
import type { Config } from '../config/config-schema.js';
import type { Dialect } from '../dialect/dialect.js';
import { TenantMigrateError } from '../errors.js';
import { loadMigrations } from '../source/index.js';
import { TemplateEngine } from '../templating/index.js';
import { loadModel, modelPaths } from '../schema-model/load-model.js';
import type { ModelScope, SchemaModel } from '../schema-model/model-types.js';
import { readSnapshot } from '../schema-model/snapshot.js';
import { ALLOW_KINDS, describeChange } from './schema-changes.js';
import { diffModels } from './schema-diff.js';
import { replayCatalogs } from './model-catalog.js';

export interface ScopeCheck {
  readonly scope: ModelScope;
  readonly model: string;
  /** Changes in the model not yet generated into a migration (`diff` would write them). */
  readonly ungenerated: readonly string[];
  /** Snapshot problem, e.g. missing. */
  readonly snapshotProblem?: string;
  /**
   * Where the migrations' catalog differs from the model's: `missing` = the migrations make it,
   * the model lacks it; `extra` = the model has it, no migration makes it.
   */
  readonly differences: readonly Difference[];
}

export interface CheckResult {
  readonly ok: boolean;
  /** Where the migrations were replayed: an in-memory PGlite (`memory`), or the database's scratch schemas (`--on-server`). */
  readonly replayedOn: 'memory' | 'server';
  /** The dialect they were replayed on. */
  readonly dialect: string;
  readonly scopes: readonly ScopeCheck[];
}

export interface CheckOptions {
  /** Only this scope (default: every scope whose model file exists). */
  readonly scope?: ModelScope;
  /**
   * Replay on this server, in scratch schemas, instead of in PGlite (`check --on-server`): the
   * real dialect's catalog — how a SQL Server team checks. The caller owns the adapter.
   */
  readonly server?: Dialect;
}

/** Scopes whose model file exists. */
export function modelScopes(config: Config, only?: ModelScope): ModelScope[] {
  return (['tenant', 'master'] as const).filter((s) => (only ? s === only : true) && existsSync(modelPaths(config, s).model));
}

export async function checkModels(config: Config, options: CheckOptions = {}): Promise<CheckResult> {
  const scopes = modelScopes(config, options.scope);
  if (scopes.length === 0) {
    const which = options.scope ? [options.scope] : (['tenant', 'master'] as const);
    throw new TenantMigrateError('USAGE', `No schema model: ${which.map((s) => modelPaths(config, s).relModel).join(' / ')} not found (config "model"); \`tenant-migrate pull\` writes one from a live schema`);
  }
  const models: Partial<Record<ModelScope, SchemaModel>> = {};
  const results: { scope: ModelScope; model: string; ungenerated: string[]; snapshotProblem?: string }[] = [];
  for (const scope of scopes) {
    const paths = modelPaths(config, scope);
    const model = await loadModel(paths, scope);
    models[scope] = model;
    const snapshot = await readSnapshot(paths.snapshot, paths.relSnapshot, scope);
    if (!snapshot) {
      results.push({ scope, model: paths.relModel, ungenerated: [], snapshotProblem: `${paths.relSnapshot} is missing (\`tenant-migrate diff --init --scope ${scope}\` records it)` });
      continue;
    }
    const d = diffModels(snapshot.model, model, { allow: new Set(ALLOW_KINDS) });
    results.push({ scope, model: paths.relModel, ungenerated: d.changes.filter((c) => !('only' in c && c.only)).map(describeChange) });
  }
  const { rootDir } = config;
  const [master, tenant] = await Promise.all([
    loadMigrations({ rootDir, dir: config.masterMigrationsDir, scope: 'master' }),
    loadMigrations({ rootDir, dir: config.tenantMigrationsDir, scope: 'tenant' }),
  ]);
  const engine = await TemplateEngine.create({ rootDir, partialsDir: path.join(config.templatesDir, 'partials'), vars: config.vars });
  const replayed = await replayCatalogs(config, engine, { master, tenant }, models, options.server ? { server: options.server } : {});
  const out: ScopeCheck[] = results.map((r) => ({ ...r, differences: diffCatalogs(replayed.migrations[r.scope], replayed.models[r.scope]!) }));
  return {
    ok: out.every((s) => !s.snapshotProblem && s.ungenerated.length === 0 && s.differences.length === 0),
    replayedOn: options.server ? 'server' : 'memory',
    dialect: options.server ? options.server.name : 'pglite',
    scopes: out,
  };
}

/** The check result in words (exit 2 when not ok). */
export function formatCheck(result: CheckResult): string {
  const lines: string[] = [];
  for (const s of result.scopes) {
    const ok = !s.snapshotProblem && s.ungenerated.length === 0 && s.differences.length === 0;
    lines.push(`${s.scope}: ${s.model} — ${ok ? 'model, snapshot and migrations agree' : 'DISAGREE'} (replayed ${result.replayedOn === 'memory' ? 'in an in-memory PGlite' : `on the ${result.dialect} database, in scratch schemas`})`);
    if (s.snapshotProblem) lines.push(`  snapshot: ${s.snapshotProblem}`);
    if (s.ungenerated.length > 0) {
      lines.push(`  the model has changes no migration was generated for (run \`tenant-migrate diff <name> --scope ${s.scope}\`):`);
      for (const c of s.ungenerated) lines.push(`    - ${c}`);
    }
    if (s.differences.length > 0) {
      lines.push('  replaying the migrations does not make the model (missing: the migrations make it, the model lacks it; extra: in the model, made by no migration):');
      for (const d of s.differences) lines.push(`    - ${describeDifference(d)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
