import { describe, expect, it } from 'vitest';
import { exitCodeForError } from '../../src/cli/exit-codes.js';
import { TenantMigrateError } from '../../src/errors.js';
import {
  TENANT_ORDERS,
  parseFleetArgs,
  parseOrder,
  parseShard,
  parseWaves,
  positiveInteger,
  toShard,
} from '../../src/runner/fleet-options.js';
import { shardOf, waveBoundaries } from '../../src/runner/run-ledger.js';

/** The error `fn` throws: a USAGE TenantMigrateError (exit 2) whose context key is `key`. */
function usageError(fn: () => unknown, key: string): TenantMigrateError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TenantMigrateError);
  const err = caught as TenantMigrateError;
  expect(err.code).toBe('USAGE');
  expect(err.context.key).toBe(key);
  expect(exitCodeForError(err)).toBe(2);
  return err;
}

describe('parseShard (--shard i/n)', () => {
  it.each([
    ['1/1', 1, 1],
    ['1/4', 1, 4],
    ['4/4', 4, 4],
    [' 2 / 8 ', 2, 8],
    ['03/10', 3, 10],
  ])('%j → %i of %i', (text, index, count) => {
    expect(parseShard(text)).toEqual({ index, count });
  });

  it.each(['', '2', '0/4', '5/4', '1/0', '0/0', '-1/4', '1/-4', '1.5/4', '1/4/2', 'a/b', '1 of 4', '1/99999999999999999999'])(
    'rejects %j naming --shard',
    (text) => {
      const err = usageError(() => parseShard(text), 'shard');
      expect(err.message).toBe(`--shard "${text}": expected i/n with 1 ≤ i ≤ n, e.g. 1/4`);
    },
  );

  it('checks library objects the same way', () => {
    expect(toShard({ index: 2, count: 3 })).toEqual({ index: 2, count: 3 });
    expect(toShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(usageError(() => toShard({ index: 4, count: 3 }), 'shard').message).toBe('--shard 4/3: expected i/n with 1 ≤ i ≤ n, e.g. 1/4');
    usageError(() => toShard({ index: 0.5, count: 3 }), 'shard');
  });

  it('shards of n partition ids stably (1-based, case-insensitive)', () => {
    const id = '6f1c2a9e-0b7d-4c1e-9a3f-2d5e8b7c4a10';
    for (const n of [1, 2, 3, 7, 64]) {
      const s = shardOf(id, n);
      expect(s).toBeGreaterThanOrEqual(1);
      expect(s).toBeLessThanOrEqual(n);
      expect(shardOf(id.toUpperCase(), n)).toBe(s);
    }
  });
});

describe('parseWaves (--waves)', () => {
  it.each([
    ['1,10%,100%', ['1', '10%', '100%']],
    ['5', ['5']],
    ['100%', ['100%']],
    [' 1 , 2.5% , 50% ', ['1', '2.5%', '50%']],
    ['1,5,10', ['1', '5', '10']],
    // A count and a percentage are compared only against the run's size.
    ['50,10%', ['50', '10%']],
    ['1,,10%,', ['1', '10%']],
  ])('%j → %j', (text, waves) => {
    expect(parseWaves(text)).toEqual(waves);
  });

  it('accepts an array (library callers) with the same rules', () => {
    expect(parseWaves(['1', '10%', '100%'])).toEqual(['1', '10%', '100%']);
    usageError(() => parseWaves(['10', '5']), 'waves');
  });

  it.each([
    ['', 'no wave given'],
    [',', 'no wave given'],
    ['abc', '"abc" is neither a count nor a percentage'],
    ['1,x', '"x" is neither a count nor a percentage'],
    ['-1', '"-1" is neither a count nor a percentage'],
    ['1.5', '"1.5" is neither a count nor a percentage'],
    ['10 %', '"10 %" is neither a count nor a percentage'],
    ['0', '"0" is not a positive count'],
    ['0%', '"0%" is not a percentage in (0, 100]'],
    ['0.0%', '"0.0%" is not a percentage in (0, 100]'],
    ['150%', '"150%" is not a percentage in (0, 100]'],
    ['10,5', '"5" does not grow after 10'],
    ['10,10', '"10" does not grow after 10'],
    ['1,50%,20%', '"20%" does not grow after 50%'],
  ])('rejects %j: %s, naming --waves', (text, why) => {
    const err = usageError(() => parseWaves(text), 'waves');
    expect(err.message).toBe(`--waves "${text}": ${why}; expected cumulative counts or percentages, e.g. 1,10%,100%`);
  });

  it('cumulative sizes become wave boundaries; the last wave always takes every tenant', () => {
    expect(waveBoundaries(parseWaves('1,10%,100%'), 200)).toEqual([1, 20, 200]);
    expect(waveBoundaries(parseWaves('1,10%'), 200)).toEqual([1, 200]);
    expect(waveBoundaries(parseWaves('50,10%,100%'), 200)).toEqual([50, 50, 200]);
    expect(waveBoundaries(parseWaves('5'), 3)).toEqual([3]);
    expect(waveBoundaries(undefined, 7)).toEqual([7]);
  });
});

describe('parseOrder (--order)', () => {
  it.each(TENANT_ORDERS.map((o) => [o]))('accepts %s', (order) => {
    expect(parseOrder(order)).toBe(order);
  });

  it('trims', () => {
    expect(parseOrder(' last-seen ')).toBe('last-seen');
  });

  it.each(['', 'bogus', 'Last-Seen', 'lastseen', 'registry,recent'])('rejects %j naming --order and the choices', (text) => {
    const err = usageError(() => parseOrder(text), 'order');
    expect(err.message).toBe(`--order "${text}": expected one of registry, last-seen, recent, created`);
  });
});

describe('positive integer options', () => {
  it('keeps undefined and positive integers', () => {
    expect(positiveInteger('max-failures', 'maxFailures', undefined)).toBeUndefined();
    expect(positiveInteger('max-failures', 'maxFailures', 3)).toBe(3);
  });

  it.each([0, -1, 1.5, Infinity])('rejects %s naming the flag', (value) => {
    const err = usageError(() => positiveInteger('lease-ms', 'leaseMs', value), 'leaseMs');
    expect(err.message).toBe(`--lease-ms ${value}: expected a positive integer`);
  });

  it('says so when yargs turned a non-number into NaN', () => {
    const err = usageError(() => positiveInteger('concurrency', 'concurrency', NaN), 'concurrency');
    expect(err.message).toBe('--concurrency: expected a positive integer, got something that is not a number');
  });
});

describe('parseFleetArgs', () => {
  it('parses every option, leaves absent ones absent', () => {
    expect(parseFleetArgs({})).toEqual({});
    expect(
      parseFleetArgs({ shard: '2/4', waves: '1,10%,100%', order: 'last-seen', maxFailures: 5, concurrency: 16, leaseMs: 15_000 }),
    ).toEqual({ shard: { index: 2, count: 4 }, waves: ['1', '10%', '100%'], order: 'last-seen', maxFailures: 5, concurrency: 16, leaseMs: 15_000 });
  });

  it.each([
    [{ shard: '3/2' }, 'shard', '--shard'],
    [{ waves: '0' }, 'waves', '--waves'],
    [{ order: 'random' }, 'order', '--order'],
    [{ maxFailures: 0 }, 'maxFailures', '--max-failures'],
    [{ concurrency: -2 }, 'concurrency', '--concurrency'],
    [{ leaseMs: 0.5 }, 'leaseMs', '--lease-ms'],
    [{ leaseMs: 1 }, 'leaseMs', '--lease-ms'],
    [{ leaseMs: 999 }, 'leaseMs', '--lease-ms'],
  ])('%j → USAGE naming %s', (args, key, flag) => {
    expect(usageError(() => parseFleetArgs(args), key).message).toMatch(new RegExp(`^${flag}[ :]`));
  });
});

describe('--lease-ms minimum', () => {
  it('accepts a lease of one second and refuses anything shorter, saying why', () => {
    expect(parseFleetArgs({ leaseMs: 1000 })).toEqual({ leaseMs: 1000 });
    expect(() => parseFleetArgs({ leaseMs: 1 })).toThrow(/^--lease-ms 1: a lease shorter than 1000 ms would expire between heartbeats/);
  });
});
