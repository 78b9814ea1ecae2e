import { createHash } from 'node:crypto';
import type { Catalog, CatalogIndex, CatalogTable, CheckConstraint, ForeignKey, KeyConstraint } from './catalog-model.js';

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sort key of a constraint: its name, or (system-named) its definition. */
export function keyOfConstraint(c: KeyConstraint | CheckConstraint | ForeignKey): string {
  if (c.name !== undefined) return `name:${c.name}`;
  if ('expression' in c) return `check:${c.expression}`;
  if ('refTable' in c) return `fk:${c.columns.join(',')}->${c.refSchema}.${c.refTable}(${c.refColumns.join(',')})`;
  return `key:${c.columns.join(',')}`;
}

const sortedBy = <T>(items: readonly T[], key: (item: T) => string): T[] => [...items].sort((a, b) => byString(key(a), key(b)));

/**
 * The canonical form of a catalog: every list in a fixed order (tables, columns, constraints and
 * indexes by name; unnamed constraints by definition). Column order is deliberately not part of
 * the model: a column dropped and re-added by a repair is the same schema for every query that
 * names its columns. Key and index column order is kept (it is the definition).
 */
export function canonicalize(catalog: Catalog): Catalog {
  // Objects are rebuilt with their keys in alphabetical order and undefined members left out, so
  // JSON.stringify of the result is the canonical JSON (the same text as canonicalJson, faster).
  const opt = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
  const key = (k: KeyConstraint): KeyConstraint => ({ columns: [...k.columns], ...opt('name', k.name) });
  return {
    family: catalog.family,
    ...opt(
      'routines',
      catalog.routines && catalog.routines.length > 0
        ? sortedBy(catalog.routines, (r) => `${r.kind}:${r.name}`).map((r) => ({ definition: r.definition, kind: r.kind, name: r.name, ...opt('table', r.table) }))
        : undefined,
    ),
    ...opt(
      'sequences',
      catalog.sequences && catalog.sequences.length > 0
        ? sortedBy(catalog.sequences, (q) => q.name).map((q) => ({ increment: q.increment, name: q.name, start: q.start, type: q.type }))
        : undefined,
    ),
    tables: sortedBy(catalog.tables, (t) => t.name).map(
      (t): CatalogTable => ({
        checks: sortedBy(t.checks, keyOfConstraint).map((c) => ({ expression: c.expression, ...opt('name', c.name) })),
        columns: sortedBy(t.columns, (c) => c.name).map((c) => ({
          ...opt('computed', c.computed),
          ...opt('default', c.default),
          name: c.name,
          nullable: c.nullable,
          type: c.type,
        })),
        foreignKeys: sortedBy(t.foreignKeys, keyOfConstraint).map((f) => ({
          columns: [...f.columns],
          ...opt('name', f.name),
          onDelete: f.onDelete,
          onUpdate: f.onUpdate,
          refColumns: [...f.refColumns],
          refSchema: f.refSchema,
          refTable: f.refTable,
        })),
        indexes: sortedBy(t.indexes, (i: CatalogIndex) => i.name).map((i) => ({
          ...opt('filter', i.filter),
          ...opt('include', i.include && i.include.length > 0 ? [...i.include] : undefined),
          keys: i.keys.map((k) => ({ column: k.column, ...opt('descending', k.descending ? true : undefined) })),
          ...opt('method', i.method),
          name: i.name,
          unique: i.unique,
          ...opt('valid', i.valid === false ? false : undefined),
        })),
        name: t.name,
        ...opt('primaryKey', t.primaryKey ? key(t.primaryKey) : undefined),
        uniques: sortedBy(t.uniques, keyOfConstraint).map(key),
      }),
    ),
    ...opt('views', catalog.views && catalog.views.length > 0 ? sortedBy(catalog.views, (v) => v.name).map((v) => ({ definition: v.definition, name: v.name })) : undefined),
  };
}

/** JSON with object keys sorted and undefined members left out: equal models give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => byString(a, b));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** sha256 (hex) of the canonical JSON: the schema's fingerprint. */
export function fingerprint(catalog: Catalog): string {
  return createHash('sha256').update(JSON.stringify(canonicalize(catalog))).digest('hex');
}
