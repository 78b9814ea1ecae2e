/**
 * Dialect-neutral helpers for the expression normalizers in the dialect folders. Normalization
 * makes catalogs of the same family comparable and readable; it is not a parser — what it does not
 * recognise stays as the server printed it (the server prints it the same way for both sides).
 */
import { SELF_SCHEMA } from './catalog-model.js';

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replace the schema's own name before a `.` (bare, `"quoted"` or `[bracketed]`) with
 * {@link SELF_SCHEMA}, so two tenants' expressions compare equal.
 */
export function replaceSchemaName(expression: string, schema: string): string {
  const name = escapeRegExp(schema);
  return expression.replace(new RegExp(`(?<![\\w$#@])(?:"${name}"|\\[${name}\\]|${name})\\.`, 'g'), `${SELF_SCHEMA}.`);
}

/** True when the first character opens a parenthesis that closes at the last one (outside strings). */
function wrapped(s: string): boolean {
  if (!s.startsWith('(') || !s.endsWith(')')) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (inString) {
      if (ch === "'") inString = false;
      continue;
    }
    if (ch === "'") inString = true;
    else if (ch === '(') depth++;
    else if (ch === ')') {
      depth--;
      if (depth === 0 && i < s.length - 1) return false;
    }
  }
  return depth === 0;
}

/** `((0))` → `0`, `(a OR b)` → `a OR b`; inner parentheses stay. */
export function stripOuterParens(expression: string): string {
  let s = expression.trim();
  while (wrapped(s)) s = s.slice(1, -1).trim();
  return s;
}
