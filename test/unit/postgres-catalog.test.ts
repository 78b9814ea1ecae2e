import { describe, expect, it } from 'vitest';
import { isPgGeneratedName, normalizePgExpression, pgLogicalType, pgRowsToCatalogs, shareableFor } from '../../src/dialect/postgres/postgres-catalog.js';
import { postgresTypes } from '../../src/dialect/postgres/postgres-syntax.js';

const S = 'ws_0123456789abcdef0123456789abcdef';

describe('PostgreSQL reverse type map', () => {
  it('agrees with what the template helpers render', () => {
    // format_type() spellings of the helper output on PostgreSQL.
    const formatted: Record<string, string> = {
      [postgresTypes.uuid()]: 'uuid',
      [postgresTypes.nvarchar(128)]: 'character varying(128)',
      [postgresTypes.text()]: 'text',
      [postgresTypes.datetime2()]: 'timestamp(6) without time zone',
      [postgresTypes.bit()]: 'boolean',
      [postgresTypes.int()]: 'integer',
      [postgresTypes.bigint()]: 'bigint',
      [postgresTypes.decimal(10, 2)]: 'numeric(10,2)',
      [postgresTypes.json()]: 'jsonb',
      [postgresTypes.varbinary(16)]: 'bytea',
    };
    expect(Object.values(formatted).map((f) => pgLogicalType(f, false))).toEqual([
      'uuid', 'nvarchar(128)', 'text', 'datetime2', 'bit', 'int', 'bigint', 'decimal(10,2)', 'json', 'varbinary(max)',
    ]);
    expect(pgLogicalType('timestamp(3) without time zone', false)).toBe('datetime2(3)');
    expect(pgLogicalType('bigint', true)).toBe('identity');
    expect(
      ['smallint', 'real', 'double precision', 'date', 'time without time zone', 'time(3) without time zone', 'timestamp with time zone', 'timestamp(6) with time zone', 'character(3)', 'numeric(10,0)', 'inet', 'money'].map((f) => pgLogicalType(f, false)),
    ).toEqual(['smallint', 'real', 'float', 'date', 'time', 'time(3)', 'datetimeoffset', 'datetimeoffset', 'nchar(3)', 'decimal(10,0)', 'postgres:inet', 'postgres:money']);
    expect(pgLogicalType('integer', 'a')).toBe('int identity always');
    expect(pgLogicalType('smallint', 'd')).toBe('smallint identity');
    expect(pgLogicalType('bigint', 'a')).toBe('identity always');
  });
});

describe('PostgreSQL expression normalizer', () => {
  it.each([
    ["'active'::character varying", "'active'"],
    ["(now() AT TIME ZONE 'utc'::text)", 'utcnow()'],
    ["timezone('utc'::text, now())", 'utcnow()'],
    ['gen_random_uuid()', 'newid()'],
    ["'-1'::integer", '-1'],
    ["'0.50'::numeric", '0.50'],
    [`nextval('${S}.t_id_seq'::regclass)`, "nextval('$schema.t_id_seq'::regclass)"],
    [`(("${S}".f(x)))`, '$schema.f(x)'],
    // Casts inside an expression are its meaning: kept as the server printed them.
    ["((status)::text = ANY ((ARRAY['a'::character varying])::text[]))", "(status)::text = ANY ((ARRAY['a'::character varying])::text[])"],
    ["'{}'::integer[]", "'{}'::integer[]"],
    ["ARRAY['1'::numeric]", "ARRAY['1'::numeric]"],
    ["(now() AT TIME ZONE 'utc'::text)::text", "(now() AT TIME ZONE 'utc'::text)::text"],
    ["'a'::character varying || 'b'::text", "'a'::character varying || 'b'::text"],
  ])('%s → %s', (input, output) => {
    expect(normalizePgExpression(input, S)).toBe(output);
  });
});

describe('pg_catalog rows → catalogs', () => {
  it('groups rows per schema, keeps generated names apart (not compared) and keeps empty schemas', () => {
    const other = 'ws_ffffffffffffffffffffffffffffffff';
    const catalogs = pgRowsToCatalogs(
      [S, other],
      [
        { schema_name: S, table_name: 't', attnum: 1, column_name: 'id', data_type: 'bigint', not_null: true, identity: 'd', generated: '', default_expr: null },
        { schema_name: S, table_name: 't', attnum: 2, column_name: 'p', data_type: 'integer', not_null: false, identity: '', generated: '', default_expr: '0' },
      ],
      [
        { schema_name: S, table_name: 't', conname: 't_pkey', contype: 'p', conkey: [1], ref_schema: null, ref_table: null, confkey: null, ref_columns: null, on_update: ' ', on_delete: ' ', definition: null },
        { schema_name: S, table_name: 't', conname: 'fk_t_parent', contype: 'f', conkey: '{2}', ref_schema: S, ref_table: 'parent', confkey: [1], ref_columns: null, on_update: 'a', on_delete: 'c', definition: null },
      ],
      [{ schema_name: S, table_name: 't', index_name: 'ix_t_p', is_unique: false, is_valid: false, key_count: 1, method: 'btree', columns: ['p', 'id'], options: '3 0', filter: 'p > 0' }],
    );
    expect(catalogs.get(other)).toEqual({ family: 'postgres', tables: [] });
    const t = catalogs.get(S)!.tables[0]!;
    expect(t.columns).toEqual([
      { name: 'id', type: 'identity', nullable: false },
      { name: 'p', type: 'int', nullable: true, default: '0' },
    ]);
    expect(t.primaryKey).toEqual({ generatedName: 't_pkey', columns: ['id'] });
    expect(t.foreignKeys[0]).toMatchObject({ name: 'fk_t_parent', columns: ['p'], refColumns: ['#1'], refSchema: '$schema', onDelete: 'cascade', onUpdate: 'no action' });
    expect(t.indexes[0]).toEqual({ name: 'ix_t_p', keys: [{ column: 'p', descending: true }], unique: false, filter: 'p > 0', include: ['id'], valid: false });
  });

  it('recognises generated constraint names', () => {
    expect(isPgGeneratedName('jobs', 'jobs_pkey')).toBe(true);
    expect(isPgGeneratedName('jobs', 'jobs_status_check1')).toBe(true);
    expect(isPgGeneratedName('jobs', 'ck_jobs_status')).toBe(false);
  });
});

describe('sharing a catalog between schemas with equal digests', () => {
  const other = 'ws_ffffffffffffffffffffffffffffffff';
  it('shares when no expression names either schema', () => {
    expect(shareableFor({ schema: S, expressions: ["'active'::character varying", 'gen_random_uuid()'] }, other)).toBe(true);
    expect(shareableFor({ schema: S, expressions: [] }, other)).toBe(true);
  });
  it('does not share when an expression contains the representative\'s or the other schema\'s name', () => {
    expect(shareableFor({ schema: S, expressions: [`'${S}.x'::text`] }, other)).toBe(false);
    expect(shareableFor({ schema: S, expressions: [`'${other}.x'::text`] }, other)).toBe(false);
  });
});
