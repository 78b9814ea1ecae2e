/**
 * The fleet report's page script, bundled with Chart.js into one IIFE at build time: draws the
 * charts from the embedded JSON, filters tenants in the search box, shows a tenant's details when
 * a `#tenant/<schema>` link is followed, and redraws for the colour scheme and for print.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import { NO_VERSION, type ReportData, TENANT_STATES, type TenantDetails } from '../report-data.js';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip);

const data = JSON.parse(document.getElementById('report-data')!.textContent!) as ReportData;
const charts: Record<string, Chart> = {};

/** For scripts and tests that read the page: the data and the Chart.js instances by canvas id. */
(window as unknown as { tenantMigrateReport: unknown }).tenantMigrateReport = { data, charts };

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const SERIES = ['--s1', '--s2', '--s3', '--s4', '--s5', '--s6'];

function themed(): void {
  Chart.defaults.color = css('--muted');
  Chart.defaults.borderColor = css('--grid');
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function make(id: string, config: () => ChartConfiguration): void {
  const canvas = document.getElementById(id) as HTMLCanvasElement | null;
  if (!canvas) return;
  charts[id] = new Chart(canvas, config());
  configs.set(id, config);
}
const configs = new Map<string, () => ChartConfiguration>();

function drawAll(): void {
  themed();
  const latest = data.migrations.at(-1);
  const fleet = data.fleet.byVersion;
  const shown = fleet.versions.map((_, i) => i).filter((i) => fleet.counts.some((c) => (c[i] ?? 0) > 0) || fleet.versions[i] === latest);
  const multi = fleet.targets.length > 1;
  make('chart-fleet', () => ({
    type: 'bar',
    data: {
      labels: shown.map((i) => fleet.versions[i]!),
      datasets: fleet.targets.map((t, ti) => ({
        label: multi ? t : 'Active tenants',
        data: shown.map((i) => fleet.counts[ti]![i]!),
        backgroundColor: css(SERIES[ti % SERIES.length]!),
        stack: 'tenants',
        maxBarThickness: 160,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: multi }, tooltip: { mode: 'index', intersect: false } },
      scales: {
        x: { stacked: true, title: { display: true, text: 'last applied tenant migration' } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: 'tenants' }, ticks: { precision: 0 } },
      },
    },
  }));

  const runs = [...data.runs.runs].reverse();
  if (runs.length > 1) {
    make('chart-runs', () => ({
      type: 'bar',
      data: {
        labels: runs.map((r) => `${r.startedUtc.slice(5, 16).replace('T', ' ')} ${r.runId.slice(0, 8)}`),
        datasets: [
          { label: 'succeeded', data: runs.map((r) => r.counts.succeeded), backgroundColor: css('--s-ok'), stack: 'run', maxBarThickness: 120 },
          { label: 'failed', data: runs.map((r) => r.counts.failed), backgroundColor: css('--s-bad'), stack: 'run', maxBarThickness: 120 },
          { label: 'skipped', data: runs.map((r) => r.counts.skipped), backgroundColor: css('--s-skip'), stack: 'run', maxBarThickness: 120 },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { tooltip: { mode: 'index', intersect: false } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    }));
  }

  data.runs.runs.forEach((r, i) => {
    const tp = r.throughput;
    make(`chart-throughput-${i}`, () => ({
      type: 'line',
      data: {
        labels: tp.seconds.map((s) => String(s)),
        datasets: [
          { label: 'succeeded', data: [...tp.succeeded], borderColor: css('--s-ok'), backgroundColor: css('--s-ok'), pointRadius: 0, borderWidth: 2 },
          { label: 'failed', data: [...tp.failed], borderColor: css('--s-bad'), backgroundColor: css('--s-bad'), pointRadius: 0, borderWidth: 2 },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { tooltip: { mode: 'index', intersect: false } },
        scales: {
          x: { title: { display: true, text: 'seconds since the first tenant started' }, ticks: { maxTicksLimit: 10 } },
          y: { beginAtZero: true, title: { display: true, text: 'tenants finished' }, ticks: { precision: 0 } },
        },
      },
    }));
    const h = r.histogram;
    make(`chart-durations-${i}`, () => ({
      type: 'bar',
      data: {
        labels: h.counts.map((_, b) => `${formatMs(h.edges[b]!)}–${formatMs(h.edges[b + 1]!)}`),
        datasets: [{ label: 'tenants', data: [...h.counts], backgroundColor: css('--s1') }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { title: { display: true, text: 'duration of one tenant' } },
          y: { beginAtZero: true, title: { display: true, text: 'tenants' }, ticks: { precision: 0 } },
        },
      },
    }));
  });
}

/** Rebuild every chart with the current colours (the scheme changed). */
function redrawAll(): void {
  themed();
  for (const [id, config] of configs) {
    charts[id]?.destroy();
    charts[id] = new Chart(document.getElementById(id) as HTMLCanvasElement, config());
  }
}

// ---- The tenant index (parsed on first use) -------------------------------------------------

interface Row {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly state: string;
  readonly target: string;
  readonly pending: readonly string[];
  readonly schema: string;
  /** Lower-case id, name and schema, for the search. */
  readonly haystack: string;
}

let rows: Row[] | undefined;
let bySchema: Map<string, Row> | undefined;

function index(): Row[] {
  if (rows) return rows;
  const t = data.tenants;
  rows = [];
  bySchema = new Map();
  if (t.rows !== '') {
    for (const line of t.rows.split('\n')) {
      const [id = '', name = '', v = '-1', s = '0', target = '0', group = '-1', schema = ''] = line.split('\t');
      const row: Row = {
        id,
        name,
        version: Number(v) >= 0 ? t.versions[Number(v)]! : NO_VERSION,
        state: TENANT_STATES[Number(s)] ?? 'unknown',
        target: t.targets[Number(target)] ?? '(master)',
        pending: Number(group) >= 0 ? t.pendingGroups[Number(group)]! : [],
        schema: schema || `ws_${id.replace(/-/g, '').toLowerCase()}`,
        haystack: '',
      };
      (row as { haystack: string }).haystack = `${id.toLowerCase()}\u0000${name.toLowerCase()}\u0000${row.schema.toLowerCase()}\u0000${id.replace(/-/g, '').toLowerCase()}`;
      rows.push(row);
      bySchema.set(row.schema, row);
    }
  }
  return rows;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}
const code = (s: string) => el('code', {}, s);
const link = (schema: string, label = schema) => el('a', { className: 'tenant', href: `#tenant/${schema}` }, label);

const MAX_RESULTS = 50;

function search(query: string): void {
  const status = document.getElementById('search-status')!;
  const list = document.getElementById('search-results')!;
  list.replaceChildren();
  const all = index();
  const q = query.trim().toLowerCase();
  if (q === '') {
    status.textContent = `${all.length.toLocaleString('en-US')} tenants indexed. Type part of a workspace id, name or schema.`;
    return;
  }
  let found = 0;
  for (const r of all) {
    if (!r.haystack.includes(q)) continue;
    found++;
    if (found <= MAX_RESULTS) {
      list.append(
        el('li', {}, link(r.schema), r.name ? ` · ${r.name}` : '', ' ', el('span', { className: `state badge ${r.state === 'failed' || r.state === 'blocked' ? 'failed' : r.state === 'up-to-date' ? 'succeeded' : 'interrupted'}` }, r.state), ` at `, code(r.version)),
      );
    }
  }
  status.textContent =
    found === 0
      ? `No tenant matches “${query.trim()}”.`
      : `${found.toLocaleString('en-US')} tenant${found === 1 ? '' : 's'} match${found === 1 ? 'es' : ''}${found > MAX_RESULTS ? `; the first ${MAX_RESULTS} are listed` : ''}.`;
}

function showTenant(schema: string): void {
  const box = document.getElementById('tenant-details')!;
  index();
  const row = bySchema!.get(schema);
  const details: TenantDetails | undefined = data.tenants.details[schema];
  if (!row && !details) {
    box.replaceChildren(el('p', {}, `Tenant ${schema} is not in this report's index.`));
    return;
  }
  const dl = el('dl');
  const add = (k: string, v: Node | string) => dl.append(el('dt', {}, k), el('dd', {}, v));
  add('schema', code(schema));
  add('workspace id', code(row?.id ?? details?.workspaceId ?? ''));
  add('name', row?.name || details?.name || '—');
  if (row) {
    add('state', row.state);
    add('applied version', code(row.version));
    add('target database', code(row.target));
    add('pending', row.pending.length ? row.pending.join(', ') : 'nothing');
  }
  const parts: Node[] = [el('h3', {}, `Tenant ${row?.name || schema}`), dl];
  const runs = details?.runs ?? [];
  if (runs.length) {
    const table = el('table', {}, el('caption', {}, 'In the last runs'));
    const head = el('tr');
    for (const h of ['Run', 'Outcome', 'Duration', 'Attempts', 'Applied', 'Error']) head.append(el('th', { scope: 'col' }, h));
    table.append(el('thead', {}, head));
    const body = el('tbody');
    for (const r of runs) {
      const e = r.error;
      body.append(
        el(
          'tr',
          {},
          el('td', {}, el('a', { href: `#run-${r.runId}` }, code(r.runId.slice(0, 8)))),
          el('td', {}, r.status),
          el('td', { className: 'num' }, r.durationMs === null ? '—' : formatMs(r.durationMs)),
          el('td', { className: 'num' }, String(r.attempts)),
          el('td', {}, r.applied.join(', ') || '—'),
          el('td', {}, e ? `${e.code}: ${e.message}${e.file ? ` (${e.file}${e.line !== undefined ? `:${e.line}` : ''})` : ''}` : ''),
        ),
      );
    }
    table.append(body);
    parts.push(table);
  } else {
    parts.push(el('p', { className: 'muted' }, `Not among the failed or slowest tenants of the ${data.runs.runs.length} run(s) in this report.`));
  }
  if (details?.drift) {
    parts.push(el('h4', {}, `Drifted from ${details.drift.version ?? 'no migration'}`), el('ul', { className: 'diffs' }, ...details.drift.differences.map((d) => el('li', {}, code(d)))));
  }
  box.replaceChildren(...parts);
  box.focus({ preventScroll: true });
  box.scrollIntoView({ block: 'start' });
}

function route(): void {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash.startsWith('tenant/')) showTenant(hash.slice('tenant/'.length));
  else if (hash.startsWith('run-')) {
    const d = document.getElementById(hash);
    if (d instanceof HTMLDetailsElement) d.open = true;
  }
}

drawAll();
const input = document.getElementById('tenant-search') as HTMLInputElement | null;
if (input) {
  input.addEventListener('input', () => search(input.value));
  search(input.value);
}
window.addEventListener('hashchange', route);
route();
window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redrawAll);
// Print every collapsed part but the charts' number tables (the charts print), and draw the charts
// at the printed width.
const wasOpen = new Set<HTMLDetailsElement>();
window.addEventListener('beforeprint', () => {
  for (const d of document.querySelectorAll<HTMLDetailsElement>('details:not(.data)')) {
    if (d.open) wasOpen.add(d);
    else d.open = true;
  }
  for (const c of Object.values(charts)) c.resize();
});
window.addEventListener('afterprint', () => {
  for (const d of document.querySelectorAll<HTMLDetailsElement>('details:not(.data)')) if (!wasOpen.has(d)) d.open = false;
  wasOpen.clear();
  for (const c of Object.values(charts)) c.resize();
});
