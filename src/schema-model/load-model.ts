/**
 * Loading a schema model file (`schema/tenant.ts`): TypeScript through tsx, imported fresh on
 * every call (a model edited in the same process — tests, watch mode — is read again), then
 * validated. JavaScript and JSON models are read too.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../config/config-schema.js';
import { loadTsx } from '../config/load-config.js';
import { ModelError } from './model-error.js';
import type { ModelScope, SchemaModel } from './model-types.js';
import { validateModel } from './validate-model.js';

export interface ModelPaths {
  /** Absolute path of the model file. */
  readonly model: string;
  /** Absolute path of its snapshot (`<model without extension>.snapshot.json`). */
  readonly snapshot: string;
  /** Both relative to the project root, for messages. */
  readonly relModel: string;
  readonly relSnapshot: string;
}

export function modelPaths(config: Pick<Config, 'rootDir' | 'model'>, scope: ModelScope): ModelPaths {
  const model = path.resolve(config.rootDir, config.model[scope]);
  const snapshot = model.replace(/\.(?:[cm]?[jt]s|json)$/, '') + '.snapshot.json';
  const rel = (p: string) => path.relative(config.rootDir, p).split(path.sep).join('/');
  return { model, snapshot, relModel: rel(model), relSnapshot: rel(snapshot) };
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  if (file.endsWith('.json')) return { default: JSON.parse(await readFile(file, 'utf8')) as unknown };
  if (/\.[cm]?ts$/.test(file)) {
    // tsx as for a .ts config (load-config.ts). tsImport loads the file in its own namespace: a
    // fresh copy on every call, no global hook.
    // ESM resolution first (the .mjs entry); loadTsx resolves from the model's folder via require,
    // whose CJS entry fails when the CLI itself already runs under tsx.
    const tsx = ((await import('tsx/esm/api').catch(() => undefined)) as Awaited<ReturnType<typeof loadTsx>>) ?? (await loadTsx(file));
    if (!tsx) throw new Error('a TypeScript model is loaded with tsx, which is not installed: run `npm install --save-dev tsx`');
    return (await tsx.tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as Record<string, unknown>;
}

/** Load and validate the model of `scope`; throws {@link ModelError} (exit 2) naming every problem. */
export async function loadModel(paths: ModelPaths, scope: ModelScope): Promise<SchemaModel> {
  if (!existsSync(paths.model)) throw new ModelError(paths.relModel, [`file not found (config "model.${scope}")`]);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(paths.model);
  } catch (err) {
    // esbuild's message is "Transform failed with 1 error:" and then the file, line and reason.
    const lines = (err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean);
    throw new ModelError(paths.relModel, [`cannot be loaded: ${lines.slice(0, lines[0]?.startsWith('Transform failed') ? 3 : 1).join(' ')}`]);
  }
  // A .ts file outside an ESM package loads as CommonJS: its `export default` arrives as default.default.
  let value = mod.default ?? mod.schema;
  const nested = (value as { default?: unknown; scope?: unknown } | undefined);
  if (nested && nested.scope === undefined && nested.default !== undefined) value = nested.default;
  if (value === undefined) throw new ModelError(paths.relModel, ['must export the model: export default defineSchema({ … })']);
  const model = validateModel(value, paths.relModel);
  if (model.scope !== scope) throw new ModelError(paths.relModel, [`scope: is "${model.scope}", expected "${scope}" (config "model.${scope}")`]);
  return model;
}
