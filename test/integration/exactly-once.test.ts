/**
 * Exactly once whatever the script says (DESIGN.md "Safety invariants" 1, 2, 4): the engine's side
 * of what user-written migrations can do to a deploy — a script that ends the engine's transaction,
 * an error that does not abort the batch (SQL Server), a session left dirty (an aborted transaction,
 * SET options) for the next tenant, a restored meta table behind a trusted summary row, a later file
 * failing after an earlier one committed, a failure that reconcile must not turn into a success, and
 * a joined worker that must not fail a run that succeeded. The scripts here reach the engine without
 * the render-time lint (which refuses top-level transaction control up front): these tests prove
 * what the engine itself guarantees when something gets past it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/dialect/create-adapter.js';
import type { Dialect } from '../../src/dialect/dialect.js';
import { holdLock } from '../../src/dialect/contracts/locks.js';
import { migrateSchema } from '../../src/runner/schema-migrator.js';
import { checksumOf } from '../../src/source/index.js';
import type { MigrationFile } from '../../src/types.js';
import { patchedMigrator } from './patched-migrator.js';
import { runCli, runnableTargets, useProjectFixture } from './harness.js';
import { dialectSql, withDatabase } from './sql-helpers.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const row = (id: string) => ({ id, checksum: 'a'.repeat(64), renderedChecksum: 'b'.repeat(64), runId: 'run-1' });
const ref = (id: string) => ({ id, checksum: 'a'.repeat(64) });

/** A transactional (or not) tenant migration file whose source is the SQL itself. */
function file(id: string, source: string, noTransaction = false): MigrationFile {
  return {
    id,
    number: Number(id.slice(0, 4)),
    name: id.slice(5),
    scope: 'tenant',
    path: `tenant-migrations/${id}.sql`,
    absolutePath: `/nowhere/${id}.sql`,
    source,
    isTemplate: false,
    checksum: checksumOf(source),
    directives: { noTransaction, afterTenants: false },
  };
}

describe.each(runnableTargets)('the engine keeps exactly once on $name ($engine)', (target) => {
  const mssql = target.name === 'mssql';

  describe('a script cannot end the engine transaction', () => {
    const fx = useProjectFixture(target);
    const schema = 'ws_00000000000000000000000000000e01';
    const t = (name: string) => (mssql ? `[${schema}].[${name}]` : `"${schema}".${name}`);
    const commit = mssql ? 'COMMIT TRANSACTION;' : 'COMMIT;';
    const begin = mssql ? 'BEGIN TRANSACTION;' : 'BEGIN;';
    let dialect: Dialect;
    beforeEach(async () => {
      dialect = await createAdapter({ url: fx.db.url, rootDir: fx.project.root, maxConnections: 3, names });
    });
    afterEach(async () => {
      await dialect.close();
    });
    const applied = () => dialect.withSession((s) => dialect.meta.readApplied(s, schema)).then((rows) => rows.map((r) => r.id));
    async function fresh() {
      const rec = dialect.folded!.recorder();
      await dialect.meta.ensureSchema(rec.session, schema);
      await dialect.meta.ensureMetaTable(rec.session, schema);
      const out = await dialect.withSession((s) =>
        dialect.folded!.apply(s, { schema, expected: [], prelude: rec.statements, script: `CREATE TABLE ${t('a')} (id INT);`, row: row('0001_a') }),
      );
      expect(out).toBe('applied');
    }
    const next = (script: string) => dialect.withSession((s) => dialect.folded!.apply(s, { schema, expected: [ref('0001_a')], prelude: [], script, row: row('0002_b') }));

    it('folded send: a COMMIT in the script is detected before the meta row, which is never recorded', async () => {
      await fresh();
      await expect(next(`CREATE TABLE ${t('c1')} (id INT);\n${commit}\n`)).rejects.toThrow(/ended the migration's transaction/);
      expect(await applied()).toEqual(['0001_a']);
      // COMMIT then BEGIN: a new transaction without the tenant lock is detected the same way.
      await expect(next(`CREATE TABLE ${t('c2')} (id INT);\n${commit}\n${begin}\n`)).rejects.toThrow(/ended the migration's transaction/);
      expect(await applied()).toEqual(['0001_a']);
      // The session and the tenant are usable afterwards.
      expect(await next(`CREATE TABLE ${t('c3')} (id INT);`)).toBe('applied');
      expect(await applied()).toEqual(['0001_a', '0002_b']);
    });

    it('careful path: a COMMIT in the script is detected before the meta row, which is never recorded', async () => {
      const files = [file('0001_a', `CREATE TABLE ${t('a')} (id INT);`), file('0002_b', `CREATE TABLE ${t('b')} (id INT);\n${commit}\n${begin}\n`)];
      const run = () =>
        dialect.withSession((session) =>
          holdLock(dialect.locks, session, schema, 5000, () =>
            migrateSchema({
              dialect,
              session,
              schema,
              files,
              render: (f) => f.source,
              runId: 'run-1',
              prepare: async (s) => {
                await dialect.meta.ensureSchema(s, schema);
                await dialect.meta.ensureMetaTable(s, schema);
              },
            }),
            () => {
              throw new Error('busy');
            },
          ),
        );
      await expect(run()).rejects.toThrow(/ended the migration's transaction/);
      expect(await applied()).toEqual(['0001_a']);
    });

    if (!mssql) {
      it('a schema name with the dollar-quote tag stays a name in the engine\'s DO blocks', async () => {
        const hostile = "ws_x$tm$; CREATE TABLE public.pwned (id int); DO $tm$BEGIN";
        await dialect.withSession(async (s) => {
          await dialect.meta.ensureSummary(s);
          await dialect.meta.ensureSchema(s, hostile);
          await dialect.meta.ensureMetaTable(s, hostile);
          await dialect.meta.refreshSummary(s, hostile);
        });
        const [r] = await dialect.withSession((s) =>
          s.query<{ pwned: boolean; made: boolean }>(
            "SELECT to_regclass('public.pwned') IS NOT NULL AS pwned, EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS made",
            [hostile],
          ),
        );
        expect(r).toEqual({ pwned: false, made: true });
      });
    }

    if (mssql) {
      it('folded send: RAISERROR(…, 16, 1) rolls the tenant back, nothing recorded', async () => {
        await fresh();
        await expect(next(`CREATE TABLE ${t('r1')} (id INT);\nRAISERROR('guard failed', 16, 1);\nCREATE TABLE ${t('r2')} (id INT);\n`)).rejects.toThrow(/guard failed/);
        expect(await applied()).toEqual(['0001_a']);
        const [found] = await dialect.withSession((s) => s.query<{ n: number }>(`SELECT COUNT(*) AS n FROM sys.tables WHERE name IN ('r1', 'r2') AND SCHEMA_NAME(schema_id) = '${schema}'`));
        expect(Number(found!.n)).toBe(0);
      });

      it('folded send: an error after SET XACT_ABORT OFF rolls the tenant back, nothing recorded', async () => {
        await fresh();
        const script = `SET XACT_ABORT OFF;\nCREATE TABLE ${t('x1')} (id INT PRIMARY KEY);\nINSERT INTO ${t('x1')} VALUES (1);\nINSERT INTO ${t('x1')} VALUES (1);\n`;
        await expect(next(script)).rejects.toThrow();
        expect(await applied()).toEqual(['0001_a']);
        const [found] = await dialect.withSession((s) => s.query<{ n: number }>(`SELECT COUNT(*) AS n FROM sys.tables WHERE name = 'x1' AND SCHEMA_NAME(schema_id) = '${schema}'`));
        expect(Number(found!.n)).toBe(0);
        expect(await next(`CREATE TABLE ${t('x2')} (id INT);`)).toBe('applied');
      });
    }
  });

  describe('up over a fleet', () => {
    const fx = useProjectFixture(target, { concurrency: 1, lockTimeoutMs: 10_000 });
    const cli = (...args: string[]) => runCli(args, { cwd: fx.project.root });
    const { table, master } = dialectSql(target.name, target.engine);
    const q = <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => withDatabase(fx.db.url, (h) => h.query<R>(sql, params));
    const schemas = () => withDatabase(fx.db.url, (h) => h.tenantSchemas());

    async function seeded(n: number) {
      const demo = await cli('demo', '--workspaces', String(n), '--json');
      expect(demo.code, demo.stderr).toBe(0);
      const up = await cli('up', '--json');
      expect(up.code, up.stdout + up.stderr).toBe(0);
      return schemas();
    }
    async function up(...args: string[]) {
      const r = await cli('up', '--json', ...args);
      return { code: r.code, report: JSON.parse(r.stdout), stderr: r.stderr };
    }

    it('a no-transaction script that leaves an aborted transaction: the real error is reported, the next tenant and the ledger are unharmed', async () => {
      await seeded(2);
      fx.project.write(
        'tenant-migrations/0003_own_tx.sql.hbs',
        mssql
          ? '-- tenant-migrate: no-transaction\nBEGIN TRANSACTION;\nCREATE TABLE {{schema}}.own_tx (id INT);\nSELECT 1/0;\nCOMMIT TRANSACTION;\n'
          : '-- tenant-migrate: no-transaction\nBEGIN;\nCREATE TABLE {{schema}}.own_tx (id int);\nSELECT 1/0;\nCOMMIT;\n',
      );
      for (let i = 0; i < 2; i++) {
        const r = await up();
        expect(r.code, JSON.stringify(r.report)).toBe(1);
        expect(r.report.failed).toHaveLength(2);
        for (const f of r.report.failed) expect(f.error.message).toMatch(/divi/i);
        expect(JSON.stringify(r.report)).not.toMatch(/LEDGER_UNAVAILABLE/);
      }
    });

    it('session options a migration sets are not carried to the next tenant', async () => {
      const tenants = await seeded(3);
      // Each tenant records the options its script starts with, then changes them.
      fx.project.write(
        'tenant-migrations/0003_session_options.sql.hbs',
        mssql
          ? // (SET XACT_ABORT OFF is refused up front in a transactional migration: the hostile suite covers it.)
            'SELECT @@LOCK_TIMEOUT AS lt, CAST(@@OPTIONS & 16384 AS INT) AS xa INTO {{schema}}.probe;\nSET LOCK_TIMEOUT 1234;\nSET NOCOUNT ON;\n'
          : "CREATE TABLE {{schema}}.probe AS SELECT current_setting('search_path') AS sp, current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st;\n" +
              "SET search_path TO {{schemaName}}, public;\nSET lock_timeout = '1234ms';\nSET statement_timeout = '98765ms';\n",
      );
      const r = await up();
      expect(r.code, JSON.stringify(r.report)).toBe(0);
      for (const schema of tenants) {
        const [probe] = await q<Record<string, unknown>>(`SELECT * FROM ${table(schema, 'probe')}`);
        if (mssql) {
          expect(Number(probe!.lt), schema).not.toBe(1234);
        } else {
          expect(String(probe!.sp), schema).not.toMatch(/ws_/);
          expect(String(probe!.lt), schema).not.toBe('1234ms');
          expect(String(probe!.st), schema).not.toBe('98765ms');
        }
      }
    });

    it('a later file failing after an earlier one committed: the report names what committed', async () => {
      await seeded(2);
      fx.project.write('tenant-migrations/0003_fine.sql.hbs', 'CREATE TABLE {{schema}}.fine (id {{int}});\n');
      fx.project.write('tenant-migrations/0004_broken.sql.hbs', 'INSERT INTO {{schema}}.does_not_exist VALUES (1);\n');
      const r = await up();
      expect(r.code).toBe(1);
      expect(r.report.failed).toHaveLength(2);
      for (const f of r.report.failed) expect(f.applied).toEqual(['0003_fine']);
    });

    it('a failure on the meta row (primary key) is never reconciled into a success', async () => {
      await seeded(2);
      // The script writes the meta row itself, outside any transaction of the engine's (a no-transaction
      // file): the engine's meta INSERT then fails on the key, and the meta table says "at target".
      fx.project.write(
        'tenant-migrations/0003_self_recorded.sql.hbs',
        '-- tenant-migrate: no-transaction\n' +
        (mssql
          ? "INSERT INTO {{schema}}.__schema_migrations (id, checksum, rendered_checksum, duration_ms) VALUES ('0003_self_recorded', REPLICATE('a', 64), REPLICATE('b', 64), 0);\n"
          : "INSERT INTO {{schema}}.__schema_migrations (id, checksum, rendered_checksum, duration_ms) VALUES ('0003_self_recorded', repeat('a', 64), repeat('b', 64), 0);\n"),
      );
      const r = await up();
      expect(r.code, JSON.stringify(r.report)).toBe(1);
      expect(r.report.tenants.failed).toBe(2);
    });

    it('a restored meta table invalidates the summary row: status and up see the tenant behind', async () => {
      const [restored, other] = await seeded(2);
      const meta = table(restored!, '__schema_migrations');
      const copy = table(restored!, 'meta_restored');
      // A restore from a dump taken before the last release: the meta table is recreated with only 0001.
      if (mssql) {
        await q(`SELECT * INTO ${copy} FROM ${meta} WHERE id = '0001_create_workspace_tables'`);
        await q(`DROP TABLE ${meta}`);
        await q(`EXEC sp_rename '${restored}.meta_restored', '__schema_migrations', 'OBJECT'`);
      } else {
        await q(`CREATE TABLE ${copy} AS SELECT * FROM ${meta} WHERE id = '0001_create_workspace_tables'`);
        await q(`DROP TABLE ${meta}`);
        await q(`ALTER TABLE ${copy} RENAME TO __schema_migrations`);
      }
      const st = await cli('status', '--json');
      expect(JSON.parse(st.stdout).tenants, st.stdout).toMatchObject({ behind: 1 });
      const r = await up();
      expect(r.code, JSON.stringify(r.report)).toBe(0);
      expect(r.report.tenants.succeeded).toBe(1);
      const ids = await q<{ id: string }>(`SELECT id FROM ${meta} ORDER BY id`);
      expect(ids.map((x) => x.id)).toEqual(['0001_create_workspace_tables', '0002_copy_workspace_external_links']);
      expect(other).toBeDefined();
    });

    it('the after-tenants gate reads the meta tables, not only the summary', async () => {
      const [victim] = await seeded(2);
      fx.project.write('tenant-migrations/0003_add.sql.hbs', 'CREATE TABLE {{schema}}.added (id {{int}});\n');
      fx.project.write('master-migrations/0005_contract.sql.hbs', '-- tenant-migrate: after-tenants\nCREATE TABLE {{master}}.contracted (id {{int}});\n');
      const first = await up();
      expect(first.code, JSON.stringify(first.report)).toBe(0);
      expect(first.report.master.applied).toContain('0005_contract');
      // A summary row that no longer describes its meta table (same table, a row removed by hand).
      fx.project.write('master-migrations/0006_contract_again.sql.hbs', '-- tenant-migrate: after-tenants\nCREATE TABLE {{master}}.contracted_again (id {{int}});\n');
      await q(`DELETE FROM ${table(victim!, '__schema_migrations')} WHERE id = '0003_add'`);
      const second = await up();
      expect(second.report.master.applied).not.toContain('0006_contract_again');
      expect(second.report.master.waiting).toContain('0006_contract_again');
      const [n] = await q<{ n: number }>(`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'pmassist_master' AND table_name = 'contracted_again'`);
      expect(Number(n!.n)).toBe(0);
      expect(master('x')).toBeDefined();
    });

    // SQL Server only: the planning read of meta rows does not wait (LOCK_TIMEOUT 0, READPAST); a
    // meta table under a schema-modification lock cannot be read at all that way.
    if (mssql) it('down does not skip a tenant whose meta table could not be read without waiting', async () => {
      const [busy] = await seeded(2);
      const meta = table(busy!, '__schema_migrations');
      const adapter = await createAdapter({ url: fx.db.url, rootDir: fx.project.root, maxConnections: 2, names });
      try {
        const done = adapter.withSession(async (s) => {
          await s.begin();
          await s.query(`ALTER TABLE ${meta} ADD note INT NULL`);
          const reverted = cli('down', '--to', '0001_create_workspace_tables', '--json');
          await new Promise((r) => setTimeout(r, 3000));
          await s.rollback();
          return reverted;
        });
        const r = await done;
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const report = JSON.parse(r.stdout);
        const mine = report.schemas.find((x: { schema: string }) => x.schema === busy);
        expect(mine, r.stdout).toMatchObject({ status: 'reverted', reverted: ['0002_copy_workspace_external_links'] });
      } finally {
        await adapter.close();
      }
    });

    it('a worker whose run is finished by another worker meanwhile ends without a stop (exit 0)', async () => {
      await seeded(2);
      fx.project.write('tenant-migrations/0003_add.sql.hbs', 'CREATE TABLE {{schema}}.added (id {{int}});\n');
      // While this worker waits for a row another worker still runs, that worker finishes the run:
      // the idle poll's count says one row is running, and by the time the run is read it succeeded.
      let raced = false;
      const migrator = patchedMigrator(fx.db.url, fx.project.root, (dialect) => {
        const ledger = dialect.ledger;
        const count = ledger.countRunTenants.bind(ledger);
        let calls = 0;
        ledger.countRunTenants = async (runId, maxWave) => {
          const c = await count(runId, maxWave);
          // The idle poll (after this worker ran its tenants): pretend one row is still running elsewhere.
          if (maxWave !== undefined && c.pending + c.running === 0 && c.succeeded > 0 && !raced && ++calls === 1) {
            raced = true;
            await ledger.finishRun(runId, 'succeeded', c);
            return { ...c, running: 1, succeeded: c.succeeded - 1 };
          }
          return c;
        };
      }, { concurrency: 1 });
      try {
        const result = await migrator.up({});
        expect(raced).toBe(true);
        expect(result.stopped).toBeUndefined();
        expect(result.tenants.failed).toBe(0);
      } finally {
        await migrator.close();
      }
    });
  });

  // Two processes on one run: server dialects only (PGlite admits one process per data directory).
  if (target.name !== 'pglite') describe('two workers on one run', () => {
    const fx = useProjectFixture(target, { concurrency: 1, lockTimeoutMs: 10_000 });
    const { sleep } = dialectSql(target.name, target.engine);

    it('SIGINT on one worker: it exits 130, its sibling finishes the run and exits 0, the run succeeds', { timeout: 300_000 }, async () => {
      const N = 16;
      const demo = await runCli(['demo', '--workspaces', String(N), '--json'], { cwd: fx.project.root });
      expect(demo.code, demo.stderr).toBe(0);
      const first = await runCli(['up', '--json'], { cwd: fx.project.root });
      expect(first.code, first.stderr).toBe(0);
      // Slow enough that B (a second process, slower to start on a loaded machine) joins while A has most rows left.
      fx.project.write('tenant-migrations/0003_slow.sql.hbs', `CREATE TABLE {{schema}}.slow (id {{int}});\n${sleep(target.name === 'mssql' ? 2500 : 800)};\n`);
      // A opens the run (and, claiming in batches, holds every row); B joins it; once B is in and A
      // has finished a tenant, A gets SIGINT. B, idle until then, must take A's handed-back rows.
      let stderrA = '';
      let stderrB = '';
      let signalled = false;
      let childA: { kill(signal: NodeJS.Signals): boolean } | undefined;
      let startB: (() => void) | undefined;
      const bMayStart = new Promise<void>((resolve) => (startB = resolve));
      const maybeSignal = () => {
        const doneA = stderrA.split('\n').filter((l) => l.includes('"type":"tenant:done"')).length;
        if (!signalled && doneA >= 1 && doneA <= N - 4 && stderrB.includes('"opening":"joined"')) {
          signalled = true;
          childA?.kill('SIGINT');
        }
      };
      const a = runCli(['up', '--json', '--events'], {
        cwd: fx.project.root,
        onSpawn: (c) => {
          childA = c;
          c.stderr!.on('data', (d: Buffer) => {
            stderrA += d.toString();
            if (stderrA.includes('"type":"run:opened"')) startB?.();
            maybeSignal();
          });
        },
      });
      await bMayStart;
      const b = runCli(['up', '--json', '--events'], {
        cwd: fx.project.root,
        onSpawn: (c) => c.stderr!.on('data', (d: Buffer) => ((stderrB += d.toString()), maybeSignal())),
      });
      const [ra, rb] = await Promise.all([a, b]);
      expect(signalled, `A finished before B joined:\n${ra.stdout}\n${rb.stdout}`).toBe(true);
      expect(ra.code, ra.stdout).toBe(130);
      expect(rb.code, rb.stdout).toBe(0);
      expect(JSON.parse(rb.stdout)).toMatchObject({ opening: 'joined', stopped: null });
      const run = JSON.parse((await runCli(['status', '--run', '--json'], { cwd: fx.project.root })).stdout);
      expect(run).toMatchObject({ run: { status: 'succeeded' }, counts: { total: N, succeeded: N, pending: 0, running: 0, failed: 0 } });
    });
  });
});
