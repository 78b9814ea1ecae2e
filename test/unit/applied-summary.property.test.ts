/**
 * Property tests of the summary row's trust rule (src/planner/applied-summary.ts): planning may take
 * a summary row instead of reading a tenant's meta table only when the row stands for exactly the
 * first k migration files with their current checksums. Any other meta table — a gap, an id the
 * files do not have, a changed checksum, a count that does not match — must decode to "unknown"
 * (undefined), so the caller reads the meta table: a hint can only cause more checking.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AppliedRef, SummaryDecoder, appliedFingerprint, sameSummary, summaryOf } from '../../src/planner/applied-summary.js';
import type { MigrationFile } from '../../src/types.js';

const SCHEMA = 'ws_0123456789abcdef0123456789abcdef';
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

/** Migration files with distinct, numbered ids in byte order and random checksums. */
const files = fc
  .uniqueArray(fc.integer({ min: 1, max: 9999 }), { minLength: 0, maxLength: 12 })
  .chain((nums) => fc.tuple(fc.constant([...nums].sort((a, b) => a - b)), fc.array(hex64, { minLength: nums.length, maxLength: nums.length })))
  .map(([nums, sums]) => nums.map((n, i) => ({ id: `${String(n).padStart(4, '0')}_m${n}`, checksum: sums[i]! }) as AppliedRef));

const asFiles = (refs: readonly AppliedRef[]) => refs.map((r) => ({ ...r }) as unknown as MigrationFile);
const isPrefix = (applied: readonly AppliedRef[], all: readonly AppliedRef[]) =>
  applied.length <= all.length && [...applied].sort((a, b) => (a.id < b.id ? -1 : 1)).every((a, i) => a.id === all[i]!.id && a.checksum === all[i]!.checksum);

describe('summary row trust rule (property)', () => {
  it('a summary of the first k files decodes to exactly those k files', () => {
    fc.assert(
      fc.property(files, fc.nat(), (all, k0) => {
        const k = all.length === 0 ? 0 : k0 % (all.length + 1);
        const decoder = new SummaryDecoder(asFiles(all));
        expect(decoder.decode(summaryOf(SCHEMA, all.slice(0, k)))).toEqual(all.slice(0, k));
      }),
      { numRuns: 300 },
    );
  });

  it('any meta table that is not a prefix of the files (gap, unknown id, changed checksum) is never trusted', () => {
    const mutated = files.chain((all) =>
      fc.tuple(
        fc.constant(all),
        fc.subarray(all),
        fc.array(fc.record({ id: fc.stringMatching(/^[0-9]{4}_x[a-z]{0,3}$/), checksum: hex64 }), { maxLength: 2 }),
        fc.array(fc.nat(), { maxLength: 2 }),
        hex64,
      ),
    );
    fc.assert(
      fc.property(mutated, ([all, subset, extra, changed, otherSum]) => {
        const applied = [...subset, ...extra.filter((e) => !all.some((f) => f.id === e.id))].map((a, i) =>
          changed.includes(i) && a.checksum !== otherSum ? { ...a, checksum: otherSum } : a,
        );
        const unique = applied.filter((a, i) => applied.findIndex((b) => b.id === a.id) === i);
        const decoded = new SummaryDecoder(asFiles(all)).decode(summaryOf(SCHEMA, unique));
        if (isPrefix(unique, all)) expect(decoded).toEqual(all.slice(0, unique.length));
        else expect(decoded, JSON.stringify(unique)).toBeUndefined();
      }),
      { numRuns: 150 },
    );
  }, 60_000);

  it('a row whose count disagrees with its digest is never trusted', () => {
    fc.assert(
      fc.property(files, fc.nat(), fc.integer({ min: 1, max: 5 }), (all, k0, delta) => {
        const k = all.length === 0 ? 0 : k0 % (all.length + 1);
        const row = summaryOf(SCHEMA, all.slice(0, k));
        expect(new SummaryDecoder(asFiles(all)).decode({ ...row, count: k + delta })).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('the fingerprint does not depend on row order and changes with any id or checksum', () => {
    fc.assert(
      fc.property(files, fc.nat(), hex64, (all, i0, sum) => {
        fc.pre(all.length > 0);
        const shuffled = [...all].reverse();
        expect(appliedFingerprint(shuffled)).toBe(appliedFingerprint(all));
        const i = i0 % all.length;
        fc.pre(all[i]!.checksum !== sum);
        const changed = all.map((a, j) => (j === i ? { ...a, checksum: sum } : a));
        expect(appliedFingerprint(changed)).not.toBe(appliedFingerprint(all));
        expect(sameSummary(summaryOf(SCHEMA, changed), summaryOf(SCHEMA, all))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
