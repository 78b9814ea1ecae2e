import { describe, expect, it } from 'vitest';
import { planSchema, summarizePlans } from '../../src/planner/plan.js';
import { SummaryDecoder, appliedFingerprint, summaryOf } from '../../src/planner/applied-summary.js';
import type { AppliedMigration, MigrationFile } from '../../src/types.js';

const file = (id: string, checksum = `c-${id}`): MigrationFile => ({
  id,
  number: Number(id.slice(0, 4)),
  name: id.slice(5),
  scope: 'tenant',
  path: `tenant-migrations/${id}.sql.hbs`,
  absolutePath: `/x/${id}.sql.hbs`,
  source: '',
  isTemplate: true,
  checksum,
  directives: { noTransaction: false, afterTenants: false },
});
const applied = (id: string, checksum = `c-${id}`): AppliedMigration => ({
  id,
  checksum,
  renderedChecksum: 'r',
  appliedUtc: new Date(0),
  durationMs: 1,
  runId: null,
});
const files = [file('0001_a'), file('0002_b'), file('0003_c')];

describe('planSchema', () => {
  it('fresh schema: everything pending in order', () => {
    expect(planSchema('s', files, [])).toMatchObject({ pending: ['0001_a', '0002_b', '0003_c'], state: 'behind' });
  });
  it('up to date', () => {
    expect(planSchema('s', files, files.map((f) => applied(f.id)))).toMatchObject({ pending: [], state: 'up-to-date' });
  });
  it('a gap is pending (out-of-order apply of a lower number)', () => {
    expect(planSchema('s', files, [applied('0001_a'), applied('0003_c')]).pending).toEqual(['0002_b']);
  });
  it('checksum mismatch blocks the schema', () => {
    const plan = planSchema('s', files, [applied('0001_a', 'edited')]);
    expect(plan.state).toBe('blocked');
    expect(plan.checksumMismatches).toEqual([{ id: '0001_a', expected: 'c-0001_a', recorded: 'edited' }]);
  });
  it('ids applied but missing on disk are reported, not pending', () => {
    const plan = planSchema('s', files, [...files.map((f) => applied(f.id)), applied('0009_future')]);
    expect(plan).toMatchObject({ unknownApplied: ['0009_future'], state: 'up-to-date' });
  });
  it('to limits the target', () => {
    expect(planSchema('s', files, [], { to: '0002_b' }).pending).toEqual(['0001_a', '0002_b']);
  });
  it('summarizes counts per pending id', () => {
    const summary = summarizePlans([planSchema('a', files, []), planSchema('b', files, [applied('0001_a'), applied('0002_b')]), planSchema('c', files, files.map((f) => applied(f.id)))]);
    expect(summary).toEqual({ total: 3, upToDate: 1, behind: 2, blocked: 0, pendingCounts: { '0001_a': 1, '0002_b': 1, '0003_c': 2 } });
  });
});

describe('applied-version summary decoding', () => {
  it('decodes exactly the rows of "the first k files" (k = 0 … all), whatever the order of the ids', () => {
    const decoder = new SummaryDecoder(files);
    for (let k = 0; k <= files.length; k++) {
      const rows = files.slice(0, k).map((f) => applied(f.id)).reverse();
      expect(decoder.decode(summaryOf('s', rows))).toEqual(files.slice(0, k).map((f) => ({ id: f.id, checksum: f.checksum })));
    }
    // Files not in byte order (numbered 9 and 10) decode too.
    const odd = [file('0009_z'), file('0010_a')];
    expect(new SummaryDecoder(odd).decode(summaryOf('s', [applied('0009_z'), applied('0010_a')]))?.map((r) => r.id)).toEqual(['0009_z', '0010_a']);
  });
  it('anything else is not decoded (the planner reads the meta table): a gap, an unknown id, an edited file, a wrong count', () => {
    const decoder = new SummaryDecoder(files);
    expect(decoder.decode(summaryOf('s', [applied('0001_a'), applied('0003_c')]))).toBeUndefined();
    expect(decoder.decode(summaryOf('s', [...files.map((f) => applied(f.id)), applied('0004_new')]))).toBeUndefined();
    expect(decoder.decode(summaryOf('s', [applied('0001_a', 'edited')]))).toBeUndefined();
    expect(decoder.decode({ ...summaryOf('s', [applied('0001_a')]), count: 2 })).toBeUndefined();
  });
  it('the digest is the same text the SQL computes: sha256 of id:checksum in byte order, joined by commas', () => {
    expect(summaryOf('s', [applied('0002_b'), applied('0001_a')])).toEqual({
      schema: 's',
      count: 2,
      lastId: '0002_b',
      digest: appliedFingerprint([applied('0001_a'), applied('0002_b')]),
    });
    expect(appliedFingerprint([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
