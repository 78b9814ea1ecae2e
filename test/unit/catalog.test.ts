import { describe, expect, it } from 'vitest';
import type { Catalog, CatalogTable } from '../../src/catalog/catalog-model.js';
import { canonicalJson, canonicalize, fingerprint } from '../../src/catalog/fingerprint.js';
import { describeDifference, diffCatalogs } from '../../src/catalog/catalog-diff.js';
import { formatDriftMarkdown, formatDriftText } from '../../src/drift/drift-report-format.js';
import type { DriftReport } from '../../src/drift/drift-report.js';

const jobs = (over: Partial<CatalogTable> = {}): CatalogTable => ({
  name: 'automation_jobs',
  columns: [
    { name: 'job_id', type: 'uuid', nullable: false, default: 'newid()' },
    { name: 'status', type: 'nvarchar(20)', nullable: false, default: "'active'" },
    { name: 'next_run_utc', type: 'datetime2', nullable: true },
  ],
  primaryKey: { name: 'pk_automation_jobs', columns: ['job_id'] },
  uniques: [],
  checks: [{ name: 'ck_automation_jobs_status', expression: "status IN ('active', 'paused')" }],
  foreignKeys: [
    { columns: ['agent_id'], refSchema: '$schema', refTable: 'workspace_agents', refColumns: ['agent_id'], onDelete: 'set null', onUpdate: 'no action' },
  ],
  indexes: [{ name: 'ix_automation_jobs_status_next_run', keys: [{ column: 'status' }, { column: 'next_run_utc' }], unique: false }],
  ...over,
});
const agents: CatalogTable = {
  name: 'workspace_agents',
  columns: [{ name: 'agent_id', type: 'uuid', nullable: false }],
  primaryKey: { columns: ['agent_id'] },
  uniques: [],
  checks: [],
  foreignKeys: [],
  indexes: [],
};
const catalog = (...tables: CatalogTable[]): Catalog => ({ family: 'postgres', tables });

describe('fingerprint', () => {
  it('is the same for the same schema in any order', () => {
    const a = catalog(jobs(), agents);
    const b = catalog(agents, { ...jobs(), columns: [...jobs().columns].reverse() });
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with a default, a type or a nullability', () => {
    const base = fingerprint(catalog(jobs()));
    const cols = jobs().columns;
    expect(fingerprint(catalog(jobs({ columns: [{ ...cols[0]! }, { ...cols[1]!, default: "'paused'" }, cols[2]!] })))).not.toBe(base);
    expect(fingerprint(catalog(jobs({ columns: [cols[0]!, { ...cols[1]!, type: 'nvarchar(40)' }, cols[2]!] })))).not.toBe(base);
    expect(fingerprint(catalog(jobs({ columns: [cols[0]!, cols[1]!, { ...cols[2]!, nullable: false }] })))).not.toBe(base);
  });

  it('the canonical form serializes to the canonical JSON', () => {
    const c = canonicalize(catalog(jobs(), agents));
    expect(JSON.stringify(c)).toBe(canonicalJson(c));
  });

  it('canonical JSON sorts keys and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }] })).toBe('{"a":[{"c":"x"}],"b":1}');
  });
});

describe('diffCatalogs', () => {
  it('finds nothing between equal catalogs', () => {
    expect(diffCatalogs(catalog(jobs(), agents), catalog(agents, jobs()))).toEqual([]);
  });

  it('reports each kind of hand-made change', () => {
    const cols = jobs().columns;
    const actual = catalog(
      jobs({
        columns: [
          cols[0]!,
          { ...cols[1]!, default: "'paused'", type: 'nvarchar(40)' },
          { ...cols[2]!, nullable: false },
          { name: 'priority', type: 'int', nullable: true },
        ],
        indexes: [],
      }),
    );
    const diffs = diffCatalogs(catalog(jobs(), agents), actual);
    expect(diffs.map(describeDifference)).toEqual([
      'column automation_jobs.next_run_utc: nullability is NOT NULL, expected NULL',
      'column automation_jobs.status: type is nvarchar(40), expected nvarchar(20)',
      "column automation_jobs.status: default is 'paused', expected 'active'",
      'column automation_jobs.priority: extra, not created by any migration (int NULL)',
      'index ix_automation_jobs_status_next_run on automation_jobs: missing (expected (status, next_run_utc))',
      'table workspace_agents: missing',
    ]);
  });

  it('matches system-named constraints by definition, named ones by name', () => {
    const e = catalog(jobs());
    const renamedPk = catalog(jobs({ primaryKey: { columns: ['job_id'] } }));
    expect(diffCatalogs(e, renamedPk)).toEqual([]);
    const changedFk = catalog(jobs({ foreignKeys: [{ ...jobs().foreignKeys[0]!, onDelete: 'cascade' }] }));
    expect(diffCatalogs(e, changedFk).map(describeDifference)).toEqual(['foreign key on automation_jobs: on delete is cascade, expected set null']);
    const changedCheck = catalog(jobs({ checks: [{ name: 'ck_automation_jobs_status', expression: "status IN ('active')" }] }));
    expect(diffCatalogs(e, changedCheck)).toMatchObject([{ change: 'changed', kind: 'check constraint', property: 'expression' }]);
  });

  it('reports an invalid (half-built) index', () => {
    const ix = jobs().indexes[0]!;
    const d = diffCatalogs(catalog(jobs()), catalog(jobs({ indexes: [{ ...ix, valid: false }] })));
    expect(d.map(describeDifference)).toEqual(['index ix_automation_jobs_status_next_run on automation_jobs: valid is invalid, expected valid']);
  });
});

describe('drift report formats', () => {
  const report: DriftReport = {
    dialect: 'postgres',
    expectedFrom: 'scratch-schema',
    tenants: 12,
    driftedTenants: 2,
    versions: ['0001_a'],
    busyTenants: [],
    durationMs: 1234,
    groups: [
      {
        version: '0001_a',
        fingerprint: 'f'.repeat(64),
        tenantCount: 2,
        sampleTenants: ['ws_1', 'ws_2'],
        state: 'drifted',
        differences: [{ change: 'extra', kind: 'column', table: 't', name: 'c|x', actual: 'int NULL' }],
      },
      { version: '0001_a', fingerprint: 'a'.repeat(64), tenantCount: 10, sampleTenants: ['ws_3'], state: 'ok', differences: [] },
    ],
  };

  it('text names the tenants and the differences', () => {
    const text = formatDriftText(report);
    expect(text).toContain('Drift: 2 of 12 tenants differ');
    expect(text).toContain('2 tenants at 0001_a, fingerprint ffffffffffff: ws_1, ws_2');
    expect(text).toContain('  - column t.c|x: extra, not created by any migration (int NULL)');
  });

  it('markdown escapes table cells', () => {
    const md = formatDriftMarkdown(report);
    expect(md).toContain('| `t.c\\|x` | extra |  | `int NULL` |');
    expect(md).toContain('| `0001_a` | 10 | `aaaaaaaaaaaa` | ok | ws_3 and 9 more |');
  });

  it('with targets, groups the report by the database the tenants live in', () => {
    const [drifted, ok] = report.groups as [DriftReport['groups'][number], DriftReport['groups'][number]];
    const placed: DriftReport = {
      ...report,
      groups: [{ ...drifted, target: 't1' }, { ...ok, target: '(master)' }],
      targets: { '(master)': { tenants: 10, driftedTenants: 0, busyTenants: 0 }, t1: { tenants: 2, driftedTenants: 2, busyTenants: 0 } },
    };
    const text = formatDriftText(placed);
    expect(text).toContain('target (master): no drift in 10 tenants\n\ntarget t1: 2 of 2 tenants differ\n\n  2 tenants at 0001_a, fingerprint ffffffffffff: ws_1, ws_2\n    - column t.c|x');
    expect(text).toContain('In line: 10 tenants at 0001_a on (master).');
    const md = formatDriftMarkdown(placed);
    expect(md).toContain('| `t1` | 2 | 2 | 0 |');
    expect(md).toContain('| `(master)` | `0001_a` | 10 | `aaaaaaaaaaaa` | ok | ws_3 and 9 more |');
    expect(md).toContain('#### 2 tenants at `0001_a` on target `t1` — fingerprint `ffffffffffff`');
  });
});
