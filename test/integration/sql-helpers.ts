/**
 * Dialect-neutral SQL for the integration tests' own setup and assertions, so the same test body
 * runs on PGlite, PostgreSQL and SQL Server. Quoting comes from the dialect's syntax
 * (`syntaxFor`), catalog checks use information_schema (present on both families), and
 * parameters are `$1..$n` everywhere (the mssql adapter rewrites them to `@p1..`).
 *
 * Two layers:
 * - `dialectSql(dialect)`: pure SQL fragments (quoting, uuid parameters/columns, types, codes).
 * - `sqlHelpers(dialect, query)`: the fragments plus async checks over a query function
 *   (count rows, table/column/schema exists, insert a Workspace row, drop a constraint, …).
 * `withDatabase(url, fn)` opens a short-lived adapter for tests that have no migrator at hand (or
 * must not keep a PGlite directory open while the CLI runs in a child process).
 */
import { createAdapter, dialectFromUrl } from '../../src/dialect/create-adapter.js';
import type { DialectName } from '../../src/dialect/dialect-syntax.js';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
// `relation "…" does not exist` (SQL Server: 208) has no T-SQL mapping on Babelfish: its generic number.
import { BABELFISH_UNMAPPED_ERROR } from '../../src/dialect/mssql/mssql-errors.js';

export const MASTER = 'pmassist_master';

/** A session-style query: `$1..$n` placeholders on every dialect. */
export type Query = <R = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => Promise<R[]>;

export interface DialectSql {
  readonly dialect: DialectName;
  readonly isMssql: boolean;
  /** `"name"` / `[name]`. */
  ident(name: string): string;
  /** `"schema"."table"` / `[schema].[table]`. */
  table(schema: string, name: string): string;
  /** A table in the master schema (`pmassist_master` unless given). */
  master(name: string, masterSchema?: string): string;
  /** A uuid-typed parameter: `$n::uuid` on PostgreSQL; `$n` on SQL Server (NVARCHAR converts implicitly to UNIQUEIDENTIFIER). */
  uuidParam(n: number): string;
  /** A uuid column as lowercase text with hyphens (what the engine reports as workspace id). */
  uuidText(column: string): string;
  /** ORDER BY expression for a uuid column that matches the engine's registry order. */
  uuidOrder(column: string): string;
  /** Portable column types for hand-written DDL in tests. */
  readonly types: { int: string; text: string };
  /** A statement that waits `ms` milliseconds (for migrations that must last a while). */
  sleep(ms: number): string;
  /** Driver error code of "table does not exist" (what the engine reports as `dbCode`). */
  readonly undefinedTableCode: string | number;
}


export function dialectSql(dialect: DialectName, engine?: string): DialectSql {
  const syntax = syntaxFor(dialect);
  const isMssql = syntax.family === 'mssql';
  const ident = (name: string) => syntax.quoteIdent(name);
  return {
    dialect,
    isMssql,
    ident,
    table: (schema, name) => `${ident(schema)}.${ident(name)}`,
    master: (name, masterSchema = MASTER) => `${ident(masterSchema)}.${ident(name)}`,
    uuidParam: (n) => (isMssql ? `$${n}` : `$${n}::uuid`),
    uuidText: (column) => (isMssql ? `LOWER(CONVERT(NVARCHAR(36), ${column}))` : `${column}::text`),
    // SQL Server sorts UNIQUEIDENTIFIER by its last byte group first; the engine orders by the text form.
    uuidOrder: (column) => (isMssql ? `CONVERT(NVARCHAR(36), ${column}) COLLATE Latin1_General_BIN2` : column),
    types: { int: syntax.types.int(), text: syntax.types.text() },
    sleep: (ms) => {
      if (!isMssql) return `SELECT pg_sleep(${ms / 1000})`;
      // Babelfish has no WAITFOR ('not currently supported'); its T-SQL EXEC reaches PostgreSQL's pg_sleep.
      if (engine === 'babelfish') return `EXEC pg_sleep ${ms / 1000}`;
      const s = Math.floor(ms / 1000);
      const time = `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
      return `WAITFOR DELAY '${time}'`;
    },
    undefinedTableCode: !isMssql ? '42P01' : engine === 'babelfish' ? BABELFISH_UNMAPPED_ERROR : 208,
  };
}

export interface WorkspaceRowInsert {
  readonly workspaceId: string;
  readonly name: string;
  readonly dbSchemaName?: string;
  readonly status?: string;
}

export interface SqlHelpers extends DialectSql {
  readonly query: Query;
  /** Run a statement, ignore its rows. */
  exec(sql: string, params?: readonly unknown[]): Promise<void>;
  /** `SELECT COUNT(*)` of a table (optionally `WHERE …`), as a number on every dialect. */
  count(from: string, where?: string, params?: readonly unknown[]): Promise<number>;
  schemaExists(schema: string): Promise<boolean>;
  tableExists(schema: string, table: string): Promise<boolean>;
  columnExists(schema: string, table: string, column: string): Promise<boolean>;
  /** Schema names matching a LIKE pattern (`_` and `%` are wildcards on both families), sorted. */
  schemasLike(pattern: string): Promise<string[]>;
  /** Tenant schemas: names starting with a literal `ws_`, sorted. */
  tenantSchemas(): Promise<string[]>;
  /** Insert a registry row in the master Workspace table (workspace_id bound as a uuid). */
  insertWorkspace(row: WorkspaceRowInsert): Promise<void>;
  dropConstraint(schema: string, table: string, constraint: string): Promise<void>;
}

export function sqlHelpers(dialect: DialectName, query: Query, engine?: string): SqlHelpers {
  const d = dialectSql(dialect, engine);
  // Catalog rows are unique per name; more than one would mean the check itself is wrong.
  const exists = async (sql: string, params: readonly unknown[]) => {
    const rows = await query(sql, params);
    if (rows.length > 1) throw new Error(`expected at most one catalog row, got ${rows.length}: ${sql}`);
    return rows.length === 1;
  };
  const names = async (sql: string, params: readonly unknown[]) =>
    (await query<{ schema_name: string }>(sql, params)).map((r) => r.schema_name);
  // Binary collation on SQL Server so the order is the same as PostgreSQL's "C"-like order of ws_<hex>.
  const schemaOrder = d.isMssql ? 'schema_name COLLATE Latin1_General_BIN2' : 'schema_name';
  return {
    ...d,
    query,
    exec: async (sql, params = []) => void (await query(sql, params)),
    count: async (from, where, params = []) => {
      const [row] = await query<{ n: number | string | bigint }>(`SELECT COUNT(*) AS n FROM ${from}${where ? ` WHERE ${where}` : ''}`, params);
      return Number(row!.n);
    },
    schemaExists: (schema) => exists('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]),
    tableExists: (schema, table) => exists('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [schema, table]),
    columnExists: (schema, table, column) =>
      exists('SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3', [schema, table, column]),
    schemasLike: (pattern) => names(`SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE $1 ORDER BY ${schemaOrder}`, [pattern]),
    tenantSchemas: () =>
      names(`SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'ws!_%' ESCAPE '!' ORDER BY ${schemaOrder}`, []),
    insertWorkspace: async (row) => {
      const cols = ['workspace_id', 'name'];
      const values: unknown[] = [row.workspaceId, row.name];
      if (row.dbSchemaName !== undefined) (cols.push('db_schema_name'), values.push(row.dbSchemaName));
      if (row.status !== undefined) (cols.push('status'), values.push(row.status));
      const placeholders = values.map((_, i) => (i === 0 ? d.uuidParam(1) : `$${i + 1}`));
      await query(`INSERT INTO ${d.master('Workspace')} (${cols.join(', ')}) VALUES (${placeholders.join(', ')})`, values);
    },
    dropConstraint: async (schema, table, constraint) => {
      await query(`ALTER TABLE ${d.table(schema, table)} DROP CONSTRAINT ${d.ident(constraint)}`);
    },
  };
}

/**
 * Open a short-lived adapter on `url`, hand `fn` the helpers over one pooled session per query,
 * then close it (PGlite allows one process per data directory: the CLI can run again afterwards).
 */
export async function withDatabase<T>(url: string, fn: (sql: SqlHelpers) => Promise<T>): Promise<T> {
  const adapter = await createAdapter({
    url,
    names: { masterSchema: MASTER, metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' },
    maxConnections: 2,
    rootDir: process.cwd(),
  });
  try {
    const query: Query = (sql, params = []) => adapter.withSession((s) => s.query(sql, params));
    return await fn(sqlHelpers(dialectFromUrl(url), query));
  } finally {
    await adapter.close();
  }
}
