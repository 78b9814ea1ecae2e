/**
 * Hostile migrations: the corpus of ./hostile-corpus.ts (migrations users really write: their own
 * transaction control, session options, guards, errors half-way, GO where it is no separator,
 * dollar quotes, very long scripts, hostile workspace names) on a small fleet of every dialect.
 *
 * Each case runs as two concurrent deploys — two library runs: on PGlite two `up()` of one
 * migrator (one process owns an embedded database, and it has one session; the cases share one
 * fleet there, each with its own migration ids), on a server two migrators with their own pools
 * on a fresh copy of the seeded fleet — then a probe migration on the same migrator (so on sessions
 * that ran the case) records search_path, lock_timeout, statement_timeout,
 * session_replication_role (T-SQL: @@OPTIONS, @@LOCK_TIMEOUT, @@TRANCOUNT), which must equal what a
 * clean session showed before. Then the database must show: the case applied exactly once per
 * tenant (or nowhere, when refused or failed), the ledger agreeing with the meta tables, and
 * nothing an injection would have created. Cases marked `kill` also run on server dialects as a
 * CLI deploy killed with SIGKILL mid-run, then two concurrent CLI deploys.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Migrator, UpResult } from '../../src/index.js';
import { type DialectTarget, runCli, runnableTargets } from './harness.js';
import { CASES, type HostileCase, assertCorpus } from './hostile-corpus.js';
import { type HostileFleet, HOSTILE_NAMES, fleetMigrator, hostileFleets, probeSql } from './hostile-fleet.js';
import { type SqlHelpers, dialectSql, sqlHelpers, withDatabase } from './sql-helpers.js';

assertCorpus();

/** The case's migration and the probe after it: numbered per case, so cases can share one fleet. */
interface CaseIds {
  readonly caseId: string;
  readonly caseFile: string;
  readonly probeId: string;
  readonly phase: string;
}
function idsOf(n: number): CaseIds {
  const pad = (k: number) => String(k).padStart(4, '0');
  const caseId = `${pad(2 + 2 * n)}_case`;
  return { caseId, caseFile: `tenant-migrations/${caseId}.sql.hbs`, probeId: `${pad(3 + 2 * n)}_probe`, phase: `after_${n}` };
}

const familyOf = (t: DialectTarget) => (t.name === 'mssql' ? 'mssql' : 'postgres');
const casesFor = (t: DialectTarget) => CASES.filter((c) => c.family === 'any' || c.family === familyOf(t));

type Settled = { ok: true; result: UpResult } | { ok: false; error: { code?: string; message: string; context?: Record<string, unknown> } };
const settle = (p: Promise<UpResult>): Promise<Settled> =>
  p.then(
    (result) => ({ ok: true as const, result }),
    (err: { code?: string; message: string; context?: Record<string, unknown> }) => ({ ok: false as const, error: err }),
  );

function caseText(c: HostileCase, extra = ''): string {
  return `${c.noTransaction ? '-- tenant-migrate: no-transaction\n' : ''}${c.sql}${extra}`;
}
/** Script line of the case's line `n` (the directive line shifts it by one). */
const fileLine = (c: HostileCase, n: number) => n + (c.noTransaction ? 1 : 0);

interface TenantState {
  readonly schema: string;
  readonly name: string;
  readonly meta: string[];
  readonly hits: number;
  readonly probe: Map<string, Map<string, string | null>>;
}

/** What the database says after the deploys (opened only when no migrator holds it: PGlite). */
async function readState(h: SqlHelpers): Promise<TenantState[]> {
  const registry = await h.query<{ db_schema_name: string; name: string }>(`SELECT db_schema_name, name FROM ${h.master('Workspace')}`);
  const out: TenantState[] = [];
  for (const r of registry) {
    const s = r.db_schema_name;
    const meta = (await h.query<{ id: string }>(`SELECT id FROM ${h.table(s, '__schema_migrations')} ORDER BY id`)).map((m) => m.id);
    const hits = await h.count(h.table(s, 'hits'), "case_id = 'case'");
    const probe = new Map<string, Map<string, string | null>>();
    for (const p of await h.query<{ phase: string; k: string; v: string | null }>(`SELECT phase, k, v FROM ${h.table(s, 'probe')}`)) {
      if (!probe.has(p.phase)) probe.set(p.phase, new Map());
      probe.get(p.phase)!.set(p.k, p.v);
    }
    out.push({ schema: s, name: r.name, meta, hits, probe });
  }
  return out;
}

async function relationExists(h: SqlHelpers, qualified: string, tenantSchema: string): Promise<boolean> {
  const [schema, table] = qualified.includes('.') ? qualified.split('.') : [tenantSchema, qualified];
  return h.tableExists(schema!, table!);
}

/** Ledger rows of every run, with the applied lists parsed. */
async function ledgerRows(h: SqlHelpers) {
  const rows = await h.query<{ run_id: string; schema_name: string; status: string; applied: string | null; error: string | null }>(
    `SELECT run_id, schema_name, status, applied, error FROM ${h.master('__tm_run_tenants')}`,
  );
  return rows.map((r) => ({ ...r, applied: (r.applied ? JSON.parse(r.applied) : []) as string[] }));
}

/**
 * The ledger agrees with the meta tables: no "succeeded" row names a migration its schema lacks, no
 * two succeeded rows claim the same tenant's migration (applied twice), and a tenant that has a
 * migration is not left failed/pending/running in the run that targeted it. (After a kill -9 the
 * tenants the killed worker applied are recorded by the re-run as already at target, with no
 * applied list: the meta tables are the truth.)
 */
async function expectLedgerAgrees(h: SqlHelpers, state: readonly TenantState[], ids: CaseIds): Promise<void> {
  const ledger = await ledgerRows(h);
  const runs = await h.query<{ run_id: string; target: string; status: string }>(`SELECT run_id, target, status FROM ${h.master('__tm_runs')}`);
  const targetOf = new Map(runs.map((r) => [r.run_id, r.target]));
  const metaOf = new Map(state.map((t) => [t.schema, t.meta]));
  for (const row of ledger) {
    if (row.status !== 'succeeded') continue;
    for (const id of row.applied) expect(metaOf.get(row.schema_name), `ledger ${row.run_id} says ${row.schema_name} applied ${id}`).toContain(id);
  }
  for (const t of state) {
    for (const id of t.meta.filter((i) => i === ids.caseId || i === ids.probeId)) {
      const claims = ledger.filter((r) => r.schema_name === t.schema && r.status === 'succeeded' && r.applied.includes(id));
      expect(claims.length, `${t.schema}: succeeded ledger rows applying ${id}`).toBeLessThanOrEqual(1);
      const open = ledger.filter((r) => r.schema_name === t.schema && targetOf.get(r.run_id) === id && r.status !== 'succeeded');
      expect(open.map((r) => `${r.run_id}: ${r.status} ${r.error ?? ''}`), `${t.schema} has ${id}, its ledger rows for that run`).toEqual([]);
    }
  }
  for (const r of runs) expect(['succeeded', 'failed'], `run ${r.run_id} (${r.target}) ended`).toContain(r.status);
}

function expectProbeClean(state: readonly TenantState[], probeRan: boolean, phase: string): void {
  if (!probeRan) return;
  for (const t of state) {
    const before = t.probe.get('before');
    const after = t.probe.get(phase);
    expect(before, `${t.schema}: baseline probe`).toBeDefined();
    expect(after, `${t.schema}: the probe migration did not run`).toBeDefined();
    expect(Object.fromEntries(after!), `${t.schema}: session state after the case differs from a clean session`).toEqual(Object.fromEntries(before!));
  }
}

/** The error of a refused deploy names the case file (and its line when the case says). */
function expectRefusal(s: Settled, c: HostileCase, code: string, line: number | undefined, ids: CaseIds): void {
  expect(s.ok, `expected ${code}, the deploy ran: ${s.ok ? JSON.stringify(s.result.tenants) : ''}`).toBe(false);
  if (s.ok) return;
  expect(s.error.code, s.error.message).toBe(code);
  const said = `${s.error.message} ${JSON.stringify(s.error.context ?? {})}`;
  expect(said).toContain(`${ids.caseId}.sql.hbs`);
  if (line !== undefined) expect(said).toMatch(new RegExp(`(:${fileLine(c, line)}\\b|"line":${fileLine(c, line)}\\b|line ${fileLine(c, line)}\\b)`));
}

describe.each(runnableTargets)('hostile migrations on $name ($engine)', (target) => {
  const fleets = hostileFleets(target);
  const single = target.name === 'pglite';
  /**
   * PGlite: one fleet and one migrator for all cases, each case with its own migration ids (a PGlite
   * start-up and a copy of its directory per case would cost most of the suite's time). Servers: a
   * fresh copy of the seeded database per case and two migrators with their own pools.
   */
  let shared: { fleet: HostileFleet; migrator: Migrator } | undefined;
  afterAll(async () => {
    await shared?.migrator.close();
    await shared?.fleet.drop();
    await fleets.dispose();
  });
  const deployTitle = single ? 'two concurrent up() of one migrator (PGlite: one process, one session)' : 'two concurrent deploys';

  for (const [n, c] of casesFor(target).entries()) {
    const ids = idsOf(n);
    const title = `[${c.expect.kind}] ${c.name} — ${deployTitle}`;
    it(title, async () => {
      const own: Migrator[] = [];
      let fleet: HostileFleet;
      if (single) {
        if (!shared) {
          const f = await fleets.next();
          shared = { fleet: f, migrator: fleetMigrator(f) };
        }
        fleet = shared.fleet;
      } else fleet = await fleets.next();
      const open = async () => {
        const m = fleetMigrator(fleet);
        own.push(m);
        return m;
      };
      const a = single ? shared!.migrator : await open();
      const b = single ? a : await open();
      // PGlite: read through the migrator's own database (a second instance on the directory would
      // cost a start-up); a server: through a fresh pool once the deploys' pools are closed.
      const inspect = async <T>(fn: (h: SqlHelpers) => Promise<T>): Promise<T> => {
        if (!single) return withDatabase(fleet.db.url, fn);
        const d = await a.adapter();
        return fn(sqlHelpers(d.name, (sql, params = []) => d.withSession((s) => s.query(sql, params)), target.engine));
      };
      let passed = false;
      try {
        // What earlier cases on a shared fleet left: the counted writes, and the notes (cleared).
        const hitsBefore = await inspect(async (h) => {
          const before = new Map((await readState(h)).map((t) => [t.schema, t.hits]));
          for (const schema of before.keys()) await h.exec(`DELETE FROM ${h.table(schema, 'notes')}`);
          return before;
        });
        fleet.project.write(ids.caseFile, caseText(c));
        const [ra, rb] = await Promise.all([settle(a.up()), settle(b.up())]);
        const results = [ra, rb].flatMap((s) => (s.ok ? s.result.results : []));
        const thrown = [ra, rb].flatMap((s) => (s.ok ? [] : [s.error]));
        let probeRan = false;

        if (c.expect.kind === 'refused') {
          expectRefusal(ra, c, c.expect.code, c.expect.line, ids);
          expectRefusal(rb, c, c.expect.code, c.expect.line, ids);
        } else if (c.expect.kind === 'applied') {
          expect(thrown.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
          expect(results.filter((r) => r.status === 'failed').map((r) => `${r.schema}: ${r.error?.code} ${r.error?.message}`)).toEqual([]);
          const appliedBy = new Map<string, number>();
          for (const r of results) if (r.applied.includes(ids.caseId)) appliedBy.set(r.schema, (appliedBy.get(r.schema) ?? 0) + 1);
          expect([...appliedBy.values()], 'each tenant applied by exactly one of the two deploys').toEqual(HOSTILE_NAMES.map(() => 1));
        } else {
          const { message, line } = c.expect;
          expect(thrown.map((e) => `${e.code}: ${e.message}`), 'no deploy may die of something else (e.g. LEDGER_UNAVAILABLE)').toEqual([]);
          const failed = results.filter((r) => r.status === 'failed');
          expect(new Set(failed.map((r) => r.schema)).size, 'every tenant fails').toBe(HOSTILE_NAMES.length);
          expect(results.filter((r) => r.applied.includes(ids.caseId))).toEqual([]);
          for (const r of failed) {
            expect(r.error?.message, r.schema).toMatch(message);
            expect(r.error?.migrationId).toBe(ids.caseId);
            // Soft: a lost line is reported, and the checks that nothing committed still run.
            if (line !== undefined) expect.soft(r.error?.line, `${r.schema}: the script line of the error`).toBe(fileLine(c, line));
          }
          // The next deploy shows the same error again (not a ledger error of a dirty session).
          const again = await settle(a.up());
          expect(again.ok ? '' : `${again.error.code}: ${again.error.message}`).toBe('');
          if (again.ok) {
            const f = again.result.results.filter((r) => r.status === 'failed');
            expect(f.length).toBe(HOSTILE_NAMES.length);
            for (const r of f) expect(r.error?.message).toMatch(message);
          }
        }

        // A later migration on the same migrator (sessions that ran the case) probes the session.
        if (c.expect.kind !== 'applied') rmSync(path.join(fleet.project.root, ids.caseFile), { force: true });
        fleet.project.write(`tenant-migrations/${ids.probeId}.sql.hbs`, probeSql(familyOf(target), ids.phase));
        const probe = await settle(a.up());
        expect(probe.ok ? '' : `${probe.error.code}: ${probe.error.message}`, 'the probe deploy').toBe('');
        if (probe.ok) {
          expect(probe.result.results.filter((r) => r.status === 'failed').map((r) => `${r.schema}: ${r.error?.message}`)).toEqual([]);
          probeRan = true;
        }
        if (!single) await Promise.all(own.splice(0).map((m) => m.close()));

        await inspect(async (h) => {
          const state = await readState(h);
          expect(state).toHaveLength(HOSTILE_NAMES.length);
          for (const t of state) {
            const hits = t.hits - (hitsBefore.get(t.schema) ?? 0);
            if (c.expect.kind === 'applied') {
              expect(t.meta.filter((id) => id === ids.caseId), t.schema).toHaveLength(1);
              expect(hits, `${t.schema}: the case's writes, counted`).toBe(c.expect.hits);
              await c.expect.check?.(h, t.schema, t.name);
            } else {
              expect(t.meta, t.schema).not.toContain(ids.caseId);
              expect(hits, `${t.schema}: nothing of a ${c.expect.kind} case may be committed`).toBe(0);
            }
            for (const rel of c.absent ?? []) expect(await relationExists(h, rel, t.schema), `${rel} must not exist`).toBe(false);
          }
          if (c.expect.kind === 'failed') {
            // The ledger keeps the script's own error for every tenant (not a ledger or session error).
            const runs = await h.query<{ run_id: string }>(`SELECT run_id FROM ${h.master('__tm_runs')} WHERE target = $1`, [ids.caseId]);
            const rows = (await ledgerRows(h)).filter((r) => r.status === 'failed' && runs.some((x) => x.run_id === r.run_id));
            for (const t of state) {
              const mine = rows.filter((r) => r.schema_name === t.schema);
              expect(mine.length, `${t.schema}: failed ledger rows`).toBeGreaterThan(0);
              for (const r of mine) expect(r.error ?? '', t.schema).toMatch(c.expect.message);
            }
          }
          expectProbeClean(state, probeRan, ids.phase);
          await expectLedgerAgrees(h, state, ids);
        });
        passed = true;
      } finally {
        await Promise.all(own.map((m) => m.close().catch(() => undefined)));
        if (!single) await fleet.drop();
        else if (!passed && shared) {
          // A failed case may leave its file half-applied or a session dirty: the next case gets a fresh fleet.
          await shared.migrator.close().catch(() => undefined);
          await shared.fleet.drop();
          shared = undefined;
        }
      }
    }, 180_000);
  }

  // kill -9 of a CLI deploy mid-run, then two concurrent CLI deploys: server dialects only (PGlite
  // admits one process per data directory and is not crash-safe under SIGKILL of its owner).
  const killCases = casesFor(target).filter((c) => c.kill && c.expect.kind === 'applied' && !c.noTransaction);
  for (const c of killCases) {
    const ids = idsOf(0);
    it.runIf(!single)(`[kill -9] ${c.name} — a CLI deploy killed mid-run, then two concurrent CLI deploys (server dialects)`, async () => {
      const fleet = await fleets.next();
      try {
        const { sleep, master } = dialectSql(target.name, target.engine);
        // A pause inside the transaction, so the kill lands while tenants are mid-case.
        fleet.project.write(ids.caseFile, caseText(c, `${sleep(400)};\n`));
        const cli = (onSpawn?: Parameters<typeof runCli>[1]['onSpawn']) =>
          runCli(['up', '--json', '--lease-ms', '1500'], { cwd: fleet.project.root, ...(onSpawn ? { onSpawn } : {}) });
        let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
        const first = cli((ch) => (child = ch));
        for (let i = 0; i < 600; i++) {
          const n = await withDatabase(fleet.db.url, (h) =>
            h.count(`${master('__tm_run_tenants')}`, `status = 'succeeded' AND applied LIKE '%${ids.caseId}%'`),
          ).catch(() => 0);
          if (n >= 1) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        child!.kill('SIGKILL');
        const killed = await first;
        expect(killed.signal ?? killed.code).toBeDefined();
        const [x, y] = await Promise.all([cli(), cli()]);
        expect(x.code, `${x.stderr}\n${x.stdout}`).toBe(0);
        expect(y.code, `${y.stderr}\n${y.stdout}`).toBe(0);
        await withDatabase(fleet.db.url, async (h) => {
          const state = await readState(h);
          for (const t of state) {
            expect(t.meta.filter((id) => id === ids.caseId), t.schema).toHaveLength(1);
            if (c.expect.kind === 'applied') expect(t.hits, `${t.schema}: the case's writes, counted`).toBe(c.expect.hits);
          }
          await expectLedgerAgrees(h, state, ids);
        });
      } finally {
        await fleet.drop();
      }
    }, 180_000);
  }
});
