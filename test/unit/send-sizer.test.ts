import { describe, expect, it } from 'vitest';
import { SendSizer } from '../../src/runner/batch-runner.js';

describe('SendSizer: how many tenants share a send', () => {
  it('starts small, grows at most twofold per send toward the target time, and stops at max', () => {
    const s = new SendSizer(32, { targetMs: 200, start: 4 });
    expect(s.size).toBe(4);
    s.observe(4, 8, 400); // 2 ms per tenant: 100 would fit, but one step doubles at most
    expect(s.size).toBe(8);
    s.observe(8, 16, 800);
    expect(s.size).toBe(16);
    s.observe(16, 32, 1600);
    expect(s.size).toBe(32);
    s.observe(32, 64, 3200);
    expect(s.size).toBe(32);
  });

  it('shrinks when sends get slow, never below one', () => {
    const s = new SendSizer(32, { targetMs: 200, start: 16 });
    s.observe(16, 16 * 100, 1000); // 100 ms per tenant: 2 fit
    expect(s.size).toBe(2);
    for (let i = 0; i < 5; i++) s.observe(2, 2 * 1000, 100);
    expect(s.size).toBe(1);
  });

  it('grows back after one slow send from the times of tenants that ran alone, keeping the size cap it knew', () => {
    const s = new SendSizer(32, { targetMs: 500, maxBytes: 100_000, start: 4 });
    s.observe(4, 1300, 4 * 10_000); // a cold first send: 325 ms a tenant
    expect(s.size).toBe(1);
    const sizes: number[] = [];
    for (let i = 0; i < 12; i++) {
      s.observe(1, 5); // alone, 5 ms each, text size not known
      sizes.push(s.size);
    }
    expect(sizes.at(-1)).toBe(10); // 100 KB / 10 KB a tenant: the cap from the shared send still holds
    expect(sizes.every((n, i) => i === 0 || n >= sizes[i - 1]!)).toBe(true);
  });

  it('large scripts go fewer at a time (the size cap)', () => {
    const s = new SendSizer(64, { targetMs: 10_000, maxBytes: 1_000_000, start: 32 });
    s.observe(32, 32, 32 * 200_000); // 200 KB per tenant: 5 fit in 1 MB
    expect(s.size).toBe(5);
  });

  it('max 1 is one tenant per send whatever is measured', () => {
    const s = new SendSizer(1);
    s.observe(1, 0.1, 10);
    expect(s.size).toBe(1);
    expect(s.next(1000, 4)).toBe(1);
  });

  it('leaves work for every worker: a send takes at most its share of what waits', () => {
    const s = new SendSizer(32, { start: 32 });
    expect(s.next(1000, 4)).toBe(32);
    expect(s.next(40, 4)).toBe(10);
    expect(s.next(3, 4)).toBe(1);
  });
});
