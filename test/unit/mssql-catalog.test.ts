import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { babelfishIndexName, isLockTimeout, isSystemNamed, mssqlCatalogSql, mssqlLogicalType, mssqlRowsToCatalogs, normalizeMssqlExpression } from '../../src/dialect/mssql/mssql-catalog.js';

const S = 'ws_0123456789abcdef0123456789abcdef';
const col = (type_name: string, max_length: number, precision = 0, scale = 0, is_identity = false) => ({ type_name, max_length, precision, scale, is_identity });

describe('SQL Server reverse type map', () => {
  it('agrees with what the template helpers render on SQL Server', () => {
    expect([
      mssqlLogicalType(col('uniqueidentifier', 16)),
      mssqlLogicalType(col('nvarchar', 256)),
      mssqlLogicalType(col('nvarchar', -1)),
      mssqlLogicalType(col('varchar', 64)),
      mssqlLogicalType(col('datetime2', 8, 27, 7)),
      mssqlLogicalType(col('datetime2', 7, 23, 3)),
      mssqlLogicalType(col('bit', 1)),
      mssqlLogicalType(col('int', 4)),
      mssqlLogicalType(col('bigint', 8, 19, 0, true)),
      mssqlLogicalType(col('decimal', 9, 10, 2)),
      mssqlLogicalType(col('varbinary', 16)),
      mssqlLogicalType(col('smallint', 2)),
    ]).toEqual(['uuid', 'nvarchar(128)', 'nvarchar(max)', 'varchar(64)', 'datetime2', 'datetime2(3)', 'bit', 'int', 'identity', 'decimal(10,2)', 'varbinary(16)', 'smallint']);
    // The everyday types beyond the helpers, and dialect-only ones raw.
    expect([
      mssqlLogicalType(col('tinyint', 1)),
      mssqlLogicalType(col('real', 4, 24)),
      mssqlLogicalType(col('float', 8, 53)),
      mssqlLogicalType(col('date', 3)),
      mssqlLogicalType(col('time', 5, 16, 7)),
      mssqlLogicalType(col('time', 4, 13, 3)),
      mssqlLogicalType(col('datetimeoffset', 10, 34, 7)),
      mssqlLogicalType(col('nchar', 20)),
      mssqlLogicalType(col('char', 3)),
      mssqlLogicalType(col('money', 8, 19, 4)),
      mssqlLogicalType(col('int', 4, 10, 0, true)),
    ]).toEqual(['mssql:tinyint', 'real', 'float', 'date', 'time', 'time(3)', 'datetimeoffset', 'nchar(10)', 'char(3)', 'mssql:money', 'int identity']);
  });
});

describe('SQL Server expression normalizer', () => {
  it.each([
    ['((0))', '0'],
    ["(N'active')", "'active'"],
    ["('active')", "'active'"],
    ['(sysutcdatetime())', 'utcnow()'],
    ['(newid())', 'newid()'],
    ["([status]='active' OR [status]='paused')", "status='active' OR status='paused'"],
    ['([attempt]>=(1))', 'attempt>=1'],
    [`([${S}].[f]([x]))`, '$schema.f(x)'],
  ])('%s → %s', (input, output) => {
    expect(normalizeMssqlExpression(input, S)).toBe(output);
  });
});

describe('sys.* rows → catalogs', () => {
  it('groups per schema, constraint and index; system names kept apart (not compared)', () => {
    const base = { schema_name: S, table_name: 'jobs' };
    const catalogs = mssqlRowsToCatalogs([S], {
      columns: [
        { ...base, column_name: 'id', type_name: 'uniqueidentifier', max_length: 16, precision: 0, scale: 0, is_nullable: 0, is_identity: 0, default_expr: '(newid())', computed_expr: null },
        { ...base, column_name: 'agent_id', type_name: 'uniqueidentifier', max_length: 16, precision: 0, scale: 0, is_nullable: 1, is_identity: 0, default_expr: null, computed_expr: null },
      ],
      keys: [{ ...base, constraint_name: 'PK__jobs__3213E83F', constraint_type: 'PK', is_system_named: 1, column_name: 'id', key_ordinal: 1 }],
      checks: [{ ...base, constraint_name: 'ck_jobs', is_system_named: 0, definition: '([id] IS NOT NULL)', is_disabled: 0, is_not_trusted: 1 }],
      foreignKeys: [
        { ...base, constraint_name: 'fk_jobs_agent', is_system_named: 0, on_delete: 2, on_update: 0, ref_schema: S, ref_table: 'agents', column_name: 'agent_id', ref_column: 'agent_id', constraint_column_id: 1 },
      ],
      indexes: [
        { ...base, index_name: 'ix_jobs', is_unique: 0, type_desc: 'NONCLUSTERED', filter_definition: '([agent_id] IS NOT NULL)', is_disabled: 0, column_name: 'agent_id', key_ordinal: 1, is_descending_key: 1, is_included_column: 0 },
        { ...base, index_name: 'ix_jobs', is_unique: 0, type_desc: 'NONCLUSTERED', filter_definition: '([agent_id] IS NOT NULL)', is_disabled: 0, column_name: 'id', key_ordinal: 0, is_descending_key: 0, is_included_column: 1 },
      ],
    });
    const t = catalogs.get(S)!.tables[0]!;
    expect(t.columns[0]).toEqual({ name: 'id', type: 'uuid', nullable: false, default: 'newid()' });
    expect(t.primaryKey).toEqual({ generatedName: 'PK__jobs__3213E83F', columns: ['id'] });
    expect(t.checks).toEqual([{ name: 'ck_jobs', expression: 'id IS NOT NULL NOT VALID' }]);
    expect(t.foreignKeys[0]).toMatchObject({ name: 'fk_jobs_agent', refSchema: '$schema', onDelete: 'set null', onUpdate: 'no action', columns: ['agent_id'] });
    expect(t.indexes).toEqual([{ name: 'ix_jobs', keys: [{ column: 'agent_id', descending: true }], unique: false, filter: 'agent_id IS NOT NULL', include: ['id'] }]);
  });

  it('Babelfish: keys and foreign keys all say is_system_named = 1 — names kept unless they look generated (SQL Server or PostgreSQL form)', () => {
    const base = { schema_name: S, table_name: 'runs' };
    const fk = { ...base, is_system_named: 1, on_delete: 1, on_update: 0, ref_schema: S, ref_table: 'jobs' };
    const catalogs = mssqlRowsToCatalogs([S], {
      columns: [],
      keys: [
        { ...base, constraint_name: 'pk_runs', constraint_type: 'PK', is_system_named: 1, column_name: 'run_id', key_ordinal: 1 },
        { ...base, constraint_name: 'runs_name_key', constraint_type: 'UQ', is_system_named: 1, column_name: 'name', key_ordinal: 1 },
      ],
      checks: [],
      foreignKeys: [
        { ...fk, constraint_name: 'fk_runs_job', column_name: 'job_id', ref_column: 'job_id', constraint_column_id: 1 },
        { ...fk, constraint_name: 'fk_runs_job', column_name: 'job_rev', ref_column: 'rev', constraint_column_id: 2 },
        { ...fk, constraint_name: 'runs_agent_id_fkey', column_name: 'agent_id', ref_column: 'agent_id', constraint_column_id: 1 },
        { ...fk, constraint_name: 'FK__runs__agent__4AB81AF0', column_name: 'agent2_id', ref_column: 'agent_id', constraint_column_id: 1 },
      ],
      indexes: [],
    });
    const t = catalogs.get(S)!.tables[0]!;
    expect(t.primaryKey).toEqual({ name: 'pk_runs', columns: ['run_id'] });
    expect(t.uniques).toEqual([{ generatedName: 'runs_name_key', columns: ['name'] }]);
    expect(t.foreignKeys.map((f) => [f.name, f.columns, f.refColumns])).toEqual([
      ['fk_runs_job', ['job_id', 'job_rev'], ['job_id', 'rev']],
      [undefined, ['agent_id'], ['agent_id']],
      [undefined, ['agent2_id'], ['agent_id']],
    ]);
    expect(isSystemNamed(0, 'runs_pkey')).toBe(false); // SQL Server's flag says a person chose it
  });

  it('Babelfish index names: <name><table><md5 of name> back to the name, also after the table was renamed (the stored name keeps the old table)', () => {
    const md5 = (x: string) => createHash('md5').update(x).digest('hex');
    expect(babelfishIndexName(`ix_t0_c0t0${md5('ix_t0_c0')}`, 't0')).toBe('ix_t0_c0');
    expect(babelfishIndexName(`ix_t0_c0t0${md5('ix_t0_c0')}`, 't0_r')).toBe('ix_t0_c0');
    expect(babelfishIndexName(`ix_t0_c0_1t0${md5('ix_t0_c0_1')}`, 'renamed_table')).toBe('ix_t0_c0_1');
    expect(babelfishIndexName('ix_plain', 't0')).toBe('ix_plain');
    expect(babelfishIndexName(`ix_x${'0'.repeat(32)}`, 't0')).toBe(`ix_x${'0'.repeat(32)}`);
  });

  it('filters schemas with quoted literals, the meta table by parameter', () => {
    const sql = mssqlCatalogSql([S, "ws_o'brien"]);
    expect(sql.columns).toContain(`WHERE s.name IN (N'${S}', N'ws_o''brien')`);
    expect(sql.columns).toContain('t.name <> $1');
  });

  it('recognises error 1222 (lock timeout) through driver wrappers', () => {
    expect(isLockTimeout({ number: 1222 })).toBe(true);
    expect(isLockTimeout({ cause: { originalError: { info: { number: 1222 } } } })).toBe(true);
    expect(isLockTimeout({ number: 208 })).toBe(false);
    // Babelfish reports PostgreSQL's lock timeout unmapped (seen when drift read catalogs beside other DDL there).
    expect(isLockTimeout({ number: 33557097, message: 'canceling statement due to lock timeout' })).toBe(true);
    expect(isLockTimeout({ originalError: { info: { number: 33557097 }, message: 'canceling statement due to lock timeout' } })).toBe(true);
    expect(isLockTimeout({ number: 33557097, message: 'relation "x" does not exist' })).toBe(false);
  });
});
