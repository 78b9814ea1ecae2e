/**
 * `plan --format sql`: the exact SQL `up` would run, per target. One script per target (master or
 * a tenant schema), each migration preceded by a comment naming it. Pure.
 */
import type { PlannedScript } from './plan-scripts.js';

export function scriptToSql(script: PlannedScript): string {
  const head = script.workspaceId
    ? `-- tenant-migrate plan: tenant ${script.target} (workspace ${script.workspaceId})`
    : `-- tenant-migrate plan: ${script.target}`;
  const parts = [head];
  if (script.migrations.length === 0) parts.push('-- nothing pending');
  for (const m of script.migrations) {
    parts.push('', `-- ${m.id} (${m.file})`);
    parts.push(m.sql !== undefined ? m.sql.trimEnd() : `-- RENDER ERROR: ${m.error}`);
  }
  return `${parts.join('\n')}\n`;
}

/** File name of a script in the `--out` folder: `master.sql`, `<schema>.sql`. */
export function scriptFileName(script: PlannedScript): string {
  return `${script.target}.sql`;
}
