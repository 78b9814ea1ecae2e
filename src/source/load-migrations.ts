import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SourceError } from '../errors.js';
import type { MigrationDirectives, MigrationFile, MigrationScope } from '../types.js';
import { checksumOf } from './checksum.js';
import { scanDirectives } from './directives.js';
import { looksLikeMigration, parseMigrationFileName, type ParsedFileName } from './migration-id.js';

export interface LoadMigrationsOptions {
  /** Project root; `path` of each file is relative to it. */
  readonly rootDir: string;
  /** The migration folder, absolute or relative to `rootDir`. */
  readonly dir: string;
  readonly scope: MigrationScope;
}

interface ReadFile {
  readonly fileName: string;
  readonly path: string;
  readonly absolutePath: string;
  readonly parsed: ParsedFileName;
  readonly source: string;
  readonly checksum: string;
  readonly directives: MigrationDirectives;
}

/**
 * Read a migration folder: `NNNN_snake_name.sql` / `.sql.hbs` with an optional sibling
 * `NNNN_snake_name.down.sql[.hbs]`, sorted by number. A missing folder is an empty list.
 * README files, dotfiles and anything not ending in `.sql`/`.hbs` are ignored.
 *
 * Every problem is collected first (malformed names, duplicate numbers or ids, a down file without
 * its up, unknown directives, `after-tenants` on a tenant migration), then thrown as one
 * `SourceError` whose `issues` each name the files involved.
 *
 * @example
 * await loadMigrations({ rootDir: process.cwd(), dir: 'tenant-migrations', scope: 'tenant' })
 */
export async function loadMigrations(opts: LoadMigrationsOptions): Promise<MigrationFile[]> {
  const rootDir = path.resolve(opts.rootDir);
  const dirAbs = path.resolve(rootDir, opts.dir);
  const rel = (abs: string): string => path.relative(rootDir, abs).split(path.sep).join('/');

  let entries: string[];
  try {
    entries = (await readdir(dirAbs, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SourceError([`${rel(dirAbs)}: cannot read folder (${(err as Error).message})`], { file: rel(dirAbs) });
  }
  entries.sort();

  const issues: string[] = [];
  const ups = new Map<string, ReadFile>();
  const downs = new Map<string, ReadFile>();
  const byNumber = new Map<number, ReadFile>();

  for (const fileName of entries) {
    if (!looksLikeMigration(fileName)) continue;
    const absolutePath = path.join(dirAbs, fileName);
    const filePath = rel(absolutePath);
    const parsed = parseMigrationFileName(fileName);
    if (!parsed) {
      issues.push(
        `${filePath}: malformed migration file name (expected NNNN_snake_name.sql, .sql.hbs, or .down.sql[.hbs]; id rule ^\\d{4,}_[a-z0-9]+(?:_[a-z0-9]+)*$)`,
      );
      continue;
    }
    let source: string;
    try {
      source = await readFile(absolutePath, 'utf8');
    } catch (err) {
      issues.push(`${filePath}: cannot read (${(err as Error).message})`);
      continue;
    }
    const scan = scanDirectives(source, filePath);
    issues.push(...scan.issues);
    if (scan.directives.afterTenants && opts.scope === 'tenant') {
      issues.push(`${filePath}: "after-tenants" is only valid on a master migration`);
    }
    const file: ReadFile = {
      fileName,
      path: filePath,
      absolutePath,
      parsed,
      source,
      checksum: checksumOf(source),
      directives: scan.directives,
    };

    const sameId = (parsed.isDown ? downs : ups).get(parsed.id);
    if (sameId) {
      issues.push(`duplicate ${parsed.isDown ? 'down ' : ''}migration id ${parsed.id}: ${sameId.path} and ${filePath}`);
      continue;
    }
    (parsed.isDown ? downs : ups).set(parsed.id, file);
    if (!parsed.isDown) {
      const sameNumber = byNumber.get(parsed.number);
      if (sameNumber) {
        issues.push(`duplicate migration number ${parsed.number}: ${sameNumber.path} and ${filePath}`);
      } else {
        byNumber.set(parsed.number, file);
      }
    }
  }

  for (const [id, down] of downs) {
    if (!ups.has(id)) issues.push(`${down.path}: down migration without its up migration ${id}`);
  }

  if (issues.length > 0) throw new SourceError(issues, { file: rel(dirAbs) });

  return [...ups.values()]
    .sort((a, b) => a.parsed.number - b.parsed.number || a.parsed.id.localeCompare(b.parsed.id))
    .map((up): MigrationFile => {
      const down = downs.get(up.parsed.id);
      return {
        id: up.parsed.id,
        number: up.parsed.number,
        name: up.parsed.name,
        scope: opts.scope,
        path: up.path,
        absolutePath: up.absolutePath,
        source: up.source,
        isTemplate: up.parsed.isTemplate,
        checksum: up.checksum,
        directives: up.directives,
        ...(down && {
          down: {
            path: down.path,
            absolutePath: down.absolutePath,
            source: down.source,
            isTemplate: down.parsed.isTemplate,
            checksum: down.checksum,
            directives: down.directives,
          },
        }),
      };
    });
}
