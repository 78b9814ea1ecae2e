import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DialectName } from '../../src/dialect/dialect-syntax.js';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
import { loadMigrations } from '../../src/source/index.js';
import { TemplateEngine, buildRenderContext, sampleRenderContext } from '../../src/templating/index.js';
import type { MigrationFile, MigrationScope } from '../../src/types.js';

/**
 * Golden renderings of every shipped migration for SQL Server and PostgreSQL, with the sample
 * tenant and master schema `pmassist_master`. `UPDATE_GOLDEN=1 npx vitest run --project unit`
 * rewrites them; review the diff as SQL.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOLDEN = path.join(ROOT, 'test/fixtures/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const MASTER_SCHEMA = 'pmassist_master';
const DIALECTS: DialectName[] = ['mssql', 'postgres'];
const SCOPES: { scope: MigrationScope; dir: string }[] = [
  { scope: 'master', dir: 'master-migrations' },
  { scope: 'tenant', dir: 'tenant-migrations' },
];

let engine: TemplateEngine;
const migrations = new Map<MigrationScope, MigrationFile[]>();

beforeAll(async () => {
  engine = await TemplateEngine.create({ rootDir: ROOT, partialsDir: 'templates/partials' });
  for (const { scope, dir } of SCOPES) migrations.set(scope, await loadMigrations({ rootDir: ROOT, dir, scope }));
});

function renderAll(dialect: DialectName, scope: MigrationScope): Map<string, string> {
  const syntax = syntaxFor(dialect);
  const context =
    scope === 'tenant'
      ? sampleRenderContext(syntax, MASTER_SCHEMA)
      : buildRenderContext({ syntax, masterSchema: MASTER_SCHEMA });
  const out = new Map<string, string>();
  for (const file of migrations.get(scope) ?? []) {
    out.set(`${file.id}.sql`, engine.render(file, context));
    if (file.down) out.set(`${file.id}.down.sql`, engine.render(file.down, context));
  }
  return out;
}

describe.each(DIALECTS)('golden rendering (%s)', (dialect) => {
  it.each(SCOPES.map((s) => s.scope))('%s migrations match their golden files', async (scope) => {
    const rendered = renderAll(dialect, scope);
    expect(rendered.size).toBeGreaterThan(0);
    const dir = path.join(GOLDEN, dialect, scope);
    if (UPDATE) {
      await mkdir(dir, { recursive: true });
      for (const name of await readdir(dir)) {
        if (!rendered.has(name)) throw new Error(`stale golden file ${dialect}/${scope}/${name}: delete it`);
      }
      for (const [name, sql] of rendered) await writeFile(path.join(dir, name), sql);
      return;
    }
    expect((await readdir(dir)).sort()).toEqual([...rendered.keys()].sort());
    for (const [name, sql] of rendered) {
      const golden = await readFile(path.join(dir, name), 'utf8');
      expect(sql, `${dialect}/${scope}/${name} differs (UPDATE_GOLDEN=1 to rewrite)`).toBe(golden);
    }
  });
});

describe('shipped migrations', () => {
  it('never hard-code the master schema name', () => {
    for (const files of migrations.values()) {
      for (const file of files) expect(file.source, file.path).not.toMatch(/pmassist_master/);
    }
  });

  it('render the master schema only through {{master}}/{{schema}}', () => {
    const syntax = syntaxFor('postgres');
    const context = buildRenderContext({ syntax, masterSchema: 'other_master' });
    for (const file of migrations.get('master') ?? []) {
      const sql = engine.render(file, context);
      expect(sql).toContain('"other_master"');
      expect(sql).not.toContain('pmassist_master');
    }
  });

  it('split into T-SQL batches with the columns added by 0002 referenced only in a later batch', () => {
    const syntax = syntaxFor('mssql');
    const file = migrations.get('master')?.find((f) => f.id === '0002_two_level_tenancy');
    expect(file).toBeDefined();
    const batches = syntax.splitBatches(engine.render(file!, buildRenderContext({ syntax, masterSchema: MASTER_SCHEMA })));
    expect(batches.length).toBe(2);
    expect(batches[0]!.sql).not.toMatch(/CREATE|CONSTRAINT ck_/);
    expect(batches[1]!.sql).toMatch(/CREATE UNIQUE INDEX/);
  });
});
