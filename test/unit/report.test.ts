/**
 * The fleet report's pure parts: percentiles, histogram, throughput, failure groups, run summary,
 * the compact tenant index and the HTML escaping (data never becomes markup or ends the script).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerRun, LedgerTenant } from '../../src/dialect/ledger-types.js';
import { planSchema } from '../../src/planner/plan.js';
import { groupFailures, histogram, indexTenants, percentile, summarizeRun, throughput } from '../../src/report/aggregate.js';
import { NO_VERSION, TENANT_STATES, type ReportData } from '../../src/report/report-data.js';
import { esc, renderReportHtml, scriptJson } from '../../src/report/render-html.js';
import type { MigrationFile, Tenant } from '../../src/types.js';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function row(schema: string, over: Partial<LedgerTenant> = {}): LedgerTenant {
  return {
    schema,
    workspaceId: `${schema.slice(3, 11)}-0000-4000-a000-000000000000`,
    seq: 0,
    wave: 0,
    status: 'succeeded',
    attempts: 1,
    claimedBy: 'host:1:w',
    leaseUntil: null,
    startedUtc: new Date(t0),
    finishedUtc: new Date(t0 + 100),
    durationMs: 100,
    applied: ['0001_a'],
    error: null,
    ...over,
  };
}

describe('report aggregation', () => {
  it('percentile is the nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(v, 50), percentile(v, 95), percentile(v, 99), percentile(v, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 99)).toBe(7);
  });

  it('the histogram counts every value once, in the bucket that holds it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 1, maxLength: 200 }), (values) => {
        const h = histogram(values);
        expect(h.counts.reduce((a, b) => a + b, 0)).toBe(values.length);
        expect(h.edges).toHaveLength(h.counts.length + 1);
        for (const v of values) {
          const i = h.edges.findIndex((e, k) => k < h.counts.length && v >= e && v < h.edges[k + 1]!);
          expect(i).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });

  it('throughput is cumulative and ends at the finished counts', () => {
    const rows = [
      row('ws_a', { finishedUtc: new Date(t0 + 1000) }),
      row('ws_b', { finishedUtc: new Date(t0 + 2000) }),
      row('ws_c', { status: 'failed', finishedUtc: new Date(t0 + 3000) }),
      row('ws_d', { status: 'pending', startedUtc: null, finishedUtc: null }),
    ];
    const tp = throughput(rows);
    expect(tp.succeeded.at(-1)).toBe(2);
    expect(tp.failed.at(-1)).toBe(1);
    expect(tp.seconds.at(-1)).toBe(3);
    for (let i = 1; i < tp.seconds.length; i++) expect(tp.succeeded[i]).toBeGreaterThanOrEqual(tp.succeeded[i - 1]!);
  });

  it('groups failures by code, file, line and message with the tenant names taken out', () => {
    const fail = (schema: string, line: number) =>
      row(schema, {
        status: 'failed',
        error: { code: 'MIGRATION_FAILED', message: `tenant-migrations/0002_x.sql.hbs:${line}: column "body" does not exist (schema ${schema}, batch 1)`, migrationId: '0002_x', file: 'tenant-migrations/0002_x.sql.hbs', line },
      });
    const groups = groupFailures([fail('ws_aaaaaaaa', 3), fail('ws_bbbbbbbb', 3), fail('ws_cccccccc', 7), row('ws_dddddddd')]);
    expect(groups).toHaveLength(2);
    expect(groups[0]).toMatchObject({ count: 2, line: 3, file: 'tenant-migrations/0002_x.sql.hbs', message: 'column "body" does not exist (schema <schema>, batch 1)' });
    expect(groups[0]!.tenants.map((t) => t.schema)).toEqual(['ws_aaaaaaaa', 'ws_bbbbbbbb']);
    expect(groups[1]).toMatchObject({ count: 1, line: 7 });
  });

  it('summarizes a run: counts, waves, workers, slowest first', () => {
    const run: LedgerRun = {
      runId: 'r1',
      runKey: 'k',
      target: '0001_a',
      options: { concurrency: 4 },
      status: 'failed',
      startedBy: 'host:1',
      startedUtc: new Date(t0 - 500),
      finishedUtc: new Date(t0 + 5000),
      heartbeatUtc: null,
      heartbeatAgeMs: null,
      counts: { total: 3, pending: 0, running: 0, succeeded: 2, failed: 1, skipped: 0 },
    };
    const s = summarizeRun(run, [
      row('ws_a', { durationMs: 50, wave: 0, claimedBy: 'w1' }),
      row('ws_b', { durationMs: 4000, wave: 1, claimedBy: 'w2' }),
      row('ws_c', { durationMs: 70, wave: 1, status: 'failed', claimedBy: 'w2', error: { code: 'X', message: 'boom' } }),
    ]);
    expect(s.durationMs).toBe(5500);
    expect(s.counts).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
    expect(s.slowest.map((x) => x.schema)).toEqual(['ws_b', 'ws_c', 'ws_a']);
    expect(s.waves).toEqual([
      { wave: 0, total: 1, succeeded: 1, failed: 0 },
      { wave: 1, total: 2, succeeded: 1, failed: 1 },
    ]);
    expect(s.workers).toEqual([
      { worker: 'w2', tenants: 2 },
      { worker: 'w1', tenants: 1 },
    ]);
    expect(s.durations).toMatchObject({ n: 3, p50: 70, max: 4000 });
  });
});

const file = (id: string): MigrationFile => ({ id, checksum: `c${id}` }) as unknown as MigrationFile;

describe('the compact tenant index', () => {
  it('round-trips every tenant with its version, state, target and pending list; counts Active tenants per version and target', () => {
    const files = [file('0001_a'), file('0002_b'), file('0003_c')];
    const migrations = files.map((f) => f.id);
    const ids = ['11111111-1111-4111-a111-111111111111', '22222222-2222-4222-a222-222222222222', '33333333-3333-4333-a333-333333333333', '44444444-4444-4444-a444-444444444444'];
    const tenants: Tenant[] = ids.map((id, i) => ({
      workspaceId: id,
      name: i === 0 ? 'tab\there\nnewline' : `w${i}`,
      dbSchemaName: null,
      status: i === 3 ? 'Archived' : 'Active',
      lastSeenUtc: null,
      createdUtc: null,
      target: i === 2 ? 't1' : null,
      schema: i === 1 ? 'ws_custom_name' : `ws_${id.replace(/-/g, '')}`,
      needsBackfill: false,
    }));
    const applied = [['0001_a', '0002_b', '0003_c'], ['0001_a'], [], []];
    const plans = new Map(tenants.map((t, i) => [t.schema, planSchema(t.schema, files, applied[i]!.map((a) => ({ id: a, checksum: `c${a}` })))]));
    const idx = indexTenants(tenants, plans, migrations, (t) => t.target ?? '(master)', ['(master)', 't1'], 10, new Set([tenants[1]!.schema]));
    const lines = idx.rows.split('\n').map((l) => l.split('\t'));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual([ids[0], 'tab here newline', '2', String(TENANT_STATES.indexOf('up-to-date')), '0', '-1', '']);
    expect(lines[1]).toEqual([ids[1], 'w1', '0', String(TENANT_STATES.indexOf('failed')), '0', '0', 'ws_custom_name']);
    expect(lines[2]![2]).toBe('-1');
    expect(lines[2]![4]).toBe('1');
    expect(lines[3]![3]).toBe(String(TENANT_STATES.indexOf('archived')));
    expect(idx.pendingGroups[0]).toEqual(['0002_b', '0003_c']);
    // versions: (none), 0001_a, 0002_b, 0003_c; Archived tenants are not counted.
    expect(idx.counts).toEqual([
      [0, 1, 0, 1],
      [1, 0, 0, 0],
    ]);
    const capped = indexTenants(tenants, plans, migrations, (t) => t.target ?? '(master)', ['(master)', 't1'], 2);
    expect(capped.indexed).toBe(2);
    expect(capped.counts).toEqual(idx.counts);
  });
});

describe('the report HTML', () => {
  const data = (name: string): ReportData => ({
    format: 1,
    generatedUtc: new Date(t0).toISOString(),
    dialect: 'postgres',
    masterSchema: 'pmassist_master',
    migrations: ['0001_a'],
    fleet: {
      total: 1,
      active: 1,
      upToDate: 1,
      behind: 0,
      failed: 0,
      blocked: 0,
      invalid: 0,
      archived: 0,
      byVersion: { versions: [NO_VERSION, '0001_a'], targets: ['(master)'], counts: [[0, 1]] },
      targets: [{ name: '(master)', total: 1, upToDate: 1, behind: 0, failed: 0, blocked: 0, invalid: 0, archived: 0 }],
      master: { schema: 'pmassist_master', applied: [], pending: [], waiting: [], waitingFor: 0, changed: [] },
      invalidRows: [{ workspaceId: 'x', reason: name }],
      blockedTenants: [],
    },
    runs: { requested: 5, runs: [] },
    tenants: { total: 1, indexed: 1, versions: ['0001_a'], targets: ['(master)'], pendingGroups: [], rows: `id\t${name}\t0\t0\t0\t-1\t`, details: {} },
  });

  it('never lets data become markup or end the embedded script', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const evil = `${s}</script><img src=x onerror=alert(1)><!--`;
        const html = renderReportHtml(data(evil), { js: '/*js*/', css: '/*css*/' });
        expect(html).not.toContain('<img src=x');
        // One data script element, closed once: JSON.parse of its text gives the data back.
        const m = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)!;
        expect(JSON.parse(m[1]!).fleet.invalidRows[0].reason).toBe(evil);
      }),
      { numRuns: 50 },
    );
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(scriptJson('\u2028</script>')).toBe('"\\u2028\\u003c/script>"');
  });

  it('forbids every request in its Content-Security-Policy', () => {
    const html = renderReportHtml(data('n'), { js: '', css: '' });
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none';/);
    expect(html).not.toMatch(/<(link|img|iframe)\b/);
    expect(html).not.toMatch(/src="http/);
  });
});
