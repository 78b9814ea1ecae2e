/**
 * `tenant-migrate init`: a new project in a folder, from the scaffolds shipped in the package's
 * `templates/init/` and its `templates/partials/`. Writes nothing when any target exists.
 */
import { constants as fsConstants, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_FILE_NAMES } from '../config/load-config.js';
import { TenantMigrateError } from '../errors.js';

/** The package folder (src/cli → two levels up; the same from dist/cli). */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** CI providers `--ci` knows, and where their workflow goes. */
export const CI_WORKFLOWS = { github: '.github/workflows/tenant-migrate.yml' } as const;
export type CiProvider = keyof typeof CI_WORKFLOWS;

export interface InitOptions {
  /** The project folder; created if missing. */
  readonly dir: string;
  /** Also write a CI workflow for this provider. */
  readonly ci?: CiProvider;
  /** Where `templates/` is read from; default the installed package. */
  readonly packageRoot?: string;
}

export interface InitResult {
  /** Paths written, relative to `dir`, in the order written. */
  readonly files: readonly string[];
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    // Dirent.parentPath is Node 20.12+; before it, the same value was Dirent.path.
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as { path?: string }).path ?? dir, e.name)))
    .sort();
}

/**
 * Scaffold `tenant-migrate.config.json` (with `$schema`), `master-migrations/` and
 * `tenant-migrations/` with a first example of each, `templates/partials/`, and optionally a CI
 * workflow. Refuses (code `USAGE`, exit 2), naming every file, when any of them exists already.
 *
 * @example await initProject({ dir: process.cwd(), ci: 'github' })
 */
export async function initProject(options: InitOptions): Promise<InitResult> {
  const templates = path.join(options.packageRoot ?? PACKAGE_ROOT, 'templates');
  const scaffold = path.join(templates, 'init');
  // [source, target relative to dir]
  const plan: Array<[string, string]> = [];
  for (const rel of await listFiles(scaffold)) {
    if (rel.startsWith(`ci${path.sep}`)) continue;
    plan.push([path.join(scaffold, rel), rel]);
  }
  for (const rel of await listFiles(path.join(templates, 'partials'))) {
    plan.push([path.join(templates, 'partials', rel), path.join('templates', 'partials', rel)]);
  }
  if (options.ci) plan.push([path.join(scaffold, 'ci', `${options.ci}.yml`), CI_WORKFLOWS[options.ci]]);

  const existing = plan.map(([, rel]) => rel).filter((rel) => existsSync(path.join(options.dir, rel)));
  // A second config file would be ignored (the first name found wins), and a 0001 beside existing
  // migrations would clash with their numbering: both are refused too.
  for (const name of CONFIG_FILE_NAMES) {
    if (!existing.includes(name) && existsSync(path.join(options.dir, name))) existing.push(name);
  }
  for (const folder of ['master-migrations', 'tenant-migrations']) {
    const files = await readdir(path.join(options.dir, folder)).catch(() => [] as string[]);
    if (files.length > 0 && !existing.some((rel) => rel.startsWith(`${folder}${path.sep}`))) existing.push(`${folder}/ (not empty)`);
  }
  if (existing.length > 0) {
    throw new TenantMigrateError(
      'USAGE',
      `init writes nothing because these files exist already: ${existing.join(', ')} (move them away, or add migrations with \`tenant-migrate create\`)`,
      { files: existing },
    );
  }
  for (const [source, rel] of plan) {
    const target = path.join(options.dir, rel);
    await mkdir(path.dirname(target), { recursive: true });
    // A file that appeared since the check is still never overwritten.
    await copyFile(source, target, fsConstants.COPYFILE_EXCL);
  }
  return { files: plan.map(([, rel]) => rel) };
}
