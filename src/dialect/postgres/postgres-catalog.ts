/**
 * PostgreSQL (and PGlite) catalog introspection into the catalog model: three set-based queries
 * over pg_catalog (columns, constraints, indexes) for a chunk of schemas `nspname = ANY($1)`,
 * grouped in memory. Types are mapped back to the template helpers' vocabulary the way
 * postgres-syntax.ts renders them (`{{nvarchar 128}}` → varchar(128) → nvarchar(128)).
 * https://www.postgresql.org/docs/current/catalogs.html
 * https://www.postgresql.org/docs/current/functions-info.html (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef)
 */
import pLimit from 'p-limit';
import type { SqlSession } from '../dialect-adapter.js';
import {
  type Catalog,
  type CatalogIndex,
  type MutableTable,
  type ReferentialAction,
  SELF_SCHEMA,
  collectTables,
} from '../../catalog/catalog-model.js';
import type { CatalogReader, CatalogReaderOptions } from '../../catalog/catalog-reader.js';
import { replaceSchemaName, stripOuterParens } from '../../catalog/normalize.js';

/** Columns of ordinary and partitioned tables; the meta table ($2) is left out. */
export const PG_COLUMNS_SQL = `
SELECT n.nspname AS schema_name, c.relname AS table_name, a.attnum, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null,
       a.attidentity AS identity, a.attgenerated AS generated,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND c.relname <> $2
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = ANY($1::text[])`;

/**
 * Primary key, unique, check, foreign key and exclusion constraints. Column numbers come back as
 * arrays and are named from the columns query in memory; only a foreign key into another schema
 * (e.g. master) names its referenced columns here — per-row subqueries cost more than the query.
 */
export const PG_CONSTRAINTS_SQL = `
SELECT n.nspname AS schema_name, c.relname AS table_name, k.conname, k.contype,
       k.conkey::int2[] AS conkey, rn.nspname AS ref_schema, rc.relname AS ref_table, k.confkey::int2[] AS confkey,
       CASE WHEN rn.nspname <> n.nspname THEN
         ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.ord)
       END AS ref_columns,
       k.confupdtype AS on_update, k.confdeltype AS on_delete,
       CASE WHEN k.contype IN ('c', 'x') OR NOT k.convalidated THEN pg_get_constraintdef(k.oid) END AS definition
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND c.relname <> $2
JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid AND k.contype IN ('p', 'u', 'c', 'f', 'x')
LEFT JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
WHERE n.nspname = ANY($1::text[])`;

/** Indexes that do not back a constraint (those are in the constraints already). */
export const PG_INDEXES_SQL = `
SELECT n.nspname AS schema_name, c.relname AS table_name, ic.relname AS index_name,
       i.indisunique AS is_unique, i.indisvalid AS is_valid, i.indnkeyatts AS key_count, am.amname AS method,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k.n, true) FROM generate_series(1, i.indnatts::int) AS k(n) ORDER BY k.n) AS columns,
       i.indoption::int2[] AS options,
       pg_get_expr(i.indpred, i.indrelid, true) AS filter
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND c.relname <> $2
JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
WHERE n.nspname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))`;

export interface PgColumnRow {
  schema_name: string;
  table_name: string;
  attnum: number | null;
  column_name: string | null;
  data_type: string | null;
  not_null: boolean | null;
  identity: string | null;
  generated: string | null;
  default_expr: string | null;
}

export interface PgConstraintRow {
  schema_name: string;
  table_name: string;
  conname: string;
  contype: 'p' | 'u' | 'c' | 'f' | 'x';
  conkey: number[] | string | null;
  ref_schema: string | null;
  ref_table: string | null;
  confkey: number[] | string | null;
  /** Only for a foreign key into another schema. */
  ref_columns: string[] | null;
  on_update: string;
  on_delete: string;
  definition: string | null;
}

export interface PgIndexRow {
  schema_name: string;
  table_name: string;
  index_name: string;
  is_unique: boolean;
  is_valid: boolean;
  key_count: number;
  method: string;
  columns: string[];
  options: number[] | string;
  filter: string | null;
}

/** format_type() text → logical type; unmapped types stay raw (`postgres:smallint`). */
export function pgLogicalType(formatted: string, identity: boolean): string {
  const t = formatted.trim();
  let m: RegExpExecArray | null;
  let logical: string;
  if (t === 'uuid') logical = 'uuid';
  else if ((m = /^character varying\((\d+)\)$/.exec(t))) logical = `nvarchar(${m[1]})`;
  else if (t === 'character varying' || t === 'text') logical = 'text';
  else if ((m = /^timestamp\((\d)\) without time zone$/.exec(t))) logical = m[1] === '6' ? 'datetime2' : `datetime2(${m[1]})`;
  else if (t === 'timestamp without time zone') logical = 'datetime2';
  else if (t === 'boolean') logical = 'bit';
  else if (t === 'integer') logical = 'int';
  else if (t === 'bigint') logical = 'bigint';
  else if ((m = /^numeric\((\d+),(\d+)\)$/.exec(t))) logical = `decimal(${m[1]},${m[2]})`;
  else if (t === 'jsonb') logical = 'json';
  else if (t === 'bytea') logical = 'varbinary(max)';
  else logical = `postgres:${t}`;
  if (!identity) return logical;
  return logical === 'bigint' ? 'identity' : `${logical} identity`;
}

/**
 * A default, check or index expression as PostgreSQL prints it → normalized: the schema's own
 * name → `$schema`, casts of string literals dropped (`'active'::character varying` → `'active'`),
 * the helpers' spellings of the current UTC time and a new GUID → `utcnow()` / `newid()`, redundant
 * outer parentheses removed.
 */
export function normalizePgExpression(expression: string, schema: string): string {
  // Most defaults are the same text in every tenant; the schema name makes it tenant-specific.
  const cacheable = !expression.includes(schema);
  const hit = cacheable ? expressionCache.get(expression) : undefined;
  if (hit !== undefined) return hit;
  const out = normalizeUncached(expression, schema);
  if (cacheable && expressionCache.size < 10_000) expressionCache.set(expression, out);
  return out;
}

const expressionCache = new Map<string, string>();

function normalizeUncached(expression: string, schema: string): string {
  let s = replaceSchemaName(expression, schema);
  s = s.replace(/('(?:[^']|'')*')::(?:"?[a-z_][a-z0-9_ ]*"?)(?:\(\d+(?:,\d+)?\))?(?!\[)/g, '$1');
  s = s.replace(/\(?now\(\) AT TIME ZONE 'utc'\)?|timezone\('utc', now\(\)\)/gi, 'utcnow()');
  s = s.replace(/\bgen_random_uuid\(\)/g, 'newid()');
  return stripOuterParens(s);
}

const ACTIONS: Record<string, ReferentialAction> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' };

/**
 * Names PostgreSQL generates when none is given (`t_pkey`, `t_a_b_key`, `t_a_check`, `t_a_fkey`,
 * `t_a_excl`, with a numeric suffix on collision): such constraints are matched by definition.
 */
export function isPgGeneratedName(table: string, name: string): boolean {
  return name.startsWith(`${table.slice(0, 20)}`) && /_(pkey|key|check|fkey|excl)\d*$/.test(name);
}

function intArray(value: number[] | string): number[] {
  if (Array.isArray(value)) return value.map(Number);
  return value.replace(/[{}]/g, '').split(/[ ,]+/).filter(Boolean).map(Number);
}

/** Group the three row sets of a chunk into one catalog per schema (`schemas` fixes which exist). */
export function pgRowsToCatalogs(
  schemas: readonly string[],
  columns: readonly PgColumnRow[],
  constraints: readonly PgConstraintRow[],
  indexes: readonly PgIndexRow[],
): Map<string, Catalog> {
  const { tables, table } = collectTables(schemas);
  // attnum → name per (schema, table), to name constraint columns without per-row subqueries.
  const attnames = new Map<string, Map<number, string>>();
  const names = (schema: string, tableName: string, nums: number[] | string | null): string[] => {
    const byNum = attnames.get(`${schema}\u0000${tableName}`);
    return nums === null ? [] : intArray(nums).map((n) => byNum?.get(n) ?? `#${n}`);
  };
  for (const r of columns) {
    const t = table(r.schema_name, r.table_name);
    if (r.column_name === null || r.data_type === null) continue;
    const key = `${r.schema_name}\u0000${r.table_name}`;
    let byNum = attnames.get(key);
    if (!byNum) attnames.set(key, (byNum = new Map()));
    byNum.set(Number(r.attnum), r.column_name);
    const expr = r.default_expr === null ? undefined : normalizePgExpression(r.default_expr, r.schema_name);
    const generated = r.generated === 's';
    t.columns.push({
      name: r.column_name,
      type: pgLogicalType(r.data_type, r.identity === 'a' || r.identity === 'd'),
      nullable: !r.not_null,
      ...(expr !== undefined ? (generated ? { computed: expr } : { default: expr }) : {}),
    });
  }
  for (const r of constraints) {
    const t = table(r.schema_name, r.table_name);
    const named = isPgGeneratedName(r.table_name, r.conname) ? {} : { name: r.conname };
    const cols = names(r.schema_name, r.table_name, r.conkey);
    const notValid = r.definition?.endsWith(' NOT VALID') ? ' NOT VALID' : '';
    switch (r.contype) {
      case 'p':
        t.primaryKey = { ...named, columns: cols };
        break;
      case 'u':
        t.uniques.push({ ...named, columns: cols });
        break;
      case 'c':
      case 'x': {
        const def = (r.definition ?? '').replace(/ NOT VALID$/, '').replace(/^CHECK /, '');
        t.checks.push({ ...named, expression: `${r.contype === 'x' ? 'postgres:' : ''}${normalizePgExpression(def, r.schema_name)}${notValid}` });
        break;
      }
      case 'f':
        t.foreignKeys.push({
          ...named,
          columns: cols,
          refSchema: r.ref_schema === r.schema_name ? SELF_SCHEMA : (r.ref_schema ?? ''),
          refTable: r.ref_table ?? '',
          refColumns: r.ref_columns ?? names(r.schema_name, r.ref_table ?? '', r.confkey),
          onDelete: ACTIONS[r.on_delete] ?? 'no action',
          onUpdate: ACTIONS[r.on_update] ?? 'no action',
        });
        break;
    }
  }
  for (const r of indexes) {
    const t = table(r.schema_name, r.table_name);
    const options = intArray(r.options);
    const keyCount = Number(r.key_count);
    const index: CatalogIndex = {
      name: r.index_name,
      // indoption bit 0: DESC (https://www.postgresql.org/docs/current/catalog-pg-index.html)
      keys: r.columns.slice(0, keyCount).map((c, i) => ({
        column: normalizePgExpression(c, r.schema_name),
        ...((options[i] ?? 0) & 1 ? { descending: true } : {}),
      })),
      unique: r.is_unique,
      ...(r.filter ? { filter: normalizePgExpression(r.filter, r.schema_name) } : {}),
      ...(r.columns.length > keyCount ? { include: r.columns.slice(keyCount) } : {}),
      ...(r.is_valid ? {} : { valid: false }),
      ...(r.method !== 'btree' ? { method: r.method } : {}),
    };
    t.indexes.push(index);
  }
  const out = new Map<string, Catalog>();
  for (const [schema, byName] of tables) out.set(schema, { family: 'postgres', tables: [...byName.values()] });
  return out;
}

/** Pooled sessions, as the PostgreSQL and PGlite adapters provide them. */
export interface SessionSource {
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  readonly maxConnections: number;
}

export class PostgresCatalogReader implements CatalogReader {
  readonly #sessions: SessionSource;
  readonly #options: CatalogReaderOptions;

  constructor(sessions: SessionSource, options: CatalogReaderOptions) {
    this.#sessions = sessions;
    this.#options = options;
  }

  async #readChunk(session: SqlSession, schemas: readonly string[]): Promise<Map<string, Catalog>> {
    const params = [schemas, this.#options.metaTable];
    // JIT compiling these catalog joins costs more (~200 ms a query) than it saves.
    await session.query('SET jit = off').catch(() => undefined);
    const columns = await session.query<PgColumnRow>(PG_COLUMNS_SQL, params);
    const constraints = await session.query<PgConstraintRow>(PG_CONSTRAINTS_SQL, params);
    const indexes = await session.query<PgIndexRow>(PG_INDEXES_SQL, params);
    await session.query('RESET jit').catch(() => undefined);
    return pgRowsToCatalogs(schemas, columns, constraints, indexes);
  }

  async readCatalogs(schemas: readonly string[], onCatalog: (schema: string, catalog: Catalog) => void): Promise<void> {
    const size = this.#options.chunkSize ?? 500;
    const limit = pLimit(Math.max(1, Math.min(this.#options.parallel ?? 4, this.#sessions.maxConnections)));
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < schemas.length; i += size) chunks.push(schemas.slice(i, i + size));
    await Promise.all(
      chunks.map((chunk) =>
        limit(async () => {
          const catalogs = await this.#sessions.withSession((s) => this.#readChunk(s, chunk));
          for (const schema of chunk) onCatalog(schema, catalogs.get(schema)!);
        }),
      ),
    );
  }

  async readCatalog(session: SqlSession, schema: string): Promise<Catalog> {
    return (await this.#readChunk(session, [schema])).get(schema)!;
  }
}
