/**
 * Several tenants in one request (`tenantsPerSend`): each tenant is still its own transaction, lock
 * and meta check, so a failure stops only the tenant it hit — the engine learns from the meta tables
 * which tenants of the request committed, and runs the rest again on their own. Proven here with a
 * failing tenant at every position of a send, a kill -9 in the middle of a send, and two deploys at
 * once; every tenant ends with each migration exactly once, and the ledger agrees with the meta
 * tables. The tests' SQL goes through ./sql-helpers.ts.
 */
import { describe, expect, it } from 'vitest';
import { runCli, runnableTargets, useProjectFixture } from './harness.js';
import { dialectSql, withDatabase } from './sql-helpers.js';

const BASE = ['0001_create_workspace_tables', '0002_copy_workspace_external_links'];
const servers = runnableTargets.filter((t) => t.name !== 'pglite');

describe.each(runnableTargets)('tenants sharing a send on $name ($engine)', (target) => {
  const fx = useProjectFixture(target, { concurrency: 1, lockTimeoutMs: 20_000 });
  const { master, table, types, uuidOrder, sleep, isMssql } = dialectSql(target.name, target.engine);
  const cli = (...args: string[]) => runCli(args, { cwd: fx.project.root });
  const q = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => withDatabase(fx.db.url, (h) => h.query<R>(sql, params));
  const exec = (sql: string) => withDatabase(fx.db.url, (h) => h.exec(sql));

  /** Tenant schemas in the order the run claims them (registry order). */
  const ordered = async () =>
    (await q<{ db_schema_name: string }>(`SELECT db_schema_name FROM ${master('Workspace')} ORDER BY ${uuidOrder('workspace_id')}`)).map((r) => r.db_schema_name);

  /** Each tenant holds exactly `ids` in its meta table and one log row per logged migration. */
  async function expectExactlyOnce(ids: readonly string[], logged: number) {
    for (const s of await ordered()) {
      const meta = await q<{ id: string }>(`SELECT id FROM ${table(s, '__schema_migrations')} ORDER BY id`);
      expect(meta.map((m) => m.id), s).toEqual([...BASE, ...ids]);
      const log = await q<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table(s, 'tm_once_log')}`);
      expect(Number(log[0]!.n), s).toBe(logged);
    }
  }

  /** What the ledger says of the newest run, per schema. */
  async function ledgerOfLastRun(): Promise<Map<string, string>> {
    const [run] = await q<{ run_id: string }>(`SELECT run_id FROM ${master('__tm_runs')} ORDER BY started_utc DESC`);
    const rows = await q<{ schema_name: string; status: string }>(`SELECT schema_name, status FROM ${master('__tm_run_tenants')} WHERE run_id = $1`, [run!.run_id]);
    return new Map(rows.map((r) => [r.schema_name, r.status]));
  }

  it('a failing tenant at every position of a send fails alone; the others commit once; the ledger agrees', async () => {
    // PGlite (WASM start per CLI process) and the T-SQL engine are slower per run: fewer positions there, the same rule.
    const demo = await cli('demo', '--workspaces', target.name === 'postgres' ? '5' : '3', '--json');
    expect(demo.code, demo.stderr).toBe(0);
    fx.project.write('tenant-migrations/0003_once_log.sql.hbs', `CREATE TABLE {{schema}}.tm_once_log (n ${types.int} NOT NULL);\n`);
    const first = await cli('up', '--json', '--tenants-per-send', '5');
    expect(first.code, first.stdout).toBe(0);
    const schemas = await ordered();
    const ids = ['0003_once_log'];
    for (let p = 0; p < schemas.length; p++) {
      const id = `000${4 + p}_position_${p}`;
      // A statement that fails only in the victim's schema (its column exists already), after a row
      // was logged: a tenant whose transaction leaked would keep the row.
      fx.project.write(
        `tenant-migrations/${id}.sql.hbs`,
        `INSERT INTO {{schema}}.tm_once_log (n) VALUES (${4 + p});\nALTER TABLE {{schema}}.automation_jobs ADD pos_${p} ${types.int} NULL;\n`,
      );
      const victim = schemas[p]!;
      await exec(`ALTER TABLE ${table(victim, 'automation_jobs')} ADD pos_${p} ${types.text}`);
      const up = await cli('up', '--json', '--tenants-per-send', String(schemas.length));
      expect(up.code, up.stdout).toBe(1);
      const report = JSON.parse(up.stdout);
      expect(report.tenants).toMatchObject({ failed: 1, succeeded: schemas.length - 1 });
      // The victim's own error, as its own run reports it (not another tenant's, not the request's).
      expect(report.failed[0]).toMatchObject({ schema: victim, error: { migrationId: id, file: `tenant-migrations/${id}.sql.hbs` } });
      expect(report.failed[0].error.message).toContain(`pos_${p}`);
      const ledger = await ledgerOfLastRun();
      for (const s of schemas) expect(ledger.get(s), `${s} at position ${schemas.indexOf(s)}, victim ${p}`).toBe(s === victim ? 'failed' : 'succeeded');
      // Mend the victim; the re-run applies its migration once.
      await exec(`ALTER TABLE ${table(victim, 'automation_jobs')} DROP COLUMN pos_${p}`);
      const again = await cli('up', '--json', '--tenants-per-send', String(schemas.length));
      expect(again.code, again.stdout).toBe(0);
      expect(JSON.parse(again.stdout).tenants).toMatchObject({ succeeded: 1 });
      ids.push(id);
      await expectExactlyOnce(ids, p + 1);
    }
    const verify = await cli('status', '--verify', '--json');
    expect(verify.code, verify.stdout).toBe(0);
  }, 900_000);

  it('--tenants-per-send 1 sends a request per tenant and ends the same way', async () => {
    const demo = await cli('demo', '--workspaces', '3', '--json');
    expect(demo.code, demo.stderr).toBe(0);
    fx.project.write('tenant-migrations/0003_once_log.sql.hbs', `CREATE TABLE {{schema}}.tm_once_log (n ${types.int} NOT NULL);\nINSERT INTO {{schema}}.tm_once_log (n) VALUES (3);\n`);
    const up = await cli('up', '--json', '--tenants-per-send', '1');
    expect(up.code, up.stdout).toBe(0);
    await expectExactlyOnce(['0003_once_log'], 1);
  });

  it("each tenant of a shared send reports its own time: the ledger's duration is its meta row's, the slow one the slowest", async () => {
    const demo = await cli('demo', '--workspaces', '3', '--json');
    expect(demo.code, demo.stderr).toBe(0);
    fx.project.write('tenant-migrations/0003_slow_marker.sql.hbs', `CREATE TABLE {{schema}}.tm_slow (n ${types.int} NOT NULL);\n`);
    expect((await cli('up', '--json')).code).toBe(0);
    const schemas = await ordered();
    const slow = schemas[1]!;
    await exec(`INSERT INTO ${table(slow, 'tm_slow')} (n) VALUES (1)`);
    // Waits only where the marker row is: one tenant of the request takes 400 ms, the others none.
    const wait = isMssql ? `IF EXISTS (SELECT 1 FROM {{schema}}.tm_slow) ${sleep(400)};` : 'SELECT pg_sleep(0.4) FROM {{schema}}.tm_slow;';
    fx.project.write('tenant-migrations/0004_slow_where_marked.sql.hbs', `${wait}\n`);
    const up = await cli('up', '--json', '--tenants-per-send', '3');
    expect(up.code, up.stdout).toBe(0);
    const [run] = await q<{ run_id: string }>(`SELECT run_id FROM ${master('__tm_runs')} ORDER BY started_utc DESC`);
    const ledger = await q<{ schema_name: string; duration_ms: number }>(`SELECT schema_name, duration_ms FROM ${master('__tm_run_tenants')} WHERE run_id = $1`, [run!.run_id]);
    expect(ledger).toHaveLength(3);
    for (const row of ledger) {
      const [meta] = await q<{ duration_ms: number }>(`SELECT duration_ms FROM ${table(row.schema_name, '__schema_migrations')} WHERE id = '0004_slow_where_marked'`);
      expect(Number(row.duration_ms), row.schema_name).toBe(Number(meta!.duration_ms));
    }
    const bySlowest = [...ledger].sort((a, b) => Number(b.duration_ms) - Number(a.duration_ms));
    expect(bySlowest[0]!.schema_name).toBe(slow);
    expect(Number(bySlowest[0]!.duration_ms)).toBeGreaterThanOrEqual(400);
  });

  if (!isMssql) {
    it('one slow send does not leave the rest of the run at a send per tenant', async () => {
      // The send size follows the measured time per tenant: a first send slowed by one tenant makes
      // the next ones small. They must grow back as the fast tenants are measured. PostgreSQL stamps
      // every statement of one request with the same statement_timestamp(), so the distinct stamps
      // the tenants logged count the requests that carried them.
      const demo = await cli('demo', '--workspaces', '21', '--json');
      expect(demo.code, demo.stderr).toBe(0);
      fx.project.write('tenant-migrations/0003_send_log.sql.hbs', 'CREATE TABLE {{schema}}.tm_send_log (at timestamptz NULL, slow int NULL);\n');
      expect((await cli('up', '--json')).code).toBe(0);
      const schemas = await ordered();
      await exec(`INSERT INTO ${table(schemas[0]!, 'tm_send_log')} (slow) VALUES (1)`);
      fx.project.write(
        'tenant-migrations/0004_stamp.sql.hbs',
        'SELECT pg_sleep(1.2) FROM {{schema}}.tm_send_log WHERE slow = 1;\nINSERT INTO {{schema}}.tm_send_log (at) VALUES (statement_timestamp());\n',
      );
      const up = await cli('up', '--json');
      expect(up.code, up.stdout).toBe(0);
      const all = schemas.map((s) => `SELECT at FROM ${table(s, 'tm_send_log')}`).join(' UNION ALL ');
      const [{ n }] = (await q<{ n: number | string }>(`SELECT COUNT(DISTINCT at) AS n FROM (${all}) AS x WHERE at IS NOT NULL`)) as [{ n: number | string }];
      // The first send (4 tenants, one of them 1.2 s) puts the size at 1. Stuck there, the other 17
      // tenants would take 17 requests (18 in all); growing back, far fewer.
      expect(Number(n), `${n} requests for ${schemas.length} tenants`).toBeLessThan(18);
    });
  }

  if (servers.includes(target)) {
    it('kill -9 in the middle of a send, then a re-run: every tenant once, the ledger reconciled', async () => {
      const demo = await cli('demo', '--workspaces', '8', '--json');
      expect(demo.code, demo.stderr).toBe(0);
      fx.project.write(
        'tenant-migrations/0003_once_log.sql.hbs',
        `CREATE TABLE {{schema}}.tm_once_log (n ${types.int} NOT NULL);\nINSERT INTO {{schema}}.tm_once_log (n) VALUES (3);\n${sleep(250)};\n`,
      );
      let killed = false;
      const first = await runCli(['up', '--json', '--tenants-per-send', '8'], {
        cwd: fx.project.root,
        onSpawn: (child) => {
          // Kill once the send is on its way: some tenants of it committed, the rest not.
          const timer = setInterval(async () => {
            const done = await withDatabase(fx.db.url, (h) => h.count(master('__tm_run_tenants'))).catch(() => 0);
            if (done > 0 && !killed) {
              setTimeout(() => {
                killed = true;
                child.kill('SIGKILL');
              }, 700);
              clearInterval(timer);
            }
          }, 100);
          child.on('exit', () => clearInterval(timer));
        },
      });
      expect(first.signal, first.stderr).toBe('SIGKILL');
      // Killed before the end: some (or none) of the tenants committed, never all.
      const committed = await withDatabase(fx.db.url, async (h) => {
        let n = 0;
        for (const s of await h.tenantSchemas()) n += await h.count(table(s, '__schema_migrations'), "id = '0003_once_log'");
        return n;
      });
      expect(committed).toBeLessThan(8);
      const again = await cli('up', '--json', '--lease-ms', '1000');
      // The killed worker's leases lapse; the re-run takes its rows over.
      expect(again.code, again.stdout).toBe(0);
      await expectExactlyOnce(['0003_once_log'], 1);
      const verify = await cli('status', '--verify', '--json');
      expect(verify.code, verify.stdout).toBe(0);
    });

    it('two deploys at once, each sending several tenants per request: every tenant once, both exit 0', async () => {
      const demo = await cli('demo', '--workspaces', '12', '--json');
      expect(demo.code, demo.stderr).toBe(0);
      fx.project.write(
        'tenant-migrations/0003_once_log.sql.hbs',
        `CREATE TABLE {{schema}}.tm_once_log (n ${types.int} NOT NULL);\nINSERT INTO {{schema}}.tm_once_log (n) VALUES (3);\n${sleep(50)};\n`,
      );
      const [a, b] = await Promise.all([
        cli('up', '--json', '--concurrency', '2', '--tenants-per-send', '4'),
        cli('up', '--json', '--concurrency', '2', '--tenants-per-send', '4'),
      ]);
      expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
      expect(b.code, `${b.stderr}\n${b.stdout}`).toBe(0);
      await expectExactlyOnce(['0003_once_log'], 1);
      const ledger = await ledgerOfLastRun();
      expect([...ledger.values()].every((s) => s === 'succeeded')).toBe(true);
      expect(ledger.size).toBe(12);
    });
  }
});
