import type { Catalog, CatalogColumn, CatalogIndex, CatalogTable, CheckConstraint, ForeignKey, KeyConstraint } from './catalog-model.js';
import { canonicalize, keyOfConstraint } from './fingerprint.js';

export type ObjectKind = 'table' | 'column' | 'primary key' | 'unique constraint' | 'check constraint' | 'foreign key' | 'index' | 'view' | 'sequence' | 'function' | 'procedure' | 'trigger';

/** The aspect of an object that differs (for `changed`). */
export type Property =
  | 'type'
  | 'nullability'
  | 'default'
  | 'computed'
  | 'name'
  | 'columns'
  | 'expression'
  | 'references'
  | 'on delete'
  | 'on update'
  | 'unique'
  | 'filter'
  | 'include'
  | 'valid'
  | 'method'
  | 'definition';

/**
 * One difference between the expected and the actual catalog of a schema. `missing`: expected but
 * not there; `extra`: there but not expected; `changed`: both, one property differs.
 */
export interface Difference {
  readonly change: 'missing' | 'extra' | 'changed';
  readonly kind: ObjectKind;
  readonly table: string;
  /** Column, constraint or index name (absent for a table, and for a system-named constraint). */
  readonly name?: string;
  readonly property?: Property;
  /** The expected definition or value (for `missing` and `changed`). */
  readonly expected?: string;
  /** The actual definition or value (for `extra` and `changed`). */
  readonly actual?: string;
}

export function describeColumn(c: CatalogColumn): string {
  return [
    c.type,
    c.nullable ? 'NULL' : 'NOT NULL',
    ...(c.default !== undefined ? [`DEFAULT ${c.default}`] : []),
    ...(c.computed !== undefined ? [`AS ${c.computed}`] : []),
  ].join(' ');
}

const list = (xs: readonly string[]): string => `(${xs.join(', ')})`;

export function describeKey(k: KeyConstraint): string {
  return list(k.columns);
}

export function describeForeignKey(fk: ForeignKey): string {
  const target = fk.refSchema === '$schema' ? fk.refTable : `${fk.refSchema}.${fk.refTable}`;
  const actions = [
    ...(fk.onDelete !== 'no action' ? [`ON DELETE ${fk.onDelete.toUpperCase()}`] : []),
    ...(fk.onUpdate !== 'no action' ? [`ON UPDATE ${fk.onUpdate.toUpperCase()}`] : []),
  ];
  return [`${list(fk.columns)} REFERENCES ${target} ${list(fk.refColumns)}`, ...actions].join(' ');
}

/** An index key as CREATE INDEX writes it: an expression in parentheses. */
const keyText = (k: CatalogIndex['keys'][number]): string => `${k.expression ? `(${k.column})` : k.column}${k.descending ? ' DESC' : ''}`;

export function describeIndex(i: CatalogIndex): string {
  return [
    ...(i.unique ? ['UNIQUE'] : []),
    ...(i.method ? [i.method] : []),
    list(i.keys.map(keyText)),
    ...(i.include && i.include.length > 0 ? [`INCLUDE ${list(i.include)}`] : []),
    ...(i.filter ? [`WHERE ${i.filter}`] : []),
    ...(i.valid === false ? ['(INVALID)'] : []),
  ].join(' ');
}

type Push = (d: Difference) => void;

/** Match two lists by key and report missing, extra and (via `compare`) changed members. */
function matchBy<T>(
  expected: readonly T[],
  actual: readonly T[],
  key: (item: T) => string,
  onMissing: (item: T) => void,
  onExtra: (item: T) => void,
  compare: (e: T, a: T) => void,
): void {
  const actualByKey = new Map(actual.map((a) => [key(a), a]));
  for (const e of expected) {
    const a = actualByKey.get(key(e));
    if (a === undefined) onMissing(e);
    else {
      compare(e, a);
      actualByKey.delete(key(e));
    }
  }
  for (const a of actualByKey.values()) onExtra(a);
}

function diffColumns(table: string, e: readonly CatalogColumn[], a: readonly CatalogColumn[], push: Push): void {
  matchBy(
    e,
    a,
    (c) => c.name,
    (c) => push({ change: 'missing', kind: 'column', table, name: c.name, expected: describeColumn(c) }),
    (c) => push({ change: 'extra', kind: 'column', table, name: c.name, actual: describeColumn(c) }),
    (ec, ac) => {
      const changed = (property: Property, x: string | undefined, y: string | undefined): void => {
        if (x !== y) push({ change: 'changed', kind: 'column', table, name: ec.name, property, expected: x ?? '(none)', actual: y ?? '(none)' });
      };
      changed('type', ec.type, ac.type);
      changed('nullability', ec.nullable ? 'NULL' : 'NOT NULL', ac.nullable ? 'NULL' : 'NOT NULL');
      changed('default', ec.default, ac.default);
      changed('computed', ec.computed, ac.computed);
    },
  );
}

function diffConstraints<T extends KeyConstraint | CheckConstraint | ForeignKey>(
  table: string,
  kind: ObjectKind,
  e: readonly T[],
  a: readonly T[],
  describe: (c: T) => string,
  properties: (c: T) => Partial<Record<Property, string>>,
  push: Push,
): void {
  matchBy(
    e,
    a,
    keyOfConstraint,
    (c) => push({ change: 'missing', kind, table, ...(c.name ? { name: c.name } : {}), expected: describe(c) }),
    (c) => push({ change: 'extra', kind, table, ...(c.name ? { name: c.name } : {}), actual: describe(c) }),
    (ec, ac) => {
      const pe = properties(ec);
      const pa = properties(ac);
      for (const property of Object.keys(pe) as Property[]) {
        if (pe[property] !== pa[property]) {
          push({ change: 'changed', kind, table, ...(ec.name ? { name: ec.name } : {}), property, expected: pe[property]!, actual: pa[property]! });
        }
      }
    },
  );
}

function diffTable(e: CatalogTable, a: CatalogTable, push: Push): void {
  const table = e.name;
  diffColumns(table, e.columns, a.columns, push);
  // One primary key per table: compared by position, its (possibly generated) name only when both are named.
  const [ep, ap] = [e.primaryKey, a.primaryKey];
  const named = (k: KeyConstraint | undefined) => (k?.name ? { name: k.name } : {});
  if (ep && !ap) push({ change: 'missing', kind: 'primary key', table, ...named(ep), expected: describeKey(ep) });
  else if (!ep && ap) push({ change: 'extra', kind: 'primary key', table, ...named(ap), actual: describeKey(ap) });
  else if (ep && ap) {
    if (describeKey(ep) !== describeKey(ap)) {
      push({ change: 'changed', kind: 'primary key', table, ...named(ep), property: 'columns', expected: describeKey(ep), actual: describeKey(ap) });
    }
    if (ep.name && ap.name && ep.name !== ap.name) {
      push({ change: 'changed', kind: 'primary key', table, name: ep.name, property: 'name', expected: ep.name, actual: ap.name });
    }
  }
  diffConstraints(table, 'unique constraint', e.uniques, a.uniques, describeKey, (k) => ({ columns: describeKey(k) }), push);
  diffConstraints(table, 'check constraint', e.checks, a.checks, (c) => `CHECK ${c.expression}`, (c) => ({ expression: c.expression }), push);
  diffConstraints(
    table,
    'foreign key',
    e.foreignKeys,
    a.foreignKeys,
    describeForeignKey,
    (f) => ({
      columns: list(f.columns),
      references: `${f.refSchema}.${f.refTable} ${list(f.refColumns)}`,
      'on delete': f.onDelete,
      'on update': f.onUpdate,
    }),
    push,
  );
  matchBy(
    e.indexes,
    a.indexes,
    (i) => i.name,
    (i) => push({ change: 'missing', kind: 'index', table, name: i.name, expected: describeIndex(i) }),
    (i) => push({ change: 'extra', kind: 'index', table, name: i.name, actual: describeIndex(i) }),
    (ei, ai) => {
      const props = (i: CatalogIndex): Partial<Record<Property, string>> => ({
        columns: list(i.keys.map(keyText)),
        unique: i.unique ? 'unique' : 'not unique',
        filter: i.filter ?? '(none)',
        include: list(i.include ?? []),
        valid: i.valid === false ? 'invalid' : 'valid',
        method: i.method ?? '(default)',
      });
      const pe = props(ei);
      const pa = props(ai);
      for (const property of Object.keys(pe) as Property[]) {
        if (pe[property] !== pa[property]) push({ change: 'changed', kind: 'index', table, name: ei.name, property, expected: pe[property]!, actual: pa[property]! });
      }
    },
  );
}

/**
 * The differences between the expected and the actual catalog of one schema, in a stable order
 * (tables by name; within a table columns, keys, checks, foreign keys, indexes). A missing or extra
 * table is one difference, not one per column.
 */
export function diffCatalogs(expected: Catalog, actual: Catalog): Difference[] {
  const out: Difference[] = [];
  const push: Push = (d) => out.push(d);
  const e = canonicalize(expected);
  const a = canonicalize(actual);
  matchBy(
    e.tables,
    a.tables,
    (t) => t.name,
    (t) => push({ change: 'missing', kind: 'table', table: t.name, expected: `${t.columns.length} column(s)` }),
    (t) => push({ change: 'extra', kind: 'table', table: t.name, actual: `${t.columns.length} column(s)` }),
    (et, at) => diffTable(et, at, push),
  );
  // Views and sequences: `table` holds their name (they are schema objects of their own).
  matchBy(
    e.views ?? [],
    a.views ?? [],
    (v) => v.name,
    (v) => push({ change: 'missing', kind: 'view', table: v.name, expected: v.definition }),
    (v) => push({ change: 'extra', kind: 'view', table: v.name, actual: v.definition }),
    (ev, av) => {
      if (ev.definition !== av.definition) push({ change: 'changed', kind: 'view', table: ev.name, property: 'definition', expected: ev.definition, actual: av.definition });
    },
  );
  const seq = (q: { type: string; start: string; increment: string }) => `${q.type} START ${q.start} INCREMENT ${q.increment}`;
  matchBy(
    e.sequences ?? [],
    a.sequences ?? [],
    (q) => q.name,
    (q) => push({ change: 'missing', kind: 'sequence', table: q.name, expected: seq(q) }),
    (q) => push({ change: 'extra', kind: 'sequence', table: q.name, actual: seq(q) }),
    (eq, aq) => {
      if (seq(eq) !== seq(aq)) push({ change: 'changed', kind: 'sequence', table: eq.name, property: 'definition', expected: seq(eq), actual: seq(aq) });
    },
  );
  matchBy(
    e.routines ?? [],
    a.routines ?? [],
    (r) => `${r.kind}:${r.name}`,
    (r) => push({ change: 'missing', kind: r.kind, table: r.name, expected: r.definition }),
    (r) => push({ change: 'extra', kind: r.kind, table: r.name, actual: r.definition }),
    (er, ar) => {
      if (er.definition !== ar.definition) push({ change: 'changed', kind: er.kind, table: er.name, property: 'definition', expected: er.definition, actual: ar.definition });
    },
  );
  const order = (d: Difference): string => d.table;
  return out.sort((x, y) => (order(x) < order(y) ? -1 : order(x) > order(y) ? 1 : 0));
}

/** One difference in words a DBA reads, e.g. `column automation_jobs.priority: extra (int NULL)`. */
export function describeDifference(d: Difference): string {
  const subject =
    d.kind === 'table' || d.kind === 'view' || d.kind === 'sequence' || d.kind === 'function' || d.kind === 'procedure' || d.kind === 'trigger'
      ? `${d.kind} ${d.table}`
      : d.kind === 'column'
        ? `column ${d.table}.${d.name}`
        : `${d.kind}${d.name ? ` ${d.name}` : ''} on ${d.table}`;
  switch (d.change) {
    case 'missing':
      return `${subject}: missing${d.expected && d.kind !== 'table' ? ` (expected ${d.expected})` : ''}`;
    case 'extra':
      return `${subject}: extra, not created by any migration${d.actual && d.kind !== 'table' ? ` (${d.actual})` : ''}`;
    case 'changed':
      return `${subject}: ${d.property} is ${d.actual}, expected ${d.expected}`;
  }
}
