/**
 * `tenant-migrate report` on a real fleet, opened in a real browser (Debian's Chromium through
 * playwright-core): every section renders, the chart's bars are the fleet's counts, the failure
 * group names the failing tenants and the template line, the search filters, no console error, no
 * request but the file itself, and axe-core finds no serious or critical violation. Screenshots of
 * each section go to test-artifacts/ (git-ignored).
 */
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ReportData } from '../../src/report/report-data.js';
import { ARTIFACTS, type BrowserSession, axe, chromiumMissing, launchChromium, screenshot } from '../support/report-browser.js';
import { type DialectTarget, type TestDatabase, type TestProject, createProject, runCli, runnableTargets } from './harness.js';
import { FAILING_LINE, FAILING_MIGRATION, type ReportFleet, buildReportFleet, writeFleetMigrations } from './report-fleet.js';
import { writeTargetConfig } from './target-fleet.js';

const noBrowser = chromiumMissing();
if (noBrowser) process.stderr.write(`[tenant-migrate tests] report browser tests SKIPPED: ${noBrowser}\n`);

let browser: BrowserSession;
beforeAll(async () => {
  if (!noBrowser) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Active tenants per (target, version) as the fleet was built: failing tenants stayed at 0001. */
function expectedCounts(fleet: ReportFleet): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of fleet.tenants) {
    const key = `${t.target ?? '(master)'}|${t.role === 'failing' ? '0001_create_notes' : '0002_notes_check'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** What the fleet chart draws: per dataset (target) and bar (version), the value its bar's pixels span. */
async function drawnBars(page: Page): Promise<Map<string, number>> {
  const bars = await page.evaluate(() => {
    const report = (globalThis as unknown as { tenantMigrateReport: { charts: Record<string, any> } }).tenantMigrateReport;
    const chart = report.charts['chart-fleet'];
    const y = chart.scales.y;
    const out: [string, string, number][] = [];
    chart.data.datasets.forEach((ds: { label: string }, d: number) => {
      chart.getDatasetMeta(d).data.forEach((bar: { y: number; base: number }, i: number) => {
        out.push([ds.label, chart.data.labels[i], Math.round(y.getValueForPixel(bar.y) - y.getValueForPixel(bar.base))]);
      });
    });
    return out;
  });
  const drawn = new Map<string, number>();
  for (const [label, version, value] of bars) if (value !== 0) drawn.set(`${label === 'Active tenants' ? '(master)' : label}|${version}`, value);
  return drawn;
}

async function checkReport(file: string, fleet: ReportFleet, name: string): Promise<void> {
  const html = readFileSync(file, 'utf8');
  mkdirSync(ARTIFACTS, { recursive: true });
  copyFileSync(file, path.join(ARTIFACTS, `${name}.html`));
  const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as ReportData;
  const opened = await browser.open(file);
  const { page } = opened;
  try {
    // Every section is there and says something.
    for (const id of ['fleet', 'runs', 'drift', 'deploy', 'tenants']) {
      await expect.poll(() => page.locator(`#${id} h2`).isVisible()).toBe(true);
    }
    const failing = fleet.tenants.filter((t) => t.role === 'failing');
    const slow = fleet.tenants.find((t) => t.role === 'slow')!;
    const drifted = fleet.tenants.find((t) => t.role === 'drifted')!;

    // Fleet: counts and the chart's bars are the fleet's.
    const stat = (label: string) => page.locator('#fleet .stat', { hasText: label }).locator('.value').innerText();
    expect(await stat('tenants (Active)')).toBe(String(fleet.tenants.length));
    expect(await stat('behind')).toBe(String(failing.length));
    expect(await stat('of them failed in the last run')).toBe(String(failing.length));
    expect(await stat('blocked')).toBe('0');
    expect(await stat('archived')).toBe('1');
    expect(await stat('invalid registry rows')).toBe('1');
    expect(await drawnBars(page)).toEqual(expectedCounts(fleet));
    await expect.poll(() => page.locator('#chart-fleet').getAttribute('aria-label')).toContain('0002_notes_check');

    // Runs: the failure group names the failing tenants and the template line.
    const group = page.locator('#runs details.run').first().locator('article.failure');
    expect(await group.count()).toBe(1);
    const groupText = await group.innerText();
    for (const t of failing) expect(groupText).toContain(t.schema);
    expect(groupText).toContain(`${FAILING_MIGRATION}:${FAILING_LINE}`);
    expect(groupText).toContain('0002_notes_check');
    // The slowest tenants of the run, slowest first, with the slow one among them (which tenant is
    // slowest of all is the machine's business: under load an ordinary tenant can take longer).
    const slowest = data.runs.runs[0]!.slowest;
    expect(slowest.map((s) => s.durationMs)).toEqual(slowest.map((s) => s.durationMs).sort((a, b) => b - a));
    expect(slowest.map((s) => s.schema)).toContain(slow.schema);
    const slowRows = page.locator('#runs details.run').first().locator('table', { hasText: 'Slowest tenants' }).locator('tbody tr');
    expect(await slowRows.count()).toBe(slowest.length);
    expect(await slowRows.first().innerText()).toContain(slowest[0]!.schema);
    expect((await slowRows.allInnerTexts()).join('\n')).toContain(slow.schema);
    expect(data.runs.runs[0]!.counts).toMatchObject({ failed: failing.length, succeeded: fleet.tenants.length - failing.length });

    // Drift: the hand-altered tenant is in a drifted group, with what differs.
    const driftGroup = page.locator('#drift article.drift.drifted');
    expect(await driftGroup.count()).toBeGreaterThan(0);
    const driftText = await driftGroup.allInnerTexts();
    expect(driftText.join('\n')).toContain(drifted.schema);
    expect(driftText.join('\n')).toContain('extra_by_hand');

    // Next deploy: 0002 is still pending on the failing tenants, with its SQL.
    const planned = page.locator('#deploy article.planned', { hasText: '0002_notes_check' });
    expect(await planned.innerText()).toContain(`${failing.length} tenants`);
    expect(await planned.locator('details.sql pre').first().textContent()).toContain('notes_id_positive');

    // Search filters by name, id and schema; a result opens the tenant's details.
    const search = page.locator('#tenant-search');
    await search.fill(failing[0]!.name);
    await expect.poll(() => page.locator('#search-results li').count()).toBe(1);
    await search.fill(slow.id.toUpperCase());
    await expect.poll(() => page.locator('#search-results li').allInnerTexts()).toEqual([expect.stringContaining(slow.schema)]);
    await search.fill('workspace');
    await expect.poll(() => page.locator('#search-results li').count()).toBe(fleet.tenants.length + 1); // + the archived one
    await search.fill(failing[1]!.schema.slice(3, 15));
    await page.locator('#search-results a', { hasText: failing[1]!.schema }).click();
    const details = page.locator('#tenant-details');
    await expect.poll(() => details.innerText()).toContain('failed');
    expect(await details.innerText()).toContain(`${FAILING_MIGRATION}:${FAILING_LINE}`);

    // Screenshots of each section (light), the whole page dark; then accessibility.
    for (const id of ['fleet', 'runs', 'drift', 'deploy', 'tenants']) await screenshot(page, `${name}-${id}`, `#${id}`);
    const violations = (await axe(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(violations, JSON.stringify(violations, null, 2)).toEqual([]);
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([new URL(`file://${file}`).href]);
  } finally {
    await opened.close();
  }
  const dark = await browser.open(file, { colorScheme: 'dark' });
  try {
    await screenshot(dark.page, `${name}-dark`);
    const violations = (await axe(dark.page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(violations, JSON.stringify(violations, null, 2)).toEqual([]);
    expect(dark.errors).toEqual([]);
    expect(dark.requests).toHaveLength(1);
  } finally {
    await dark.close();
  }
  // Print: the page prints without a console error, every collapsed part opened.
  const printed = await browser.open(file);
  try {
    await printed.page.emulateMedia({ media: 'print' });
    await printed.page.evaluate(() => (globalThis as unknown as { dispatchEvent(e: Event): void }).dispatchEvent(new Event('beforeprint')));
    expect(await printed.page.locator('details:not(.data):not([open])').count()).toBe(0);
    await printed.page.pdf({ path: path.join(path.dirname(await screenshot(printed.page, `${name}-print`)), `${name}.pdf`) });
    expect(printed.errors).toEqual([]);
  } finally {
    await printed.close();
  }
}

const ROLES = [
  { role: 'ok' },
  { role: 'failing' },
  { role: 'slow' },
  { role: 'ok' },
  { role: 'drifted' },
  { role: 'failing' },
  { role: 'ok' },
] as const;

describe.skipIf(Boolean(noBrowser)).each(runnableTargets)('report in a browser ($name)', (target: DialectTarget) => {
  let db: TestDatabase | undefined;
  let project: TestProject | undefined;
  afterEach(async () => {
    await db?.drop();
    project?.remove();
  });

  it('shows the fleet, the failed run, the slow and the drifted tenant; the search filters; no request, no console error, no serious axe violation', async () => {
    db = await target.createDatabase();
    project = createProject({ url: db.url, concurrency: 2, lockTimeoutMs: 20_000 });
    writeFleetMigrations(project);
    const fleet = await buildReportFleet({
      project,
      dialect: target.name,
      masterUrl: db.url,
      urlOf: () => db!.url,
      placement: ROLES.map((r) => ({ target: null, role: r.role })),
    });
    const out = path.join(project.root, 'fleet-report.html');
    const r = await runCli(['report', '--out', out, '--drift', '--plan', '--json'], { cwd: project.root });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ file: out, tenants: ROLES.length + 1, behind: 2, failed: 2, blocked: 0, invalid: 1, archived: 1 });
    expect(statSync(out).size).toBeLessThan(2_000_000);
    await checkReport(out, fleet, `report-${target.name}`);
  }, 900_000);
});

const postgres = runnableTargets.find((t) => t.name === 'postgres');

describe.skipIf(Boolean(noBrowser) || !postgres)('report in a browser over two target databases (PostgreSQL: PGlite is one in-process database)', () => {
  let dbs: TestDatabase[] = [];
  let project: TestProject | undefined;
  afterEach(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
    dbs = [];
    project?.remove();
  });

  it('stacks the versions per target and names failures on both targets', async () => {
    const [master, t1, t2] = await Promise.all([postgres!.createDatabase(), postgres!.createDatabase(), postgres!.createDatabase()]);
    dbs = [master!, t1!, t2!];
    project = createProject({});
    writeFleetMigrations(project);
    writeTargetConfig({ master: master!, project }, { t1: t1!.url, t2: t2!.url });
    const urls: Record<string, string> = { t1: t1!.url, t2: t2!.url };
    const fleet = await buildReportFleet({
      project,
      dialect: 'postgres',
      masterUrl: master!.url,
      urlOf: (t) => (t ? urls[t]! : master!.url),
      placement: [
        { target: null, role: 'ok' },
        { target: null, role: 'slow' },
        { target: 't1', role: 'ok' },
        { target: 't1', role: 'failing' },
        { target: 't1', role: 'drifted' },
        { target: 't2', role: 'ok' },
        { target: 't2', role: 'failing' },
        { target: 't2', role: 'ok' },
      ],
    });
    const out = path.join(project.root, 'fleet-report.html');
    const r = await runCli(['report', '--out', out, '--drift', '--plan'], { cwd: project.root });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await checkReport(out, fleet, 'report-targets');
  }, 900_000);
});

describe.skipIf(Boolean(noBrowser))('demo ends with the report (PGlite)', () => {
  let project: TestProject | undefined;
  afterEach(() => project?.remove());

  it('writes the demo fleet report and prints its path; the page opens without an error or a request', async () => {
    project = createProject({ url: 'pglite:.tenant-migrate/pglite' });
    const demo = await runCli(['demo', '--workspaces', '5'], { cwd: project.root });
    expect(demo.code, demo.stderr).toBe(0);
    const file = /fleet report: (.+\.html)$/m.exec(demo.stdout)?.[1];
    expect(file, demo.stdout).toBe(path.join(project.root, '.tenant-migrate/demo-report.html'));
    const opened = await browser.open(file!);
    try {
      expect(await opened.page.locator('#fleet .stat', { hasText: 'tenants (Active)' }).locator('.value').innerText()).toBe('5');
      expect(await opened.page.locator('#runs details.run').count()).toBeGreaterThan(0);
      await screenshot(opened.page, 'demo-report');
      expect(opened.errors).toEqual([]);
      expect(opened.requests).toHaveLength(1);
    } finally {
      await opened.close();
    }
  });
});
