/**
 * Validation of a loaded schema model: the shape with zod, then what zod cannot see (names that
 * exist, are unique, fit both dialects; foreign keys that SQL Server accepts). Every problem is
 * collected and named with its path, e.g. `tables.automation_jobs.indexes.ix_x.columns: unknown column "prio"`.
 */
import { z } from 'zod';
import { ModelError } from './model-error.js';
import { type ModelTable, type SchemaModel, isPostgresOnlyIndex } from './model-types.js';
import { LOGICAL_TYPE, autoNumber } from './logical-types.js';

/** Plain identifiers only: they go into SQL unquoted-safe and into `sp_rename` strings. 63 = PostgreSQL's limit. */
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain identifier: letters, digits and _, at most 63 characters');


const dialectText = z.union([
  z.string().min(1),
  z.object({ mssql: z.string().min(1), postgres: z.string().min(1) }).strict(),
]);

const action = z.enum(['no action', 'restrict', 'cascade', 'set null', 'set default']);

const columnSchema = z
  .object({
    name: identifier,
    type: z.string().regex(LOGICAL_TYPE, 'must be a logical type (uuid, nvarchar(n|max), varchar(n), char(n), nchar(n), text, datetime2[(p)], datetimeoffset[(p)], date, time[(p)], bit, smallint, int, bigint, real, float, decimal(p,s), json, varbinary(n|max), serial, bigserial, smallserial, [smallint |int ]identity[ always]) or mssql:… / postgres:…'),
    nullable: z.boolean(),
    default: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('utcnow') }).strict(),
        z.object({ kind: z.literal('newid') }).strict(),
        z.object({ kind: z.literal('string'), value: z.string() }).strict(),
        z.object({ kind: z.literal('number'), value: z.number().finite() }).strict(),
        z.object({ kind: z.literal('bool'), value: z.boolean() }).strict(),
        z.object({ kind: z.literal('sql'), sql: dialectText }).strict(),
      ])
      .optional(),
    defaultName: identifier.optional(),
    renamedFrom: identifier.optional(),
    computed: z.object({ expression: dialectText, persisted: z.boolean().optional() }).strict().optional(),
  })
  .strict();

const key = z.object({ name: identifier, columns: z.array(identifier).min(1), renamedFrom: identifier.optional(), generated: z.boolean().optional() }).strict();

const tableSchema = z
  .object({
    name: identifier,
    renamedFrom: identifier.optional(),
    columns: z.array(columnSchema).min(1, 'a table needs at least one column'),
    primaryKey: key.optional(),
    uniques: z.array(key),
    checks: z.array(z.object({ name: identifier, expression: dialectText, renamedFrom: identifier.optional(), generated: z.boolean().optional() }).strict()),
    foreignKeys: z.array(
      z
        .object({
          name: identifier,
          columns: z.array(identifier).min(1),
          references: z.object({ table: identifier, columns: z.array(identifier).min(1), schema: z.literal('master').optional() }).strict(),
          onDelete: action,
          onUpdate: action,
          renamedFrom: identifier.optional(),
          generated: z.boolean().optional(),
        })
        .strict(),
    ),
    indexes: z.array(
      z
        .object({
          name: identifier,
          columns: z
            .array(
              z.union([
                z.object({ column: identifier, descending: z.boolean().optional() }).strict(),
                z.object({ expression: z.union([z.string().regex(/\S/, 'must not be empty'), z.object({ postgres: z.string().regex(/\S/, 'must not be empty') }).strict()]), descending: z.boolean().optional() }).strict(),
              ]),
            )
            .min(1),
          unique: z.boolean(),
          where: dialectText.optional(),
          include: z.array(identifier).optional(),
          renamedFrom: identifier.optional(),
        })
        .strict(),
    ),
  })
  .strict();

const viewSchema = z.object({ name: identifier, definition: dialectText }).strict();
const sequenceSchema = z
  .object({ name: identifier, type: z.enum(['smallint', 'int', 'bigint']), start: z.number().int(), increment: z.number().int().refine((n) => n !== 0, 'must not be 0') })
  .strict();

const routineSchema = z
  .object({
    kind: z.enum(['function', 'procedure', 'trigger']),
    name: identifier,
    definition: z
      .object({ mssql: z.string().min(1).optional(), postgres: z.string().min(1).optional() })
      .strict()
      .refine((d) => d.mssql !== undefined || d.postgres !== undefined, 'give the CREATE statement for mssql, postgres or both'),
    table: identifier.optional(),
  })
  .strict()
  .refine((r) => r.kind !== 'trigger' || r.table !== undefined, { message: 'a trigger names its table', path: ['table'] });

export const schemaModelSchema = z
  .object({
    scope: z.enum(['tenant', 'master']),
    tables: z.array(tableSchema),
    views: z.array(viewSchema).optional(),
    sequences: z.array(sequenceSchema).optional(),
    routines: z.array(routineSchema).optional(),
  })
  .strict();

/** A zod path with list indexes replaced by the names of the items (`tables.automation_jobs.columns.status`). */
function namedPath(input: unknown, path: readonly PropertyKey[]): string {
  const out: string[] = [];
  let node: unknown = input;
  for (const segment of path) {
    const next = (node as Record<PropertyKey, unknown> | undefined)?.[segment as never];
    const name = typeof segment === 'number' ? (next as { name?: unknown } | undefined)?.name : undefined;
    out.push(typeof segment === 'number' ? (typeof name === 'string' && name ? name : `[${segment}]`) : String(segment));
    node = next;
  }
  return out.join('.') || '(root)';
}

/** Parse and check a model; throws a {@link ModelError} listing every problem. */
export function validateModel(input: unknown, source: string): SchemaModel {
  const parsed = schemaModelSchema.safeParse(input);
  if (!parsed.success) {
    throw new ModelError(source, parsed.error.issues.map((i) => `${namedPath(input, i.path)}: ${i.message}`));
  }
  const model = parsed.data as SchemaModel;
  const issues = semanticIssues(model);
  if (issues.length > 0) throw new ModelError(source, issues);
  return model;
}

const dupes = (names: readonly string[]): string[] => names.filter((n, i) => names.indexOf(n) !== i);

/** Cross-references, uniqueness and SQL Server's rules (one identity, no multiple cascade paths). */
export function semanticIssues(model: SchemaModel): string[] {
  const issues: string[] = [];
  const tables = new Map(model.tables.map((t) => [t.name, t]));
  for (const name of new Set(dupes(model.tables.map((t) => t.name)))) issues.push(`tables.${name}: defined more than once`);
  // SQL Server constraint names and PostgreSQL index names (constraint-backed ones too) are per schema.
  const objectNames: [string, string][] = [];
  for (const t of model.tables) {
    const at = `tables.${t.name}`;
    const cols = new Map(t.columns.map((c) => [c.name, c]));
    for (const name of new Set(dupes(t.columns.map((c) => c.name)))) issues.push(`${at}.columns.${name}: defined more than once`);
    const known = (where: string, names: readonly string[]) => {
      for (const n of names) if (!cols.has(n)) issues.push(`${where}: unknown column "${n}"`);
    };
    // A serial is an IDENTITY on SQL Server, which allows one per table.
    if (t.columns.filter((c) => autoNumber(c.type)).length > 1) issues.push(`${at}.columns: more than one identity or serial column (SQL Server allows one IDENTITY per table)`);
    for (const c of t.columns) {
      const auto = autoNumber(c.type);
      if (auto && c.default) issues.push(`${at}.columns.${c.name}.default: an ${auto} column has no default`);
      if (auto && c.nullable) issues.push(`${at}.columns.${c.name}.nullable: an ${auto} column is NOT NULL`);
      if (c.computed) {
        if (auto) issues.push(`${at}.columns.${c.name}.computed: an ${auto} column cannot be computed`);
        if (c.default) issues.push(`${at}.columns.${c.name}.default: a computed column has no default`);
        if (!c.nullable) issues.push(`${at}.columns.${c.name}.nullable: a computed column takes its nullability from its expression (leave out NOT NULL; .computed() does)`);
      }
      if (c.default && !autoNumber(c.type)) objectNames.push([`${at}.columns.${c.name}.defaultName`, c.defaultName ?? `df_${t.name}_${c.name}`]);
    }
    if (t.primaryKey) {
      objectNames.push([`${at}.primaryKey`, t.primaryKey.name]);
      known(`${at}.primaryKey.columns`, t.primaryKey.columns);
      for (const n of t.primaryKey.columns) if (cols.get(n)?.nullable) issues.push(`${at}.primaryKey.columns: column "${n}" is nullable (primary key columns are NOT NULL)`);
    }
    for (const u of t.uniques) {
      objectNames.push([`${at}.uniques.${u.name}`, u.name]);
      known(`${at}.uniques.${u.name}.columns`, u.columns);
    }
    for (const c of t.checks) objectNames.push([`${at}.checks.${c.name}`, c.name]);
    for (const i of t.indexes) {
      objectNames.push([`${at}.indexes.${i.name}`, i.name]);
      known(`${at}.indexes.${i.name}.columns`, i.columns.flatMap((k) => (k.column !== undefined ? [k.column] : [])));
      known(`${at}.indexes.${i.name}.include`, i.include ?? []);
    }
    for (const f of t.foreignKeys) {
      const where = `${at}.foreignKeys.${f.name}`;
      objectNames.push([where, f.name]);
      known(`${where}.columns`, f.columns);
      if (f.columns.length !== f.references.columns.length) issues.push(`${where}: ${f.columns.length} column(s) reference ${f.references.columns.length}`);
      if (f.references.schema === 'master') continue; // the master model checks its own tables
      const target = tables.get(f.references.table);
      if (!target) {
        issues.push(`${where}.references.table: unknown table "${f.references.table}"`);
        continue;
      }
      const targetCols = new Set(target.columns.map((c) => c.name));
      for (const n of f.references.columns) if (!targetCols.has(n)) issues.push(`${where}.references.columns: unknown column "${n}" in ${target.name}`);
      const keyed = [target.primaryKey, ...target.uniques].some((k) => k && k.columns.join(',') === f.references.columns.join(','));
      const uniqueIndex = target.indexes.some((i) => i.unique && !i.where && !isPostgresOnlyIndex(i) && i.columns.map((k) => k.column).join(',') === f.references.columns.join(','));
      if (!keyed && !uniqueIndex) issues.push(`${where}.references: (${f.references.columns.join(', ')}) is not the primary key or a unique key of ${target.name}`);
      for (const [act, label] of [[f.onDelete, 'onDelete'], [f.onUpdate, 'onUpdate']] as const) {
        if (act === 'set null') for (const n of f.columns) if (cols.get(n) && !cols.get(n)!.nullable) issues.push(`${where}.${label}: set null on NOT NULL column "${n}"`);
        if (act === 'set default') for (const n of f.columns) if (cols.get(n) && !cols.get(n)!.default) issues.push(`${where}.${label}: set default on column "${n}" without a default`);
      }
    }
  }
  const seen = new Map<string, string>();
  for (const [where, name] of objectNames) {
    if (!name) continue;
    const first = seen.get(name.toLowerCase());
    if (first) issues.push(`${where}: name "${name}" is used by ${first} too (constraint and index names are unique per schema)`);
    else seen.set(name.toLowerCase(), where);
  }
  // Tables, views and sequences share one namespace per schema on both dialects.
  const relations = new Map<string, string>(model.tables.map((t) => [t.name.toLowerCase(), `tables.${t.name}`]));
  for (const [kind, items] of [['views', model.views ?? []], ['sequences', model.sequences ?? []]] as const) {
    for (const item of items) {
      const first = relations.get(item.name.toLowerCase());
      if (first) issues.push(`${kind}.${item.name}: name "${item.name}" is used by ${first} too`);
      else relations.set(item.name.toLowerCase(), `${kind}.${item.name}`);
    }
  }
  const routineNames = new Set<string>();
  for (const r of model.routines ?? []) {
    if (routineNames.has(r.name.toLowerCase())) issues.push(`routines.${r.name}: defined more than once`);
    routineNames.add(r.name.toLowerCase());
    if (r.table && !tables.has(r.table)) issues.push(`routines.${r.name}.table: unknown table "${r.table}"`);
  }
  issues.push(...cascadeIssues(model.tables));
  return issues;
}

/**
 * SQL Server refuses a foreign key whose actions would make two cascading paths into one table, or
 * a cascading cycle (error 1785). Checked here so the model renders for both dialects.
 */
function cascadeIssues(tables: readonly ModelTable[]): string[] {
  const edges = new Map<string, { to: string; fk: string }[]>();
  for (const t of tables) {
    for (const f of t.foreignKeys) {
      if (f.references.schema === 'master') continue;
      if (f.onDelete === 'no action' && f.onUpdate === 'no action') continue;
      if (f.onDelete === 'restrict' && f.onUpdate === 'restrict') continue;
      // A delete in the referenced table cascades into this one.
      const list = edges.get(f.references.table) ?? [];
      list.push({ to: t.name, fk: f.name });
      edges.set(f.references.table, list);
    }
  }
  const issues: string[] = [];
  for (const start of edges.keys()) {
    const reached = new Map<string, string>();
    const walk = (table: string, path: string[]): void => {
      for (const e of edges.get(table) ?? []) {
        if (e.to === start || path.includes(e.to)) {
          issues.push(`tables.${e.to}.foreignKeys.${e.fk}: cascading actions form a cycle from ${start} (SQL Server error 1785)`);
          continue;
        }
        const before = reached.get(e.to);
        if (before !== undefined) {
          issues.push(`tables.${e.to}.foreignKeys.${e.fk}: a second cascade path from ${start} into ${e.to} (the first via ${before}; SQL Server error 1785)`);
          continue;
        }
        reached.set(e.to, e.fk);
        walk(e.to, [...path, e.to]);
      }
    };
    walk(start, [start]);
  }
  return [...new Set(issues)];
}
