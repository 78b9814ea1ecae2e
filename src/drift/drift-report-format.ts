/**
 * Renderers of a {@link DriftReport}: text for a terminal, Markdown for a pull request or an
 * incident ticket, JSON for machines. Pure functions; the CLI prints what they return.
 */
import { type Difference, describeDifference } from '../catalog/catalog-diff.js';
import type { DriftGroup, DriftReport, DriftTargetSummary } from './drift-report.js';

export type DriftFormat = 'text' | 'json' | 'markdown';

const shortPrint = (fp: string): string => fp.slice(0, 12);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function sampleText(g: DriftGroup): string {
  const more = g.tenantCount - g.sampleTenants.length;
  return `${g.sampleTenants.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

function headline(r: DriftReport): string {
  const groups = r.groups.filter((g) => g.state === 'drifted').length;
  return r.driftedTenants === 0
    ? `No drift: ${plural(r.tenants, 'tenant')} match the schema their migrations make (${plural(r.groups.length, 'fingerprint')}).`
    : `Drift: ${r.driftedTenants} of ${plural(r.tenants, 'tenant')} differ from the schema their migrations make (${plural(groups, 'distinct drifted schema')}).`;
}

/** Lines about grants (only with `access` configured). */
function grantLines(r: DriftReport, bullet: string): string[] {
  const g = r.grants;
  if (!g) return [];
  if (g.unavailable) return [`Grants: not compared (${g.unavailable}).`];
  if (g.driftedTenants === 0) return [`Grants: ${plural(g.checkedTenants, 'tenant')} hold exactly the configured grants.`];
  const lines = [`Grants: ${g.driftedTenants} of ${plural(g.checkedTenants, 'tenant')} differ from the configured roles (docs/security.md; \`tenant-migrate grants\` adds what is missing).`];
  for (const t of g.tenants) {
    lines.push(`${bullet}${t.schema}`);
    for (const m of t.missing) lines.push(`    - missing: ${m}`);
    for (const e of t.extra) lines.push(`    - extra: ${e}`);
  }
  if (g.driftedTenants > g.tenants.length) lines.push(`${bullet}… and ${g.driftedTenants - g.tenants.length} more`);
  return lines;
}

/** The non-ok groups: header line (tenants, version, fingerprint, sample), note, differences. */
function groupLines(groups: readonly DriftGroup[], indent: string): string[] {
  const lines: string[] = [];
  for (const g of groups) {
    if (g.state === 'ok') continue;
    lines.push('');
    const at = g.version ?? 'no migrations';
    if (g.state === 'unknown-version') {
      lines.push(`${indent}${plural(g.tenantCount, 'tenant')} at ${at} (not in the migration files, not compared): ${sampleText(g)}`);
      continue;
    }
    lines.push(`${indent}${plural(g.tenantCount, 'tenant')} at ${at}, fingerprint ${shortPrint(g.fingerprint)}: ${sampleText(g)}`);
    if (g.note) lines.push(`${indent}  note: ${g.note}`);
    for (const d of g.differences) lines.push(`${indent}  - ${describeDifference(d)}`);
  }
  return lines;
}

/** One line per target database: how many of its tenants differ. */
function targetLine(name: string, t: DriftTargetSummary): string {
  const state = t.driftedTenants === 0 ? `no drift in ${plural(t.tenants, 'tenant')}` : `${t.driftedTenants} of ${plural(t.tenants, 'tenant')} differ`;
  return `target ${name}: ${state}${t.busyTenants > 0 ? `, ${t.busyTenants} not compared` : ''}`;
}

export function formatDriftText(r: DriftReport): string {
  const lines = [headline(r)];
  if (r.targets) {
    // Each tenant was compared in its own database: the groups under the database they live in.
    for (const [name, t] of Object.entries(r.targets)) {
      lines.push('', targetLine(name, t), ...groupLines(r.groups.filter((g) => g.target === name), '  '));
    }
  } else lines.push(...groupLines(r.groups, ''));
  const ok = r.groups.filter((g) => g.state === 'ok');
  if (ok.length > 0 && r.driftedTenants > 0) {
    lines.push('', `In line: ${ok.map((g) => `${plural(g.tenantCount, 'tenant')} at ${g.version ?? 'no migrations'}${g.target ? ` on ${g.target}` : ''}`).join(', ')}.`);
  }
  if (r.busyTenants.length > 0) {
    lines.push('', `Not compared (a migration held their catalog; run drift again): ${r.busyTenants.slice(0, 10).join(', ')}${r.busyTenants.length > 10 ? ` and ${r.busyTenants.length - 10} more` : ''}`);
  }
  if (r.grants) lines.push('', ...grantLines(r, '  '));
  const where = r.expectedFrom === 'offline-pglite' ? 'an offline PGlite replay' : `a scratch-schema replay on ${r.targets ? 'each database' : 'the server'}`;
  lines.push('', `Expected schemas from ${where} of ${plural(r.versions.length, 'version')}; ${(r.durationMs / 1000).toFixed(1)} s.`);
  return lines.join('\n');
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string | undefined): string => (s === undefined ? '' : `\`${mdCell(s).replace(/`/g, "'")}\``);

function mdObject(d: Difference): string {
  if (d.kind === 'table') return code(d.table);
  if (d.kind === 'column') return code(`${d.table}.${d.name}`);
  return `${d.kind} ${d.name ? `${code(d.name)} ` : ''}on ${code(d.table)}`;
}

function mdChange(d: Difference): string {
  switch (d.change) {
    case 'missing':
      return 'missing';
    case 'extra':
      return 'extra';
    case 'changed':
      return `${d.property} changed`;
  }
}

export function formatDriftMarkdown(r: DriftReport): string {
  const lines = [`### Schema drift`, '', headline(r), ''];
  if (r.targets) {
    lines.push('| Target | Tenants | Drifted | Not compared |', '|---|---:|---:|---:|');
    for (const [name, t] of Object.entries(r.targets)) lines.push(`| ${code(name)} | ${t.tenants} | ${t.driftedTenants} | ${t.busyTenants} |`);
    lines.push('');
  }
  const targetCell = (g: DriftGroup) => (r.targets ? ` ${code(g.target ?? '')} |` : '');
  lines.push(`|${r.targets ? ' Target |' : ''} Version | Tenants | Fingerprint | State | Sample |`, `|${r.targets ? '---|' : ''}---|---:|---|---|---|`);
  for (const g of r.groups) {
    lines.push(`|${targetCell(g)} ${code(g.version ?? '—')} | ${g.tenantCount} | ${code(shortPrint(g.fingerprint))} | ${g.state} | ${mdCell(sampleText(g))} |`);
  }
  if (r.busyTenants.length > 0) lines.push('', `Not compared (a migration held their catalog): ${r.busyTenants.length} tenant(s).`);
  for (const g of r.groups) {
    if (g.state !== 'drifted') continue;
    const on = g.target ? ` on target ${code(g.target)}` : '';
    lines.push('', `#### ${plural(g.tenantCount, 'tenant')} at ${code(g.version ?? 'no migrations')}${on} — fingerprint ${code(shortPrint(g.fingerprint))}`, '');
    lines.push(`Tenants: ${mdCell(sampleText(g))}`, '');
    if (g.note) lines.push(`> ${g.note}`, '');
    lines.push('| Object | Change | Expected | Actual |', '|---|---|---|---|');
    for (const d of g.differences) lines.push(`| ${mdObject(d)} | ${mdChange(d)} | ${code(d.expected)} | ${code(d.actual)} |`);
  }
  if (r.grants) lines.push('', '#### Grants', '', ...grantLines(r, '- '));
  return lines.join('\n');
}

/** The JSON contract: the report as is, with `drift: boolean` first. */
export function driftJson(r: DriftReport) {
  return { drift: r.driftedTenants > 0 || (r.grants?.driftedTenants ?? 0) > 0, ...r };
}

export function formatDrift(r: DriftReport, format: DriftFormat): string {
  if (format === 'json') return JSON.stringify(driftJson(r), null, 2);
  return format === 'markdown' ? formatDriftMarkdown(r) : formatDriftText(r);
}
