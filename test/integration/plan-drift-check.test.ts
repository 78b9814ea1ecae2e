/**
 * `plan`'s drift hint reads catalogs in proportion to the plan's work: a plan with nothing to do
 * reads no catalog at all; with a new migration it reads the tenants to migrate and names the one
 * altered by hand; a one-workspace plan reads that tenant plus a few peers. Counted at the dialect
 * (catalog queries sent) and by the check itself (schemas introspected) — not timed.
 */
import { describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/demo/seed-demo.js';
import type { SqlSession } from '../../src/dialect/contracts/driver.js';
import { PEERS, planDriftCheck } from '../../src/drift/plan-drift-check.js';
import { buildReleasePlan } from '../../src/release/plan.js';
import type { MigratorImpl } from '../../src/migrator.js';
import { runCli, runnableTargets, useProjectFixture } from './harness.js';
import { patchedMigrator } from './patched-migrator.js';
import { MASTER, sqlHelpers, withDatabase } from './sql-helpers.js';

describe.each(runnableTargets)('plan drift check on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4 });

  /** A migrator whose dialect counts the catalog-column queries sent (the reader's, full or digest). */
  function countingMigrator() {
    const counter = { catalogQueries: 0 };
    const m = patchedMigrator(
      fx.db.url,
      fx.project.root,
      (dialect) => {
        const inner = dialect.withSession.bind(dialect);
        const counted = (session: SqlSession): SqlSession =>
          new Proxy(session, {
            get(obj, key) {
              const value: unknown = Reflect.get(obj, key, obj);
              if (key !== 'query') return typeof value === 'function' ? value.bind(obj) : value;
              return (sql: string, params?: readonly unknown[]) => {
                // The catalog readers' column queries: PostgreSQL digest and full reads join pg_attribute,
                // SQL Server's joins sys.columns to the tables of the schemas read.
                if (/pg_catalog\.pg_attribute|JOIN sys\.columns AS c ON c\.object_id = t\.object_id/.test(sql)) counter.catalogQueries++;
                return obj.query(sql, params);
              };
            },
          });
        Object.assign(dialect, { withSession: <T>(fn: (s: SqlSession) => Promise<T>) => inner((s) => fn(counted(s))) });
      },
      { concurrency: 4 },
    );
    return { m, counter };
  }

  /** The master migrations, `n` demo workspaces, and every tenant migrated. */
  async function seededFleet(m: MigratorImpl, n: number): Promise<void> {
    await m.up({ masterTo: '0001_initial_layout' });
    await seedDemo(await m.adapter(), MASTER, n);
    await m.up();
  }

  const pendingOf = (plan: Awaited<ReturnType<typeof buildReleasePlan>>) => plan.schemas.filter((t) => t.pending.length > 0);

  it('reads no catalog for a plan with nothing to do, the tenants to migrate otherwise', async () => {
    const { m, counter } = countingMigrator();
    try {
      await seededFleet(m, 6);
      const noop = await buildReleasePlan(m.context);
      expect(pendingOf(noop)).toEqual([]);
      expect(await planDriftCheck(m.context, pendingOf(noop))).toEqual({ introspected: 0, suspects: [] });
      expect(counter.catalogQueries).toBe(0);

      const schemas = noop.schemas.map((t) => t.schema).sort();
      // Through the migrator's own adapter: a PGlite directory is open in one place at a time.
      const adapter = await m.adapter();
      const sql = sqlHelpers(target.name, (text, params) => adapter.withSession((s) => s.query(text, params)), target.engine);
      await sql.exec(`ALTER TABLE ${sql.table(schemas[2]!, 'automation_jobs')} ADD ${sql.isMssql ? 'priority INT NULL' : 'COLUMN priority integer NULL'}`);
      fx.project.write('tenant-migrations/0003_add_note.sql.hbs', 'ALTER TABLE {{table "workspace_agents"}} ADD note {{nvarchar 100}} NULL;\n');
      const all = await buildReleasePlan(m.context);
      expect(pendingOf(all)).toHaveLength(6);
      const check = await planDriftCheck(m.context, pendingOf(all));
      expect(check).toEqual({ introspected: 6, suspects: [schemas[2]] });
      expect(counter.catalogQueries).toBeGreaterThan(0);

      // One workspace: that tenant and up to PEERS others of its database, no more.
      const one = await buildReleasePlan(m.context, { workspaceId: schemas[2]!.slice(3) });
      const fleet = (await buildReleasePlan(m.context)).schemas;
      const alone = await planDriftCheck(m.context, pendingOf(one), fleet);
      expect(alone).toEqual({ introspected: Math.min(6, 1 + PEERS), suspects: [schemas[2]] });

      // After the deploy the plan is a no-op again and reads nothing.
      await m.up();
      const before = counter.catalogQueries;
      const done = await buildReleasePlan(m.context);
      expect(await planDriftCheck(m.context, pendingOf(done))).toEqual({ introspected: 0, suspects: [] });
      expect(counter.catalogQueries).toBe(before);
    } finally {
      await m.close();
    }
  });

  it('the CLI warns about the altered tenant to migrate; --no-drift-check skips the check', async () => {
    const { m } = countingMigrator();
    let altered: string;
    try {
      await seededFleet(m, 3);
      altered = (await m.status()).plans.map((p) => p.schema).sort()[0]!;
    } finally {
      await m.close();
    }
    await withDatabase(fx.db.url, (sql) => sql.exec(`ALTER TABLE ${sql.table(altered, 'automation_jobs')} ADD ${sql.isMssql ? 'priority INT NULL' : 'COLUMN priority integer NULL'}`));
    const quiet = await runCli(['plan'], { cwd: fx.project.root });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain('warning:');
    fx.project.write('tenant-migrations/0003_add_note.sql.hbs', 'ALTER TABLE {{table "workspace_agents"}} ADD note {{nvarchar 100}} NULL;\n');
    const warned = await runCli(['plan'], { cwd: fx.project.root });
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toContain(`warning: 1 tenant(s) to migrate have a schema unlike the others at their version (e.g. ${altered})`);
    const skipped = await runCli(['plan', '--no-drift-check'], { cwd: fx.project.root });
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stderr).not.toContain('warning:');
  });
});
