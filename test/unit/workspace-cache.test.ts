import { describe, expect, it } from 'vitest';
import { WorkspaceCache } from '../../src/workspaces/workspace-cache.js';

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('WorkspaceCache', () => {
  it('serves an entry until its TTL, then loads again', async () => {
    const c = clock();
    const cache = new WorkspaceCache<string>({ ttlMs: 100, now: c.now });
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get('a', load)).toBe('v1');
    c.advance(99);
    expect(await cache.get('a', load)).toBe('v1');
    c.advance(1);
    expect(await cache.get('a', load)).toBe('v2');
  });

  it('invalidate drops one entry or all', async () => {
    const cache = new WorkspaceCache<number>({ ttlMs: 1_000 });
    let n = 0;
    const load = async () => ++n;
    await cache.get('a', load);
    await cache.get('b', load);
    cache.invalidate('a');
    expect(await cache.get('a', load)).toBe(3);
    expect(await cache.get('b', load)).toBe(2);
    cache.invalidate();
    expect(cache.size).toBe(0);
  });

  it('shares one load between concurrent callers', async () => {
    const cache = new WorkspaceCache<number>();
    let loads = 0;
    const load = () => new Promise<number>((resolve) => setTimeout(() => resolve(++loads), 5));
    expect(await Promise.all([cache.get('a', load), cache.get('a', load), cache.get('a', load)])).toEqual([1, 1, 1]);
  });

  it('does not keep failures or values `keep` rejects', async () => {
    const cache = new WorkspaceCache<string | undefined>();
    await expect(cache.get('a', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(cache.size).toBe(0);
    expect(await cache.get('b', async () => undefined, (v) => v !== undefined)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(await cache.get('b', async () => 'x', (v) => v !== undefined)).toBe('x');
    expect(cache.size).toBe(1);
  });

  it('evicts the least recently used entry beyond maxEntries; ttl 0 never stores', async () => {
    const cache = new WorkspaceCache<string>({ maxEntries: 2 });
    await cache.get('a', async () => 'a');
    await cache.get('b', async () => 'b');
    await cache.get('a', async () => 'a2'); // a is now most recent
    await cache.get('c', async () => 'c'); // evicts b
    expect(await cache.get('a', async () => 'reloaded')).toBe('a');
    expect(await cache.get('b', async () => 'b2')).toBe('b2');
    const off = new WorkspaceCache<string>({ ttlMs: 0 });
    await off.get('a', async () => 'a');
    expect(off.size).toBe(0);
  });
});
