import type { DialectSyntax, PortableTypes } from '../dialect-syntax.js';
import { splitGoBatches } from './go-splitter.js';

const len = (n: number | 'max'): string => (n === 'max' ? '(MAX)' : `(${n})`);

/** SQL Server spellings of the portable template types. */
export const mssqlTypes: PortableTypes = {
  uuid: () => 'UNIQUEIDENTIFIER',
  nvarchar: (n) => `NVARCHAR${len(n)}`,
  varchar: (n) => `VARCHAR${len(n)}`,
  text: () => 'NVARCHAR(MAX)',
  datetime2: (p = 7) => (p === 7 ? 'DATETIME2' : `DATETIME2(${p})`),
  bit: () => 'BIT',
  int: () => 'INT',
  bigint: () => 'BIGINT',
  decimal: (p, s) => `DECIMAL(${p},${s})`,
  json: () => 'NVARCHAR(MAX)',
  varbinary: (n) => `VARBINARY${len(n)}`,
  utcnow: () => 'SYSUTCDATETIME()',
  newid: () => 'NEWID()',
  identity: () => 'BIGINT IDENTITY(1,1)',
  bool: (v) => (v ? '1' : '0'),
};

/** `[name]` with `]` doubled, as QUOTENAME does. */
export function quoteMssqlIdent(name: string): string {
  return `[${name.replace(/]/g, ']]')}]`;
}

/** `N'value'` with embedded quotes doubled. */
export function quoteMssqlString(value: string): string {
  return `N'${value.replace(/'/g, "''")}'`;
}

export const mssqlSyntax: DialectSyntax = {
  name: 'mssql',
  family: 'mssql',
  maxIdentifierLength: 128,
  batchSeparator: 'GO',
  quoteIdent: quoteMssqlIdent,
  quoteString: quoteMssqlString,
  types: mssqlTypes,
  splitBatches: splitGoBatches,
};
