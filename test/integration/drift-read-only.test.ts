/**
 * `drift` leaves the live database as it found it: its replay of the tenant migrations runs in one
 * transaction that is always rolled back, so a migration that writes outside its own schema (a row
 * in the master audit log) leaves nothing, on every dialect.
 */
import { describe, expect, it } from 'vitest';
import { createMigrator } from '../../src/migrator.js';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { replayableScript } from '../../src/drift/rollback-only.js';
import { runCli, runnableTargets, useProjectFixture } from './harness.js';
import { MASTER, withDatabase } from './sql-helpers.js';

async function fleet(url: string, root: string, n: number): Promise<void> {
  const m = createMigrator({ url, rootDir: root, concurrency: 2 });
  try {
    await m.up({ masterTo: '0001_initial_layout' });
    await seedDemo(await m.adapter(), MASTER, n);
    await m.up();
  } finally {
    await m.close();
  }
}

describe.each(runnableTargets)('drift is read-only on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 2 });
  const audit = (actor: string) => withDatabase(fx.db.url, (sql) => sql.count(sql.master('AuditLog'), 'actor = $1', [actor]));
  const str = (s: string) => (target.name === 'mssql' ? `N'${s}'` : `'${s}'`);

  it('a tenant migration inserting into {{master}}.AuditLog leaves no row per drift run', async () => {
    await fleet(fx.db.url, fx.project.root, 2);
    fx.project.write(
      'tenant-migrations/0003_audit.sql.hbs',
      `ALTER TABLE {{table "automation_jobs"}} ADD notes {{nvarchar 200}} NULL;\nINSERT INTO {{master}}.{{ident "AuditLog"}} (actor, {{ident "action"}}) VALUES (${str('migration-0003')}, ${str('x')});\n`,
    );
    const up = await runCli(['up', '--json'], { cwd: fx.project.root });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await audit('migration-0003')).toBe(2);

    for (let i = 0; i < 2; i++) {
      const r = await runCli(['drift', '--json'], { cwd: fx.project.root });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(await audit('migration-0003')).toBe(2);
    }
    await withDatabase(fx.db.url, async (sql) => expect(await sql.schemasLike('tm_scratch_%')).toEqual([]));
  });

  if (target.name !== 'mssql') {
    it('a no-transaction file with its own BEGIN/COMMIT replays inside savepoints and leaves no row', async () => {
      await fleet(fx.db.url, fx.project.root, 1);
      fx.project.write(
        'tenant-migrations/0003_own_tx.sql.hbs',
        `-- tenant-migrate: no-transaction\nBEGIN;\nINSERT INTO {{master}}.{{ident "AuditLog"}} (actor, {{ident "action"}}) VALUES ('own-tx', 'x');\nCOMMIT;\nCREATE INDEX ix_jobs_status2 ON {{table "automation_jobs"}} (status);\n`,
      );
      const up = await runCli(['up', '--json'], { cwd: fx.project.root });
      expect(up.code, up.stdout + up.stderr).toBe(0);
      expect(await audit('own-tx')).toBe(1);
      const r = await runCli(['drift', '--json'], { cwd: fx.project.root });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(await audit('own-tx')).toBe(1);
    });
  } else {
    it('a no-transaction file with its own transaction control is refused by the replay, not run', async () => {
      await fleet(fx.db.url, fx.project.root, 1);
      fx.project.write(
        'tenant-migrations/0003_own_tx.sql.hbs',
        `-- tenant-migrate: no-transaction\nBEGIN TRANSACTION;\nINSERT INTO {{master}}.{{ident "AuditLog"}} (actor, {{ident "action"}}) VALUES (N'own-tx', N'x');\nCOMMIT;\n`,
      );
      expect((await runCli(['up', '--json'], { cwd: fx.project.root })).code).toBe(0);
      expect(await audit('own-tx')).toBe(1);
      const r = await runCli(['drift', '--json'], { cwd: fx.project.root });
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('drift replays on the server inside one transaction');
      expect(await audit('own-tx')).toBe(1);
    });
  }
});

describe('replayableScript', () => {
  it('turns a PostgreSQL script\'s own transaction control into savepoints and drops CONCURRENTLY', () => {
    expect(replayableScript("BEGIN;\nINSERT INTO t VALUES ('COMMIT');\nCOMMIT;\nCREATE INDEX CONCURRENTLY i ON t (a);\nROLLBACK;", 'postgres')).toBe(
      "SAVEPOINT tm_replay_script;\nINSERT INTO t VALUES ('COMMIT');\nRELEASE SAVEPOINT tm_replay_script;\nCREATE INDEX  i ON t (a);\nROLLBACK TO SAVEPOINT tm_replay_script;",
    );
  });

  it('refuses T-SQL transaction control and leaves other scripts as they are', () => {
    expect(() => replayableScript('BEGIN TRAN\nSELECT 1\nCOMMIT', 'mssql')).toThrow(/line 1: BEGIN TRAN: drift replays on the server/);
    expect(replayableScript('IF 1=1 BEGIN SELECT 1 END', 'mssql')).toBe('IF 1=1 BEGIN SELECT 1 END');
  });
});
