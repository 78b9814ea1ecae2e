/** Plain-text plan for a terminal. Pure. */
import type { ReleasePlan } from './plan.js';

export function planToText(plan: ReleasePlan): string {
  const t = plan.tenants;
  const lines = [
    `plan (${plan.dialect}): ${plan.clean ? 'clean' : `${plan.counts.errors} error(s)`}, ${plan.counts.warnings} warning(s); nothing was changed`,
    `master: ${plan.master.pending.length ? `pending ${plan.master.pending.map((p) => p.id).join(', ')}` : 'nothing pending'}`,
    `tenants: ${t.total} total, ${t.upToDate} up to date, ${t.behind} to migrate, ${t.blocked} blocked, ${t.archivedSkipped} archived skipped, ${t.invalid} invalid`,
  ];
  for (const [name, x] of Object.entries(plan.targets ?? {})) {
    lines.push(`  target ${name}: ${x.unreachable ? `UNREACHABLE (${x.unreachable}), ` : ''}${x.total} total, ${x.upToDate} up to date, ${x.behind} to migrate, ${x.blocked} blocked`);
  }
  for (const p of plan.pending) lines.push(`  ${p.id}: ${p.tenants} tenant(s)${p.noTransaction ? ' [no-transaction]' : ''}`);
  if (plan.groups.length > 1) {
    lines.push('groups:');
    for (const g of plan.groups) lines.push(`  ${g.count} tenant(s): ${g.pending.join(' → ')}`);
  }
  for (const p of plan.problems) {
    const schemas = p.schemas.length > 3 ? `${p.schemas.slice(0, 3).join(', ')} … (+${p.schemas.length - 3})` : p.schemas.join(', ');
    lines.push(`${p.severity}: [${p.kind}] ${p.message}${schemas ? ` — ${schemas}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
