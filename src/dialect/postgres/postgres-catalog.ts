/**
 * PostgreSQL (and PGlite) catalog introspection into the catalog model: three set-based queries
 * over pg_catalog (columns, constraints, indexes) for a chunk of schemas `nspname = ANY($1)`,
 * grouped in memory. Types are mapped back to the template helpers' vocabulary the way
 * postgres-syntax.ts renders them (`{{nvarchar 128}}` → varchar(128) → nvarchar(128)).
 *
 * A fleet is read in two steps (docs/drift.md, "How it works"): first a **digest** per schema of the
 * raw pg_catalog rows those three queries are made from (three cheap aggregate queries per chunk:
 * no format_type/pg_get_expr/pg_get_indexdef per row, one short row per schema back), then the full
 * rows only of one schema per distinct digest. Schemas with equal digests have equal raw catalog
 * rows, so their catalogs are equal — exactly, see {@link shareableFor} for the one exception (an
 * expression text that contains a schema's own name), which is read per schema.
 * https://www.postgresql.org/docs/current/catalogs.html
 * https://www.postgresql.org/docs/current/functions-info.html (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef)
 */
import pLimit from 'p-limit';
import type { SqlSession } from '../dialect-adapter.js';
import {
  type Catalog,
  type CatalogIndex,
  type CatalogRoutine,
  type CatalogSequence,
  type CatalogView,
  type MutableTable,
  type ReferentialAction,
  SELF_SCHEMA,
  collectTables,
} from '../../catalog/catalog-model.js';
import type { CatalogReader, CatalogReaderOptions } from '../../catalog/catalog-reader.js';
import { replaceSchemaName, stripOuterParens } from '../../catalog/normalize.js';
import { identityType } from '../../schema-model/logical-types.js';

/** Columns of ordinary and partitioned tables; the meta table ($2) is left out. */
export const PG_COLUMNS_SQL = `
SELECT n.nspname AS schema_name, c.relname AS table_name, a.attnum, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null,
       a.attidentity AS identity, a.attgenerated AS generated,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       CASE WHEN d.adbin IS NOT NULL AND a.attidentity = '' THEN
         (SELECT sn.nspname || '.' || s.relname FROM pg_catalog.pg_depend dep
            JOIN pg_catalog.pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
            JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
          WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.refclassid = 'pg_catalog.pg_class'::regclass
            AND dep.refobjid = c.oid AND dep.refobjsubid = a.attnum AND dep.deptype = 'a')
       END AS owned_sequence
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND c.relname <> $2
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = ANY($1::text[])
ORDER BY n.nspname, c.relname, a.attnum`;

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
WHERE n.nspname = ANY($1::text[])
ORDER BY n.nspname, c.relname, k.conname`;

/** Indexes that do not back a constraint (those are in the constraints already). */
export const PG_INDEXES_SQL = `
SELECT n.nspname AS schema_name, c.relname AS table_name, ic.relname AS index_name,
       i.indisunique AS is_unique, i.indisvalid AS is_valid, i.indnkeyatts AS key_count, am.amname AS method,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k.n, true) FROM generate_series(1, i.indnatts::int) AS k(n) ORDER BY k.n) AS columns,
       i.indoption::int2[] AS options, i.indkey::int2[] AS attnums,
       pg_get_expr(i.indpred, i.indrelid, true) AS filter
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND c.relname <> $2
JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
WHERE n.nspname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
ORDER BY n.nspname, c.relname, ic.relname`;

/**
 * Views (their definition as pg_get_viewdef prints it) and sequences of their own — not those a
 * serial or identity column owns (those are part of the column).
 */
export const PG_OBJECTS_SQL = `
SELECT n.nspname AS schema_name, c.relname AS object_name, c.relkind AS kind,
       CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid, true) END AS definition,
       format_type(s.seqtypid, NULL) AS data_type, s.seqstart::text AS seq_start, s.seqincrement::text AS seq_increment
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('v', 'S')
LEFT JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
WHERE n.nspname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
ORDER BY n.nspname, c.relname`;

/**
 * Digest of the views and sequences: a view by its definition with the schema's own name taken
 * out (a definition that names the schema is read per schema anyway, see {@link shareableFor}).
 */
export const PG_OBJECTS_DIGEST_SQL = `
SELECT schema_name, md5(string_agg(x, ';')) AS digest
FROM (
  SELECT n.nspname AS schema_name,
         concat_ws(',', quote_ident(c.relname), c.relkind,
           CASE WHEN c.relkind = 'v' THEN md5(replace(pg_get_viewdef(c.oid, true), n.nspname, '$schema')) ELSE '-' END,
           coalesce((SELECT concat_ws(',', s.seqtypid, s.seqstart, s.seqincrement) FROM pg_catalog.pg_sequence s WHERE s.seqrelid = c.oid), '-')) AS x
  FROM pg_catalog.pg_namespace n
  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('v', 'S')
  WHERE n.nspname = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
  ORDER BY n.nspname, c.relname
) rows
GROUP BY schema_name`;

/** Functions and procedures of the schema (not an extension's), and its tables' user triggers. */
export const PG_ROUTINES_SQL = `
SELECT n.nspname AS schema_name, p.proname AS name, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
       pg_get_functiondef(p.oid) AS definition, NULL::text AS table_name
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid AND p.prokind IN ('f', 'p')
WHERE n.nspname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT n.nspname, t.tgname, 'trigger', pg_get_triggerdef(t.oid, true), c.relname::text
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid
JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
WHERE n.nspname = ANY($1::text[])
ORDER BY 1, 3, 2`;

/** Digest of the routines: each definition with the schema's own name taken out. */
export const PG_ROUTINES_DIGEST_SQL = `
SELECT schema_name, md5(string_agg(x, ';' ORDER BY x)) AS digest
FROM (
  SELECT n.nspname AS schema_name, concat_ws(',', p.proname, p.prokind, md5(replace(pg_get_functiondef(p.oid), n.nspname, '$schema'))) AS x
  FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid AND p.prokind IN ('f', 'p')
  WHERE n.nspname = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT n.nspname, concat_ws(',', t.tgname, c.relname, md5(replace(pg_get_triggerdef(t.oid, true), n.nspname, '$schema')))
  FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid
  JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
  WHERE n.nspname = ANY($1::text[])
) rows
GROUP BY schema_name`;

export interface PgRoutineRow {
  schema_name: string;
  name: string;
  kind: 'function' | 'procedure' | 'trigger';
  definition: string;
  table_name: string | null;
}

export interface PgObjectRow {
  schema_name: string;
  object_name: string;
  kind: 'v' | 'S';
  definition: string | null;
  data_type: string | null;
  seq_start: string | null;
  seq_increment: string | null;
}

/**
 * The digest queries: per schema, md5 over every raw catalog field the three queries above turn into
 * the model (names quoted, nullable fields spelled out, so the text is unambiguous), in a fixed
 * order. Expressions are hashed as stored node trees (`adbin`, `conbin`, `indexprs`, `indpred`):
 * equal trees over equal column names deparse to equal text. A tree carries the character offset of
 * its expression in the statement that made it (`:location`), so tenants whose DDL was sent at
 * different offsets get different digests — more schemas read in full, never a wrong catalog.
 * A reference to a table of the same schema is spelled `self`, another schema by its oid. An
 * exclusion constraint (deparsed from its index) digests its own oid, so it is always read in full.
 * The rows are aggregated in the order of a sorted subquery (PostgreSQL aggregates in input order;
 * were it ever not to, equal schemas would get different digests: slower, still exact).
 */
const digestQuery = (fields: string, from: string, order: string) => `
SELECT schema_name, md5(string_agg(x, ';')) AS digest
FROM (
  SELECT n.nspname AS schema_name, concat_ws(',', ${fields}) AS x
  FROM pg_catalog.pg_namespace n
  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND c.relname <> $2
  ${from}
  ORDER BY n.nspname, ${order}
) rows
GROUP BY schema_name`;

// A default is looked up only where `atthasdef` says there is one (an index probe; a join hashed all
// of pg_attrdef per chunk: 25% more server CPU measured at 10,000 schemas).
export const PG_COLUMNS_DIGEST_SQL = digestQuery(
  `quote_ident(c.relname), a.attnum, quote_ident(a.attname), a.atttypid, a.atttypmod, a.attnotnull, a.attidentity, a.attgenerated,
    CASE WHEN a.atthasdef THEN (SELECT md5(d.adbin) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = c.oid AND d.adnum = a.attnum) ELSE '-' END`,
  `LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE n.nspname = ANY($1::text[])`,
  'c.relname, a.attnum',
);

export const PG_CONSTRAINTS_DIGEST_SQL = digestQuery(
  `quote_ident(c.relname), quote_ident(k.conname), k.contype, coalesce(k.conkey::text, '-'), coalesce(k.confkey::text, '-'),
    k.confupdtype, k.confdeltype, k.convalidated, k.connoinherit, coalesce(md5(k.conbin), '-'),
    CASE WHEN rc.oid IS NULL THEN '-' WHEN rc.relnamespace = n.oid THEN 'self' ELSE rc.relnamespace::text END,
    coalesce(quote_ident(rc.relname), '-'), CASE WHEN k.contype = 'x' THEN k.oid::text ELSE '-' END`,
  `JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid AND k.contype IN ('p', 'u', 'c', 'f', 'x')
  LEFT JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid
  WHERE n.nspname = ANY($1::text[])`,
  'c.relname, k.conname',
);

export const PG_INDEXES_DIGEST_SQL = digestQuery(
  `quote_ident(c.relname), quote_ident(ic.relname), i.indisunique, i.indisvalid, i.indnatts, i.indnkeyatts, ic.relam,
    i.indkey::text, i.indoption::text, coalesce(md5(i.indexprs), '-'), coalesce(md5(i.indpred), '-')`,
  `JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  WHERE n.nspname = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))`,
  'ic.relname',
);

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
  /** `schema.sequence` owned by the column (a serial's), when it has a default. */
  owned_sequence?: string | null;
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
  /** pg_index.indkey: a column's number per key, 0 for an expression. */
  attnums?: number[] | string;
  filter: string | null;
}

/**
 * format_type() text → logical type; unmapped types stay raw (`postgres:inet`). `identity` is
 * pg_attribute.attidentity (`d` BY DEFAULT, `a` ALWAYS; `true` = BY DEFAULT).
 */
export function pgLogicalType(formatted: string, identity: boolean | string | null): string {
  const t = formatted.trim();
  let m: RegExpExecArray | null;
  let logical: string;
  if (t === 'uuid') logical = 'uuid';
  else if ((m = /^character varying\((\d+)\)$/.exec(t))) logical = `nvarchar(${m[1]})`;
  else if (t === 'character varying' || t === 'text') logical = 'text';
  else if ((m = /^character\((\d+)\)$/.exec(t))) logical = `nchar(${m[1]})`;
  else if (t === 'character') logical = 'nchar(1)';
  else if ((m = /^timestamp\((\d)\) without time zone$/.exec(t))) logical = m[1] === '6' ? 'datetime2' : `datetime2(${m[1]})`;
  else if (t === 'timestamp without time zone') logical = 'datetime2';
  else if ((m = /^timestamp\((\d)\) with time zone$/.exec(t))) logical = m[1] === '6' ? 'datetimeoffset' : `datetimeoffset(${m[1]})`;
  else if (t === 'timestamp with time zone') logical = 'datetimeoffset';
  else if ((m = /^time\((\d)\) without time zone$/.exec(t))) logical = m[1] === '6' ? 'time' : `time(${m[1]})`;
  else if (t === 'time without time zone') logical = 'time';
  else if (t === 'date') logical = 'date';
  else if (t === 'boolean') logical = 'bit';
  else if (t === 'smallint') logical = 'smallint';
  else if (t === 'integer') logical = 'int';
  else if (t === 'bigint') logical = 'bigint';
  else if (t === 'real') logical = 'real';
  else if (t === 'double precision') logical = 'float';
  else if ((m = /^numeric\((\d+),(\d+)\)$/.exec(t))) logical = `decimal(${m[1]},${m[2]})`;
  else if (t === 'jsonb') logical = 'json';
  else if (t === 'bytea') logical = 'varbinary(max)';
  else logical = `postgres:${t}`;
  if (!identity) return logical;
  const always = identity === 'a';
  if (['smallint', 'int', 'bigint'].includes(logical)) return identityType(logical, always);
  return `${logical} identity${always ? ' always' : ''}`;
}

const SERIALS: Record<string, string> = { int: 'serial', bigint: 'bigserial', smallint: 'smallserial' };

/**
 * A serial column: an integer whose default is `nextval()` of the sequence the column owns (what
 * `serial` makes) → `serial` / `bigserial` / `smallserial`, without the default. `undefined` when
 * the column is not one (another sequence, or one it does not own, stays a default).
 */
export function pgSerialType(logical: string, defaultExpr: string | null, ownedSequence: string | null | undefined, schema: string): string | undefined {
  const serial = SERIALS[logical];
  if (!serial || !defaultExpr || !ownedSequence) return undefined;
  const name = ownedSequence.slice(ownedSequence.indexOf('.') + 1);
  const quoted = (x: string) => (/^[a-z_][a-z0-9_$]*$/.test(x) ? x : `"${x.replace(/"/g, '""')}"`);
  const forms = [quoted(name), `${quoted(schema)}.${quoted(name)}`].map((q) => `nextval('${q.replace(/'/g, "''")}'::regclass)`);
  return ownedSequence.startsWith(`${schema}.`) && forms.includes(defaultExpr) ? serial : undefined;
}

/**
 * A default, check or index expression as PostgreSQL prints it (pg_get_expr / pg_get_constraintdef:
 * the catalog's own normalized form) → the model's form. The text is kept as the server printed
 * it — re-created from it, PostgreSQL prints the same text again — with only the schema's own name
 * replaced by `$schema`, redundant outer parentheses removed, and a few *whole* expressions
 * recognised: a string or number literal with a cast to a string or number type (`'active'::character
 * varying` → `'active'`, `'-1'::integer` → `-1`), the helpers' spellings of the current UTC time and
 * a new GUID (→ `utcnow()` / `newid()`). Casts inside an expression are never rewritten: they are
 * part of its meaning (`'{}'::integer[]`, `ARRAY['1'::numeric]`).
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

/** Types whose literal cast carries no meaning beyond the literal's (the column's own type decides). */
const STRING_CAST = /^(?:text|character varying|character|bpchar|"char"|name)(?:\(\d+\))?$/;
const NUMBER_CAST = /^(?:integer|bigint|smallint|numeric(?:\(\d+(?:,\d+)?\))?|real|double precision)$/;
const UTC_NOW = new Set(["timezone('utc'::text, now())", "now() AT TIME ZONE 'utc'::text", "now() AT TIME ZONE 'utc'"]);

/** `'…'::type` as a whole (one literal, one cast): the literal and the type, else undefined. */
function castLiteral(s: string): { literal: string; type: string } | undefined {
  if (!s.startsWith("'")) return undefined;
  let i = 1;
  for (; i < s.length; i++) {
    if (s[i] !== "'") continue;
    if (s[i + 1] === "'") i++;
    else break;
  }
  if (i >= s.length || !s.startsWith('::', i + 1)) return undefined;
  return { literal: s.slice(0, i + 1), type: s.slice(i + 3) };
}

function normalizeUncached(expression: string, schema: string): string {
  const s = stripOuterParens(replaceSchemaName(expression, schema));
  if (UTC_NOW.has(s)) return 'utcnow()';
  if (s === 'gen_random_uuid()') return 'newid()';
  const cast = castLiteral(s);
  if (cast && STRING_CAST.test(cast.type)) return cast.literal;
  if (cast && NUMBER_CAST.test(cast.type) && /^'-?\d+(?:\.\d+)?'$/.test(cast.literal)) return cast.literal.slice(1, -1);
  return s;
}

/** A view definition: the schema's own name → `$schema`, the trailing `;` and surrounding space dropped. */
export function normalizeViewDefinition(definition: string, schema: string): string {
  return replaceSchemaName(definition, schema).trim().replace(/;$/, '').trim();
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
  objects: readonly PgObjectRow[] = [],
  routines: readonly PgRoutineRow[] = [],
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
    const logical = pgLogicalType(r.data_type, r.identity === 'a' || r.identity === 'd' ? r.identity : false);
    const serial = pgSerialType(logical, r.default_expr, r.owned_sequence, r.schema_name);
    const expr = r.default_expr === null || serial ? undefined : normalizePgExpression(r.default_expr, r.schema_name);
    const generated = r.generated === 's';
    t.columns.push({
      name: r.column_name,
      type: serial ?? logical,
      nullable: !r.not_null,
      ...(expr !== undefined ? (generated ? { computed: expr } : { default: expr }) : {}),
    });
  }
  for (const r of constraints) {
    const t = table(r.schema_name, r.table_name);
    const named = isPgGeneratedName(r.table_name, r.conname) ? { generatedName: r.conname } : { name: r.conname };
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
    const attnums = r.attnums === undefined ? undefined : intArray(r.attnums);
    const keyCount = Number(r.key_count);
    const index: CatalogIndex = {
      name: r.index_name,
      // indoption bit 0: DESC; indkey 0: an expression, which pg_get_indexdef(…, column, true)
      // prints without the parentheses CREATE INDEX needs (https://www.postgresql.org/docs/current/catalog-pg-index.html)
      // An expression is kept as printed (only the schema's own name taken out): it is written back as SQL.
      keys: r.columns.slice(0, keyCount).map((c, i) => ({
        ...(attnums?.[i] === 0 ? { column: stripOuterParens(replaceSchemaName(c, r.schema_name)), expression: true as const } : { column: normalizePgExpression(c, r.schema_name) }),
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
  const views = new Map<string, CatalogView[]>();
  const sequences = new Map<string, CatalogSequence[]>();
  const push = <T>(m: Map<string, T[]>, schema: string, item: T) => m.set(schema, [...(m.get(schema) ?? []), item]);
  for (const r of objects) {
    if (!tables.has(r.schema_name)) tables.set(r.schema_name, new Map());
    if (r.kind === 'v') push(views, r.schema_name, { name: r.object_name, definition: normalizeViewDefinition(r.definition ?? '', r.schema_name) });
    else push(sequences, r.schema_name, { name: r.object_name, type: pgLogicalType(r.data_type ?? 'bigint', false), start: r.seq_start ?? '1', increment: r.seq_increment ?? '1' });
  }
  const routines_ = new Map<string, CatalogRoutine[]>();
  for (const r of routines) {
    if (!tables.has(r.schema_name)) tables.set(r.schema_name, new Map());
    push(routines_, r.schema_name, { kind: r.kind, name: r.name, definition: normalizeViewDefinition(r.definition, r.schema_name), ...(r.table_name ? { table: r.table_name } : {}) });
  }
  const out = new Map<string, Catalog>();
  for (const [schema, byName] of tables) {
    const v = views.get(schema);
    const q = sequences.get(schema);
    const f = routines_.get(schema);
    out.set(schema, { family: 'postgres', tables: [...byName.values()], ...(v ? { views: v } : {}), ...(q ? { sequences: q } : {}), ...(f ? { routines: f } : {}) });
  }
  return out;
}

/** Pooled sessions, as the PostgreSQL and PGlite adapters provide them. */
export interface SessionSource {
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  readonly maxConnections: number;
}

/** The raw rows of one chunk, as the three queries return them. */
interface PgChunkRows {
  readonly columns: PgColumnRow[];
  readonly constraints: PgConstraintRow[];
  readonly indexes: PgIndexRow[];
  readonly objects: PgObjectRow[];
  readonly routines: PgRoutineRow[];
}

/**
 * The expression texts of a schema as the server printed them, before normalization: the only
 * place a schema's own name can enter its catalog (normalization replaces it with `$schema`).
 */
function rawExpressions(rows: PgChunkRows, schema: string): string[] {
  const out: string[] = [];
  for (const r of rows.columns) if (r.schema_name === schema && r.default_expr !== null) out.push(r.default_expr);
  for (const r of rows.constraints) if (r.schema_name === schema && r.definition !== null && (r.contype === 'c' || r.contype === 'x')) out.push(r.definition);
  for (const r of rows.indexes) {
    if (r.schema_name !== schema) continue;
    out.push(...r.columns);
    if (r.filter) out.push(r.filter);
  }
  for (const r of rows.objects) if (r.schema_name === schema && r.definition !== null) out.push(r.definition);
  for (const r of rows.routines) if (r.schema_name === schema) out.push(r.definition);
  return out;
}

/** The catalog read in full for one schema of a digest group, and the raw texts it was made from. */
interface Representative {
  readonly schema: string;
  readonly catalog: Catalog;
  readonly expressions: readonly string[];
}

/**
 * Whether `rep`'s catalog is also `schema`'s when both have the same digest. Equal raw rows deparse
 * to equal text, and normalization changes that text only where it contains the schema's own name:
 * so the catalog is shared unless an expression of the representative contains either name (a
 * string literal naming a schema, say) — then `schema` is read on its own.
 */
export function shareableFor(rep: Pick<Representative, 'schema' | 'expressions'>, schema: string): boolean {
  return !rep.expressions.some((e) => e.includes(schema) || e.includes(rep.schema));
}

/** Distinct digests remembered at most (each keeps one catalog); beyond it schemas are read in full. */
const MAX_REPRESENTATIVES = 2_000;

export class PostgresCatalogReader implements CatalogReader {
  readonly #sessions: SessionSource;
  readonly #options: CatalogReaderOptions;

  constructor(sessions: SessionSource, options: CatalogReaderOptions) {
    this.#sessions = sessions;
    this.#options = options;
  }

  /**
   * Session settings for these catalog joins, reset afterwards: JIT compiling costs more (~200 ms a
   * query) than it saves; the sorts of a few thousand schemas' rows spill to disk at the default
   * work_mem (4 MB; ~2× slower measured); and chunks already run on several sessions at once, so
   * parallel workers only add start-up cost.
   */
  async #tuned<T>(session: SqlSession, fn: () => Promise<T>): Promise<T> {
    await session.query("SELECT set_config('jit', 'off', false), set_config('work_mem', '64MB', false), set_config('max_parallel_workers_per_gather', '0', false)").catch(() => undefined);
    try {
      return await fn();
    } finally {
      for (const name of ['jit', 'work_mem', 'max_parallel_workers_per_gather']) await session.query(`RESET ${name}`).catch(() => undefined);
    }
  }

  async #readRows(session: SqlSession, schemas: readonly string[]): Promise<PgChunkRows> {
    const params = [schemas, this.#options.metaTable];
    const columns = await session.query<PgColumnRow>(PG_COLUMNS_SQL, params);
    const constraints = await session.query<PgConstraintRow>(PG_CONSTRAINTS_SQL, params);
    const indexes = await session.query<PgIndexRow>(PG_INDEXES_SQL, params);
    const objects = await session.query<PgObjectRow>(PG_OBJECTS_SQL, [schemas]);
    const routines = await session.query<PgRoutineRow>(PG_ROUTINES_SQL, [schemas]);
    return { columns, constraints, indexes, objects, routines };
  }

  /**
   * Full rows of `schemas`, in queries of at most `chunkSize` schemas (a full read of a few thousand
   * schemas at once would hold all their rows), each part's catalogs handed to `each` with its rows.
   */
  async #readFull(session: SqlSession, schemas: readonly string[], each: (schema: string, catalog: Catalog, rows: PgChunkRows) => void): Promise<void> {
    const size = this.#options.chunkSize ?? 500;
    for (let i = 0; i < schemas.length; i += size) {
      const part = schemas.slice(i, i + size);
      const rows = await this.#readRows(session, part);
      for (const [schema, catalog] of pgRowsToCatalogs(part, rows.columns, rows.constraints, rows.indexes, rows.objects, rows.routines)) each(schema, catalog, rows);
    }
  }

  /** Digest per schema: the three kinds' digests in fixed places (`-`: no row of that kind). */
  async #digests(session: SqlSession, schemas: readonly string[]): Promise<Map<string, string>> {
    const params = [schemas, this.#options.metaTable];
    const slots = new Map<string, string[]>(schemas.map((s) => [s, ['-', '-', '-', '-', '-']]));
    const kinds = [PG_COLUMNS_DIGEST_SQL, PG_CONSTRAINTS_DIGEST_SQL, PG_INDEXES_DIGEST_SQL, PG_OBJECTS_DIGEST_SQL, PG_ROUTINES_DIGEST_SQL];
    for (const [i, sql] of kinds.entries()) {
      for (const r of await session.query<{ schema_name: string; digest: string | null }>(sql, i >= 3 ? [schemas] : params)) {
        const slot = slots.get(r.schema_name);
        if (slot) slot[i] = r.digest ?? '-';
      }
    }
    return new Map([...slots].map(([schema, digests]) => [schema, digests.join('/')]));
  }

  async readCatalogs(schemas: readonly string[], onCatalog: (schema: string, catalog: Catalog) => void): Promise<void> {
    const parallel = Math.max(1, Math.min(this.#options.parallel ?? 4, this.#sessions.maxConnections));
    const limit = pLimit(parallel);
    // Digest queries return one short row per schema: larger chunks mean fewer scans of pg_class
    // (it has no index on relnamespace), while every session still gets a chunk.
    const size = this.#options.digestChunkSize ?? Math.min(2500, Math.max(500, Math.ceil(schemas.length / parallel)));
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < schemas.length; i += size) chunks.push(schemas.slice(i, i + size));
    // digest → the representative's read (shared by every chunk that meets the digest).
    const representatives = new Map<string, Promise<Representative>>();
    let digested = 0;
    let shared = 0;
    const readChunk = async (session: SqlSession, chunk: readonly string[]): Promise<void> => {
      // Digests pay off when schemas share them; if the fleet so far hardly does, read directly.
      if (this.#options.digests === false || (digested >= size && shared < digested / 2)) {
        await this.#readFull(session, chunk, (schema, catalog) => onCatalog(schema, catalog));
        return;
      }
      const digests = await this.#digests(session, chunk);
      digested += chunk.length;
      const fresh: string[] = [];
      const settle = new Map<string, (rep: Representative) => void>();
      const fail = new Map<string, (err: unknown) => void>();
      for (const schema of chunk) {
        const digest = digests.get(schema)!;
        if (representatives.has(digest) || representatives.size >= MAX_REPRESENTATIVES) continue;
        fresh.push(schema);
        const read = new Promise<Representative>((resolve, reject) => {
          settle.set(schema, resolve);
          fail.set(schema, reject);
        });
        read.catch(() => undefined); // awaited below or by another chunk; a failure fails the read once
        representatives.set(digest, read);
      }
      try {
        await this.#readFull(session, fresh, (schema, catalog, rows) => settle.get(schema)!({ schema, catalog, expressions: rawExpressions(rows, schema) }));
      } catch (err) {
        for (const reject of fail.values()) reject(err);
        throw err;
      }
      const own: string[] = [];
      const found: [string, Catalog][] = [];
      for (const schema of chunk) {
        const rep = await representatives.get(digests.get(schema)!);
        if (rep && (rep.schema === schema || shareableFor(rep, schema))) {
          if (rep.schema !== schema) shared++;
          found.push([schema, rep.catalog]);
        } else own.push(schema);
      }
      await this.#readFull(session, own, (schema, catalog) => found.push([schema, catalog]));
      for (const [schema, catalog] of found) onCatalog(schema, catalog);
    };
    await Promise.all(chunks.map((chunk) => limit(() => this.#sessions.withSession((s) => this.#tuned(s, () => readChunk(s, chunk))))));
  }

  async readCatalog(session: SqlSession, schema: string): Promise<Catalog> {
    const rows = await this.#tuned(session, () => this.#readRows(session, [schema]));
    return pgRowsToCatalogs([schema], rows.columns, rows.constraints, rows.indexes, rows.objects, rows.routines).get(schema)!;
  }
}
