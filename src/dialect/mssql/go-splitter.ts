import type { ScriptBatch } from '../dialect-syntax.js';

/**
 * Split a T-SQL script on `GO` separator lines.
 * TEMPORARY minimal version (line-based only); the full lexer-aware splitter (strings, [identifiers],
 * comments, GO n) replaces it in the SQL Server dialect work (issue 4).
 */
export function splitGoBatches(sql: string): ScriptBatch[] {
  const lines = sql.replace(/\r\n/g, '\n').split('\n');
  const batches: ScriptBatch[] = [];
  let current: string[] = [];
  let start = 1;
  lines.forEach((line, i) => {
    const m = /^\s*go(?:\s+(\d+))?\s*$/i.exec(line);
    if (m) {
      const text = current.join('\n');
      if (text.trim()) batches.push({ sql: text, startLine: start, repeat: m[1] ? Number(m[1]) : 1 });
      current = [];
      start = i + 2;
    } else {
      current.push(line);
    }
  });
  const text = current.join('\n');
  if (text.trim()) batches.push({ sql: text, startLine: start, repeat: 1 });
  return batches;
}
