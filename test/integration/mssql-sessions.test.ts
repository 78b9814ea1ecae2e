/**
 * SQL Server sessions (SQL Server, Azure SQL, Babelfish): a pooled connection never carries one
 * tenant's open transaction or session state into the next tenant's work.
 * T-SQL only: the scripts use BEGIN TRANSACTION and #temp tables, which PostgreSQL has no twin for
 * (a PostgreSQL script cannot leave a transaction open across a simple-query call the same way).
 */
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MssqlDriver } from '../../src/dialect/mssql/mssql-driver.js';
import { mssqlSql } from '../../src/dialect/mssql/mssql-sql.js';
import { parseMssqlUrl } from '../../src/dialect/mssql/mssql-url.js';
import { MigratorImpl, createMigrator } from '../../src/migrator.js';
import { guid, reportSkipped, runnableTargets, useProjectFixture } from './harness.js';
import { dialectSql, withDatabase } from './sql-helpers.js';

const mssql = runnableTargets.filter((t) => t.name === 'mssql');
reportSkipped('mssql', 'SQL Server session hygiene (T-SQL)');

describe.each(mssql)('SQL Server session hygiene on $name ($engine)', (target) => {
  const fx = useProjectFixture(target, { concurrency: 1, lockTimeoutMs: 5000 });
  const { table, master } = dialectSql(target.name, target.engine);
  let migrator: MigratorImpl;
  /** The first tenant in registry order (ids sort by their text form). */
  const FIRST = '00000000-0000-4000-a000-000000000001';

  beforeEach(() => {
    migrator = createMigrator({ url: fx.db.url, rootDir: fx.project.root, concurrency: 1, lockTimeoutMs: 5000 }) as MigratorImpl;
  });
  afterEach(async () => {
    await migrator.close();
  });

  /** Master migrated, `n` Active workspaces (the first one named `first`), every tenant at 0002. */
  async function fleet(n: number): Promise<void> {
    await migrator.up({ masterTo: '0002_two_level_tenancy' });
    await withDatabase(fx.db.url, async (h) => {
      for (let i = 0; i < n; i++) await h.insertWorkspace({ workspaceId: i === 0 ? FIRST : guid(), name: i === 0 ? 'first' : `w${i}` });
    });
    expect((await migrator.up()).tenants.failed).toBe(0);
  }

  /** Meta rows of every tenant schema, read on fresh connections after the migrator's pool is closed. */
  async function metaIds(): Promise<Map<string, string[]>> {
    await migrator.close();
    return withDatabase(fx.db.url, async (h) => {
      const out = new Map<string, string[]>();
      for (const s of await h.tenantSchemas()) {
        out.set(s, (await h.query<{ id: string }>(`SELECT id FROM ${table(s, '__schema_migrations')} ORDER BY id`)).map((r) => r.id));
      }
      return out;
    });
  }

  const onlyFirst = (sql: string) =>
    `IF EXISTS (SELECT 1 FROM ${master('Workspace')} WHERE name = N'first' AND db_schema_name = N'{{schemaName}}') ${sql}`;

  it('a no-transaction migration that leaves BEGIN TRANSACTION open fails alone; the next tenants are really committed', async () => {
    await fleet(4);
    fx.project.write(
      'tenant-migrations/0003_leaky.sql.hbs',
      `-- tenant-migrate: no-transaction\n${onlyFirst('BEGIN TRANSACTION;')}\nCREATE TABLE {{schema}}.leaky_marker (id INT);\n`,
    );
    const result = await migrator.up();
    const first = result.results.find((r) => r.workspaceId === FIRST)!;
    expect(first.status).toBe('failed');
    expect(first.error!.message).toMatch(/left 1 transaction\(s\) open/);
    expect(result.tenants).toMatchObject({ succeeded: 3, failed: 1 });
    // What the ledger calls succeeded is durable: read back on fresh connections.
    const meta = await metaIds();
    for (const r of result.results) {
      expect(meta.get(r.schema)!.includes('0003_leaky'), `${r.schema} (${r.status})`).toBe(r.status === 'succeeded');
    }
  });

  it('a nested BEGIN TRANSACTION in a transactional migration is refused before anything runs, on every tenant', async () => {
    await fleet(3);
    // Even behind an IF that only the first tenant takes: the rule reads the text, not the branch.
    fx.project.write('tenant-migrations/0003_nested.sql.hbs', `${onlyFirst('BEGIN TRANSACTION;')}\nCREATE TABLE {{schema}}.nested_marker (id INT);\n`);
    await expect(migrator.up()).rejects.toMatchObject({ code: 'MIGRATION_UNSAFE', context: { file: 'tenant-migrations/0003_nested.sql.hbs', key: 'BEGIN TRANSACTION' } });
    const meta = await metaIds();
    for (const [schema, ids] of meta) {
      expect(ids.includes('0003_nested'), schema).toBe(false);
      expect(await withDatabase(fx.db.url, (h) => h.tableExists(schema, 'nested_marker')), schema).toBe(false);
    }
  });

  it('session state (#temp tables, SET options) does not leak from one tenant into the next', async () => {
    await fleet(4);
    // On a reused connection without a reset the second tenant fails: "There is already an object named '#scratch'".
    fx.project.write(
      'tenant-migrations/0003_temp_work.sql.hbs',
      'CREATE TABLE #scratch (id INT);\nINSERT INTO #scratch (id) VALUES (1);\nSET LOCK_TIMEOUT 1234;\n',
    );
    const result = await migrator.up();
    expect(result.results.map((r) => r.error?.message).filter(Boolean)).toEqual([]);
    expect(result.tenants).toMatchObject({ succeeded: 4, failed: 0 });
    const adapter = await migrator.adapter();
    const lockTimeouts = await Promise.all(
      [1, 2].map(() => adapter.withSession((s) => s.query<{ lt: number }>('SELECT @@LOCK_TIMEOUT AS lt'))),
    );
    for (const [row] of lockTimeouts) expect(Number(row!.lt)).toBe(-1);
  });

  it('a process logs in once per connection it uses: the connection that tested the settings is the pool\'s first', async () => {
    // Every TCP connection to the server goes through this proxy: one accepted = one login.
    const server = parseMssqlUrl(fx.db.url);
    let accepted = 0;
    const proxy = net.createServer((client) => {
      accepted++;
      const upstream = net.connect(server.port ?? 1433, server.server);
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    // The test database's ADO string (harness-mssql.ts), its server swapped for the proxy.
    const viaProxy = fx.db.url.replace(/(^|;)Server=[^;]*/i, `$1Server=127.0.0.1,${(proxy.address() as net.AddressInfo).port}`);
    const driver = new MssqlDriver({ url: viaProxy, maxConnections: 2 }, mssqlSql({ masterSchema: 'pmassist_master', registryTable: 'Workspace', metaTable: '__schema_migrations', ledgerPrefix: '__tm_' }));
    try {
      const [row] = await driver.withSession((s) => s.query<{ one: number }>('SELECT 1 AS one'));
      expect(Number(row!.one)).toBe(1);
      // mssql's connect() opens a connection to test the settings and, left alone, closes it and
      // logs in again for the first request.
      expect(accepted).toBe(1);
    } finally {
      await driver.close();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
