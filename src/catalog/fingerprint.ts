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
  return {
    family: catalog.family,
    tables: sortedBy(catalog.tables, (t) => t.name).map(
      (t): CatalogTable => ({
        name: t.name,
        columns: sortedBy(t.columns, (c) => c.name),
        ...(t.primaryKey ? { primaryKey: t.primaryKey } : {}),
        uniques: sortedBy(t.uniques, keyOfConstraint),
        checks: sortedBy(t.checks, keyOfConstraint),
        foreignKeys: sortedBy(t.foreignKeys, keyOfConstraint),
        indexes: sortedBy(t.indexes, (i: CatalogIndex) => i.name),
      }),
    ),
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
  return createHash('sha256').update(canonicalJson(canonicalize(catalog))).digest('hex');
}
