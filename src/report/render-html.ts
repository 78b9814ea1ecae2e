/**
 * {@link ReportData} → one self-contained HTML file. The sections are plain HTML written here (they
 * read and print without the script); the bundled browser script adds the charts, the search and
 * the tenant details from the JSON embedded in the page. Nothing is loaded from anywhere: the
 * Content-Security-Policy forbids every request, so a stray URL fails loudly instead of leaking.
 */
import type { FailureGroup, PlannedMigration, ReportData, RunSummary } from './report-data.js';
import type { ReportAssets } from './report-assets.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);

const fmt = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${fmt(n)} ${n === 1 ? one : many}`;

/** Milliseconds as a person reads them. */
export function duration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Per render: the target of the tenants the lists name, shown when the fleet spans several databases. */
let targetOf: (schema: string) => string | undefined = () => undefined;

const tenantLink = (schema: string, label = schema) => {
  const target = targetOf(schema);
  return `<a class="tenant" href="#tenant/${esc(schema)}">${esc(label)}</a>${target ? ` <span class="muted">(${esc(target)})</span>` : ''}`;
};

/** JSON inside a <script> element: `<` escaped so no `</script>` or `<!--` can end it early. */
export function scriptJson(value: unknown): string {
  const escapes: Record<string, string> = { '<': '\\u003c', '\u2028': '\\u2028', '\u2029': '\\u2029' };
  return JSON.stringify(value).replace(/[<\u2028\u2029]/g, (c) => escapes[c]!);
}

function table(caption: string, head: readonly string[], rows: readonly (readonly string[])[], options: { numeric?: readonly number[]; className?: string } = {}): string {
  const num = new Set(options.numeric ?? []);
  const cell = (tag: 'th' | 'td', v: string, i: number) => `<${tag}${num.has(i) ? ' class="num"' : ''}${tag === 'th' ? ' scope="col"' : ''}>${v}</${tag}>`;
  return `<table${options.className ? ` class="${options.className}"` : ''}><caption>${esc(caption)}</caption><thead><tr>${head.map((h, i) => cell('th', esc(h), i)).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v, i) => cell('td', v, i)).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function stat(label: string, value: number, tone = ''): string {
  return `<div class="stat${tone ? ` ${tone}` : ''}"><span class="value">${fmt(value)}</span><span class="label">${esc(label)}</span></div>`;
}

function header(d: ReportData): string {
  const generated = d.generatedUtc.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const nav = [
    ['fleet', 'Fleet'],
    ['runs', 'Runs'],
    ['drift', 'Drift'],
    ['deploy', 'Next deploy'],
    ['tenants', 'Tenants'],
  ];
  return `<header class="top"><div><h1>Fleet report</h1><p class="meta">${esc(d.dialect)} · master schema <code>${esc(d.masterSchema)}</code> · ${plural(d.tenants.total, 'tenant')} · generated ${esc(generated)}</p></div>
<nav aria-label="Sections"><ul>${nav.map(([id, label]) => `<li><a href="#${id}">${label}</a></li>`).join('')}</ul></nav></header>`;
}

function fleetSection(d: ReportData): string {
  const f = d.fleet;
  const latest = d.migrations.at(-1) ?? null;
  const stats = [
    stat('tenants (Active)', f.active),
    stat(`up to date${latest ? ` (at ${latest})` : ''}`, f.upToDate, 'ok'),
    stat('behind', f.behind, f.behind > 0 ? 'warn' : ''),
    stat('of them failed in the last run', f.failed, f.failed > 0 ? 'bad' : ''),
    stat('blocked (applied file changed)', f.blocked, f.blocked > 0 ? 'bad' : ''),
    stat('invalid registry rows', f.invalid, f.invalid > 0 ? 'bad' : ''),
    stat('archived', f.archived),
  ].join('');
  const { versions, targets, counts } = f.byVersion;
  const shown = versions.map((_, i) => i).filter((i) => counts.some((c) => (c[i] ?? 0) > 0) || versions[i] === latest);
  const multi = targets.length > 1;
  const chartRows = shown.map((i) => [esc(versions[i]), ...(multi ? targets.map((_, t) => fmt(counts[t]![i]!)) : []), fmt(counts.reduce((n, c) => n + c[i]!, 0))]);
  const aria = `Active tenants per applied version${multi ? ', stacked per target database' : ''}: ${shown
    .map((i) => `${versions[i]} ${fmt(counts.reduce((n, c) => n + c[i]!, 0))}${multi ? ` (${targets.map((t, ti) => `${t} ${counts[ti]![i]}`).join(', ')})` : ''}`)
    .join('; ')}.`;
  const targetTable = table(
    'Per target database',
    ['Target', 'Active', 'Up to date', 'Behind', 'Failed last run', 'Blocked', 'Invalid', 'Archived', 'Reachable'],
    f.targets.map((t) => [
      `<code>${esc(t.name)}</code>`,
      fmt(t.total),
      fmt(t.upToDate),
      fmt(t.behind),
      fmt(t.failed),
      fmt(t.blocked),
      fmt(t.invalid),
      fmt(t.archived),
      t.unreachable ? `<span class="bad">no: ${esc(t.unreachable)}</span>` : 'yes',
    ]),
    { numeric: [1, 2, 3, 4, 5, 6, 7] },
  );
  const m = f.master;
  const masterLines = [
    `<li>${plural(m.applied.length, 'migration')} applied${m.applied.length ? `, the last <code>${esc(m.applied.at(-1))}</code>` : ''}</li>`,
    `<li>${m.pending.length ? `pending: ${m.pending.map((p) => `<code>${esc(p)}</code>`).join(', ')}` : 'nothing pending'}</li>`,
    m.changed.length ? `<li class="bad">changed since applied (up refuses until reverted or repaired): ${m.changed.map((p) => `<code>${esc(p)}</code>`).join(', ')}</li>` : '',
    m.waiting.length
      ? `<li class="warn">waiting for tenants (after-tenants): ${m.waiting.map((p) => `<code>${esc(p)}</code>`).join(', ')} — ${m.waitingFor > 0 ? `${plural(m.waitingFor, 'tenant')} not at the last tenant migration yet` : 'ready: the next <code>up</code> applies it'}</li>`
      : '',
  ].join('');
  const invalid = f.invalidRows.length
    ? `<h3>Invalid registry rows</h3><p>Never migrated until fixed${f.invalid > f.invalidRows.length ? `; the first ${fmt(f.invalidRows.length)} of ${fmt(f.invalid)}` : ''}.</p><ul class="list">${f.invalidRows
        .map((r) => `<li><code>${esc(r.workspaceId)}</code>: ${esc(r.reason)}</li>`)
        .join('')}</ul>`
    : '';
  const blocked = f.blockedTenants.length
    ? `<h3>Blocked: refused by <code>up</code></h3><p>Applied migrations whose files changed since (checksum mismatch); revert the file, or <code>tenant-migrate repair</code> if the change is cosmetic${f.blocked > f.blockedTenants.length ? `; the first ${fmt(f.blockedTenants.length)} of ${fmt(f.blocked)}` : ''}.</p><ul class="list">${f.blockedTenants
        .map((b) => `<li>${tenantLink(b.schema)}: ${b.migrations.map((x) => `<code>${esc(x)}</code>`).join(', ')}</li>`)
        .join('')}</ul>`
    : '';
  return `<section id="fleet" aria-labelledby="fleet-h"><h2 id="fleet-h">Fleet</h2>
<div class="stats">${stats}</div>
<figure class="chart"><div class="canvas-box"><canvas id="chart-fleet" role="img" aria-label="${esc(aria)}"></canvas></div>
<figcaption>Active tenants per applied version${multi ? ', stacked per target database' : ''} (the last migration is <code>${esc(latest ?? 'none')}</code>)</figcaption></figure>
<details class="data"><summary>Chart data as a table</summary>${table('Active tenants per applied version', ['Version', ...(multi ? targets : []), 'Total'], chartRows, {
    numeric: Array.from({ length: (multi ? targets.length : 0) + 1 }, (_, i) => i + 1),
  })}</details>
${targetTable}
<h3>Master schema <code>${esc(m.schema)}</code></h3><ul class="list">${masterLines}</ul>
${blocked}${invalid}</section>`;
}

function failureGroups(groups: readonly FailureGroup[]): string {
  if (groups.length === 0) return '<p class="ok">No tenant failed in this run.</p>';
  return groups
    .map((g) => {
      const where = [g.migrationId ? `migration <code>${esc(g.migrationId)}</code>` : '', g.file ? `<code class="where">${esc(g.file)}${g.line !== undefined ? `:${g.line}` : ''}</code>` : '']
        .filter(Boolean)
        .join(' at ');
      const more = g.count > g.tenants.length ? `<li>… and ${fmt(g.count - g.tenants.length)} more</li>` : '';
      return `<article class="failure"><h4><span class="code">${esc(g.code)}</span> ${plural(g.count, 'tenant')}</h4>
<p class="message">${esc(g.message)}</p>${where ? `<p>${where}</p>` : ''}
<ul class="tenants">${g.tenants.map((t) => `<li>${tenantLink(t.schema)}</li>`).join('')}${more}</ul></article>`;
    })
    .join('');
}

function runDetails(r: RunSummary, i: number): string {
  const c = r.counts;
  const opts = Object.entries(r.options)
    .filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object')
    .map(([k, v]) => `${esc(k)}=${esc(v)}`)
    .join(', ');
  const hist = r.histogram;
  const histLabels = hist.counts.map((_, b) => `${duration(hist.edges[b]!)}–${duration(hist.edges[b + 1]!)}`);
  const histAria = `Tenants per duration bucket: ${histLabels.map((l, b) => `${l}: ${hist.counts[b]}`).join('; ')}.`;
  const tp = r.throughput;
  const tpAria = tp.seconds.length
    ? `Tenants finished over time: after ${tp.seconds.at(-1)} s, ${fmt(tp.succeeded.at(-1)!)} succeeded and ${fmt(tp.failed.at(-1)!)} failed; half of them by ${tp.seconds[tp.succeeded.findIndex((v, k) => v + tp.failed[k]! >= (tp.succeeded.at(-1)! + tp.failed.at(-1)!) / 2)]} s.`
    : 'No tenant finished in this run.';
  const charts = tp.seconds.length
    ? `<div class="pair"><figure class="chart"><div class="canvas-box"><canvas id="chart-throughput-${i}" role="img" aria-label="${esc(tpAria)}"></canvas></div><figcaption>Tenants done and failed over time (cumulative)</figcaption></figure>
<figure class="chart"><div class="canvas-box"><canvas id="chart-durations-${i}" role="img" aria-label="${esc(histAria)}"></canvas></div><figcaption>Per-tenant duration distribution</figcaption></figure></div>
<details class="data"><summary>Chart data as tables</summary>${table('Tenants finished by time since the first start', ['Seconds', 'Succeeded', 'Failed'], tp.seconds.map((s, k) => [String(s), fmt(tp.succeeded[k]!), fmt(tp.failed[k]!)]), { numeric: [0, 1, 2] })}
${table('Per-tenant durations', ['Duration', 'Tenants'], histLabels.map((l, b) => [esc(l), fmt(hist.counts[b]!)]), { numeric: [1] })}</details>`
    : '';
  const d = r.durations;
  return `<details class="run" ${i === 0 ? 'open' : ''} id="run-${esc(r.runId)}"><summary><span class="badge ${esc(r.status)}">${esc(r.status)}</span> run <code>${esc(r.runId)}</code> · ${esc(r.startedUtc.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} · ${duration(r.durationMs)} · ${fmt(c.succeeded)} succeeded, ${fmt(c.failed)} failed${c.skipped ? `, ${fmt(c.skipped)} skipped` : ''}</summary>
<p class="meta">to <code>${esc(r.target)}</code>, started by ${esc(r.startedBy)}${opts ? ` · ${opts}` : ''} · ${plural(r.workers.length, 'worker')}, ${plural(r.waves.length, 'wave')}</p>
${charts}
<div class="pair">${table('Per-tenant duration', ['Tenants', 'p50', 'p95', 'p99', 'max', 'mean'], [[fmt(d.n), duration(d.p50), duration(d.p95), duration(d.p99), duration(d.max), duration(d.mean)]], { numeric: [0, 1, 2, 3, 4, 5] })}
${table('Slowest tenants', ['Tenant', 'Duration', 'Outcome'], r.slowest.map((s) => [tenantLink(s.schema), duration(s.durationMs), esc(s.status)]), { numeric: [1] })}</div>
<div class="pair">${table('Waves', ['Wave', 'Tenants', 'Succeeded', 'Failed'], r.waves.map((w) => [String(w.wave), fmt(w.total), fmt(w.succeeded), fmt(w.failed)]), { numeric: [0, 1, 2, 3] })}
${table('Workers', ['Worker', 'Tenants'], r.workers.slice(0, 20).map((w) => [esc(w.worker), fmt(w.tenants)]), { numeric: [1] })}</div>
<h3>Failures${r.failures.length ? `: ${plural(r.failures.length, 'group')}` : ''}</h3>${failureGroups(r.failures)}</details>`;
}

function runsSection(d: ReportData): string {
  const runs = d.runs.runs;
  if (runs.length === 0) return `<section id="runs" aria-labelledby="runs-h"><h2 id="runs-h">Runs</h2><p>No run in the ledger yet: <code>tenant-migrate up</code> records one.</p></section>`;
  const overviewAria = `Tenants per run, oldest first: ${[...runs]
    .reverse()
    .map((r) => `${r.runId}: ${r.counts.succeeded} succeeded, ${r.counts.failed} failed, ${r.counts.skipped} skipped`)
    .join('; ')}.`;
  return `<section id="runs" aria-labelledby="runs-h"><h2 id="runs-h">Runs</h2><p>The newest ${plural(runs.length, 'run')} of the ledger (asked for ${d.runs.requested}).</p>
${runs.length > 1 ? `<figure class="chart"><div class="canvas-box short"><canvas id="chart-runs" role="img" aria-label="${esc(overviewAria)}"></canvas></div><figcaption>Tenants per run, oldest first</figcaption></figure>` : ''}
${table(
  'Runs, newest first',
  ['Run', 'Status', 'Started (UTC)', 'Duration', 'Tenants', 'Succeeded', 'Failed', 'Skipped'],
  runs.map((r) => [
    `<a href="#run-${esc(r.runId)}"><code>${esc(r.runId)}</code></a>`,
    `<span class="badge ${esc(r.status)}">${esc(r.status)}</span>`,
    esc(r.startedUtc.replace('T', ' ').replace(/\.\d+Z$/, '')),
    duration(r.durationMs),
    fmt(r.counts.total),
    fmt(r.counts.succeeded),
    fmt(r.counts.failed),
    fmt(r.counts.skipped),
  ]),
  { numeric: [3, 4, 5, 6, 7] },
)}
${runs.map(runDetails).join('\n')}</section>`;
}

function driftSection(d: ReportData): string {
  const head = '<section id="drift" aria-labelledby="drift-h"><h2 id="drift-h">Drift</h2>';
  if (!d.drift) return `${head}<p class="muted">Not collected: run <code>tenant-migrate report --drift</code> to compare every tenant schema with what its migrations make.</p></section>`;
  const r = d.drift;
  const groups = r.groups
    .map((g) => {
      const more = g.tenantCount > g.sampleTenants.length ? `<li>… and ${fmt(g.tenantCount - g.sampleTenants.length)} more</li>` : '';
      const diffs = g.differences.length ? `<ul class="diffs">${g.differences.map((x) => `<li><code>${esc(x)}</code></li>`).join('')}</ul>` : '';
      return `<article class="drift ${esc(g.state)}"><h3><span class="badge ${g.state === 'drifted' ? 'failed' : g.state === 'ok' ? 'succeeded' : 'interrupted'}">${esc(g.state)}</span> ${plural(g.tenantCount, 'tenant')} at <code>${esc(g.version ?? 'no migration')}</code>${g.target ? ` on <code>${esc(g.target)}</code>` : ''}</h3>
${g.note ? `<p>${esc(g.note)}</p>` : ''}${diffs}${g.state === 'ok' ? '' : `<ul class="tenants">${g.sampleTenants.map((s) => `<li>${tenantLink(s)}</li>`).join('')}${more}</ul>`}</article>`;
    })
    .join('');
  return `${head}<div class="stats">${stat('tenants compared', r.tenants)}${stat('drifted', r.driftedTenants, r.driftedTenants ? 'bad' : 'ok')}${stat('not compared (busy)', r.busyTenants, r.busyTenants ? 'warn' : '')}</div>
<p>Tenants sharing an applied version and a schema fingerprint form a group; each group is compared once with the schema its migrations make (${esc(r.expectedFrom === 'scratch-schema' ? 'built in a scratch schema on the same server' : 'built offline in PGlite')}).</p>${groups}</section>`;
}

function plannedMigration(p: PlannedMigration, scope: string): string {
  const flags = [p.noTransaction ? '<span class="badge interrupted">no transaction</span>' : '', p.afterTenants ? '<span class="badge interrupted">after tenants</span>' : ''].join(' ');
  const lint = p.lint.length
    ? `<ul class="list">${p.lint.map((l) => `<li class="${l.severity === 'error' ? 'bad' : 'warn'}">${esc(l.severity)} <code>${esc(l.rule)}</code> at <code>${esc(p.file)}:${l.line}</code>: ${esc(l.message)}</li>`).join('')}</ul>`
    : '<p class="muted">No lint finding.</p>';
  const sql = p.sql
    .map((s) => `<details class="sql"><summary>Rendered SQL for ${esc(s.dialect === 'mssql' ? 'SQL Server' : 'PostgreSQL / PGlite')}${scope === 'tenant' ? ' (a sample tenant)' : ''}</summary>${s.error ? `<p class="bad">${esc(s.error)}</p>` : `<pre><code>${esc(s.text)}</code></pre>`}</details>`)
    .join('');
  const who = p.sampleTenants.length
    ? `<ul class="tenants">${p.sampleTenants.map((s) => `<li>${tenantLink(s)}</li>`).join('')}${p.tenants > p.sampleTenants.length ? `<li>… and ${fmt(p.tenants - p.sampleTenants.length)} more</li>` : ''}</ul>`
    : '';
  return `<article class="planned"><h4><code>${esc(p.id)}</code> ${scope === 'tenant' ? `→ ${plural(p.tenants, 'tenant')}` : '(master)'} ${flags}</h4><p class="muted"><code>${esc(p.file)}</code></p>${who}${lint}${sql}</article>`;
}

function deploySection(d: ReportData): string {
  const head = '<section id="deploy" aria-labelledby="deploy-h"><h2 id="deploy-h">Next deploy</h2>';
  if (!d.plan) return `${head}<p class="muted">Not collected: run <code>tenant-migrate report --plan</code> to include what the next <code>up</code> would do.</p></section>`;
  const p = d.plan;
  const problems = p.problems.length
    ? `<h3>Problems found in advance</h3><ul class="list">${p.problems
        .map((x) => `<li class="${x.severity === 'error' ? 'bad' : 'warn'}">${esc(x.severity)}: ${esc(x.message)}${x.count ? ` (${plural(x.count, 'schema')}: ${x.sample.map((s) => (x.kind !== 'invalid-tenant' && s.startsWith('ws_') ? tenantLink(s) : `<code>${esc(s)}</code>`)).join(', ')}${x.count > x.sample.length ? ', …' : ''})` : ''}</li>`)
        .join('')}</ul>`
    : '';
  const nothing = p.masterPending.length + p.pending.length === 0 ? '<p class="ok">Nothing to deploy: master and every Active tenant are at the last migration.</p>' : '';
  return `${head}<p class="${p.clean ? 'ok' : 'bad'}">${p.clean ? '<code>up</code> would run without refusing anything known in advance' : `<code>up</code> would refuse or fail on something known in advance`}: ${plural(p.errors, 'error')}, ${plural(p.warnings, 'warning')}. ${plural(p.behind, 'tenant')} behind.</p>
${problems}${nothing}${p.masterPending.map((m) => plannedMigration(m, 'master')).join('')}${p.pending.map((m) => plannedMigration(m, 'tenant')).join('')}</section>`;
}

function tenantsSection(d: ReportData): string {
  const capped = d.tenants.indexed < d.tenants.total ? `<p class="warn">The search covers the first ${fmt(d.tenants.indexed)} of ${fmt(d.tenants.total)} tenants (the index is capped to keep the file small).</p>` : '';
  return `<section id="tenants" aria-labelledby="tenants-h"><h2 id="tenants-h">Tenants</h2>${capped}
<div class="search"><label for="tenant-search">Find a tenant by workspace id, name or schema</label>
<input id="tenant-search" type="search" autocomplete="off" spellcheck="false" placeholder="e.g. ws_1f3a… or a workspace name"></div>
<p id="search-status" role="status" aria-live="polite" class="muted">${plural(d.tenants.indexed, 'tenant')} indexed. The search needs the page's script.</p>
<ul id="search-results" class="results"></ul>
<div id="tenant-details" tabindex="-1" aria-live="polite"></div></section>`;
}

/** The whole page. `assets` are the bundled browser script and the stylesheet. */
export function renderReportHtml(d: ReportData, assets: ReportAssets): string {
  targetOf = d.fleet.targets.length > 1 ? (schema) => d.tenants.details[schema]?.target : () => undefined;
  const title = `Fleet report · ${d.masterSchema} · ${d.generatedUtc.slice(0, 10)}`;
  // No request of any kind: everything this page needs is inside it.
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; base-uri 'none'; form-action 'none'";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="tenant-migrate report">
<title>${esc(title)}</title>
<style>${assets.css}</style></head>
<body>
<a class="skip" href="#fleet">Skip to the fleet</a>
${header(d)}
<main>
${fleetSection(d)}
${runsSection(d)}
${driftSection(d)}
${deploySection(d)}
${tenantsSection(d)}
</main>
<footer><p>tenant-migrate fleet report · format ${d.format} · the page works offline and loads nothing.</p></footer>
<script type="application/json" id="report-data">${scriptJson(d)}</script>
<script>${assets.js.replace(/<\/script/gi, '<\\/script')}</script>
</body></html>
`;
}
