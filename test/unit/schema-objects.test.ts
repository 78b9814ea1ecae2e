/**
 * Views, sequences, routines and the everyday types in generated migrations, rendered for both
 * dialects with the real template engine (no T-SQL engine here: the statements SQL Server needs are
 * checked as text; the PostgreSQL side runs in the integration tests).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrationTemplates } from '../../src/declarative/generate-migration.js';
import { ALLOW_KINDS } from '../../src/declarative/schema-changes.js';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
import { col, defineSchema, routine, sequence, table, view } from '../../src/schema-model/index.js';
import type { ModelIndex } from '../../src/schema-model/model-types.js';
import { emptyModel } from '../../src/schema-model/snapshot.js';
import { TemplateEngine, sampleRenderContext } from '../../src/templating/index.js';

const ROOT = path.resolve(__dirname, '../..');

async function render(source: string): Promise<{ mssql: string; postgres: string }> {
  const engine = await TemplateEngine.create({ rootDir: ROOT, partialsDir: path.join(ROOT, 'templates/partials'), vars: {} });
  const file = { id: '0002_x', number: 2, name: 'x', scope: 'tenant' as const, path: 'x.sql.hbs', absolutePath: 'x.sql.hbs', source, isTemplate: true, checksum: '', directives: { noTransaction: false, afterTenants: false } };
  const out = { mssql: '', postgres: '' };
  for (const d of ['mssql', 'postgres'] as const) out[d] = engine.render(file, sampleRenderContext(syntaxFor(d), 'pmassist_master'));
  return out;
}

const base = defineSchema({
  scope: 'tenant',
  tables: [
    table('notes', {
      columns: { note_id: col.identity({ type: 'int', always: true }), body: col.nvarchar(50), at: col.datetimeoffset(3), code: col.nchar(2), n: col.smallint() },
      primaryKey: { name: 'notes_pkey', columns: ['note_id'], generated: true },
    }),
  ],
  views: [view('v_notes', 'SELECT note_id, body FROM {{schema}}.notes')],
  sequences: [sequence('numbers', { start: 100 })],
  routines: [routine('procedure', 'purge', { mssql: 'CREATE PROCEDURE {{schema}}.purge AS DELETE FROM {{schema}}.notes', postgres: 'CREATE PROCEDURE {{schema}}.purge() LANGUAGE sql AS $$ DELETE FROM {{schema}}.notes $$' })],
});

describe('generated migrations with views, sequences, routines and the everyday types', () => {
  it('CREATE renders each dialect\'s types; views and routines in batches of their own; a server-named key unnamed on SQL Server', async () => {
    const { mssql, postgres } = await render(migrationTemplates(emptyModel('tenant'), base, '0001_x', new Set()).up);
    expect(mssql).toContain('note_id INT IDENTITY(1,1) NOT NULL');
    expect(postgres).toContain('note_id integer GENERATED ALWAYS AS IDENTITY NOT NULL');
    expect(mssql).toContain('DATETIMEOFFSET(3)');
    expect(postgres).toContain('timestamp(3) with time zone');
    expect(mssql).toContain('NCHAR(2)');
    expect(postgres).toContain('character(2)');
    expect(mssql).toMatch(/\n    PRIMARY KEY \(note_id\)/);
    expect(postgres).toContain('CONSTRAINT notes_pkey PRIMARY KEY (note_id)');
    expect(mssql).toMatch(/GO\s+CREATE VIEW \[ws_[0-9a-f]+\]\.v_notes AS\nSELECT note_id, body FROM \[ws_[0-9a-f]+\]\.notes;\s+GO\s+CREATE PROCEDURE/);
    expect(mssql).toContain('CREATE SEQUENCE [');
    expect(mssql).toContain('AS BIGINT START WITH 100 INCREMENT BY 1;');
    expect(postgres).toContain('.purge() LANGUAGE sql AS $$ DELETE FROM');
  });

  it('changes: CREATE OR ALTER on SQL Server, drop + create (views) or CREATE OR REPLACE (routines) on PostgreSQL; a server-named key dropped by lookup', async () => {
    const next = defineSchema({
      scope: 'tenant',
      tables: [{ ...base.tables[0]!, columns: base.tables[0]!.columns.map((c) => (c.name === 'body' ? { ...c, type: 'nvarchar(80)' } : c)), primaryKey: undefined }],
      views: [view('v_notes', 'SELECT note_id, body, n FROM {{schema}}.notes')],
      sequences: [sequence('numbers', { start: 100, increment: 5 })],
      routines: [routine('procedure', 'purge', { mssql: 'CREATE PROCEDURE {{schema}}.purge AS DELETE FROM {{schema}}.notes WHERE n > 0', postgres: 'CREATE PROCEDURE {{schema}}.purge() LANGUAGE sql AS $$ DELETE FROM {{schema}}.notes WHERE n > 0 $$' })],
    });
    const t = migrationTemplates(base, next, '0002_x', new Set(ALLOW_KINDS));
    const up = await render(t.up);
    expect(up.mssql).toContain('CREATE OR ALTER VIEW');
    expect(up.mssql).toContain('CREATE OR ALTER PROCEDURE');
    // Babelfish has no ALTER FUNCTION / TRIGGER (nor CREATE OR ALTER PROCEDURE): dropped first there, created last.
    expect(up.mssql).toMatch(/IF SERVERPROPERTY\('Babelfish'\) IS NOT NULL DROP PROCEDURE \[ws_[0-9a-f]+\]\.purge;[\s\S]*IF SERVERPROPERTY\('Babelfish'\) IS NULL\n    EXEC \(N'CREATE OR ALTER PROCEDURE [^\n]*'\);\nELSE\n    EXEC \(N'CREATE PROCEDURE /);
    expect(up.mssql).toMatch(/FROM sys\.key_constraints AS k\s+WHERE k\.parent_object_id = OBJECT_ID\(N'\[ws_[0-9a-f]+\]\.\[notes\]'\) AND k\.type = 'PK'/);
    expect(up.mssql).toContain('INCREMENT BY 5;');
    expect(up.postgres).toMatch(/^DROP VIEW "?ws_[0-9a-f]+"?\.v_notes;/m);
    expect(up.postgres).toContain('CREATE OR REPLACE PROCEDURE');
    expect(up.postgres).toContain('DROP CONSTRAINT notes_pkey;');
    // The down file undoes it: the view and procedure back, the key created again.
    const down = await render(t.down);
    expect(down.mssql).toContain('CREATE OR ALTER VIEW');
    expect(down.postgres).toContain('CONSTRAINT notes_pkey PRIMARY KEY (note_id)');
  });

  it('a routine that gains or loses a dialect\'s text is dropped and created (not replaced with nothing)', async () => {
    const withBoth = base.routines![0]!;
    const pgOnly = defineSchema({ ...base, routines: [routine('procedure', 'purge', { postgres: withBoth.definition.postgres! })] });
    const up = await render(migrationTemplates(base, pgOnly, '0002_x', new Set()).up);
    expect(up.mssql).toMatch(/DROP PROCEDURE \[ws_[0-9a-f]+\]\.purge;/);
    expect(up.postgres).toMatch(/DROP PROCEDURE "?ws_[0-9a-f]+"?\.purge;[\s\S]*CREATE PROCEDURE/);
  });

  it('an expression index is PostgreSQL\'s only: created, renamed and dropped there, absent on SQL Server (also where SQL Server drops and re-creates what uses a column)', async () => {
    const accounts = (indexes: readonly ModelIndex[], emailType = 50) =>
      defineSchema({
        scope: 'tenant',
        tables: [{ ...table('accounts', { columns: { id: col.int(), email: col.nvarchar(emailType) }, primaryKey: { name: 'pk_accounts', columns: ['id'] } }), indexes }],
      });
    const a = accounts(table('x', { columns: { id: col.int() }, indexes: [{ name: 'ix_accounts_email_lower', columns: [{ expression: { postgres: 'lower((email)::text)' } }, { column: 'id', descending: true }], unique: true, where: "email <> ''" }] }).indexes);
    const created = await render(migrationTemplates(emptyModel('tenant'), a, '0001_x', new Set()).up);
    expect(created.postgres).toMatch(/CREATE UNIQUE INDEX ix_accounts_email_lower ON "?ws_[0-9a-f]+"?\."?accounts"? \(\(lower\(\(email\)::text\)\), id DESC\)\n    WHERE email <> '';/);
    expect(created.mssql).not.toContain('ix_accounts_email_lower');
    // A wider column: SQL Server drops and re-creates the indexes on it, but has none of this one.
    const widened = migrationTemplates(a, accounts(a.tables[0]!.indexes, 80), '0002_x', new Set());
    expect((await render(widened.up)).mssql).not.toContain('ix_accounts_email_lower');
    const renamed = migrationTemplates(a, accounts([{ ...a.tables[0]!.indexes[0]!, name: 'ix_accounts_email_ci', renamedFrom: 'ix_accounts_email_lower' }]), '0002_x', new Set());
    const r = await render(renamed.up);
    expect(r.postgres).toMatch(/ALTER INDEX "?ws_[0-9a-f]+"?\.ix_accounts_email_lower RENAME TO ix_accounts_email_ci;/);
    expect(r.mssql).not.toContain('sp_rename');
    const changed = migrationTemplates(a, accounts([{ name: 'ix_accounts_email_lower', columns: [{ expression: 'upper(email)' }], unique: true }]), '0002_x', new Set());
    const c = await render(changed.up);
    expect(c.postgres).toMatch(/DROP INDEX "?ws_[0-9a-f]+"?\.ix_accounts_email_lower;[\s\S]*CREATE UNIQUE INDEX ix_accounts_email_lower ON "?ws_[0-9a-f]+"?\."?accounts"? \(\(upper\(email\)\)\);/);
    expect(c.mssql).not.toMatch(/INDEX/);
  });

  it('an index on a computed column (SQL Server: persisted or not): the column is added before the index, the index dropped before the column is re-created', async () => {
    const orders = (expression: string, persisted: boolean, withIndex = true) =>
      defineSchema({
        scope: 'tenant',
        tables: [
          table('orders', {
            columns: { id: col.int(), price: col.decimal(10, 2), qty: col.int(), total: col.decimal(18, 2).computed(expression, { persisted }) },
            primaryKey: { name: 'pk_orders', columns: ['id'] },
            indexes: withIndex ? [{ name: 'ix_orders_total', columns: ['total'], include: ['qty'] }] : [],
          }),
        ],
      });
    const plain = defineSchema({ scope: 'tenant', tables: [{ ...orders('price * qty', false).tables[0]!, columns: orders('price * qty', false).tables[0]!.columns.slice(0, 3), indexes: [] }] });
    // Added with its index: ALTER TABLE … ADD in one batch, CREATE INDEX in a later one.
    const added = await render(migrationTemplates(plain, orders('price * qty', false), '0002_x', new Set()).up);
    expect(added.mssql).toMatch(/ADD total AS \(price \* qty\);[\s\S]*\nGO\n[\s\S]*CREATE INDEX ix_orders_total ON \[ws_[0-9a-f]+\]\.\[orders\] \(total\) INCLUDE \(qty\);/);
    // Its expression (or PERSISTED) changes: drop index, drop column, add column, create index.
    for (const [from, to] of [[orders('price * qty', false), orders('price * qty + 1', false)], [orders('price * qty', false), orders('price * qty', true)]] as const) {
      const { mssql, postgres } = await render(migrationTemplates(from, to, '0002_x', new Set()).up);
      for (const text of [mssql, postgres]) {
        const order = [/DROP INDEX (ix_orders_total ON|"?ws_[0-9a-f]+"?\.ix_orders_total)/, /DROP COLUMN total;/, /ADD total /, /CREATE INDEX ix_orders_total/].map((re) => text.search(re));
        expect(order.every((at) => at >= 0), text).toBe(true);
        expect([...order].sort((x, y) => x - y)).toEqual(order);
      }
      if (to.tables[0]!.columns[3]!.computed!.persisted) expect(mssql).toContain('ADD total AS (price * qty) PERSISTED;');
    }
    // Dropped with its index: the index first.
    const dropped = await render(migrationTemplates(orders('price * qty', true), plain, '0002_x', new Set(ALLOW_KINDS)).up);
    expect(dropped.mssql.indexOf('DROP INDEX ix_orders_total')).toBeLessThan(dropped.mssql.indexOf('DROP COLUMN total;'));
  });
});

