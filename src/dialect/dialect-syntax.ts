/**
 * What a dialect contributes without a connection: quoting, portable types for templates and
 * script splitting. `render --dialect mssql` and the golden T-SQL files only need this part.
 */
export type DialectName = 'mssql' | 'postgres' | 'pglite';
export type DialectFamily = 'mssql' | 'postgres';

/** One batch of a script, with the 1-based line of the script it starts on. */
export interface ScriptBatch {
  readonly sql: string;
  readonly startLine: number;
  /** `GO n` repeats a batch n times (SQL Server); 1 elsewhere. */
  readonly repeat: number;
}

export interface PortableTypes {
  uuid(): string;
  nvarchar(length: number | 'max'): string;
  varchar(length: number | 'max'): string;
  text(): string;
  datetime2(precision?: number): string;
  bit(): string;
  int(): string;
  bigint(): string;
  decimal(precision: number, scale: number): string;
  json(): string;
  varbinary(length: number | 'max'): string;
  /** Current UTC time as an expression. */
  utcnow(): string;
  /** A new random GUID as an expression. */
  newid(): string;
  /** Auto-increment integer column type + identity clause, e.g. `BIGINT IDENTITY(1,1)`. */
  identity(): string;
  /** Boolean literal. */
  bool(value: boolean): string;
}

export interface DialectSyntax {
  readonly name: DialectName;
  readonly family: DialectFamily;
  /** Longest identifier the server accepts (SQL Server 128, PostgreSQL 63). */
  readonly maxIdentifierLength: number;
  /** `GO` for SQL Server scripts, null where the server takes a multi-statement script at once. */
  readonly batchSeparator: 'GO' | null;
  quoteIdent(name: string): string;
  /** A string literal (N'…' on SQL Server). */
  quoteString(value: string): string;
  readonly types: PortableTypes;
  /** Split a rendered script into the batches sent to the server, keeping their start lines. */
  splitBatches(sql: string): ScriptBatch[];
}
