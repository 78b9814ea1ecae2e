import { describe, expect, it } from 'vitest';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
import { MigrationUnsafeError, TemplateError } from '../../src/errors.js';
import { TemplateEngine, buildRenderContext, sampleRenderContext, type RenderContext } from '../../src/templating/index.js';

const mssql = sampleRenderContext(syntaxFor('mssql'), 'pmassist_master');
const postgres = sampleRenderContext(syntaxFor('postgres'), 'pmassist_master');
const hostile = "x'); CREATE TABLE public.pwned(id int); --";
const withName = (c: RenderContext, name: string): RenderContext => ({ ...c, workspace: { ...c.workspace, name } });

const tpl = (source: string, transactional = true) => ({
  path: 'tenant-migrations/0004_x.sql.hbs',
  source,
  isTemplate: true,
  directives: { noTransaction: !transactional },
});

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('template values are data', async () => {
  const engine = await TemplateEngine.create();

  it('refuses a registry value pasted into SQL, naming file, line, column and the expression', () => {
    const err = thrown(() => engine.render(tpl("INSERT INTO t VALUES\n  ('{{workspace.name}}');"), withName(postgres, hostile)));
    expect(err).toBeInstanceOf(TemplateError);
    expect(err.message).toMatch(/^tenant-migrations\/0004_x\.sql\.hbs:2: \{\{workspace\.name\}\} pastes a tenant registry value/);
    expect((err as TemplateError).context).toMatchObject({ line: 2, column: 5, key: "workspace.name" });
  });

  it('refuses vars strings, lookup results and each-items; says how to quote them', () => {
    const ctx = { ...postgres, vars: { region: 'eu', list: ['a'] } };
    expect(thrown(() => engine.render(tpl('{{vars.region}}'), ctx)).message).toContain('{{literal vars.region}}');
    expect(thrown(() => engine.render(tpl('{{lookup workspace "name"}}'), ctx)).message).toContain('{{lookup workspace "name"}} pastes');
    expect(thrown(() => engine.render(tpl('{{#each vars.list}}{{this}}{{/each}}'), ctx)).message).toContain('{{this}} pastes');
  });

  it('quotes through {{literal}} and {{ident}}: the hostile name stays one literal / one name', () => {
    expect(engine.render(tpl("INSERT INTO t VALUES ({{literal workspace.name}});"), withName(postgres, hostile))).toBe(
      "INSERT INTO t VALUES ('x''); CREATE TABLE public.pwned(id int); --');",
    );
    expect(engine.render(tpl('{{literal workspace.name}}'), withName(mssql, hostile))).toBe("N'x''); CREATE TABLE public.pwned(id int); --'");
    expect(engine.render(tpl('{{ident workspace.name}}'), withName(mssql, 'a]b'))).toBe('[a]]b]');
  });

  it('keeps engine-made values, numbers, booleans and helpers usable as they are', () => {
    const ctx = { ...mssql, vars: { days: 30, on: true } };
    const out = engine.render(tpl('{{schema}} {{master}} {{schemaName}} {{masterSchema}} {{workspaceId}} {{dialect}} {{vars.days}} {{vars.on}} {{uuid}} {{true}} {{nvarchar 10}}'), ctx);
    expect(out).toBe(`[${ctx.schemaName}] [pmassist_master] ${ctx.schemaName} pmassist_master ${ctx.workspaceId} mssql 30 true UNIQUEIDENTIFIER 1 NVARCHAR(10)`);
  });

  it('does not let a data value pass by sharing an engine value name ({{#each}} item with a schema key)', () => {
    const ctx = { ...postgres, vars: { items: [{ schema: hostile }] } };
    expect(thrown(() => engine.render(tpl('{{#each vars.items}}{{schema}}{{/each}}'), ctx)).message).toContain('{{schema}} pastes');
  });

  it('renders the visible raw form {{{x}}} as it is and lists it for validate', () => {
    const file = tpl('SELECT 1;\nSELECT {{{vars.expr}}};\nSELECT {{& vars.expr}};');
    expect(engine.render(file, { ...postgres, vars: { expr: 'now()' } })).toBe('SELECT 1;\nSELECT now();\nSELECT now();');
    expect(engine.rawValues(file)).toEqual([
      { expression: 'vars.expr', line: 2, column: 8 },
      { expression: 'vars.expr', line: 3, column: 8 },
    ]);
  });
});

describe('top-level transaction control at render time', async () => {
  const engine = await TemplateEngine.create();

  it('refuses COMMIT in a transactional migration with the template line and the tenant (MIGRATION_UNSAFE)', () => {
    const source = '{{#if isMssql}}\nSELECT 1;\n{{else}}\nSELECT 2;\n{{/if}}\nINSERT INTO {{schema}}.t VALUES (1);\nCOMMIT;\n';
    const err = thrown(() => engine.render(tpl(source), postgres));
    expect(err).toBeInstanceOf(MigrationUnsafeError);
    expect((err as MigrationUnsafeError).code).toBe('MIGRATION_UNSAFE');
    expect((err as MigrationUnsafeError).context).toMatchObject({ file: 'tenant-migrations/0004_x.sql.hbs', line: 7, key: 'COMMIT', tenant: postgres.schemaName });
    expect(err.message).toMatch(/^tenant-migrations\/0004_x\.sql\.hbs:7: COMMIT ends or opens the transaction/);
  });

  it('maps T-SQL lines through {{go}} and partial-free branches', () => {
    const source = 'CREATE TABLE {{table "a"}} (id {{int}})\n{{go}}\nIF 1 = 1\nBEGIN\n  SELECT 1\nEND\nBEGIN TRAN\n';
    const err = thrown(() => engine.render(tpl(source), mssql)) as MigrationUnsafeError;
    expect(err.context).toMatchObject({ line: 7, key: 'BEGIN TRAN' });
  });

  it('lets a no-transaction file manage its own transaction, and ignores files without directives', () => {
    expect(engine.render(tpl('BEGIN;\nSELECT 1;\nCOMMIT;', false), postgres)).toContain('COMMIT');
    expect(engine.render({ path: 'x.sql.hbs', source: 'COMMIT;', isTemplate: true }, postgres)).toBe('COMMIT;');
  });

  it('checks plain .sql migrations too', () => {
    const master = buildRenderContext({ syntax: syntaxFor('postgres'), masterSchema: 'm' });
    const err = thrown(() => engine.render({ path: 'master-migrations/0009_x.sql', source: 'SELECT 1;\nROLLBACK;', isTemplate: false, directives: { noTransaction: false } }, master));
    expect((err as MigrationUnsafeError).context).toMatchObject({ file: 'master-migrations/0009_x.sql', line: 2, key: 'ROLLBACK' });
    expect((err as MigrationUnsafeError).context.tenant).toBeUndefined();
  });

  it('does not refuse a COMMIT that only a data value would have brought in: the data guard refuses it first', () => {
    const err = thrown(() => engine.render(tpl("SELECT '{{workspace.name}}';"), withName(postgres, "'; COMMIT; --")));
    expect(err).toBeInstanceOf(TemplateError);
  });
});
