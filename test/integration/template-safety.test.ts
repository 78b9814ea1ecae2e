/**
 * What template authors write, on every dialect: a workspace name that is SQL (injection), a
 * template error in the second of two new files (nothing applied, exit 2), a transactional file with
 * its own COMMIT (refused with file and line), and `validate` listing each with file and line.
 */
import { describe, expect, it } from 'vitest';
import { createMigrator } from '../../src/migrator.js';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { type CliResult, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { MASTER, withDatabase } from './sql-helpers.js';

const ADD_NOTES = 'ALTER TABLE {{table "automation_jobs"}} ADD notes {{nvarchar 200}} NULL;\n';
const NAMES = 'CREATE TABLE {{table "names"}} (name {{nvarchar 400}} NOT NULL);\n';

/** The injection of the issue, one per family: each creates a table in the default schema if pasted. */
const HOSTILE = ["x'); CREATE TABLE public.pwned(id int); --", "x'); CREATE TABLE dbo.pwned(id int); --", "x'') ; CREATE TABLE pwned2(id int); --"];

async function fleet(url: string, root: string, n: number): Promise<string[]> {
  const m = createMigrator({ url, rootDir: root, concurrency: 2 });
  try {
    await m.up({ masterTo: '0001_initial_layout' });
    await seedDemo(await m.adapter(), MASTER, n);
    await m.up();
    return (await m.status()).plans.map((p) => p.schema).sort();
  } finally {
    await m.close();
  }
}

const json = (r: CliResult) => JSON.parse(r.stdout) as Record<string, unknown>;

describe.each(runnableTargets)('template safety on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 2 });
  const cli = (...args: string[]) => runCli(args, { cwd: fx.project.root });

  /** Tenants where `id` is applied, read from the meta tables. */
  const appliedIn = (schemas: readonly string[], id: string) =>
    withDatabase(fx.db.url, async (sql) => {
      const out: string[] = [];
      for (const s of schemas) if ((await sql.count(sql.table(s, '__schema_migrations'), 'id = $1', [id])) > 0) out.push(s);
      return out;
    });
  const pwned = () =>
    withDatabase(fx.db.url, async (sql) => {
      const rows = await sql.query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name LIKE 'pwned%'");
      return Number(rows[0]!.n);
    });

  it('a workspace name that is SQL never runs: {{workspace.name}} is refused before anything applies, {{literal}} stores it as data', async () => {
    const schemas = await fleet(fx.db.url, fx.project.root, HOSTILE.length);
    const ids = await withDatabase(fx.db.url, async (sql) => {
      const rows = await sql.query<{ workspace_id: string; db_schema_name: string }>(`SELECT workspace_id, db_schema_name FROM ${sql.master('Workspace')}`);
      for (const [i, row] of rows.entries()) {
        await sql.exec(`UPDATE ${sql.master('Workspace')} SET name = $1 WHERE db_schema_name = $2`, [HOSTILE[i]!, row.db_schema_name]);
      }
      return rows;
    });
    expect(ids).toHaveLength(HOSTILE.length);

    // The way the issue wrote it: refused at render, before the run opens; nothing created, nothing applied.
    fx.project.write('tenant-migrations/0003_names.sql.hbs', `${NAMES}INSERT INTO {{table "names"}} (name) VALUES ('{{workspace.name}}');\n`);
    const refused = await cli('up', '--json');
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stdout + refused.stderr).toMatch(/tenant-migrations\/0003_names\.sql\.hbs:2: \{\{workspace\.name\}\} pastes a tenant registry value/);
    expect(await pwned()).toBe(0);
    expect(await appliedIn(schemas, '0003_names')).toEqual([]);

    // validate names the file and line too (its sample workspace is a plain name: the rule is about the form, not the value).
    const lint = await cli('validate', '--json');
    expect(lint.code).toBe(2);
    expect(JSON.stringify(json(lint))).toContain('0003_names.sql.hbs:2');

    // Through {{literal}}: every hostile name lands as one string, exactly.
    fx.project.write('tenant-migrations/0003_names.sql.hbs', `${NAMES}INSERT INTO {{table "names"}} (name) VALUES ({{literal workspace.name}});\n`);
    const ok = await cli('up', '--json');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(await pwned()).toBe(0);
    const stored = await withDatabase(fx.db.url, async (sql) => {
      const out: string[] = [];
      for (const s of schemas) out.push(...(await sql.query<{ name: string }>(`SELECT name FROM ${sql.table(s, 'names')}`)).map((r) => r.name));
      return out.sort();
    });
    expect(stored).toEqual([...HOSTILE].sort());
  });

  it('a template error in the second new file applies nothing: exit 2 naming file, line and tenant', async () => {
    const schemas = await fleet(fx.db.url, fx.project.root, 3);
    fx.project.write('tenant-migrations/0003_add_notes.sql.hbs', ADD_NOTES);
    fx.project.write('tenant-migrations/0004_broken.sql.hbs', 'SELECT 1;\nSELECT {{vars.undefined_thing}};\n');
    for (const args of [['up', '--json'], ['up', '--json', '--concurrency', '1']]) {
      const r = await cli(...args);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const out = r.stdout + r.stderr;
      expect(out).toMatch(/tenant-migrations\/0004_broken\.sql\.hbs:2/);
      expect(out).toMatch(/ws_[0-9a-f]{32}/);
      expect(out).toContain('nothing was applied');
      expect(await appliedIn(schemas, '0003_add_notes')).toEqual([]);
    }
  });

  it('a transactional file with its own COMMIT is refused before anything applies (MIGRATION_UNSAFE, file and line)', async () => {
    const schemas = await fleet(fx.db.url, fx.project.root, 2);
    const own = target.name === 'mssql'
      ? 'BEGIN TRANSACTION;\nINSERT INTO {{master}}.{{ident "AuditLog"}} (actor, {{ident "action"}}) VALUES (N\'m\', N\'x\');\nCOMMIT;\n'
      : 'BEGIN;\nINSERT INTO {{master}}.{{ident "AuditLog"}} (actor, {{ident "action"}}) VALUES (\'m\', \'x\');\nCOMMIT;\n';
    fx.project.write('tenant-migrations/0003_add_notes.sql.hbs', ADD_NOTES);
    fx.project.write('tenant-migrations/0004_own_tx.sql.hbs', own);
    const r = await cli('up', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const out = r.stdout + r.stderr;
    expect(out).toContain('MIGRATION_UNSAFE');
    expect(out).toMatch(/tenant-migrations\/0004_own_tx\.sql\.hbs:1: BEGIN/);
    expect(await appliedIn(schemas, '0003_add_notes')).toEqual([]);
    expect(await withDatabase(fx.db.url, (sql) => sql.count(sql.master('AuditLog'), "actor = 'm'"))).toBe(0);

    const lint = await cli('validate', '--json');
    expect(lint.code).toBe(2);
    const findings = (json(lint).findings as { severity: string; check: string; where: string }[]).map((f) => `${f.severity} ${f.check} ${f.where}`);
    expect(findings).toEqual(expect.arrayContaining(['error transaction-control tenant-migrations/0004_own_tx.sql.hbs:1', 'error transaction-control tenant-migrations/0004_own_tx.sql.hbs:3']));

    // Declared no-transaction, the file may manage its own transaction: validate notes it, up runs it.
    fx.project.write('tenant-migrations/0004_own_tx.sql.hbs', `-- tenant-migrate: no-transaction\n${own}`);
    const noted = await cli('validate', '--json');
    expect(noted.code, noted.stdout).toBe(0);
    expect((json(noted).findings as { severity: string; check: string; where: string }[]).filter((f) => f.check === 'transaction-control').map((f) => `${f.severity} ${f.where}`)).toEqual([
      'warning tenant-migrations/0004_own_tx.sql.hbs:2',
      'warning tenant-migrations/0004_own_tx.sql.hbs:4',
    ]);
  });

  it('status --target with an unknown name and up --lease-ms 1 are usage errors (exit 2, naming the flag)', async () => {
    await fleet(fx.db.url, fx.project.root, 1);
    const status = await cli('status', '--target', 'nosuch');
    expect(status.code, status.stdout + status.stderr).toBe(2);
    expect(status.stderr + status.stdout).toContain('--target nosuch: not a name in config targets');
    expect((await cli('status', '--target', '(master)', '--json')).code).toBe(0);
    const up = await cli('up', '--lease-ms', '1');
    expect(up.code, up.stdout + up.stderr).toBe(2);
    expect(up.stderr + up.stdout).toContain('--lease-ms 1: a lease shorter than 1000 ms');
  });
});
