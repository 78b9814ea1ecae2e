/**
 * Model-based property test of the run ledger's claim/lease bookkeeping, on every dialect's real
 * ledger store (the in-memory dialect has no ledger twin: the bookkeeping lives in each dialect's
 * SQL, so that is what is checked). fast-check generates schedules of claims (with a live lease or
 * one that has already expired), lease renewals, outcomes (including a worker reporting a tenant it
 * no longer holds), hand-backs and reconciles by three workers; after every step the ledger must
 * equal a small model of the contract (src/dialect/contracts/ledger-store.ts):
 * - a claim never returns a tenant whose lease is live, and returns the first eligible tenants in order;
 * - only the holder's running rows take its failures and hand-backs; a success is recorded whoever holds the row;
 * - after a final drain every tenant has exactly one row, in exactly one terminal state.
 * Concurrent claimers (server dialects: several sessions at once) never get the same tenant.
 */
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/dialect/create-adapter.js';
import type { Dialect } from '../../src/dialect/dialect.js';
import type { LedgerTenant, RunTenantStatus } from '../../src/dialect/ledger-types.js';
import { type TestDatabase, runnableTargets } from './harness.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const TENANTS = 6;
const WORKERS = ['w1', 'w2', 'w3'] as const;
const LIVE_MS = 600_000;
const EXPIRED_MS = 1;
const schemaOf = (i: number) => `ws_${i.toString(16).padStart(32, '0')}`;

type Command =
  | { readonly t: 'claim'; readonly w: number; readonly n: number; readonly live: boolean; readonly maxWave: number }
  | { readonly t: 'renew'; readonly w: number; readonly live: boolean }
  | { readonly t: 'complete'; readonly w: number; readonly picks: readonly number[]; readonly status: 'succeeded' | 'failed' | 'skipped' }
  | { readonly t: 'release'; readonly w: number; readonly picks: readonly number[] }
  | { readonly t: 'reconcile'; readonly picks: readonly number[] };

const worker = fc.integer({ min: 0, max: WORKERS.length - 1 });
const picks = fc.uniqueArray(fc.integer({ min: 0, max: TENANTS - 1 }), { minLength: 1, maxLength: 3 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('claim' as const), w: worker, n: fc.integer({ min: 1, max: 3 }), live: fc.boolean(), maxWave: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('renew' as const), w: worker, live: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('complete' as const), w: worker, picks, status: fc.constantFrom('succeeded' as const, 'failed' as const, 'skipped' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('release' as const), w: worker, picks }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reconcile' as const), picks }) },
);

interface ModelRow {
  status: RunTenantStatus;
  owner: string | null;
  live: boolean;
  attempts: number;
  readonly wave: number;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(runnableTargets)('ledger claims and leases on $name (property)', (target) => {
  let db: TestDatabase;
  let dialect: Dialect;

  beforeAll(async () => {
    db = await target.createDatabase();
    dialect = await createAdapter({ url: db.url, rootDir: process.cwd(), maxConnections: 4, names });
    const rec = dialect.withSession((s) => dialect.meta.ensureSchema(s, names.masterSchema));
    await rec;
    await dialect.ledger.ensureLedger();
  });
  afterAll(async () => {
    await dialect?.close();
    await db?.drop();
  });

  async function newRun(): Promise<string> {
    const runId = randomUUID();
    await dialect.ledger.createRun({ runId, runKey: runId, target: '0001_x', options: {}, startedBy: 'property' });
    await dialect.ledger.addRunTenants(
      runId,
      Array.from({ length: TENANTS }, (_, i) => ({ schema: schemaOf(i), workspaceId: randomUUID(), seq: i, wave: i < 2 ? 0 : 1 })),
    );
    return runId;
  }

  const byStatus = (rows: readonly LedgerTenant[]) => rows.map((r) => ({ schema: r.schema, status: r.status, owner: r.claimedBy, attempts: r.attempts }));
  const modelView = (model: readonly ModelRow[]) => model.map((m, i) => ({ schema: schemaOf(i), status: m.status, owner: m.owner, attempts: m.attempts }));

  it('the ledger follows the claim/lease model step by step; after a drain every tenant is in exactly one terminal state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 14 }), async (commands) => {
        const runId = await newRun();
        const model: ModelRow[] = Array.from({ length: TENANTS }, (_, i) => ({ status: 'pending', owner: null, live: false, attempts: 0, wave: i < 2 ? 0 : 1 }));
        for (const c of commands) {
          if (c.t === 'claim') {
            const w = WORKERS[c.w]!;
            const eligible = model
              .map((m, i) => ({ m, i }))
              .filter(({ m }) => m.wave <= c.maxWave && (m.status === 'pending' || (m.status === 'running' && !m.live)))
              .slice(0, c.n)
              .map(({ i }) => schemaOf(i));
            const claimed = await dialect.ledger.claimTenants(runId, w, c.n, c.live ? LIVE_MS : EXPIRED_MS, c.maxWave);
            expect(claimed.map((r) => r.schema), `claim by ${w}`).toEqual(eligible);
            for (const s of eligible) {
              const m = model[Number.parseInt(s.slice(3), 16)]!;
              Object.assign(m, { status: 'running', owner: w, live: c.live, attempts: m.attempts + 1 });
            }
            // An expired lease must be in the past on the database clock before the next step.
            if (!c.live) await pause(25);
          } else if (c.t === 'renew') {
            const w = WORKERS[c.w]!;
            await dialect.ledger.renewLease(runId, w, c.live ? LIVE_MS : EXPIRED_MS);
            for (const m of model) if (m.owner === w && m.status === 'running') m.live = c.live;
            if (!c.live) await pause(25);
          } else if (c.t === 'complete') {
            const w = WORKERS[c.w]!;
            await dialect.ledger.completeTenants(
              runId,
              w,
              c.picks.map((i) => ({ schema: schemaOf(i), status: c.status, durationMs: 1, extraAttempts: 0, applied: c.status === 'succeeded' ? ['0001_x'] : [], ...(c.status === 'failed' ? { error: { code: 'MIGRATION_FAILED', message: 'boom' } } : {}) })),
            );
            for (const i of c.picks) {
              const m = model[i]!;
              const holds = m.owner === w && m.status === 'running';
              if (holds || (c.status === 'succeeded' && m.status !== 'succeeded')) Object.assign(m, { status: c.status, live: false });
            }
          } else if (c.t === 'release') {
            const w = WORKERS[c.w]!;
            await dialect.ledger.releaseTenants(runId, w, c.picks.map(schemaOf));
            for (const i of c.picks) {
              const m = model[i]!;
              if (m.owner === w && m.status === 'running') Object.assign(m, { status: 'pending', owner: null, live: false, attempts: Math.max(m.attempts - 1, 0) });
            }
          } else {
            await dialect.ledger.reconcileTenants(runId, c.picks.map(schemaOf));
            for (const i of c.picks) if (model[i]!.status === 'failed') model[i]!.status = 'succeeded';
          }
          expect(byStatus(await dialect.ledger.listRunTenants(runId)), `after ${JSON.stringify(c)}`).toEqual(modelView(model));
        }

        // Drain: expire every lease, then one worker takes whatever is not finished and finishes it.
        await dialect.ledger.renewLease(runId, 'w1', EXPIRED_MS);
        await dialect.ledger.renewLease(runId, 'w2', EXPIRED_MS);
        await dialect.ledger.renewLease(runId, 'w3', EXPIRED_MS);
        await pause(25);
        const rest = await dialect.ledger.claimTenants(runId, 'drain', TENANTS, LIVE_MS, 1);
        const open = model.filter((m) => m.status === 'pending' || m.status === 'running').length;
        expect(rest).toHaveLength(open);
        await dialect.ledger.completeTenants(runId, 'drain', rest.map((r) => ({ schema: r.schema, status: 'succeeded', durationMs: 1, extraAttempts: 0, applied: [] })));
        const final = await dialect.ledger.listRunTenants(runId);
        expect(final.map((r) => r.schema)).toEqual(Array.from({ length: TENANTS }, (_, i) => schemaOf(i)));
        for (const r of final) expect(['succeeded', 'failed', 'skipped'], r.schema).toContain(r.status);
        const counts = await dialect.ledger.countRunTenants(runId);
        expect(counts.succeeded + counts.failed + counts.skipped).toBe(TENANTS);
        expect(counts.pending + counts.running).toBe(0);
      }),
      { numRuns: target.name === 'mssql' ? 10 : 20 },
    );
  });

  it('concurrent claimers never get the same tenant while its lease is live', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 5 }), async (sizes) => {
        const runId = await newRun();
        const claims = await Promise.all(sizes.map((n, k) => dialect.ledger.claimTenants(runId, `c${k}`, n, LIVE_MS, 1)));
        const all = claims.flat().map((r) => r.schema);
        expect(new Set(all).size, 'a tenant claimed twice').toBe(all.length);
        // "Up to n" each (a claimer that meets locked rows may get fewer), never more than asked.
        claims.forEach((rows, k) => expect(rows.length, `claimer c${k}`).toBeLessThanOrEqual(sizes[k]!));
        // A later claimer gets exactly the rest: nothing claimed twice, nothing lost.
        const late = (await dialect.ledger.claimTenants(runId, 'late', TENANTS, LIVE_MS, 1)).map((r) => r.schema);
        expect([...all, ...late].sort()).toEqual(Array.from({ length: TENANTS }, (_, i) => schemaOf(i)));
      }),
      { numRuns: target.name === 'mssql' ? 8 : 15 },
    );
  });
});
