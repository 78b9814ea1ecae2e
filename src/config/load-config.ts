import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { type Config, type ConfigInput, configSchema } from './config-schema.js';

export const CONFIG_FILE_NAMES = [
  'tenant-migrate.config.json',
  'tenant-migrate.config.js',
  'tenant-migrate.config.mjs',
  'tenant-migrate.config.ts',
] as const;

/** Where the embedded default database lives, relative to rootDir. */
export const DEFAULT_PGLITE_DIR = '.tenant-migrate/pglite';

export interface LoadConfigOptions {
  /** Explicit config file (`--config`); an error if it does not exist. */
  readonly configFile?: string;
  /** Directory searched for a config file; default process.cwd(). */
  readonly cwd?: string;
  /** Values from command-line flags: highest precedence. */
  readonly overrides?: ConfigInput;
  /** Environment; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Format zod issues as `path: message` lines. */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return `${where || '(root)'}: ${issue.message}`;
  });
}

/** Environment variables → config input. Unparseable numbers are reported, not ignored. */
function fromEnv(env: NodeJS.ProcessEnv, issues: string[]): ConfigInput {
  const out: Record<string, unknown> = {};
  if (env.TM_DATABASE_URL) out.url = env.TM_DATABASE_URL;
  if (env.TM_MASTER_SCHEMA) out.masterSchema = env.TM_MASTER_SCHEMA;
  const numbers: Array<[string, string]> = [
    ['TM_CONCURRENCY', 'concurrency'],
    ['TM_LOCK_TIMEOUT_MS', 'lockTimeoutMs'],
  ];
  for (const [name, key] of numbers) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isInteger(value)) issues.push(`env ${name}: expected an integer, got "${raw}"`);
    else out[key] = value;
  }
  return out as ConfigInput;
}

/**
 * Import a .js/.mjs config directly; a .ts one through tsx, loaded only then (tsx is not a
 * dependency of tenant-migrate: installing it is the price of a TypeScript config).
 */
async function importConfigModule(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  // Node itself strips types when run with --experimental-strip-types (22.6+; the default from 23.6).
  const nodeStripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);
  if (!/\.[cm]?ts$/.test(file) || nodeStripsTypes) return import(url);
  const tsx = await loadTsx(file);
  if (!tsx) {
    throw new ConfigError(
      [
        `${path.basename(file)}: a TypeScript config is loaded with tsx, which is not installed: ` +
          'run `npm install --save-dev tsx`, or write tenant-migrate.config.json or .mjs instead ' +
          '(or, on Node 22.6+, run the CLI with NODE_OPTIONS=--experimental-strip-types)',
      ],
      { file },
    );
  }
  return tsx.tsImport(url, import.meta.url);
}

type TsxApi = { tsImport: (specifier: string, parentURL: string) => Promise<unknown> };

/** tsx as the application installed it (resolved from the config's folder), else beside tenant-migrate. */
export async function loadTsx(configFile: string): Promise<TsxApi | undefined> {
  const specifier = 'tsx/esm/api';
  try {
    return (await import(pathToFileURL(createRequire(configFile).resolve(specifier)).href)) as TsxApi;
  } catch {
    // not resolvable from the config's folder
  }
  try {
    // A variable specifier: tsx is a devDependency, its types are not needed here.
    return (await import(specifier)) as TsxApi;
  } catch {
    return undefined;
  }
}

async function readConfigFile(file: string, issues: string[]): Promise<Record<string, unknown>> {
  if (file.endsWith('.json')) {
    const text = await readFile(file, 'utf8');
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        issues.push(`${file}: must contain a JSON object`);
        return {};
      }
      return parsed as Record<string, unknown>;
    } catch (err) {
      issues.push(`${file}: invalid JSON: ${(err as Error).message}`);
      return {};
    }
  }
  const mod = (await importConfigModule(file)) as { default?: unknown };
  let value: unknown = mod.default ?? mod;
  // A .ts config outside a "type": "module" package is compiled as CommonJS: its default export
  // arrives one level down, marked __esModule.
  if (isPlainObject(value) && 'default' in value && (value as { __esModule?: unknown }).__esModule) value = value.default;
  if (value === null || typeof value !== 'object') {
    issues.push(`${file}: must export a config object (export default { … })`);
    return {};
  }
  return value as Record<string, unknown>;
}

function mergeDeep(...layers: Array<Record<string, unknown> | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const prev = out[key];
      if (isPlainObject(prev) && isPlainObject(value)) out[key] = mergeDeep(prev, value);
      else out[key] = value;
    }
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Find the config file: explicit path, else the first known name in cwd. */
export function findConfigFile(cwd: string, explicit?: string): string | undefined {
  if (explicit) return path.resolve(cwd, explicit);
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = path.join(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Load and validate the configuration. Precedence: flags > env (TM_*) > file > defaults.
 * Every problem is collected and thrown at once as a {@link ConfigError} (exit code 2).
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const issues: string[] = [];
  const explicit = options.configFile ?? env.TM_CONFIG;
  const configFile = findConfigFile(cwd, explicit);
  let fileLayer: Record<string, unknown> = {};
  if (configFile) {
    if (!existsSync(configFile)) issues.push(`--config: file not found: ${configFile}`);
    else fileLayer = await readConfigFile(configFile, issues);
  }
  const rootDir = configFile ? path.dirname(configFile) : cwd;
  const merged = mergeDeep(fileLayer, fromEnv(env, issues) as Record<string, unknown>, options.overrides as Record<string, unknown>);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) issues.push(...formatIssues(parsed.error, configFile ? path.basename(configFile) : 'config'));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues, { file: configFile });
  return resolveConfig(parsed.data, rootDir, configFile);
}

/** Validate an in-memory config (library use): same rules, same error. */
export function parseConfig(input: ConfigInput & { rootDir?: string }): Config {
  const { rootDir, ...rest } = input;
  const parsed = configSchema.safeParse(rest);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, 'config'));
  return resolveConfig(parsed.data, path.resolve(rootDir ?? process.cwd()));
}

function resolveConfig(data: z.output<typeof configSchema>, rootDir: string, configFile?: string): Config {
  const url = data.url ?? `pglite:${DEFAULT_PGLITE_DIR}`;
  return { ...data, url, rootDir, ...(configFile ? { configFile } : {}) };
}
