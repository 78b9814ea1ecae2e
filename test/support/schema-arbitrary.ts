/**
 * fast-check arbitraries for schema models within the vocabulary both dialects share: tables with
 * a primary key (int, bigint, identity, int identity, serial), columns of every portable type,
 * defaults, unique keys, checks, indexes (descending, filtered, expression keys — PostgreSQL's only),
 * foreign keys with actions, views
 * (one may read another), a sequence, and routines — a function, a procedure and a trigger (on
 * PostgreSQL with its trigger function), each a CREATE text per dialect — and a second model made
 * from the first by random edits (columns added, dropped, renamed with renamedFrom, widened and
 * narrowed, nullability and defaults changed; indexes, checks, unique keys and tables added, dropped
 * and renamed; views added, dropped and their text changed; routines added, dropped and their text
 * changed, a trigger following its table's rename or going with its table).
 */
import fc from 'fast-check';
import type { ReferentialAction } from '../../src/catalog/catalog-model.js';
import type { ModelColumn, ModelDefault, ModelRoutine, ModelTable, ModelView, SchemaModel } from '../../src/schema-model/model-types.js';
import { validateModel } from '../../src/schema-model/validate-model.js';

/** Types an index, key or check may use on both dialects (not text/json: NVARCHAR(MAX) on SQL Server). */
const KEYABLE = ['int', 'bigint', 'smallint', 'bit', 'uuid', 'nvarchar(20)', 'nvarchar(50)', 'varchar(30)', 'decimal(10,2)', 'decimal(12,0)', 'datetime2', 'datetime2(3)', 'date', 'time', 'datetimeoffset', 'nchar(5)', 'real', 'float'] as const;
const TYPES = [...KEYABLE, 'text', 'json'] as const;
const KEY_TYPES = ['int', 'bigint', 'identity', 'int identity', 'serial'] as const;
const NUMERIC = new Set(['int', 'bigint', 'smallint', 'decimal(10,2)', 'decimal(12,0)', 'real', 'float']);
const STRINGS = new Set(['nvarchar(20)', 'nvarchar(50)', 'varchar(30)', 'nchar(5)', 'text']);

/** The plain storage type of a key column (what a foreign key onto it has). */
const keyStorage = (t: string): string => (t === 'identity' ? 'bigint' : t === 'int identity' || t === 'serial' ? 'int' : t);

function defaultFor(type: string, pick: number): ModelDefault | undefined {
  if (NUMERIC.has(type)) return { kind: 'number', value: pick % 10 };
  if (STRINGS.has(type)) return { kind: 'string', value: `v${pick % 10}` };
  if (type === 'bit') return { kind: 'bool', value: pick % 2 === 0 };
  if (type === 'uuid') return { kind: 'newid' };
  if (type.startsWith('datetime')) return { kind: 'utcnow' };
  return undefined;
}

interface ColumnSeed {
  readonly type: string;
  readonly nullable: boolean;
  readonly withDefault: boolean;
  readonly pick: number;
}

const columnSeed = fc.record({ type: fc.constantFrom(...TYPES), nullable: fc.boolean(), withDefault: fc.boolean(), pick: fc.nat(1000) });

function makeColumn(name: string, s: ColumnSeed): ModelColumn {
  const d = s.withDefault ? defaultFor(s.type, s.pick) : undefined;
  return { name, type: s.type, nullable: s.nullable, ...(d ? { default: d } : {}) };
}

/** What a table may carry besides its columns, chosen per column index. */
interface TableSeed {
  readonly keyType: (typeof KEY_TYPES)[number];
  readonly columns: readonly ColumnSeed[];
  readonly unique: number | null;
  readonly check: number | null;
  readonly index: { readonly column: number; readonly descending: boolean; readonly filtered: boolean } | null;
  /** An expression index (PostgreSQL only; absent on SQL Server on both sides). */
  readonly expressionIndex: { readonly column: number; readonly descending: boolean } | null;
  readonly parent: { readonly onDelete: ReferentialAction } | null;
}

const tableSeed: fc.Arbitrary<TableSeed> = fc.record({
  keyType: fc.constantFrom(...KEY_TYPES),
  columns: fc.array(columnSeed, { minLength: 1, maxLength: 4 }),
  unique: fc.option(fc.nat(3), { nil: null }),
  check: fc.option(fc.nat(3), { nil: null }),
  index: fc.option(fc.record({ column: fc.nat(3), descending: fc.boolean(), filtered: fc.boolean() }), { nil: null }),
  expressionIndex: fc.option(fc.record({ column: fc.nat(3), descending: fc.boolean() }), { nil: null }),
  parent: fc.option(fc.record({ onDelete: fc.constantFrom<ReferentialAction>('no action', 'cascade', 'set null', 'restrict') }), { nil: null }),
});

const keyable = (c: ModelColumn) => (KEYABLE as readonly string[]).includes(c.type);

/** An expression over a column that PostgreSQL can index (`lower(c)`, `abs(c)`), or none for its type. */
function indexExpression(c: ModelColumn): string | undefined {
  if (STRINGS.has(c.type)) return `lower(${c.name})`;
  if (NUMERIC.has(c.type)) return `abs(${c.name})`;
  return undefined;
}

function checkExpression(c: ModelColumn): string {
  if (NUMERIC.has(c.type)) return `${c.name} >= 0`;
  if (STRINGS.has(c.type)) return `${c.name} <> ''`;
  return `${c.name} IS NOT NULL OR ${c.name} IS NULL`;
}

function makeTable(i: number, s: TableSeed, rootKey: string | undefined): ModelTable {
  const name = `t${i}`;
  const columns: ModelColumn[] = [{ name: 'id', type: s.keyType, nullable: false }, ...s.columns.map((c, j) => makeColumn(`c${j}`, c))];
  const at = (n: number) => columns[1 + (n % s.columns.length)]!;
  const uniqueCol = s.unique !== null && keyable(at(s.unique)) ? at(s.unique) : undefined;
  const checkCol = s.check !== null ? at(s.check) : undefined;
  const indexCol = s.index && keyable(at(s.index.column)) ? at(s.index.column) : undefined;
  const exprCol = s.expressionIndex ? at(s.expressionIndex.column) : undefined;
  const expression = exprCol && indexExpression(exprCol);
  const foreignKeys: ModelTable['foreignKeys'][number][] = [];
  if (s.parent && rootKey && i > 0) {
    columns.push({ name: 'parent_id', type: keyStorage(rootKey), nullable: true });
    foreignKeys.push({ name: `fk_${name}_parent`, columns: ['parent_id'], references: { table: 't0', columns: ['id'] }, onDelete: s.parent.onDelete, onUpdate: 'no action' });
  }
  return {
    name,
    columns,
    primaryKey: { name: `pk_${name}`, columns: ['id'] },
    uniques: uniqueCol ? [{ name: `uq_${name}_${uniqueCol.name}`, columns: [uniqueCol.name] }] : [],
    checks: checkCol ? [{ name: `ck_${name}_${checkCol.name}`, expression: checkExpression(checkCol) }] : [],
    foreignKeys,
    indexes: [
      ...(indexCol
        ? [{ name: `ix_${name}_${indexCol.name}`, columns: [{ column: indexCol.name, ...(s.index!.descending ? { descending: true } : {}) }], unique: false, ...(s.index!.filtered ? { where: `${indexCol.name} IS NOT NULL` } : {}) }]
        : []),
      ...(expression ? [{ name: `ix_${name}_expr`, columns: [{ expression, ...(s.expressionIndex!.descending ? { descending: true } : {}) }, { column: 'id' }], unique: false }] : []),
    ],
  };
}

/**
 * Routines as the generator writes them: `f0` (a function), `p0` (a procedure), and the trigger `tr0`
 * on a table — on PostgreSQL with its trigger function `trf0` (listed before it). `n` and `events`
 * are what a text edit changes.
 */
export interface RoutineState {
  readonly f0?: { readonly n: number };
  readonly p0?: { readonly n: number };
  readonly tr0?: { readonly table: string; readonly events: 'update' | 'insert, update' };
}

export function routinesOf(r: RoutineState): ModelRoutine[] {
  const out: ModelRoutine[] = [];
  if (r.f0) {
    out.push({
      kind: 'function',
      name: 'f0',
      definition: { postgres: `CREATE FUNCTION {{schema}}.f0() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT ${r.f0.n} $$`, mssql: `CREATE FUNCTION {{schema}}.f0() RETURNS INT AS BEGIN RETURN ${r.f0.n} END` },
    });
  }
  if (r.p0) {
    out.push({
      kind: 'procedure',
      name: 'p0',
      definition: { postgres: `CREATE PROCEDURE {{schema}}.p0() LANGUAGE plpgsql AS $$ BEGIN PERFORM ${r.p0.n}; END $$`, mssql: `CREATE PROCEDURE {{schema}}.p0 AS SELECT ${r.p0.n} AS n` },
    });
  }
  if (r.tr0) {
    const { table, events } = r.tr0;
    out.push(
      { kind: 'function', name: 'trf0', definition: { postgres: 'CREATE FUNCTION {{schema}}.trf0() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$' } },
      {
        kind: 'trigger',
        name: 'tr0',
        table,
        definition: {
          postgres: `CREATE TRIGGER tr0 BEFORE ${events === 'update' ? 'UPDATE' : 'INSERT OR UPDATE'} ON {{schema}}.${table} FOR EACH ROW EXECUTE FUNCTION {{schema}}.trf0()`,
          mssql: `CREATE TRIGGER {{schema}}.tr0 ON {{schema}}.${table} AFTER ${events === 'update' ? 'UPDATE' : 'INSERT, UPDATE'} AS SET NOCOUNT ON`,
        },
      },
    );
  }
  return out;
}

/** The generator's routine state back from a model's routines. */
function routineState(routines: readonly ModelRoutine[]): RoutineState {
  const num = (text: string | undefined) => Number(/(?:SELECT|PERFORM) (\d+)/.exec(text ?? '')?.[1] ?? 0);
  const f0 = routines.find((r) => r.name === 'f0');
  const p0 = routines.find((r) => r.name === 'p0');
  const tr0 = routines.find((r) => r.name === 'tr0');
  return {
    ...(f0 ? { f0: { n: num(f0.definition.postgres) } } : {}),
    ...(p0 ? { p0: { n: num(p0.definition.postgres) } } : {}),
    ...(tr0 ? { tr0: { table: tr0.table!, events: tr0.definition.postgres!.includes('INSERT') ? 'insert, update' : 'update' } } : {}),
  };
}

const routineSeed = fc.record({ f0: fc.boolean(), p0: fc.boolean(), tr0: fc.boolean(), n: fc.nat(9), insert: fc.boolean() });

/** A valid model of 1–3 tables (t1, t2 may reference t0), maybe views, a sequence and routines. */
export const schemaModel: fc.Arbitrary<SchemaModel> = fc
  .tuple(
    fc.array(tableSeed, { minLength: 1, maxLength: 3 }),
    fc.nat(2),
    fc.option(fc.record({ start: fc.integer({ min: 1, max: 1000 }), increment: fc.integer({ min: 1, max: 5 }) }), { nil: null }),
    routineSeed,
  )
  .map(([seeds, viewCount, seq, r]) => {
    const tables = seeds.map((s, i) => makeTable(i, s, seeds[0]!.keyType));
    // v0 over t0, and v1 over v0.
    const views = [...(viewCount > 0 ? [viewOf(tables[0]!, 'v0')] : []), ...(viewCount > 1 ? [{ name: 'v1', definition: 'SELECT id FROM {{schema}}.v0 WHERE id > 1' }] : [])];
    const routines = routinesOf({
      ...(r.f0 ? { f0: { n: r.n } } : {}),
      ...(r.p0 ? { p0: { n: r.n } } : {}),
      ...(r.tr0 ? { tr0: { table: tables[r.n % tables.length]!.name, events: r.insert ? 'insert, update' : 'update' } } : {}),
    });
    return validateModel(
      { scope: 'tenant', tables, ...(views.length > 0 ? { views } : {}), ...(seq ? { sequences: [{ name: 'seq0', type: 'bigint', ...seq }] } : {}), ...(routines.length > 0 ? { routines } : {}) },
      'generated model A',
    );
  });

/** A view over a table's key and first column. */
function viewOf(t: ModelTable, name: string, bound = 0): ModelView {
  const col = t.columns[1]!;
  return { name, definition: `SELECT id, ${col.name} FROM {{schema}}.${t.name} WHERE id > ${bound}` };
}

type Edit =
  | { kind: 'add-column'; table: number; seed: ColumnSeed }
  | { kind: 'drop-column'; table: number; column: number }
  | { kind: 'rename-column'; table: number; column: number }
  | { kind: 'retype'; table: number; column: number; to: string }
  | { kind: 'nullability'; table: number; column: number }
  | { kind: 'default'; table: number; column: number; pick: number }
  | { kind: 'toggle-index'; table: number; column: number; descending: boolean; filtered: boolean }
  | { kind: 'toggle-check'; table: number; column: number }
  | { kind: 'toggle-unique'; table: number; column: number }
  | { kind: 'rename-index'; table: number }
  | { kind: 'rename-table'; table: number }
  | { kind: 'drop-table'; table: number }
  | { kind: 'add-table'; seed: TableSeed }
  | { kind: 'toggle-view'; table: number }
  | { kind: 'view-text'; view: number; bound: number }
  | { kind: 'routine'; which: 'f0' | 'p0' | 'tr0'; change: 'toggle' | 'text'; table: number; n: number }
  | { kind: 'sequence'; increment: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('add-column' as const), table: fc.nat(2), seed: columnSeed }),
  fc.record({ kind: fc.constant('drop-column' as const), table: fc.nat(2), column: fc.nat(4) }),
  fc.record({ kind: fc.constant('rename-column' as const), table: fc.nat(2), column: fc.nat(4) }),
  fc.record({ kind: fc.constant('retype' as const), table: fc.nat(2), column: fc.nat(4), to: fc.constantFrom(...TYPES) }),
  fc.record({ kind: fc.constant('nullability' as const), table: fc.nat(2), column: fc.nat(4) }),
  fc.record({ kind: fc.constant('default' as const), table: fc.nat(2), column: fc.nat(4), pick: fc.nat(1000) }),
  fc.record({ kind: fc.constant('toggle-index' as const), table: fc.nat(2), column: fc.nat(4), descending: fc.boolean(), filtered: fc.boolean() }),
  fc.record({ kind: fc.constant('toggle-check' as const), table: fc.nat(2), column: fc.nat(4) }),
  fc.record({ kind: fc.constant('toggle-unique' as const), table: fc.nat(2), column: fc.nat(4) }),
  fc.record({ kind: fc.constant('rename-index' as const), table: fc.nat(2) }),
  fc.record({ kind: fc.constant('rename-table' as const), table: fc.nat(2) }),
  fc.record({ kind: fc.constant('drop-table' as const), table: fc.nat(2) }),
  fc.record({ kind: fc.constant('add-table' as const), seed: tableSeed }),
  fc.record({ kind: fc.constant('toggle-view' as const), table: fc.nat(2) }),
  fc.record({ kind: fc.constant('view-text' as const), view: fc.nat(2), bound: fc.integer({ min: 2, max: 9 }) }),
  fc.record({ kind: fc.constant('routine' as const), which: fc.constantFrom('f0' as const, 'p0' as const, 'tr0' as const), change: fc.constantFrom('toggle' as const, 'text' as const), table: fc.nat(2), n: fc.nat(9) }),
  fc.record({ kind: fc.constant('sequence' as const), increment: fc.integer({ min: 1, max: 9 }) }),
);

/** Types a column may change to and back in place on both dialects (conversions both accept). */
function convertible(from: string, to: string): boolean {
  if (from === to) return false;
  const groups = [
    ['int', 'bigint', 'smallint', 'decimal(10,2)', 'decimal(12,0)', 'real', 'float'],
    ['nvarchar(20)', 'nvarchar(50)', 'varchar(30)', 'nchar(5)', 'text'],
    ['datetime2', 'datetime2(3)', 'datetimeoffset'],
  ];
  return groups.some((g) => g.includes(from) && g.includes(to));
}

/** What an engine cannot do, left out of the edits. */
export interface EditLimits {
  /**
   * Babelfish cannot drop a default constraint: no edit adds or removes an existing column's default
   * (the down file would remove an added one), changes nullability or drops a NOT NULL column (both
   * rebuild a column NOT NULL there, leaving its temporary default).
   */
  readonly keepDefaults?: boolean;
}

/** Apply `edits` to a copy of `a` where each applies (an edit that does not fit is skipped). */
function applyEdits(a: SchemaModel, edits: readonly Edit[], limits: EditLimits = {}): SchemaModel {
  let serial = 0; // fresh names, the same for the same edits
  const tables: ModelTable[] = a.tables.map((t) => structuredClone(t) as ModelTable);
  let views = [...(a.views ?? [])];
  let sequences = [...(a.sequences ?? [])];
  let routines: { -readonly [K in keyof RoutineState]: RoutineState[K] } = routineState(a.routines ?? []);
  const inView = (t: ModelTable, c?: string) => views.some((v) => typeof v.definition === 'string' && v.definition.includes(`{{schema}}.${t.name} `) && (c === undefined || v.definition.includes(` ${c} `) || v.definition.includes(` ${c},`) || v.definition.includes(`, ${c} `)));
  const mutable = (t: ModelTable) => t as { -readonly [K in keyof ModelTable]: ModelTable[K] };
  const used = (t: ModelTable, c: string) =>
    inView(t, c) ||
    c === 'id' || c === 'parent_id' || t.uniques.some((u) => u.columns.includes(c)) || t.indexes.some((i) => i.columns.some((k) => k.column === c || (typeof k.expression === 'string' && k.expression.includes(`(${c})`)))) || t.checks.some((k) => k.name.endsWith(`_${c}`));
  const referenced = (name: string) => tables.some((t) => t.name !== name && t.foreignKeys.some((f) => f.references.table === name));
  for (const e of edits) {
    if (e.kind === 'sequence') {
      sequences = sequences.map((q) => ({ ...q, increment: e.increment }));
      continue;
    }
    if (e.kind === 'view-text') {
      const v = views[e.view % Math.max(views.length, 1)];
      const def = v?.definition;
      if (v && typeof def === 'string') views = views.map((x) => (x === v ? { ...v, definition: def.replace(/WHERE id > \d+$/, `WHERE id > ${e.bound}`) } : x));
      continue;
    }
    if (e.kind === 'routine') {
      const present = routines[e.which] !== undefined;
      if (e.change === 'toggle' && present) {
        const { [e.which]: _gone, ...rest } = routines;
        routines = rest;
      } else if (e.which === 'tr0') {
        const t = tables[e.table % tables.length]!;
        if (!present) routines = { ...routines, tr0: { table: t.name, events: 'update' } };
        else if (e.change === 'text') routines = { ...routines, tr0: { ...routines.tr0!, events: routines.tr0!.events === 'update' ? 'insert, update' : 'update' } };
      } else if (!present || e.change === 'text') routines = { ...routines, [e.which]: { n: present && routines[e.which]!.n === e.n ? (e.n + 1) % 10 : e.n } };
      continue;
    }
    if (e.kind === 'toggle-view') {
      const t = tables[e.table % tables.length]!;
      const name = `v_${t.name}`;
      if (views.some((v) => v.name === name)) views = views.filter((v) => v.name !== name);
      else if (!t.renamedFrom && t.columns[1] && !t.columns[1].renamedFrom) views.push(viewOf(t, name));
      continue;
    }
    if (e.kind === 'add-table') {
      const i = 3 + (serial++ % 1000);
      if (tables.some((t) => t.name === `t${i}`)) continue;
      tables.push(makeTable(i, { ...e.seed, parent: null }, undefined));
      continue;
    }
    const t = tables[e.table % Math.max(tables.length, 1)];
    if (!t) continue;
    const m = mutable(t);
    const plain = t.columns.filter((c) => c.name !== 'id' && c.name !== 'parent_id' && !c.renamedFrom);
    const col = plain.length > 0 ? plain[('column' in e ? e.column : 0) % plain.length] : undefined;
    const replace = (c: ModelColumn, next: ModelColumn) => (m.columns = t.columns.map((x) => (x === c ? next : x)));
    switch (e.kind) {
      case 'add-column': {
        const name = `n${serial++ % 1000}`;
        // Added to a table that may hold rows: nullable or with a default.
        const c = makeColumn(name, { ...e.seed, withDefault: true });
        m.columns = [...t.columns, c.default ? c : { ...c, nullable: true }];
        break;
      }
      case 'drop-column':
        // Babelfish: the down file adds a NOT NULL column back by a rebuild whose temporary default stays.
        if (limits.keepDefaults && col && !col.nullable) break;
        if (col && !used(t, col.name) && t.columns.length > 2) m.columns = t.columns.filter((c) => c !== col);
        break;
      case 'rename-column':
        if (col && !used(t, col.name)) replace(col, { ...col, name: `r${serial++ % 1000}`, renamedFrom: col.name });
        break;
      case 'retype':
        if (col && !used(t, col.name) && convertible(col.type, e.to) && !(limits.keepDefaults && col.default)) {
          const d = col.default ? defaultFor(e.to, 1) : undefined;
          const { default: _d, ...rest } = col;
          replace(col, { ...rest, type: e.to, ...(d ? { default: d } : {}) });
        }
        break;
      case 'nullability':
        // Babelfish changes nullability by a column rebuild whose temporary default stays.
        if (limits.keepDefaults) break;
        if (col && !used(t, col.name)) replace(col, { ...col, nullable: !col.nullable });
        break;
      case 'default':
        if (col) {
          const d = defaultFor(col.type, e.pick);
          const { default: _d, ...rest } = col;
          // Babelfish: a default may change its value, but neither appear nor go (the down file would drop it).
          if (limits.keepDefaults) {
            if (col.default && d && JSON.stringify(d) !== JSON.stringify(col.default)) replace(col, { ...rest, default: d });
            break;
          }
          replace(col, d && !col.default ? { ...rest, default: d } : rest);
        }
        break;
      case 'toggle-index': {
        if (t.renamedFrom) break;
        const existing = t.indexes[0];
        if (existing && !existing.renamedFrom) m.indexes = [];
        else if (!existing && col && keyable(col)) {
          m.indexes = [{ name: `ix_${t.name}_${col.name}`, columns: [{ column: col.name, ...(e.descending ? { descending: true } : {}) }], unique: false, ...(e.filtered ? { where: `${col.name} IS NOT NULL` } : {}) }];
        }
        break;
      }
      case 'toggle-check':
        if (t.renamedFrom) break;
        if (t.checks.length > 0) m.checks = [];
        else if (col) m.checks = [{ name: `ck_${t.name}_${col.name}`, expression: checkExpression(col) }];
        break;
      case 'toggle-unique':
        if (t.renamedFrom) break;
        if (t.uniques.length > 0) m.uniques = [];
        else if (col && keyable(col)) m.uniques = [{ name: `uq_${t.name}_${col.name}`, columns: [col.name] }];
        break;
      case 'rename-index': {
        const i = t.indexes[0];
        if (i && !i.renamedFrom) m.indexes = [{ ...i, name: `${i.name}_r`, renamedFrom: i.name }];
        break;
      }
      case 'rename-table':
        if (!t.renamedFrom && !inView(t) && !referenced(t.name) && t.foreignKeys.length === 0 && !/_r$/.test(t.name)) {
          const name = `${t.name}_r`;
          // Constraint and index names follow the table only where they are renamed too: keep them.
          m.renamedFrom = t.name;
          m.name = name;
          // A trigger on it follows it (its text names the table: dropped and created again).
          const trigger = routines.tr0;
          if (trigger && trigger.table === t.renamedFrom) routines = { ...routines, tr0: { ...trigger, table: name } };
        }
        break;
      case 'drop-table':
        if (!referenced(t.name) && !inView(t) && tables.length > 1) {
          tables.splice(tables.indexOf(t), 1);
          // Its trigger goes with it.
          if (routines.tr0?.table === t.name) {
            const { tr0: _gone, ...rest } = routines;
            routines = rest;
          }
        }
        break;
    }
  }
  const routineList = routinesOf(routines);
  return validateModel(
    { scope: 'tenant', tables, ...(views.length > 0 ? { views } : {}), ...(sequences.length > 0 ? { sequences } : {}), ...(routineList.length > 0 ? { routines: routineList } : {}) },
    'generated model B',
  );
}

/** A model and a second one made from it by 1–6 random edits. */
export const schemaPair = (limits: EditLimits = {}): fc.Arbitrary<{ readonly a: SchemaModel; readonly b: SchemaModel }> =>
  fc.tuple(schemaModel, fc.array(edit, { minLength: 1, maxLength: 6 })).map(([a, edits]) => ({ a, b: applyEdits(a, edits, limits) }));
