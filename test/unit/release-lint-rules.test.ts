import { describe, expect, it } from 'vitest';
import { lintMigration, splitStatements, stripComments } from '../../src/release/lint-rules.js';

const lint = (source: string, scope: 'master' | 'tenant' = 'tenant', noTransaction = false) =>
  lintMigration({ source, scope, isTemplate: true, noTransaction }).map((f) => `${f.line}:${f.rule}:${f.severity}`);

describe('stripComments', () => {
  it('blanks comments and literals but keeps line numbers', () => {
    const src = "{{!-- a\nb --}}\n-- it's a comment\nSELECT 'x;y' /* c\nd */;\n";
    const out = stripComments(src);
    expect(out.split('\n')).toHaveLength(src.split('\n').length);
    expect(out).not.toContain("it's");
    expect(out).toContain("SELECT '   '");
    expect(splitStatements(out)).toEqual([{ text: "SELECT '   '", line: 4 }]);
  });

  it('handles escaped quotes in literals', () => {
    expect(stripComments("SELECT 'it''s'; DROP TABLE x;")).toBe("SELECT '     '; DROP TABLE x;");
  });
});

describe('lintMigration', () => {
  it('passes a clean tenant migration', () => {
    const src = [
      'CREATE TABLE {{table "items"}} (id {{int}} NOT NULL);',
      'CREATE INDEX ix_items_id ON {{table "items"}} (id);',
      'ALTER TABLE {{table "items"}} ALTER COLUMN id SET DEFAULT 1;',
      'CREATE VIEW {{schema}}.v_items AS SELECT id FROM {{table "items"}};',
    ].join('\n');
    expect(lint(src)).toEqual([]);
  });

  it('flags DROP TABLE and DROP COLUMN as warnings on their lines', () => {
    expect(lint('SELECT 1;\nDROP TABLE {{table "a"}};\nALTER TABLE {{table "b"}}\n  DROP COLUMN c;')).toEqual([
      '2:drop-table:warning',
      '4:drop-column:warning',
    ]);
  });

  it('flags column type changes in T-SQL and PostgreSQL forms, not default/nullability changes', () => {
    expect(lint('ALTER TABLE {{table "a"}} ALTER COLUMN name NVARCHAR(400) NOT NULL;')).toEqual(['1:alter-column-type:warning']);
    expect(lint('ALTER TABLE {{table "a"}} ALTER COLUMN name TYPE varchar(400);')).toEqual(['1:alter-column-type:warning']);
    expect(lint('ALTER TABLE {{table "a"}} ALTER COLUMN name SET DATA TYPE text;')).toEqual(['1:alter-column-type:warning']);
    expect(lint('ALTER TABLE {{table "a"}} ALTER COLUMN name SET NOT NULL;')).toEqual([]);
    expect(lint('ALTER TABLE {{table "a"}} ALTER COLUMN name DROP DEFAULT;')).toEqual([]);
  });

  it('is an error when a tenant template creates an object outside {{schema}}', () => {
    expect(lint('\n\nCREATE TABLE items (id int);')).toEqual(['3:unqualified-create:error']);
    expect(lint('CREATE INDEX ix ON items (id);')).toContain('1:unqualified-create:error');
    expect(lint('CREATE VIEW v AS SELECT 1;')).toEqual(['1:unqualified-create:error']);
    // Master migrations are not tenant-scoped; CREATE SCHEMA is not an object in a schema.
    expect(lint('CREATE TABLE items (id int);', 'master')).toEqual([]);
    expect(lint('CREATE SCHEMA {{schema}};')).toEqual([]);
  });

  it('flags blocking index builds on existing tables, not on tables created in the same file', () => {
    expect(lint('CREATE INDEX ix ON {{table "jobs"}} (a);')).toEqual(['1:blocking-index:warning']);
    expect(lint('CREATE TABLE {{table "jobs"}} (a int);\nCREATE INDEX ix ON {{table "jobs"}} (a);')).toEqual([]);
    expect(lint('CREATE INDEX ix ON {{table "jobs"}} (a) WITH (ONLINE = ON);')).toEqual([]);
    expect(lint('-- tenant-migrate: no-transaction\nCREATE INDEX CONCURRENTLY ix ON {{table "jobs"}} (a);', 'tenant', true)).toEqual([]);
    expect(lint('CREATE INDEX CONCURRENTLY ix ON {{table "jobs"}} (a);')).toEqual(['1:blocking-index:error']);
  });

  it('sees statements inside {{#if}} branches', () => {
    const src = '{{#if isMssql}}\nCREATE INDEX ix ON {{table "jobs"}} (a) WITH (ONLINE = ON);\n{{else}}\nDROP TABLE {{table "x"}};\n{{/if}}';
    expect(lint(src)).toEqual(['4:drop-table:warning']);
  });

  it('honours an allow comment on the statement line or the line above', () => {
    expect(lint('-- tenant-migrate-lint: allow drop-column\nALTER TABLE {{table "a"}} DROP COLUMN c;')).toEqual([]);
    expect(lint('DROP TABLE {{table "a"}}; -- tenant-migrate-lint: allow drop-table')).toEqual([]);
    expect(lint('-- tenant-migrate-lint: allow drop-table\nALTER TABLE {{table "a"}} DROP COLUMN c;')).toEqual(['2:drop-column:warning']);
  });
});
