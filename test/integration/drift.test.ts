/**
 * Fleet drift detection on every dialect: a fleet where a few tenants were altered by hand in each
 * way (extra column, dropped index, changed default, changed type, missing table) → exactly those
 * tenants, with the right differences; an unaltered fleet → no drift (CLI exit 0); tenants at
 * different versions compared with their own version; a drift process killed with SIGKILL in the
 * middle of its replay leaves nothing (its transaction is rolled back), and an older leftover
 * scratch schema is removed by the next run.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createMigrator } from '../../src/migrator.js';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { describeDifference } from '../../src/catalog/catalog-diff.js';
import type { Catalog } from '../../src/catalog/catalog-model.js';
import { canonicalize } from '../../src/catalog/fingerprint.js';
import { runCli, runnableTargets, useProjectFixture } from './harness.js';
import { MASTER, type SqlHelpers, withDatabase } from './sql-helpers.js';

async function fleet(url: string, root: string, n: number): Promise<string[]> {
  const m = createMigrator({ url, rootDir: root, concurrency: 4 });
  try {
    await m.up({ masterTo: '0001_initial_layout' });
    await seedDemo(await m.adapter(), MASTER, n);
    await m.up();
    return (await m.status()).plans.map((p) => p.schema).sort();
  } finally {
    await m.close();
  }
}

/** The five hand-made changes, in each family's DDL. */
function alterations(sql: SqlHelpers, s: readonly string[], engine?: string): string[] {
  const t = (i: number, name: string) => sql.table(s[i]!, name);
  if (sql.isMssql) {
    return [
      `ALTER TABLE ${t(0, 'automation_jobs')} ADD priority INT NULL`,
      `DROP INDEX ix_file_artifacts_job_run ON ${t(1, 'file_artifacts')}`,
      // Babelfish keeps a DEFAULT as a PostgreSQL column default (no constraint to drop by name);
      // ADD … DEFAULT … FOR replaces it there.
      engine === 'babelfish'
        ? `ALTER TABLE ${t(2, 'automation_jobs')} ADD CONSTRAINT df_automation_jobs_status DEFAULT 'paused' FOR status`
        : `ALTER TABLE ${t(2, 'automation_jobs')} DROP CONSTRAINT df_automation_jobs_status; ALTER TABLE ${t(2, 'automation_jobs')} ADD CONSTRAINT df_automation_jobs_status DEFAULT 'paused' FOR status`,
      // Babelfish refuses NOT NULL in ALTER COLUMN; it changes only the type there (nullability stays).
      `ALTER TABLE ${t(3, 'workspace_agents')} ALTER COLUMN kind NVARCHAR(80)${engine === 'babelfish' ? '' : ' NOT NULL'}`,
      `DROP TABLE ${t(4, 'file_artifacts')}`,
    ];
  }
  return [
    `ALTER TABLE ${t(0, 'automation_jobs')} ADD COLUMN priority integer NULL`,
    `DROP INDEX ${sql.ident(s[1]!)}.ix_file_artifacts_job_run`,
    `ALTER TABLE ${t(2, 'automation_jobs')} ALTER COLUMN status SET DEFAULT 'paused'`,
    `ALTER TABLE ${t(3, 'workspace_agents')} ALTER COLUMN kind TYPE varchar(80)`,
    `DROP TABLE ${t(4, 'file_artifacts')}`,
  ];
}

describe.each(runnableTargets)('drift on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4 });

  it('reports exactly the tenants altered by hand, with their differences', async () => {
    const schemas = await fleet(fx.db.url, fx.project.root, 8);
    await withDatabase(fx.db.url, async (sql) => {
      for (const statement of alterations(sql, schemas, target.engine)) await sql.exec(statement);
    });
    const m = createMigrator({ url: fx.db.url, rootDir: fx.project.root });
    try {
      const report = await m.drift();
      expect(report.tenants).toBe(8);
      expect(report.driftedTenants).toBe(5);
      const bySchema = new Map(report.groups.flatMap((g) => g.sampleTenants.map((s) => [s, g] as const)));
      const words = (i: number) => bySchema.get(schemas[i]!)!.differences.map(describeDifference);
      expect(words(0)).toEqual(['column automation_jobs.priority: extra, not created by any migration (int NULL)']);
      expect(words(1)).toEqual(['index ix_file_artifacts_job_run on file_artifacts: missing (expected (job_run_id))']);
      expect(words(2)).toEqual(["column automation_jobs.status: default is 'paused', expected 'active'"]);
      expect(words(3)).toEqual(['column workspace_agents.kind: type is nvarchar(80), expected nvarchar(50)']);
      expect(words(4)).toEqual(['table file_artifacts: missing']);
      for (const i of [5, 6, 7]) expect(bySchema.get(schemas[i]!)!.state).toBe('ok');
      // The unaltered tenants share one fingerprint.
      expect(report.groups.filter((g) => g.state === 'ok')).toHaveLength(1);
      // Nothing left behind by the replay.
      await withDatabase(fx.db.url, async (sql) => expect(await sql.schemasLike('tm_scratch_%')).toEqual([]));
    } finally {
      await m.close();
    }
  });

  it('an unaltered fleet has no drift (CLI exit 0), an altered one exits 4 with JSON and Markdown', async () => {
    const schemas = await fleet(fx.db.url, fx.project.root, 3);
    const clean = await runCli(['drift', '--json'], { cwd: fx.project.root });
    expect(clean.code, clean.stderr).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ drift: false, tenants: 3, driftedTenants: 0 });
    await withDatabase(fx.db.url, (sql) => sql.exec(alterations(sql, [...schemas, ...schemas], target.engine)[0]!));
    const drifted = await runCli(['drift', '--format', 'markdown'], { cwd: fx.project.root });
    expect(drifted.code, drifted.stderr).toBe(4);
    expect(drifted.stdout).toContain('| `automation_jobs.priority` | extra |  | `int NULL` |');
    const one = await runCli(['drift', '--json', '--workspace', schemas[1]!.slice(3)], { cwd: fx.project.root });
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ tenants: 1, driftedTenants: 0 });
  });

  it('compares tenants at different versions with their own version', async () => {
    await fleet(fx.db.url, fx.project.root, 6);
    fx.project.write(
      'tenant-migrations/0003_add_job_priority.sql.hbs',
      'ALTER TABLE {{table "automation_jobs"}} ADD priority {{int}} NOT NULL CONSTRAINT df_automation_jobs_priority DEFAULT 0;\n',
    );
    const m = createMigrator({ url: fx.db.url, rootDir: fx.project.root });
    try {
      await m.up({ shard: '1/2' });
      const report = await m.drift();
      expect(report.driftedTenants).toBe(0);
      const versions = new Set(report.groups.map((g) => g.version));
      // With 6 tenants one shard may be empty; every version present must be compared and clean.
      expect(report.groups.every((g) => g.state === 'ok')).toBe(true);
      expect([...versions].every((v) => v === '0002_copy_workspace_external_links' || v === '0003_add_job_priority')).toBe(true);
      expect(report.versions).toEqual([...versions].sort());
    } finally {
      await m.close();
    }
  });
});

describe.each(runnableTargets.filter((t) => t.name !== 'mssql'))('fleet catalog read by digest on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4 });

  it('gives every schema exactly the catalog a read of that schema alone gives', async () => {
    const schemas = await fleet(fx.db.url, fx.project.root, 9);
    const s = (i: number) => schemas[i]!;
    await withDatabase(fx.db.url, async (sql) => {
      for (const statement of alterations(sql, schemas)) await sql.exec(statement);
      // Tenants 5 and 6 get the same default, a literal naming tenant 5's schema: equal stored rows,
      // so equal digests — but normalization makes `$schema.x` of it in tenant 5 only.
      for (const i of [5, 6]) await sql.exec(`ALTER TABLE ${sql.table(s(i), 'automation_jobs')} ALTER COLUMN status SET DEFAULT '${s(5)}.x'`);
    });
    const m = createMigrator({ url: fx.db.url, rootDir: fx.project.root });
    try {
      const adapter = await m.adapter();
      const { PostgresCatalogReader } = await import('../../src/dialect/postgres/postgres-catalog.js');
      // Chunks of 2: representatives are shared across chunks read on several sessions.
      const reader = new PostgresCatalogReader(adapter, { metaTable: adapter.names.metaTable, chunkSize: 2, digestChunkSize: 2 });
      const fleetRead = new Map<string, Catalog>();
      await reader.readCatalogs(schemas, (schema, catalog) => fleetRead.set(schema, catalog));
      expect([...fleetRead.keys()].sort()).toEqual(schemas);
      for (const schema of schemas) {
        const alone = await adapter.withSession((session) => reader.readCatalog(session, schema));
        // Row order is not part of the model: compare canonical forms (what fingerprints hash).
        expect(canonicalize(fleetRead.get(schema)!), schema).toEqual(canonicalize(alone));
      }
      const report = await m.drift();
      const bySchema = new Map(report.groups.flatMap((g) => g.sampleTenants.map((x) => [x, g] as const)));
      expect(bySchema.get(s(5))!.differences.map(describeDifference)).toEqual(["column automation_jobs.status: default is '$schema.x', expected 'active'"]);
      expect(bySchema.get(s(6))!.differences.map(describeDifference)).toEqual([`column automation_jobs.status: default is '${s(5)}.x', expected 'active'`]);
      expect(report.driftedTenants).toBe(7);
    } finally {
      await m.close();
    }
  });
});

describe.each(runnableTargets.filter((t) => t.name === 'postgres'))('drift killed with SIGKILL on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4 });

  it('leaves nothing behind (the replay is one transaction the server rolls back), and the next run removes an older leftover', async () => {
    await fleet(fx.db.url, fx.project.root, 2);
    fx.project.write('tenant-migrations/0003_slow.sql.hbs', 'SELECT pg_sleep(4);\n');
    const m = createMigrator({ url: fx.db.url, rootDir: fx.project.root });
    try {
      await m.up();
    } finally {
      await m.close();
    }
    const scratch = () => withDatabase(fx.db.url, (sql) => sql.schemasLike('tm_scratch_%'));
    const probe = new pg.Client({ connectionString: fx.db.url, application_name: 'tm-test-probe' });
    await probe.connect();
    try {
      let sawReplay = false;
      const killed = await runCli(['drift'], {
        cwd: fx.project.root,
        onSpawn: (child) => {
          const poll = setInterval(() => {
            void probe
              .query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep(4)%' AND application_name <> 'tm-test-probe'")
              .then(({ rows }) => {
                if (rows[0]!.n > 0 && !sawReplay) {
                  sawReplay = true;
                  clearInterval(poll);
                  child.kill('SIGKILL');
                }
              });
          }, 100);
          child.on('close', () => clearInterval(poll));
        },
      });
      expect(killed.signal, `${killed.code} ${killed.stdout} ${killed.stderr}`).toBe('SIGKILL');
      expect(sawReplay).toBe(true);
      // The server ends the killed process's backends (and rolls back its transaction) when it notices.
      for (let i = 0; i < 100; i++) {
        const { rows } = await probe.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tenant-migrate'",
        );
        if (rows[0]!.n === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await probe.end();
    }
    // The killed replay's scratch schema never committed.
    expect(await scratch()).toEqual([]);
    // A scratch schema left by an older version of the engine (it replayed outside a transaction): no owner holds its lock.
    await withDatabase(fx.db.url, (sql) => sql.exec('CREATE SCHEMA tm_scratch_1_0badf00d'));
    expect(await scratch()).toEqual(['tm_scratch_1_0badf00d']);
    const again = await runCli(['drift', '--json'], { cwd: fx.project.root });
    expect(again.code, again.stderr).toBe(0);
    expect(await scratch()).toEqual([]);
  });
});
