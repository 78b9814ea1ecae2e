/**
 * The fault-injection proxy itself, in front of the real PostgreSQL server: bytes pass through
 * unchanged, a reset breaks exactly the connection it hits, a stall delays without losing bytes,
 * and the schedule is seeded. (The chaos suite builds on it.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { type FaultProxy, seededRandom, startFaultProxy } from '../support/fault-proxy.js';
import { dialectTargets } from './harness.js';

const postgres = dialectTargets.find((t) => t.name === 'postgres' && !t.skipped);
const ADMIN = new URL(process.env.TM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');

describe.runIf(postgres)('fault proxy (PostgreSQL behind it)', () => {
  let proxy: FaultProxy | undefined;
  const clients: pg.Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await proxy?.stop();
  });

  async function connect(): Promise<pg.Client> {
    const url = new URL(ADMIN);
    url.host = `127.0.0.1:${proxy!.port}`;
    const client = new pg.Client({ connectionString: url.toString() });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    return client;
  }

  it('forwards queries unchanged', async () => {
    proxy = await startFaultProxy({ targetHost: ADMIN.hostname, targetPort: Number(ADMIN.port || 5432), seed: 1 });
    const c = await connect();
    const { rows } = await c.query<{ s: string }>("SELECT repeat('x', 100000) AS s");
    expect(rows[0]!.s).toHaveLength(100000);
    expect(proxy.open).toBe(1);
  });

  it('a reset fails the connection it hits and not the others', async () => {
    proxy = await startFaultProxy({ targetHost: ADMIN.hostname, targetPort: Number(ADMIN.port || 5432), seed: 2 });
    const a = await connect();
    const victimPid = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    expect(proxy.inject('reset')).toBe('reset');
    await expect(a.query('SELECT 1')).rejects.toThrow();
    const b = await connect();
    const { rows } = await b.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [victimPid]);
    // The server notices the reset; its backend goes away (give it a moment: poll, no timing assertion).
    for (let i = 0; i < 50 && rows[0]!.n > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows[0] = (await b.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [victimPid])).rows[0]!;
    }
    expect(rows[0]!.n).toBe(0);
    expect(proxy.tally()).toEqual({ reset: 1, stall: 0, latency: 0 });
  });

  it('a stall or latency delays bytes without losing them', async () => {
    proxy = await startFaultProxy({ targetHost: ADMIN.hostname, targetPort: Number(ADMIN.port || 5432), seed: 3, stallMs: [200, 300], latencyMs: [10, 20] });
    const c = await connect();
    expect(proxy.inject('stall')).toBe('stall');
    const stalled = await c.query<{ n: number }>('SELECT 41 + 1 AS n');
    expect(stalled.rows[0]!.n).toBe(42);
    expect(proxy.inject('latency')).toBe('latency');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.query<{ n: number }>('SELECT $1::int AS n', [i])));
    expect(results.map((r) => r.rows[0]!.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a schedule injects its faults only into live connections', async () => {
    proxy = await startFaultProxy({ targetHost: ADMIN.hostname, targetPort: Number(ADMIN.port || 5432), seed: 4, weights: { reset: 0, stall: 1, latency: 1 }, stallMs: [10, 20] });
    const c = await connect();
    proxy.schedule(5, 200);
    for (let i = 0; proxy.faults.length < 5 && i < 500; i++) {
      await c.query('SELECT 1');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(proxy.faults).toHaveLength(5);
    expect(proxy.faults.every((f) => f.kind !== 'reset')).toBe(true);
  });
});

describe('seededRandom', () => {
  it('repeats for a seed and differs between seeds', () => {
    const take = (seed: number) => { const r = seededRandom(seed); return Array.from({ length: 5 }, () => r()); };
    expect(take(7)).toEqual(take(7));
    expect(take(7)).not.toEqual(take(8));
    expect(take(9).every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
