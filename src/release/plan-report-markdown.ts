/**
 * The release manager's report: Markdown fit to paste into a pull request. A heading and the
 * summary table come first (what a reviewer reads); the long lists are folded in `<details>`.
 * Pure: ReleasePlan in, string out.
 */
import type { PendingMigration, PlanProblem, ReleasePlan } from './plan.js';

/** Schemas listed per group/problem before "… and N more" (the JSON report has them all). */
const LIST_LIMIT = 50;

export function planToMarkdown(plan: ReleasePlan): string {
  const out: string[] = [];
  const verdict = plan.clean
    ? plan.counts.warnings > 0
      ? `✅ clean, ${plan.counts.warnings} warning(s)`
      : '✅ clean'
    : `❌ ${plan.counts.errors} error(s)${plan.counts.warnings ? `, ${plan.counts.warnings} warning(s)` : ''}`;
  out.push(`## tenant-migrate plan: ${verdict}`, '');
  const t = plan.tenants;
  out.push(
    '| | |',
    '|---|---|',
    `| Database | ${plan.dialect}, master schema \`${plan.masterSchema}\` |`,
    `| Master migrations pending | ${plan.master.pending.length ? plan.master.pending.map((p) => `\`${p.id}\``).join(', ') : 'none'} |`,
    `| Tenants | ${t.total}: ${t.upToDate} up to date, ${t.behind} to migrate, ${t.blocked} blocked |`,
    `| Tenant migrations pending | ${plan.pending.length ? plan.pending.map((p) => `\`${p.id}\` (${p.tenants})`).join(', ') : 'none'} |`,
    `| Archived tenants skipped | ${t.archivedSkipped} |`,
    `| Invalid registry rows | ${t.invalid} |`,
    `| Problems | ${plan.counts.errors} error(s), ${plan.counts.warnings} warning(s) |`,
    `| Generated | ${plan.generatedUtc} |`,
    '',
  );

  if (plan.targets) {
    out.push('### Per target database', '', '| Target | Tenants | Up to date | To migrate | Blocked | Note |', '|---|---:|---:|---:|---:|---|');
    for (const [name, t] of Object.entries(plan.targets)) {
      out.push(`| ${name} | ${t.total} | ${t.upToDate} | ${t.behind} | ${t.blocked} | ${t.unreachable ? cell(`unreachable: ${t.unreachable}`) : ''} |`);
    }
    out.push('');
  }

  if (plan.master.pending.length + plan.pending.length > 0) {
    out.push('### Pending migrations', '', '| Migration | Scope | Tenants | Notes |', '|---|---|---:|---|');
    for (const p of plan.master.pending) out.push(`| \`${p.id}\` | master | – | ${notes(p)} |`);
    for (const p of plan.pending) out.push(`| \`${p.id}\` | tenant | ${p.tenants} | ${notes(p)} |`);
    out.push('');
  }

  if (plan.problems.length > 0) {
    out.push('### Problems', '', '| Severity | Kind | Migration | Schemas | Message |', '|---|---|---|---:|---|');
    for (const p of plan.problems) {
      out.push(`| ${p.severity} | ${p.kind} | ${p.migrationId ? `\`${p.migrationId}\`` : '–'} | ${p.schemas.length} | ${cell(p.message)} |`);
    }
    out.push('');
    out.push(details(`Schemas affected by each problem`, plan.problems.map(problemDetails).join('\n')));
  }

  if (plan.groups.length > 0) {
    const body = plan.groups
      .map((g) => `**${g.count} tenant(s)** would get ${g.pending.map((id) => `\`${id}\``).join(' → ')}\n\n${schemaList(g.schemas)}`)
      .join('\n\n');
    out.push(details(`Tenants grouped by pending migrations (${plan.groups.length} group(s))`, body));
  }
  if (plan.archived.length > 0) {
    out.push(details(`Archived tenants skipped (${plan.archived.length})`, schemaList(plan.archived.map((a) => a.schema))));
  }
  if (plan.tenants.needsBackfill > 0) {
    out.push(`${plan.tenants.needsBackfill} workspace(s) have no \`db_schema_name\` yet; \`up\` records the derived name.`, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function notes(p: PendingMigration): string {
  const n: string[] = [];
  if (p.noTransaction) n.push('no-transaction (not atomic)');
  if (p.afterTenants) n.push('after-tenants');
  n.push(p.hasDown ? 'has down' : 'no down file');
  return n.join(', ');
}

function problemDetails(p: PlanProblem): string {
  return `- **${p.kind}**${p.migrationId ? ` \`${p.migrationId}\`` : ''}: ${p.schemas.length ? schemaList(p.schemas, ' ') : '(no schema)'}`;
}

function schemaList(schemas: readonly string[], sep = '\n'): string {
  const shown = schemas.slice(0, LIST_LIMIT).map((s) => (sep === '\n' ? `- \`${s}\`` : `\`${s}\``));
  if (schemas.length > LIST_LIMIT) shown.push(`… and ${schemas.length - LIST_LIMIT} more (see \`plan --format json\`)`);
  return shown.join(sep);
}

function details(summary: string, body: string): string {
  return `<details>\n<summary>${summary}</summary>\n\n${body}\n\n</details>\n`;
}

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}
