import { SourceError } from '../errors.js';
import type { MigrationDirectives } from '../types.js';

const DIRECTIVE_LINE_RE = /^--\s*tenant-migrate\s*:(.*)$/i;

const KNOWN = {
  'no-transaction': 'noTransaction',
  'after-tenants': 'afterTenants',
} as const satisfies Record<string, keyof MigrationDirectives>;

type KnownDirective = keyof typeof KNOWN;

export interface DirectiveScan {
  readonly directives: MigrationDirectives;
  /** Problems found, each already naming the file and line. */
  readonly issues: readonly string[];
}

/**
 * Read directives without throwing: every unknown directive becomes an issue.
 * Only the leading block of `--` comment lines, Handlebars comments and blank lines counts; the
 * first other line ends it, so `-- tenant-migrate:` text further down a script is ordinary SQL comment.
 */
export function scanDirectives(source: string, file: string): DirectiveScan {
  const found: Record<keyof MigrationDirectives, boolean> = { noTransaction: false, afterTenants: false };
  const issues: string[] = [];
  const lines = source.replace(/^\uFEFF/, '').split(/\r\n?|\n/);
  let inTemplateComment = false;
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    // A leading Handlebars comment ({{!-- … --}} or {{! … }}) is a comment too: scaffolds open with one.
    if (inTemplateComment) {
      if (line.includes('--}}')) inTemplateComment = false;
      continue;
    }
    if (line.startsWith('{{!--')) {
      const end = line.indexOf('--}}', 5);
      if (end >= 0 && line.slice(end + 4).trim() !== '') break;
      inTemplateComment = end < 0;
      continue;
    }
    if (line.startsWith('{{!') && line.endsWith('}}')) continue;
    if (line === '') continue;
    if (!line.startsWith('--')) break;
    const m = DIRECTIVE_LINE_RE.exec(line);
    if (!m) continue;
    const names = (m[1] ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== '');
    if (names.length === 0) issues.push(`${file}:${index + 1}: empty tenant-migrate directive`);
    for (const name of names) {
      if (Object.hasOwn(KNOWN, name)) found[KNOWN[name as KnownDirective]] = true;
      else
        issues.push(
          `${file}:${index + 1}: unknown directive "${name}" (known: ${Object.keys(KNOWN).join(', ')})`,
        );
    }
  }
  return { directives: found, issues };
}

/**
 * Parse the leading `-- tenant-migrate: …` comment lines of a migration. Several directives may
 * share a line, comma-separated.
 *
 * @throws SourceError naming the file and line of an unknown directive.
 * @example
 * parseDirectives('-- tenant-migrate: no-transaction\nCREATE INDEX CONCURRENTLY …', 'x.sql')
 * // → { noTransaction: true, afterTenants: false }
 */
export function parseDirectives(source: string, file: string): MigrationDirectives {
  const { directives, issues } = scanDirectives(source, file);
  if (issues.length > 0) throw new SourceError(issues, { file });
  return directives;
}
