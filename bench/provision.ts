/**
 * Provisioning latency on local PostgreSQL: a fresh database, master migrated, then
 *  1. N sequential provisionings through one long-lived WorkspaceService (one pool), p50/p95/max;
 *  2. C concurrent provisionings (all must succeed), wall time and per-call p50/p95.
 *
 *   node --import tsx bench/provision.ts [--n 100] [--concurrent 50]
 *   TM_BENCH_POSTGRES_URL=postgres://user@host:5432/postgres   (default: TM_TEST_POSTGRES_URL or local)
 *
 * Prints a table and one JSON line (`{"bench":"provision",…}`) for scripts. Exit 1 when a
 * provisioning fails or the sequential p50 exceeds the 150 ms target.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createWorkspaceService } from '../src/workspaces/workspace-service.js';
import { ADMIN_URL, admin } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_P50_MS = 150;

const { values } = parseArgs({ options: { n: { type: 'string', default: '100' }, concurrent: { type: 'string', default: '50' } } });
const n = Number(values.n);
const concurrent = Number(values.concurrent);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function stats(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return { n: sorted.length, p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), max: round(sorted.at(-1) ?? NaN) };
}

const database = `tm_bench_${randomBytes(5).toString('hex')}`;
await admin(`CREATE DATABASE ${database}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${database}`;
// Pool: concurrency + 1 connections (the migrator's default sizing); 16 like a modest app pool.
const service = createWorkspaceService({ url: url.toString(), rootDir: ROOT, concurrency: 16 });
let failed = 0;
try {
  await service.migrator.up();
  // Warm-up: first call reads the migration files and opens connections.
  await service.provisionWorkspace({ workspaceId: randomUUID(), name: 'warm-up' });

  const sequential: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await service.provisionWorkspace({ workspaceId: randomUUID(), name: `seq-${i}`, ownerUserId: 'bench' });
    sequential.push(performance.now() - t0);
  }

  const parallel: number[] = [];
  const wall0 = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: concurrent }, async (_, i) => {
      const t0 = performance.now();
      await service.provisionWorkspace({ workspaceId: randomUUID(), name: `par-${i}`, ownerUserId: 'bench' });
      parallel.push(performance.now() - t0);
    }),
  );
  const wallMs = Math.round(performance.now() - wall0);
  failed = results.filter((r) => r.status === 'rejected').length;
  for (const r of results) if (r.status === 'rejected') console.error(`failed: ${(r.reason as Error).message}`);

  const seq = stats(sequential);
  const par = stats(parallel);
  console.log(`provisioning on PostgreSQL (${(await service.migrator.loadFiles()).tenant.length} tenant migrations, pool ${service.migrator.config.concurrency + 1})`);
  console.log(`  sequential   n=${seq.n}  p50 ${seq.p50} ms  p95 ${seq.p95} ms  max ${seq.max} ms  (target p50 <= ${TARGET_P50_MS} ms)`);
  console.log(`  concurrent   n=${concurrent}  succeeded ${concurrent - failed}  wall ${wallMs} ms  per-call p50 ${par.p50} ms  p95 ${par.p95} ms`);
  console.log(JSON.stringify({ bench: 'provision', sequential: seq, concurrent: { ...par, n: concurrent, failed, wallMs }, targetP50Ms: TARGET_P50_MS }));
  if (failed > 0 || seq.p50 > TARGET_P50_MS) process.exitCode = 1;
} finally {
  await service.close();
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}
