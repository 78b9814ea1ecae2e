/**
 * Snapshot → model: the changes the next migration makes, pure and offline (EF Core's model
 * snapshot, drizzle-kit's snapshots). Renames come only from `renamedFrom` — never guessed from
 * a drop plus an add of the same shape (sqldef `@renamed`, Atlas `renamed_from`). Destructive
 * changes are found and named so the caller can refuse them unless allowed (DacFx
 * `BlockOnPossibleDataLoss`, sqldef `--enable-drop`).
 */
import { canonicalJson } from '../catalog/fingerprint.js';
import { type ModelColumn, type ModelForeignKey, type ModelIndex, type ModelRoutine, type ModelTable, type ModelView, type SchemaModel, indexExpressionText, isPostgresOnlyIndex } from '../schema-model/model-types.js';
import { snapshotModel } from '../schema-model/snapshot.js';
import { autoNumber, identityAlways, storageType } from '../schema-model/logical-types.js';
import { TenantMigrateError } from '../errors.js';
import {
  type AllowKind,
  type RenamedObjectType,
  type Destructive,
  type ModelConstraint,
  type SchemaChange,
  type SchemaDiff,
  constraintName,
} from './schema-changes.js';

export interface DiffOptions {
  /** Destructive kinds allowed by name. */
  readonly allow?: ReadonlySet<AllowKind>;
  /**
   * Renames to apply, instead of the model's `renamedFrom` (the down migration passes the
   * inverse of the up migration's renames). Keys: new table name; columns: `table.newColumn`;
   * objects (named constraints and indexes, unique per schema): the new name.
   */
  readonly renames?: Renames;
}

export interface Renames {
  readonly tables: ReadonlyMap<string, string>;
  readonly columns: ReadonlyMap<string, string>;
  readonly objects: ReadonlyMap<string, string>;
}

/** The named constraints and indexes of a table (names are unique per schema on both dialects). */
const namedObjects = (t: ModelTable): { name: string; renamedFrom?: string; type: RenamedObjectType }[] => [
  ...(t.primaryKey ? [{ ...t.primaryKey, type: 'primary key' as const }] : []),
  ...t.uniques.map((u) => ({ ...u, type: 'unique' as const })),
  ...t.checks.map((c) => ({ ...c, type: 'check' as const })),
  ...t.foreignKeys.map((f) => ({ ...f, type: 'foreign key' as const })),
  ...t.indexes.map((i) => ({ ...i, type: 'index' as const })),
];

/** Renames declared by `renamedFrom` that apply to this snapshot (old name present, new absent). */
export function declaredRenames(from: SchemaModel, to: SchemaModel): Renames {
  const oldTables = new Map(from.tables.map((t) => [t.name, t]));
  const tables = new Map<string, string>();
  const columns = new Map<string, string>();
  const objects = new Map<string, string>();
  const oldObjects = new Set(from.tables.flatMap((t) => namedObjects(t).map((o) => o.name)));
  for (const t of to.tables) {
    if (t.renamedFrom && oldTables.has(t.renamedFrom) && !oldTables.has(t.name)) tables.set(t.name, t.renamedFrom);
    const old = oldTables.get(tables.get(t.name) ?? t.name);
    if (!old) continue;
    const oldCols = new Set(old.columns.map((c) => c.name));
    for (const c of t.columns) if (c.renamedFrom && oldCols.has(c.renamedFrom) && !oldCols.has(c.name)) columns.set(`${t.name}.${c.name}`, c.renamedFrom);
    // A constraint or index renamed on the same (possibly renamed) table, of the same kind.
    const before = new Map(namedObjects(old).map((o) => [o.name, o.type]));
    for (const o of namedObjects(t)) if (o.renamedFrom && before.get(o.renamedFrom) === o.type && !oldObjects.has(o.name)) objects.set(o.name, o.renamedFrom);
  }
  return { tables, columns, objects };
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** Parse a logical type into base + arguments: `nvarchar(max)` → ['nvarchar', 'max']. */
function parseType(t: string): { base: string; args: string[] } {
  const m = /^([a-z0-9]+)(?:\(([^)]*)\))?$/.exec(t);
  if (!m) return { base: t, args: [] };
  return { base: m[1]!, args: m[2] ? m[2].split(',') : [] };
}

const len = (a: string | undefined): number => (a === undefined || a === 'max' ? Infinity : Number(a));

export { storageType };

/** True when every value of `from` fits `to` unchanged (a widening); false for anything else. */
export function isWidening(from: string, to: string): boolean {
  if (from === to) return true;
  const f = parseType(from);
  const t = parseType(to);
  const strings = ['varchar', 'nvarchar', 'text'];
  const strLen = (x: typeof f) => (x.base === 'text' ? Infinity : len(x.args[0]));
  if (strings.includes(f.base) && strings.includes(t.base)) {
    if (f.base === 'nvarchar' && t.base === 'varchar') return false; // loses characters on SQL Server
    if (f.base === 'text' && t.base === 'varchar') return false;
    return strLen(t) >= strLen(f);
  }
  if (f.base === 'json' && (t.base === 'text' || (t.base === 'nvarchar' && t.args[0] === 'max'))) return true;
  if (f.base === 'varbinary' && t.base === 'varbinary') return len(t.args[0]) >= len(f.args[0]);
  if (f.base === 'datetime2' && t.base === 'datetime2') return Number(t.args[0] ?? 7) >= Number(f.args[0] ?? 7);
  if ((f.base === 'char' && t.base === 'char') || (f.base === 'nchar' && t.base === 'nchar') || (f.base === 'char' && t.base === 'nchar')) return len(t.args[0]) >= len(f.args[0]);
  if ((f.base === 'time' && t.base === 'time') || (f.base === 'datetimeoffset' && t.base === 'datetimeoffset')) return Number(t.args[0] ?? 7) >= Number(f.args[0] ?? 7);
  if (f.base === 'real' && t.base === 'float') return true;
  if (f.base === 'date' && t.base === 'datetime2') return true;
  const digits = (x: typeof f): [number, number] | undefined =>
    x.base === 'smallint' ? [5, 0] : x.base === 'int' ? [10, 0] : x.base === 'bigint' ? [19, 0] : x.base === 'decimal' ? [Number(x.args[0]), Number(x.args[1])] : undefined;
  const fd = digits(f);
  const td = digits(t);
  if (fd && td) {
    if (t.base === 'smallint' && f.base !== 'smallint') return false;
    if (t.base === 'int' && f.base !== 'int' && f.base !== 'smallint') return false;
    if (t.base === 'bigint' && f.base === 'decimal') return false;
    return td[1] >= fd[1] && td[0] - td[1] >= fd[0] - fd[1];
  }
  return false;
}

/** The snapshot's tables with renamed tables and columns under their new names (references too). */
function renamedOld(from: SchemaModel, renames: Renames): ModelTable[] {
  const tableNew = new Map([...renames.tables].map(([n, o]) => [o, n]));
  const columnNew = new Map<string, string>(); // `newTable.oldColumn` → newColumn
  for (const [key, oldColumn] of renames.columns) {
    const [table, newColumn] = key.split('.') as [string, string];
    columnNew.set(`${table}.${oldColumn}`, newColumn);
  }
  const objectNew = new Map([...renames.objects].map(([n, o]) => [o, n]));
  const tn = (t: string) => tableNew.get(t) ?? t;
  const cn = (table: string, c: string) => columnNew.get(`${table}.${c}`) ?? c;
  const on = <T extends { readonly name: string }>(item: T): T => ({ ...item, name: objectNew.get(item.name) ?? item.name });
  return from.tables.map((t) => {
    const name = tn(t.name);
    const cols = (list: readonly string[]) => list.map((c) => cn(name, c));
    return {
      ...t,
      name,
      columns: t.columns.map((c) => ({ ...c, name: cn(name, c.name) })),
      ...(t.primaryKey ? { primaryKey: on({ ...t.primaryKey, columns: cols(t.primaryKey.columns) }) } : {}),
      uniques: t.uniques.map((u) => on({ ...u, columns: cols(u.columns) })),
      checks: t.checks.map(on),
      foreignKeys: t.foreignKeys.map((f) => {
        const refTable = f.references.schema === 'master' ? f.references.table : tn(f.references.table);
        return {
          ...on(f),
          columns: cols(f.columns),
          references: { ...f.references, table: refTable, columns: f.references.schema === 'master' ? f.references.columns : f.references.columns.map((c) => cn(refTable, c)) },
        };
      }),
      indexes: t.indexes.map((i) => ({
        ...on(i),
        // An expression key keeps its text: a renamed column it reads is renamed in the model's text too (or it differs, and is re-created).
        columns: i.columns.map((k) => (k.column !== undefined ? { ...k, column: cn(name, k.column) } : k)),
        ...(i.include ? { include: cols(i.include) } : {}),
      })),
    };
  });
}

const constraintsOf = (t: ModelTable): ModelConstraint[] => [
  ...(t.primaryKey ? [{ type: 'primary key', key: t.primaryKey } as const] : []),
  ...t.uniques.map((key) => ({ type: 'unique', key }) as const),
  ...t.checks.map((check) => ({ type: 'check', check }) as const),
  ...t.foreignKeys.map((fk) => ({ type: 'foreign key', fk }) as const),
];

const mentions = (expression: ModelIndex['where'], column: string): boolean => {
  const text = typeof expression === 'object' && expression !== null ? `${expression.mssql} ${expression.postgres}` : String(expression ?? '');
  return new RegExp(`(?<![A-Za-z0-9_$])${column}(?![A-Za-z0-9_$])`, 'i').test(text);
};

/** Does a constraint or index of `table` use `column`? */
function uses(table: string, item: ModelConstraint | ModelIndex, column: string, refTable?: string): boolean {
  if ('type' in item) {
    switch (item.type) {
      case 'primary key':
      case 'unique':
        return item.key.columns.includes(column);
      case 'check':
        return mentions(item.check.expression, column);
      case 'foreign key':
        return item.fk.columns.includes(column) || (refTable !== undefined && item.fk.references.table === refTable && !item.fk.references.schema && item.fk.references.columns.includes(column));
    }
  }
  void table;
  return (
    item.columns.some((k) => (k.column !== undefined ? k.column === column : mentions(indexExpressionText(k.expression), column))) ||
    (item.include ?? []).includes(column) ||
    mentions(item.where, column)
  );
}

/** The changes from `from` (snapshot) to `to` (model). */
export function diffModels(from: SchemaModel, declared: SchemaModel, options: DiffOptions = {}): SchemaDiff {
  const renames = options.renames ?? declaredRenames(from, declared);
  const to = snapshotModel(declared); // without renamedFrom: compared item by item with the snapshot
  const allow = options.allow ?? new Set<AllowKind>();
  const old = renamedOld(from, renames);
  const oldByName = new Map(old.map((t) => [t.name, t]));
  const newByName = new Map(to.tables.map((t) => [t.name, t]));
  const changes: SchemaChange[] = [];
  const destructive: Destructive[] = [];
  const destroy = (allowKind: AllowKind, what: string) => destructive.push({ allow: allowKind, what });

  for (const [newName, oldName] of renames.tables) changes.push({ kind: 'rename-table', from: oldName, to: newName, indexes: from.tables.find((t) => t.name === oldName)?.indexes ?? [] });
  for (const [key, oldColumn] of renames.columns) {
    const [table, newColumn] = key.split('.') as [string, string];
    changes.push({ kind: 'rename-column', table, from: oldColumn, to: newColumn });
  }
  // Foreign keys first: where a renamed key is dropped and re-created with the foreign keys onto it
  // (Babelfish), those already have their new names.
  const objectRenames = [...renames.objects].map(([newName, oldName]) => ({ newName, oldName, table: old.find((x) => namedObjects(x).some((o) => o.name === newName)) }));
  const isFk = (r: (typeof objectRenames)[number]) => r.table?.foreignKeys.some((f) => f.name === r.newName) ?? false;
  for (const { newName, oldName } of [...objectRenames.filter(isFk), ...objectRenames.filter((r) => !isFk(r))]) {
    const t = old.find((x) => namedObjects(x).some((o) => o.name === newName));
    if (!t) continue;
    const definition = [...constraintsOf(t), ...t.indexes].find((x) => ('type' in x ? constraintName(x) : x.name) === newName)!;
    const key = 'type' in definition && (definition.type === 'primary key' || definition.type === 'unique') ? definition.key : undefined;
    const referencedBy = key
      ? old.flatMap((r) => r.foreignKeys.filter((f) => !f.references.schema && f.references.table === t.name && f.references.columns.join(',') === key.columns.join(',')).map((fk) => ({ table: r.name, fk })))
      : [];
    changes.push({ kind: 'rename-object', table: t.name, object: 'type' in definition ? definition.type : 'index', from: oldName, to: newName, definition, referencedBy });
  }

  // Constraints and indexes dropped (removed or changed) and added, per table.
  const dropped = new Map<string, ModelConstraint | ModelIndex>(); // name → item
  const droppedTable = new Map<string, string>();
  const added = new Set<string>();
  // An index with an expression key exists on PostgreSQL only: SQL Server's own drops and re-creates leave it alone.
  const absentOnMssql = (item: ModelConstraint | ModelIndex) => !('type' in item) && isPostgresOnlyIndex(item);
  const drop = (table: string, item: ModelConstraint | ModelIndex, only?: 'mssql') => {
    if (only === 'mssql' && absentOnMssql(item)) return;
    const name = 'type' in item ? constraintName(item) : item.name;
    if (dropped.has(name)) return;
    dropped.set(name, item);
    droppedTable.set(name, table);
    changes.push('type' in item ? { kind: 'drop-constraint', table, constraint: item, ...(only ? { only } : {}) } : { kind: 'drop-index', table, index: item, ...(only ? { only } : {}) });
  };
  const add = (table: string, item: ModelConstraint | ModelIndex, only?: 'mssql') => {
    if (only === 'mssql' && absentOnMssql(item)) return;
    const name = 'type' in item ? constraintName(item) : item.name;
    if (added.has(name)) return;
    added.add(name);
    changes.push('type' in item ? { kind: 'add-constraint', table, constraint: item, ...(only ? { only } : {}) } : { kind: 'create-index', table, index: item, ...(only ? { only } : {}) });
  };

  /** `table.column` dropped and added again (computed columns): what uses it is dropped first and re-created. */
  const recreated = new Set<string>();
  for (const t of old) {
    if (!newByName.has(t.name)) {
      changes.push({ kind: 'drop-table', table: t });
      destroy('drop-table', `table ${t.name} is dropped with its data`);
    }
  }
  for (const t of to.tables) {
    const o = oldByName.get(t.name);
    if (!o) {
      changes.push({ kind: 'create-table', table: t });
      continue;
    }
    const oldCols = new Map(o.columns.map((c) => [c.name, c]));
    const newCols = new Map(t.columns.map((c) => [c.name, c]));
    for (const c of o.columns) {
      if (!newCols.has(c.name)) {
        changes.push({ kind: 'drop-column', table: t.name, column: c });
        destroy('drop-column', `column ${t.name}.${c.name} is dropped with its data`);
      }
    }
    for (const c of t.columns) {
      const before = oldCols.get(c.name);
      if (!before) {
        changes.push({ kind: 'add-column', table: t.name, column: c });
        if (!c.nullable && !c.default && !autoNumber(c.type)) destroy('not-null', `column ${t.name}.${c.name} is added NOT NULL without a default to an existing table (rows need a backfill)`);
        continue;
      }
      // A computed column (before or after) is dropped and added: there is no ALTER for it.
      if ((before.computed || c.computed) && !same(before, c)) {
        changes.push({ kind: 'drop-column', table: t.name, column: before });
        if (!before.computed) destroy('drop-column', `column ${t.name}.${c.name} becomes computed: its stored values are dropped`);
        changes.push({ kind: 'add-column', table: t.name, column: c });
        if (!c.computed && !c.nullable && !c.default) destroy('not-null', `column ${t.name}.${c.name} is no longer computed and is NOT NULL without a default (rows need a backfill)`);
        recreated.add(`${t.name}.${c.name}`);
        continue;
      }
      const typeChanged = storageType(before.type) !== storageType(c.type);
      const [autoBefore, autoAfter] = [autoNumber(before.type), autoNumber(c.type)];
      if (autoBefore === 'serial' || autoAfter === 'serial') {
        // A serial's sequence is named and owned by PostgreSQL, and SQL Server renders it as an IDENTITY:
        // there is no change in place that both agree on.
        if (before.type !== c.type) {
          throw new TenantMigrateError(
            'USAGE',
            `column ${t.name}.${c.name}: ${before.type} → ${c.type} is not generated (a serial column's sequence cannot be changed in place on both dialects): write this migration by hand, then \`diff --init\``,
            { key: `tables.${t.name}.columns.${c.name}.type` },
          );
        }
      }
      const identityChanged = autoBefore !== autoAfter;
      const generationChanged = autoBefore === 'identity' && autoAfter === 'identity' && identityAlways(before.type) !== identityAlways(c.type);
      const nullabilityChanged = before.nullable !== c.nullable;
      const defaultChanged = !same(before.default, c.default) || (c.default !== undefined && (before.defaultName ?? '') !== (c.defaultName ?? ''));
      if (!typeChanged && !nullabilityChanged && !defaultChanged && !identityChanged && !generationChanged) continue;
      changes.push({ kind: 'alter-column', table: t.name, from: before, to: c, typeChanged, nullabilityChanged, defaultChanged, identityChanged, generationChanged });
      if (typeChanged && !isWidening(storageType(before.type), storageType(c.type))) destroy('narrow-type', `column ${t.name}.${c.name}: ${before.type} → ${c.type} may not hold every existing value`);
      if (identityChanged) {
        destroy(
          'identity',
          autoAfter === 'identity'
            ? `column ${t.name}.${c.name} gains IDENTITY: SQL Server rebuilds table ${t.name} (copied under IDENTITY_INSERT, values kept), PostgreSQL adds it in place`
            : `column ${t.name}.${c.name} loses IDENTITY: SQL Server rebuilds the column (values kept), PostgreSQL drops it in place`,
        );
        if (autoAfter === 'identity') changes.push({ kind: 'rebuild-table', table: t, column: c.name, only: 'mssql' });
      }
      if (nullabilityChanged && !c.nullable && !c.default) destroy('not-null', `column ${t.name}.${c.name} becomes NOT NULL without a default (existing NULLs need a backfill)`);
    }
    // Constraints and indexes by name: removed or changed → drop; new or changed → add.
    const oc = new Map(constraintsOf(o).map((c) => [constraintName(c), c]));
    const nc = new Map(constraintsOf(t).map((c) => [constraintName(c), c]));
    for (const [name, c] of oc) if (!nc.has(name) || !same(c, nc.get(name))) drop(t.name, c);
    const oi = new Map(o.indexes.map((i) => [i.name, i]));
    const ni = new Map(t.indexes.map((i) => [i.name, i]));
    for (const [name, i] of oi) {
      if (!ni.has(name)) destroy('drop-index', `index ${name} on ${t.name} is dropped (queries that use it get slower; a unique index stops enforcing uniqueness)`);
      if (!ni.has(name) || !same(i, ni.get(name))) drop(t.name, i);
    }
  }

  // SQL Server: ALTER COLUMN of type or nullability fails while an index, key, foreign key or check
  // uses the column ("ALTER TABLE ALTER COLUMN … failed because one or more objects access this
  // column"): drop them first and re-create them after (PostgreSQL rebuilds them itself).
  const liveTables = old.filter((t) => newByName.has(t.name));
  /** Drop what uses `table.column`: its keys, checks, indexes, and foreign keys (of any table) onto it. */
  const dropUsers = (table: string, column: string, only: (item: ModelConstraint | ModelIndex) => 'mssql' | undefined) => {
    for (const t of liveTables) {
      for (const c of constraintsOf(t)) {
        const touched = t.name === table ? uses(t.name, c, column, table) : c.type === 'foreign key' && uses(t.name, c, column, table);
        if (touched && !dropped.has(constraintName(c))) drop(t.name, c, only(c));
      }
      if (t.name === table) for (const i of t.indexes) if (uses(t.name, i, column) && !dropped.has(i.name)) drop(t.name, i, only(i));
    }
  };
  for (const change of [...changes]) {
    // A table rebuilt on SQL Server: all its keys, checks, indexes and the foreign keys into it.
    if (change.kind === 'rebuild-table') {
      for (const t of liveTables) {
        for (const c of constraintsOf(t)) {
          const into = c.type === 'foreign key' && !c.fk.references.schema && c.fk.references.table === change.table.name;
          if ((t.name === change.table.name || into) && !dropped.has(constraintName(c))) drop(t.name, c, 'mssql');
        }
        if (t.name === change.table.name) for (const i of t.indexes) if (!dropped.has(i.name)) drop(t.name, i, 'mssql');
      }
      continue;
    }
    if (change.kind === 'drop-column' && recreated.has(`${change.table}.${change.column.name}`)) dropUsers(change.table, change.column.name, () => undefined);
    if (change.kind !== 'alter-column' || !(change.typeChanged || change.nullabilityChanged || change.identityChanged)) continue;
    // Checks on both dialects: PostgreSQL rewrites a check's stored text when its column changes
    // type, so re-creating it keeps the catalog what a fresh CREATE makes.
    dropUsers(change.table, change.from.name, (c) => ('type' in c && c.type === 'check' && change.typeChanged ? undefined : 'mssql'));
  }
  // A primary or unique key cannot be dropped while a foreign key references it (both dialects).
  for (const [name, item] of [...dropped]) {
    if (!('type' in item) || (item.type !== 'primary key' && item.type !== 'unique')) continue;
    const table = droppedTable.get(name)!;
    for (const t of liveTables) {
      for (const f of t.foreignKeys) {
        if (f.references.schema || f.references.table !== table || f.references.columns.join(',') !== item.key.columns.join(',')) continue;
        if (!dropped.has(f.name)) drop(t.name, { type: 'foreign key', fk: f }, dropped.get(name) && isMssqlOnly(changes, name) ? 'mssql' : undefined);
      }
    }
  }
  // Re-create what was dropped and still exists in the model (same dialect scope as its drop), then what is new.
  const onlyOf = (name: string): 'mssql' | undefined => (isMssqlOnly(changes, name) ? 'mssql' : undefined);
  for (const t of to.tables) {
    if (!oldByName.has(t.name)) continue;
    const o = oldByName.get(t.name)!;
    const oc = new Set(constraintsOf(o).map(constraintName));
    const oi = new Set(o.indexes.map((i) => i.name));
    for (const c of constraintsOf(t)) {
      const name = constraintName(c);
      if (!oc.has(name) || dropped.has(name)) add(t.name, c, oc.has(name) && dropped.has(name) ? onlyOf(name) : undefined);
    }
    for (const i of t.indexes) if (!oi.has(i.name) || dropped.has(i.name)) add(t.name, i, oi.has(i.name) && dropped.has(i.name) ? onlyOf(i.name) : undefined);
  }
  changes.push(...objectChanges(from, to, changes, destroy));
  return { changes, destructive, refused: destructive.filter((d) => !allow.has(d.allow)) };
}

const textOf = (t: ModelView['definition']): string => (typeof t === 'string' ? t : `${t.mssql}\n${t.postgres}`);
const mentionsName = (text: string, name: string): boolean => new RegExp(`(?<![A-Za-z0-9_$])${name}(?![A-Za-z0-9_$])`, 'i').test(text);

/**
 * Views and sequences. A view is re-created when its definition changes or when it reads (names)
 * a table this migration drops, renames or whose columns it changes, or a view that is re-created
 * or dropped — PostgreSQL refuses those changes under a view that depends on them.
 */
function objectChanges(from: SchemaModel, to: SchemaModel, tableChanges: readonly SchemaChange[], destroy: (kind: AllowKind, what: string) => void): SchemaChange[] {
  const out: SchemaChange[] = [];
  const touched = new Set<string>();
  for (const c of tableChanges) {
    if (c.kind === 'drop-table' || c.kind === 'create-table') touched.add(c.table.name);
    else if (c.kind === 'rename-table') touched.add(c.from).add(c.to);
    else if (c.kind === 'drop-column' || c.kind === 'alter-column' || c.kind === 'rename-column' || c.kind === 'rebuild-table') touched.add(typeof c.table === 'string' ? c.table : c.table.name);
  }
  const oldViews = new Map((from.views ?? []).map((v) => [v.name, v]));
  const newViews = new Map((to.views ?? []).map((v) => [v.name, v]));
  const replaced = new Map<string, 'changed' | 'reads a changed object'>();
  for (const v of to.views ?? []) {
    const before = oldViews.get(v.name);
    if (before && !same(before.definition, v.definition)) replaced.set(v.name, 'changed');
  }
  // Until nothing changes: a view reading a touched table, or a dropped / re-created view.
  for (let grew = true; grew; ) {
    grew = false;
    const gone = new Set([...touched, ...replaced.keys(), ...[...oldViews.keys()].filter((n) => !newViews.has(n))]);
    for (const v of to.views ?? []) {
      const before = oldViews.get(v.name);
      if (!before || replaced.has(v.name)) continue;
      if ([...gone].some((n) => mentionsName(textOf(before.definition), n))) {
        replaced.set(v.name, 'reads a changed object');
        grew = true;
      }
    }
  }
  const position = new Map((from.views ?? []).map((v, i) => [v.name, i]));
  for (const v of from.views ?? []) if (!newViews.has(v.name)) out.push({ kind: 'drop-view', view: v, position: position.get(v.name)! });
  for (const v of to.views ?? []) {
    const before = oldViews.get(v.name);
    if (!before) out.push({ kind: 'create-view', view: v });
    else if (replaced.has(v.name)) out.push({ kind: 'replace-view', from: before, to: v, reason: replaced.get(v.name)!, position: position.get(v.name)! });
  }
  const oldRoutines = new Map((from.routines ?? []).map((r, i) => [r.name, { r, i }]));
  const newRoutines = new Map((to.routines ?? []).map((r) => [r.name, r]));
  // Another kind, a trigger moved to another table, or a dialect's text added or taken away: dropped and created.
  const dialects = (r: ModelRoutine) => `${r.definition.mssql !== undefined}/${r.definition.postgres !== undefined}`;
  const recreated = (a: ModelRoutine, b: ModelRoutine) => a.kind !== b.kind || a.table !== b.table || dialects(a) !== dialects(b);
  for (const [name, { r, i }] of oldRoutines) {
    const next = newRoutines.get(name);
    if (!next || recreated(r, next)) out.push({ kind: 'drop-routine', routine: r, position: i });
  }
  // Babelfish drops a table's triggers with any of its columns (DROP COLUMN, and the column rebuilds
  // of a nullability change or a removed IDENTITY; SQL Server's table rebuild drops them too).
  const columnsDropped = new Set<string>();
  for (const c of tableChanges) {
    if (c.kind === 'drop-column' || (c.kind === 'alter-column' && (c.nullabilityChanged || c.identityChanged))) columnsDropped.add(c.table);
    else if (c.kind === 'rebuild-table') columnsDropped.add(c.table.name);
  }
  for (const r of to.routines ?? []) {
    const before = oldRoutines.get(r.name);
    if (!before || recreated(before.r, r)) out.push({ kind: 'create-routine', routine: r });
    else if (!same(before.r.definition, r.definition)) out.push({ kind: 'replace-routine', from: before.r, to: r, position: before.i });
    else if (r.kind === 'trigger' && r.definition.mssql !== undefined && r.table !== undefined && columnsDropped.has(r.table)) out.push({ kind: 'restore-trigger', routine: r, only: 'mssql' });
  }
  const oldSeqs = new Map((from.sequences ?? []).map((q) => [q.name, q]));
  const newSeqs = new Map((to.sequences ?? []).map((q) => [q.name, q]));
  for (const q of from.sequences ?? []) {
    if (newSeqs.has(q.name)) continue;
    out.push({ kind: 'drop-sequence', sequence: q });
    destroy('drop-sequence', `sequence ${q.name} is dropped with its current value`);
  }
  for (const q of to.sequences ?? []) {
    const before = oldSeqs.get(q.name);
    if (!before) out.push({ kind: 'create-sequence', sequence: q });
    else if (before.type !== q.type || before.start !== q.start) {
      throw new TenantMigrateError(
        'USAGE',
        `sequence ${q.name}: a change of type or start is not generated (SQL Server cannot change either in place; a drop and create would lose its current value): write this migration by hand, then \`diff --init\``,
        { key: `sequences.${q.name}` },
      );
    } else if (before.increment !== q.increment) out.push({ kind: 'alter-sequence', from: before, to: q });
  }
  return out;
}

function isMssqlOnly(changes: readonly SchemaChange[], name: string): boolean {
  return changes.some(
    (c) =>
      ((c.kind === 'drop-constraint' && constraintName(c.constraint) === name) || (c.kind === 'drop-index' && c.index.name === name)) && c.only === 'mssql',
  );
}

/** Foreign keys of a table (helper for renderers). */
export const foreignKeysOf = (t: ModelTable): readonly ModelForeignKey[] => t.foreignKeys;
