/**
 * SQL Server catalog introspection into the catalog model: five set-based queries over sys.*
 * (columns, key constraints, checks, foreign keys, indexes) for a chunk of schemas, grouped in
 * memory — the shape of sqldef's mssql inspector, never a round trip per schema.
 *
 * Key columns are found through the key's index: sys.key_constraints.unique_index_id on SQL Server,
 * the index of the same name on Babelfish (whose unique_index_id is the PostgreSQL index oid, not the
 * index_id of sys.indexes / sys.index_columns — keys came back without columns there).
 *
 * Not waiting behind in-flight DDL: SQL Server reads metadata at READ COMMITTED whatever the
 * session's isolation level or lock hints say ("Metadata access, isolation levels, and lock hints":
 * https://learn.microsoft.com/en-us/sql/t-sql/language-elements/transaction-isolation-levels),
 * so NOLOCK / READ UNCOMMITTED do not help and snapshot isolation may fail outright. A migration
 * holding a Sch-M lock on one tenant's table would block the whole chunk. So the reader sets
 * `SET LOCK_TIMEOUT` and, on error 1222, splits the chunk until the one busy schema is isolated;
 * that schema is reported busy (not read) and every other schema is read.
 * https://learn.microsoft.com/en-us/sql/t-sql/statements/set-lock-timeout-transact-sql
 */
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { SqlSession } from '../dialect-adapter.js';
import { type Catalog, type CatalogRoutine, type CatalogSequence, type CatalogView, type MutableTable, type ReferentialAction, SELF_SCHEMA, collectTables } from '../../catalog/catalog-model.js';
import type { CatalogReader, CatalogReaderOptions } from '../../catalog/catalog-reader.js';
import { replaceSchemaName, stripOuterParens } from '../../catalog/normalize.js';
import { isMssqlLockTimeout } from './mssql-errors.js';
import { quoteMssqlString } from './mssql-syntax.js';
import { identityType } from '../../schema-model/logical-types.js';

/** `IN (N'ws_…', …)`: names validated against the tenant pattern before they get here, then quoted. */
const inList = (schemas: readonly string[]): string => `(${schemas.map(quoteMssqlString).join(', ')})`;

export const mssqlCatalogSql = (schemas: readonly string[]) => {
  const tables = `sys.schemas AS s JOIN sys.tables AS t ON t.schema_id = s.schema_id AND t.name <> $1`;
  const where = `WHERE s.name IN ${inList(schemas)}`;
  return {
    columns: `SELECT s.name AS schema_name, t.name AS table_name, c.name AS column_name, ty.name AS type_name,
       c.max_length, c.precision, c.scale, c.is_nullable, c.is_identity,
       dc.definition AS default_expr, cc.definition AS computed_expr, cc.is_persisted
FROM ${tables}
JOIN sys.columns AS c ON c.object_id = t.object_id
JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id
LEFT JOIN sys.default_constraints AS dc ON dc.object_id = c.default_object_id
LEFT JOIN sys.computed_columns AS cc ON cc.object_id = c.object_id AND cc.column_id = c.column_id
${where}
ORDER BY s.name, t.name, c.column_id;`,
    keys: `SELECT s.name AS schema_name, t.name AS table_name, kc.name AS constraint_name, kc.type AS constraint_type,
       kc.is_system_named, col.name AS column_name, ic.key_ordinal
FROM ${tables}
JOIN sys.key_constraints AS kc ON kc.parent_object_id = t.object_id
JOIN sys.indexes AS ki ON ki.object_id = t.object_id
  AND (ki.index_id = kc.unique_index_id OR (ki.name = kc.name AND (ki.is_primary_key = 1 OR ki.is_unique_constraint = 1)))
JOIN sys.index_columns AS ic ON ic.object_id = t.object_id AND ic.index_id = ki.index_id AND ic.is_included_column = 0
JOIN sys.columns AS col ON col.object_id = ic.object_id AND col.column_id = ic.column_id
${where}
ORDER BY s.name, t.name, kc.name, ic.key_ordinal;`,
    checks: `SELECT s.name AS schema_name, t.name AS table_name, ck.name AS constraint_name, ck.is_system_named,
       ck.definition, ck.is_disabled, ck.is_not_trusted
FROM ${tables}
JOIN sys.check_constraints AS ck ON ck.parent_object_id = t.object_id
${where}
ORDER BY s.name, t.name, ck.name;`,
    foreignKeys: `SELECT s.name AS schema_name, t.name AS table_name, fk.name AS constraint_name, fk.is_system_named,
       fk.delete_referential_action AS on_delete, fk.update_referential_action AS on_update,
       rs.name AS ref_schema, rt.name AS ref_table, pc.name AS column_name, rc.name AS ref_column, fkc.constraint_column_id
FROM ${tables}
JOIN sys.foreign_keys AS fk ON fk.parent_object_id = t.object_id
JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.columns AS pc ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
JOIN sys.tables AS rt ON rt.object_id = fkc.referenced_object_id
JOIN sys.schemas AS rs ON rs.schema_id = rt.schema_id
JOIN sys.columns AS rc ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
${where}
ORDER BY s.name, t.name, fk.name, fkc.constraint_column_id;`,
    indexes: `SELECT s.name AS schema_name, t.name AS table_name, i.name AS index_name, i.is_unique, i.type_desc,
       i.filter_definition, i.is_disabled, col.name AS column_name, ic.key_ordinal, ic.index_column_id,
       ic.is_descending_key, ic.is_included_column
FROM ${tables}
JOIN sys.indexes AS i ON i.object_id = t.object_id AND i.type > 0 AND i.is_primary_key = 0 AND i.is_unique_constraint = 0
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS col ON col.object_id = ic.object_id AND col.column_id = ic.column_id
${where}
ORDER BY s.name, t.name, i.name, ic.is_included_column, ic.key_ordinal, ic.index_column_id;`,
    views: `SELECT s.name AS schema_name, v.name AS view_name, m.definition
FROM sys.schemas AS s
JOIN sys.views AS v ON v.schema_id = s.schema_id
JOIN sys.sql_modules AS m ON m.object_id = v.object_id
${where}
ORDER BY s.name, v.name;`,
    // INFORMATION_SCHEMA.SEQUENCES: SQL Server has sys.sequences too, Babelfish only this view.
    sequences: `SELECT q.SEQUENCE_SCHEMA AS schema_name, q.SEQUENCE_NAME AS sequence_name, q.DATA_TYPE AS type_name,
       CAST(q.START_VALUE AS NVARCHAR(40)) AS seq_start, CAST(q.INCREMENT AS NVARCHAR(40)) AS seq_increment
FROM INFORMATION_SCHEMA.SEQUENCES AS q
WHERE q.SEQUENCE_SCHEMA IN ${inList(schemas)}
ORDER BY q.SEQUENCE_SCHEMA, q.SEQUENCE_NAME;`,
    routines: `SELECT s.name AS schema_name, o.name, o.type AS object_type, m.definition, OBJECT_NAME(o.parent_object_id) AS table_name
FROM sys.schemas AS s
JOIN sys.objects AS o ON o.schema_id = s.schema_id AND o.type IN ('P', 'FN', 'IF', 'TF', 'TR')
JOIN sys.sql_modules AS m ON m.object_id = o.object_id
${where}
ORDER BY s.name, o.type, o.name;`,
  };
};

type Bit = boolean | number;
export interface MssqlColumnRow {
  schema_name: string; table_name: string; column_name: string; type_name: string;
  max_length: number; precision: number; scale: number; is_nullable: Bit; is_identity: Bit;
  default_expr: string | null; computed_expr: string | null; is_persisted?: Bit | null;
}
export interface MssqlKeyRow {
  schema_name: string; table_name: string; constraint_name: string; constraint_type: string;
  is_system_named: Bit; column_name: string; key_ordinal: number;
}
export interface MssqlCheckRow {
  schema_name: string; table_name: string; constraint_name: string; is_system_named: Bit;
  definition: string; is_disabled: Bit; is_not_trusted: Bit;
}
export interface MssqlForeignKeyRow {
  schema_name: string; table_name: string; constraint_name: string; is_system_named: Bit;
  on_delete: number; on_update: number; ref_schema: string; ref_table: string;
  column_name: string; ref_column: string; constraint_column_id: number;
}
export interface MssqlViewRow {
  schema_name: string; view_name: string; definition: string | null;
}
export interface MssqlSequenceRow {
  schema_name: string; sequence_name: string; type_name: string; seq_start: string; seq_increment: string;
}
export interface MssqlRoutineRow {
  schema_name: string; name: string; object_type: string; definition: string | null; table_name: string | null;
}
export interface MssqlIndexRow {
  schema_name: string; table_name: string; index_name: string; is_unique: Bit; type_desc: string;
  filter_definition: string | null; is_disabled: Bit; column_name: string; key_ordinal: number;
  is_descending_key: Bit; is_included_column: Bit;
}

/** sys.types name + length/precision/scale → logical type (mssql-syntax.ts renders the forward way). */
export function mssqlLogicalType(r: Pick<MssqlColumnRow, 'type_name' | 'max_length' | 'precision' | 'scale' | 'is_identity'>): string {
  const n = r.type_name.toLowerCase();
  const len = (bytesPerChar: number) => (r.max_length === -1 ? 'max' : String(r.max_length / bytesPerChar));
  let logical: string;
  if (n === 'uniqueidentifier') logical = 'uuid';
  else if (n === 'nvarchar') logical = `nvarchar(${len(2)})`;
  else if (n === 'varchar') logical = `varchar(${len(1)})`;
  else if (n === 'datetime2') logical = r.scale === 7 ? 'datetime2' : `datetime2(${r.scale})`;
  else if (n === 'bit' || n === 'smallint' || n === 'int' || n === 'bigint' || n === 'real' || n === 'date') logical = n;
  // FLOAT is float(53) (8 bytes); float(1–24) is stored as REAL.
  else if (n === 'float') logical = Number(r.precision) <= 24 ? 'real' : 'float';
  else if (n === 'decimal' || n === 'numeric') logical = `decimal(${r.precision},${r.scale})`;
  else if (n === 'varbinary') logical = `varbinary(${len(1)})`;
  else if (n === 'nchar' || n === 'char') logical = `${n}(${len(n === 'nchar' ? 2 : 1)})`;
  else if (n === 'binary') logical = `mssql:${n}(${len(1)})`;
  else if (n === 'datetimeoffset' || n === 'time') logical = Number(r.scale) === 7 ? n : `${n}(${r.scale})`;
  else logical = `mssql:${n}`;
  if (!r.is_identity) return logical;
  if (['smallint', 'int', 'bigint'].includes(logical)) return identityType(logical);
  return `${logical} identity`;
}

/**
 * A default or check expression as sys.* stores it → normalized: outer parentheses (`((0))` →
 * `0`), `N'…'` → `'…'`, `[name]` → `name` for plain names, the helpers' spellings of the current
 * UTC time and a new GUID → `utcnow()` / `newid()`, the schema's own name → `$schema`.
 */
export function normalizeMssqlExpression(expression: string, schema: string): string {
  let s = replaceSchemaName(expression, schema);
  s = s.replace(/\bN'/g, "'");
  s = s.replace(/\[([A-Za-z_][A-Za-z0-9_]*)\]/g, '$1');
  s = s.replace(/\bsysutcdatetime\(\)/gi, 'utcnow()').replace(/\bnewid\(\)/gi, 'newid()');
  return stripOuterParens(stripInnerLiteralParens(s));
}

/**
 * A module's text as sys.sql_modules keeps it (the CREATE statement as written) → the body after
 * `AS`, the schema's own name → `$schema`: CREATE and CREATE OR ALTER of the same view compare equal.
 */
export function normalizeMssqlModule(definition: string, schema: string): string {
  const text = replaceSchemaName(definition, schema).trim().replace(/;$/, '').trim();
  const m = /^CREATE\s+(?:OR\s+ALTER\s+)?VIEW\s+\S+\s+AS\s+/i.exec(text);
  // A routine is kept whole; `CREATE OR ALTER` (how a changed one is replaced) reads as `CREATE`.
  return m ? text.slice(m[0].length).trim() : text.replace(/^CREATE\s+OR\s+ALTER\s+/i, 'CREATE ');
}

/** `('active')` and `(1)` inside an expression are how SQL Server stores literals; drop those parens. */
function stripInnerLiteralParens(s: string): string {
  return s.replace(/\((\d+(?:\.\d+)?|'(?:[^']|'')*'|\(\d+\))\)/g, (_m, inner: string) => stripOuterParens(inner));
}

/**
 * Was the constraint named by the server? SQL Server's is_system_named says so, and a name it
 * generated has the form `PK__jobs__3213E83F…` (`PK|UQ|FK|CK|DF`, `__`, the table and maybe a
 * column, `__`, hex). Babelfish reports is_system_named = 1 for every key and foreign key
 * (sys.key_constraints / sys.foreign_keys are views over pg_constraint with a constant 1), so the
 * name must also look generated: SQL Server's form, or PostgreSQL's (`jobs_pkey`, `runs_job_id_fkey`,
 * `jobs_name_key`, `jobs_status_check`, with a number on collision), which Babelfish gives a
 * constraint created without a name.
 */
export function isSystemNamed(flag: Bit, name: string): boolean {
  return Boolean(flag) && (/^(?:PK|UQ|FK|CK|DF)__.*__[0-9A-Fa-f]{8,}$/.test(name) || /_(?:pkey|fkey|key|check)\d*$/.test(name));
}

// sys.foreign_keys.*_referential_action: 0 NO_ACTION, 1 CASCADE, 2 SET_NULL, 3 SET_DEFAULT.
const ACTIONS: readonly ReferentialAction[] = ['no action', 'cascade', 'set null', 'set default'];

export function mssqlRowsToCatalogs(
  schemas: readonly string[],
  rows: {
    columns: readonly MssqlColumnRow[]; keys: readonly MssqlKeyRow[]; checks: readonly MssqlCheckRow[]; foreignKeys: readonly MssqlForeignKeyRow[]; indexes: readonly MssqlIndexRow[];
    views?: readonly MssqlViewRow[]; sequences?: readonly MssqlSequenceRow[]; routines?: readonly MssqlRoutineRow[];
  },
): Map<string, Catalog> {
  const { tables, table } = collectTables(schemas);
  for (const r of rows.columns) {
    table(r.schema_name, r.table_name).columns.push({
      name: r.column_name,
      type: mssqlLogicalType(r),
      nullable: Boolean(r.is_nullable),
      ...(r.default_expr !== null ? { default: normalizeMssqlExpression(r.default_expr, r.schema_name) } : {}),
      ...(r.computed_expr !== null ? { computed: normalizeMssqlExpression(r.computed_expr, r.schema_name), ...(r.is_persisted ? { persisted: true as const } : {}) } : {}),
    });
  }
  // Rows are ordered by constraint and key ordinal: consecutive rows of one constraint add columns.
  let last = '';
  let cols: string[] = [];
  for (const r of rows.keys) {
    const k = `${r.schema_name}\u0000${r.table_name}\u0000${r.constraint_name}`;
    if (k !== last) {
      last = k;
      cols = [];
      const t = table(r.schema_name, r.table_name);
      const c = { ...(isSystemNamed(r.is_system_named, r.constraint_name) ? { generatedName: r.constraint_name } : { name: r.constraint_name }), columns: cols };
      if (r.constraint_type.trim() === 'PK') t.primaryKey = c;
      else t.uniques.push(c);
    }
    cols.push(r.column_name);
  }
  for (const r of rows.checks) {
    const flags = r.is_disabled ? ' (disabled)' : r.is_not_trusted ? ' NOT VALID' : '';
    table(r.schema_name, r.table_name).checks.push({
      ...(isSystemNamed(r.is_system_named, r.constraint_name) ? { generatedName: r.constraint_name } : { name: r.constraint_name }),
      expression: `${normalizeMssqlExpression(r.definition, r.schema_name)}${flags}`,
    });
  }
  last = '';
  let refCols: string[] = [];
  for (const r of rows.foreignKeys) {
    const k = `${r.schema_name}\u0000${r.table_name}\u0000${r.constraint_name}`;
    if (k !== last) {
      last = k;
      cols = [];
      refCols = [];
      table(r.schema_name, r.table_name).foreignKeys.push({
        ...(isSystemNamed(r.is_system_named, r.constraint_name) ? { generatedName: r.constraint_name } : { name: r.constraint_name }),
        columns: cols,
        refSchema: r.ref_schema === r.schema_name ? SELF_SCHEMA : r.ref_schema,
        refTable: r.ref_table,
        refColumns: refCols,
        onDelete: ACTIONS[Number(r.on_delete)] ?? 'no action',
        onUpdate: ACTIONS[Number(r.on_update)] ?? 'no action',
      });
    }
    cols.push(r.column_name);
    refCols.push(r.ref_column);
  }
  last = '';
  let keys: { column: string; descending?: boolean }[] = [];
  let include: string[] = [];
  for (const r of rows.indexes) {
    const k = `${r.schema_name}\u0000${r.table_name}\u0000${r.index_name}`;
    if (k !== last) {
      last = k;
      keys = [];
      include = [];
      const type = r.type_desc.toLowerCase();
      table(r.schema_name, r.table_name).indexes.push({
        name: babelfishIndexName(r.index_name, r.table_name),
        keys,
        unique: Boolean(r.is_unique),
        ...(r.filter_definition ? { filter: normalizeMssqlExpression(r.filter_definition, r.schema_name) } : {}),
        include,
        ...(r.is_disabled ? { valid: false } : {}),
        ...(type !== 'nonclustered' ? { method: type } : {}),
      });
    }
    if (r.is_included_column) include.push(r.column_name);
    else keys.push({ column: r.column_name, ...(r.is_descending_key ? { descending: true } : {}) });
  }
  const views = new Map<string, CatalogView[]>();
  const sequences = new Map<string, CatalogSequence[]>();
  for (const r of rows.views ?? []) {
    if (!tables.has(r.schema_name)) tables.set(r.schema_name, new Map());
    views.set(r.schema_name, [...(views.get(r.schema_name) ?? []), { name: r.view_name, definition: normalizeMssqlModule(r.definition ?? '', r.schema_name) }]);
  }
  // Babelfish makes an IDENTITY with a PostgreSQL sequence (`<table>_<column>_seq`, keeping that
  // name when the table is renamed) that INFORMATION_SCHEMA.SEQUENCES lists: part of the column, not
  // a sequence of the schema. Left out: `…_<identity column>_seq[n]` where the schema has such a column.
  const identityColumns = new Map<string, Set<string>>();
  for (const c of rows.columns) if (c.is_identity) identityColumns.set(c.schema_name, (identityColumns.get(c.schema_name) ?? new Set()).add(c.column_name));
  const isIdentitySequence = (schema: string, name: string) => [...(identityColumns.get(schema) ?? [])].some((c) => name.replace(/\d+$/, '').endsWith(`_${c}_seq`));
  for (const r of rows.sequences ?? []) {
    if (isIdentitySequence(r.schema_name, r.sequence_name)) continue;
    if (!tables.has(r.schema_name)) tables.set(r.schema_name, new Map());
    const type = mssqlLogicalType({ type_name: r.type_name, max_length: 8, precision: 19, scale: 0, is_identity: false });
    sequences.set(r.schema_name, [...(sequences.get(r.schema_name) ?? []), { name: r.sequence_name, type, start: String(r.seq_start), increment: String(r.seq_increment) }]);
  }
  const routines = new Map<string, CatalogRoutine[]>();
  for (const r of rows.routines ?? []) {
    if (!tables.has(r.schema_name)) tables.set(r.schema_name, new Map());
    const type = r.object_type.trim();
    const kind = type === 'P' ? 'procedure' : type === 'TR' ? 'trigger' : 'function';
    const routine: CatalogRoutine = { kind, name: r.name, definition: normalizeMssqlModule(r.definition ?? '', r.schema_name), ...(kind === 'trigger' && r.table_name ? { table: r.table_name } : {}) };
    routines.set(r.schema_name, [...(routines.get(r.schema_name) ?? []), routine]);
  }
  const out = new Map<string, Catalog>();
  for (const [schema, byName] of tables) {
    const list = [...byName.values()].map((t) => ({ ...t, indexes: t.indexes.map((i) => (i.include && i.include.length === 0 ? (({ include: _i, ...rest }) => rest)(i) : i)) }));
    const v = views.get(schema);
    const q = sequences.get(schema);
    const f = routines.get(schema);
    out.set(schema, { family: 'mssql', tables: list, ...(v ? { views: v } : {}), ...(q ? { sequences: q } : {}), ...(f ? { routines: f } : {}) });
  }
  return out;
}

/** A lock request that gave up under SET LOCK_TIMEOUT (1222, or Babelfish's unmapped form). */
export const isLockTimeout = (err: unknown): boolean => isMssqlLockTimeout(err);

export interface MssqlSessionSource {
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  readonly maxConnections: number;
}

export class MssqlCatalogReader implements CatalogReader {
  readonly #sessions: MssqlSessionSource;
  readonly #options: CatalogReaderOptions & { lockTimeoutMs?: number };

  constructor(sessions: MssqlSessionSource, options: CatalogReaderOptions & { lockTimeoutMs?: number }) {
    this.#sessions = sessions;
    this.#options = options;
  }

  async #readChunk(session: SqlSession, schemas: readonly string[]): Promise<Map<string, Catalog>> {
    const sql = mssqlCatalogSql(schemas);
    const p = [this.#options.metaTable];
    return mssqlRowsToCatalogs(schemas, {
      columns: await session.query<MssqlColumnRow>(sql.columns, p),
      keys: await session.query<MssqlKeyRow>(sql.keys, p),
      checks: await session.query<MssqlCheckRow>(sql.checks, p),
      foreignKeys: await session.query<MssqlForeignKeyRow>(sql.foreignKeys, p),
      indexes: await session.query<MssqlIndexRow>(sql.indexes, p),
      views: await session.query<MssqlViewRow>(sql.views),
      sequences: await session.query<MssqlSequenceRow>(sql.sequences),
      routines: await session.query<MssqlRoutineRow>(sql.routines),
    });
  }

  /** Read a chunk; on a lock timeout split it until the busy schema(s) are isolated. */
  async #readSplitting(
    session: SqlSession,
    schemas: readonly string[],
    onCatalog: (schema: string, catalog: Catalog) => void,
    onBusy: (schema: string) => void,
  ): Promise<void> {
    try {
      const catalogs = await this.#readChunk(session, schemas);
      for (const s of schemas) onCatalog(s, catalogs.get(s)!);
    } catch (err) {
      if (!isLockTimeout(err)) throw err;
      if (schemas.length === 1) return onBusy(schemas[0]!);
      const half = Math.ceil(schemas.length / 2);
      await this.#readSplitting(session, schemas.slice(0, half), onCatalog, onBusy);
      await this.#readSplitting(session, schemas.slice(half), onCatalog, onBusy);
    }
  }

  async readCatalogs(
    schemas: readonly string[],
    onCatalog: (schema: string, catalog: Catalog) => void,
    onBusy: (schema: string) => void = () => undefined,
  ): Promise<void> {
    const size = this.#options.chunkSize ?? 500;
    const limit = pLimit(Math.max(1, Math.min(this.#options.parallel ?? 4, this.#sessions.maxConnections)));
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < schemas.length; i += size) chunks.push(schemas.slice(i, i + size));
    await Promise.all(
      chunks.map((chunk) =>
        limit(() =>
          this.#sessions.withSession(async (session) => {
            await session.query(`SET LOCK_TIMEOUT ${Math.max(0, Math.floor(this.#options.lockTimeoutMs ?? 2000))};`);
            try {
              await this.#readSplitting(session, chunk, onCatalog, onBusy);
            } finally {
              await session.query('SET LOCK_TIMEOUT -1;').catch(() => undefined);
            }
          }),
        ),
      ),
    );
  }

  async readCatalog(session: SqlSession, schema: string): Promise<Catalog> {
    return (await this.#readChunk(session, [schema])).get(schema)!;
  }
}

/**
 * The index name as it was written. Babelfish stores an index as `<name><table><md5 of name>` (index
 * names are per schema in PostgreSQL, per table in T-SQL), and sys.indexes reports that; the suffix
 * is removed so that the same migration fingerprints alike on SQL Server and Babelfish. The name is
 * the prefix whose md5 the stored name ends with — so a table renamed since (the stored name keeps
 * the old table's name) reads back under its own name. A stored name longer than PostgreSQL's 63
 * characters is cut to 31 characters plus the md5 of the whole: there only the table name can tell
 * where the name ends.
 */
export function babelfishIndexName(name: string, table: string): string {
  if (!/[0-9a-f]{32}$/.test(name)) return name;
  const rest = name.slice(0, -32);
  if (rest.length > table.length && rest.endsWith(table)) return rest.slice(0, -table.length);
  // Not followed by this table's name (renamed since): the prefix the md5 is of.
  const suffix = name.slice(-32);
  for (let k = rest.length - 1; k > 0; k--) {
    const prefix = rest.slice(0, k);
    if (md5(prefix) === suffix || md5(prefix.toLowerCase()) === suffix) return prefix;
  }
  if (name.length !== 63) return name;
  for (let k = Math.min(table.length - 1, rest.length - 1); k > 0; k--) {
    if (rest.endsWith(table.slice(0, k))) return rest.slice(0, -k);
  }
  return name;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
