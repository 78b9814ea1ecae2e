import { createHash } from 'node:crypto';

/**
 * sha256 hex of a migration source with CRLF (and lone CR) normalised to LF, so a checkout on
 * Windows with `core.autocrlf` does not look like an edited migration.
 *
 * @example checksumOf('SELECT 1;\r\n') === checksumOf('SELECT 1;\n') // true
 */
export function checksumOf(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n?/g, '\n'), 'utf8').digest('hex');
}
