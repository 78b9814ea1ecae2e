/**
 * `create master|tenant <name>`: the next numbered migration file from the scaffolds in
 * `templates/scaffolds/` (the project's own, else the ones shipped with tenant-migrate).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/config-schema.js';
import { TenantMigrateError } from '../errors.js';
import { MIGRATION_ID_RE, formatMigrationNumber, nextMigrationNumber, parseMigrationFileName } from '../source/index.js';
import type { MigrationScope } from '../types.js';

const SHIPPED_TEMPLATES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates');

export interface CreateOptions {
  readonly scope: MigrationScope;
  /** snake_case name, e.g. `add_job_priority`; the number is added. */
  readonly name: string;
  /** Also write the `.down.sql.hbs` sibling. */
  readonly down?: boolean;
}

export interface CreateResult {
  readonly id: string;
  /** Paths written, relative to the project root. */
  readonly files: readonly string[];
}

/**
 * Write `NNNN_<name>.sql.hbs` (and `.down.sql.hbs`) into the scope's folder, numbered one above the
 * highest number present. Refuses a name that does not fit the id rule, and never overwrites.
 *
 * @example await createMigration(config, { scope: 'tenant', name: 'add_job_priority', down: true })
 */
export async function createMigration(
  config: Pick<Config, 'rootDir' | 'masterMigrationsDir' | 'tenantMigrationsDir' | 'templatesDir'>,
  options: CreateOptions,
): Promise<CreateResult> {
  const name = options.name.trim();
  if (!/^[a-z0-9]+(?:_[a-z0-9]+)*$/.test(name)) {
    const hint = name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
    throw new TenantMigrateError(
      'USAGE',
      `"${options.name}" is not a valid migration name: use lower snake_case letters and digits (id rule ${MIGRATION_ID_RE.source})${hint ? `, e.g. "${hint}"` : ''}`,
      { key: 'name' },
    );
  }
  const dir = path.resolve(config.rootDir, options.scope === 'master' ? config.masterMigrationsDir : config.tenantMigrationsDir);
  const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  // Number from the file names themselves, so a folder `loadMigrations` would reject still gets a number.
  const parsed = existing.map(parseMigrationFileName).filter((p) => p !== undefined);
  const sameName = parsed.find((p) => p.name === name && !p.isDown);
  if (sameName) {
    throw new TenantMigrateError('USAGE', `A ${options.scope} migration named "${name}" exists already: ${sameName.id}`, { migrationId: sameName.id });
  }
  const id = `${formatMigrationNumber(nextMigrationNumber(parsed))}_${name}`;
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const targets: [scaffold: string, file: string][] = [[`${options.scope}.sql.hbs`, `${id}.sql.hbs`]];
  if (options.down) targets.push([`${options.scope}.down.sql.hbs`, `${id}.down.sql.hbs`]);
  for (const [scaffold, file] of targets) {
    const content = await readScaffold(path.resolve(config.rootDir, config.templatesDir), scaffold);
    const target = path.join(dir, file);
    try {
      await writeFile(target, content, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new TenantMigrateError('USAGE', `${target} exists already`, { file: target });
      }
      throw err;
    }
    written.push(path.relative(config.rootDir, target).split(path.sep).join('/'));
  }
  return { id, files: written };
}

async function readScaffold(projectTemplates: string, name: string): Promise<string> {
  for (const dir of [projectTemplates, SHIPPED_TEMPLATES]) {
    try {
      return await readFile(path.join(dir, 'scaffolds', name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return '';
}
