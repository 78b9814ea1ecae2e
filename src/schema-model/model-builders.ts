/**
 * Typed builders for schema models. Column names declared in `columns` are the only names the
 * editor offers (and the compiler accepts) in keys, indexes and foreign keys of the same table.
 *
 * @example
 * import { col, defineSchema, sql, table } from 'tenant-migrate';
 * export default defineSchema({
 *   scope: 'tenant',
 *   tables: [
 *     table('automation_jobs', {
 *       columns: {
 *         job_id: col.uuid().default(sql.newid, 'df_automation_jobs_id'),
 *         name: col.nvarchar(200),
 *         priority: col.int().default(0),
 *         next_run_utc: col.datetime2().nullable(),
 *       },
 *       primaryKey: { name: 'pk_automation_jobs', columns: ['job_id'] },
 *       indexes: [{ name: 'ix_automation_jobs_next_run', columns: ['next_run_utc'] }],
 *     }),
 *   ],
 * });
 */
import type { ReferentialAction } from '../catalog/catalog-model.js';
import type { DialectText, IndexExpression, ModelColumn, ModelDefault, ModelIndexKey, ModelRoutine, ModelScope, ModelSequence, ModelTable, ModelView, SchemaModel } from './model-types.js';

/** Portable default expressions: `sql.utcnow` (`{{utcnow}}`), `sql.newid` (`{{newid}}`), `sql.expr('…')`. */
export const sql = {
  utcnow: { kind: 'utcnow' } as ModelDefault,
  newid: { kind: 'newid' } as ModelDefault,
  /** SQL text, the same on both dialects or `{ mssql, postgres }`. */
  expr: (text: DialectText): ModelDefault => ({ kind: 'sql', sql: text }),
};

/** A string, number or boolean literal, or one of {@link sql}'s expressions. */
export type DefaultInput = string | number | boolean | ModelDefault;

function toDefault(value: DefaultInput): ModelDefault {
  if (typeof value === 'string') return { kind: 'string', value };
  if (typeof value === 'number') return { kind: 'number', value };
  if (typeof value === 'boolean') return { kind: 'bool', value };
  return value;
}

/** A column under construction: NOT NULL unless `.nullable()`. Immutable; each call returns a copy. */
export class ColumnBuilder {
  readonly #def: Omit<ModelColumn, 'name'>;
  constructor(def: Omit<ModelColumn, 'name'>) {
    this.#def = def;
  }
  /** Allow NULL (columns are NOT NULL by default). */
  nullable(): ColumnBuilder {
    return new ColumnBuilder({ ...this.#def, nullable: true });
  }
  /** A default value; `name` is the SQL Server constraint name (default `df_<table>_<column>`). */
  default(value: DefaultInput, name?: string): ColumnBuilder {
    return new ColumnBuilder({ ...this.#def, default: toDefault(value), ...(name ? { defaultName: name } : {}) });
  }
  /**
   * A computed column: SQL Server `AS (expression) [PERSISTED]`, PostgreSQL `GENERATED ALWAYS AS
   * (expression) STORED` with this column's type (SQL Server infers the type from the expression).
   * Nullable, without a default.
   *
   * @example col.decimal(18, 2).computed('price * quantity', { persisted: true })
   */
  computed(expression: DialectText, options: { readonly persisted?: boolean } = {}): ColumnBuilder {
    const { default: _d, defaultName: _n, ...rest } = this.#def;
    return new ColumnBuilder({ ...rest, nullable: true, computed: { expression, ...(options.persisted ? { persisted: true } : {}) } });
  }
  /** The column's previous name, so `diff` renames it (data kept) instead of dropping it. */
  renamedFrom(previousName: string): ColumnBuilder {
    return new ColumnBuilder({ ...this.#def, renamedFrom: previousName });
  }
  /** The plain model column. */
  build(name: string): ModelColumn {
    return { name, ...this.#def };
  }
}

const column = (type: string) => new ColumnBuilder({ type, nullable: false });
type Length = number | 'max';

/** Column types: the template helpers' portable types. */
export const col = {
  /** UNIQUEIDENTIFIER / uuid */
  uuid: () => column('uuid'),
  /** NVARCHAR(n) / varchar(n); `'max'`: NVARCHAR(MAX) / text */
  nvarchar: (length: Length) => column(`nvarchar(${length})`),
  /** VARCHAR(n) / varchar(n) */
  varchar: (length: Length) => column(`varchar(${length})`),
  /** NVARCHAR(MAX) / text */
  text: () => column('text'),
  /** DATETIME2 / timestamp(6); a precision 0–7 */
  datetime2: (precision?: number) => column(precision === undefined ? 'datetime2' : `datetime2(${precision})`),
  /** BIT / boolean */
  bit: () => column('bit'),
  /** INT / integer */
  int: () => column('int'),
  /** BIGINT / bigint */
  bigint: () => column('bigint'),
  /** DECIMAL(p,s) / numeric(p,s) */
  decimal: (precision: number, scale: number) => column(`decimal(${precision},${scale})`),
  /** NVARCHAR(MAX) / jsonb */
  json: () => column('json'),
  /** VARBINARY(n) / bytea */
  varbinary: (length: Length) => column(`varbinary(${length})`),
  /** SMALLINT / smallint */
  smallint: () => column('smallint'),
  /** REAL / real (4-byte floating point) */
  real: () => column('real'),
  /** FLOAT / double precision (8-byte floating point) */
  float: () => column('float'),
  /** DATE / date */
  date: () => column('date'),
  /** TIME / time(6); a precision 0–7 (PostgreSQL keeps at most 6) */
  time: (precision?: number) => column(precision === undefined ? 'time' : `time(${precision})`),
  /** DATETIMEOFFSET / timestamp(6) with time zone; a precision 0–7 (PostgreSQL keeps at most 6) */
  datetimeoffset: (precision?: number) => column(precision === undefined ? 'datetimeoffset' : `datetimeoffset(${precision})`),
  /** CHAR(n) / character(n) */
  char: (length: number) => column(`char(${length})`),
  /** NCHAR(n) / character(n) */
  nchar: (length: number) => column(`nchar(${length})`),
  /**
   * An auto-numbered integer column: `BIGINT IDENTITY(1,1)` / `bigint GENERATED BY DEFAULT AS
   * IDENTITY`; `{ type: 'int' | 'smallint' }` for a smaller one, `{ always: true }` for PostgreSQL's
   * GENERATED ALWAYS (SQL Server's IDENTITY always generates). NOT NULL, no default.
   */
  identity: (options: { readonly type?: 'bigint' | 'int' | 'smallint'; readonly always?: boolean } = {}) =>
    column(`${options.type && options.type !== 'bigint' ? `${options.type} ` : ''}identity${options.always ? ' always' : ''}`),
  /** PostgreSQL serial (a sequence-backed default) / INT IDENTITY(1,1) on SQL Server. NOT NULL, no default. */
  serial: () => column('serial'),
  /** PostgreSQL bigserial / BIGINT IDENTITY(1,1) */
  bigserial: () => column('bigserial'),
  /** PostgreSQL smallserial / SMALLINT IDENTITY(1,1) */
  smallserial: () => column('smallserial'),
  /** A dialect-raw type (`'postgres:smallint'`, `'mssql:datetimeoffset(7)'`): renders only on that dialect. */
  raw: (type: `${'mssql' | 'postgres'}:${string}`) => column(type),
};

type Names<C> = Extract<keyof C, string>;

export interface TableInput<C extends Record<string, ColumnBuilder>> {
  /** Columns in creation order. */
  readonly columns: C;
  readonly renamedFrom?: string;
  /** `renamedFrom` on a key, check, foreign key or index: its previous name (`diff` renames it). */
  /** `generated: true`: the database chose the name (ServerNamed in model-types.ts). */
  readonly primaryKey?: { readonly name: string; readonly columns: readonly Names<C>[]; readonly renamedFrom?: string; readonly generated?: boolean };
  readonly uniques?: readonly { readonly name: string; readonly columns: readonly Names<C>[]; readonly renamedFrom?: string; readonly generated?: boolean }[];
  readonly checks?: readonly { readonly name: string; readonly expression: DialectText; readonly renamedFrom?: string; readonly generated?: boolean }[];
  readonly foreignKeys?: readonly {
    readonly name: string;
    readonly columns: readonly Names<C>[];
    readonly references: { readonly table: string; readonly columns: readonly string[]; readonly schema?: 'master' };
    /** Default `'no action'`. */
    readonly onDelete?: ReferentialAction;
    readonly onUpdate?: ReferentialAction;
    readonly renamedFrom?: string;
    readonly generated?: boolean;
  }[];
  readonly indexes?: readonly {
    readonly name: string;
    /**
     * Key columns; `{ column, descending: true }` for a descending key; `{ expression: 'lower(email)' }`
     * (or `{ expression: { postgres: '…' } }`) for an expression key — PostgreSQL only: an index with
     * one is not created on SQL Server, which indexes a computed column instead.
     */
    readonly columns: readonly (Names<C> | { readonly column: Names<C>; readonly descending?: boolean } | { readonly expression: IndexExpression; readonly descending?: boolean })[];
    readonly unique?: boolean;
    readonly where?: DialectText;
    readonly include?: readonly Names<C>[];
    readonly renamedFrom?: string;
  }[];
}

const renamed = (item: { readonly renamedFrom?: string; readonly generated?: boolean }) => ({
  ...(item.renamedFrom ? { renamedFrom: item.renamedFrom } : {}),
  ...(item.generated ? { generated: true } : {}),
});

/** A table of the model. */
export function table<const C extends Record<string, ColumnBuilder>>(name: string, input: TableInput<C>): ModelTable {
  const columns = Object.entries(input.columns ?? {}).map(([columnName, b]) =>
    b instanceof ColumnBuilder ? b.build(columnName) : ({ name: columnName, ...(b as object) } as ModelColumn),
  );
  return {
    name,
    ...(input.renamedFrom ? { renamedFrom: input.renamedFrom } : {}),
    columns,
    ...(input.primaryKey ? { primaryKey: { name: input.primaryKey.name, columns: [...input.primaryKey.columns], ...renamed(input.primaryKey) } } : {}),
    uniques: (input.uniques ?? []).map((u) => ({ name: u.name, columns: [...u.columns], ...renamed(u) })),
    checks: (input.checks ?? []).map((c) => ({ name: c.name, expression: c.expression, ...renamed(c) })),
    foreignKeys: (input.foreignKeys ?? []).map((f) => ({
      name: f.name,
      columns: [...f.columns],
      references: { ...f.references, columns: [...(f.references?.columns ?? [])] },
      onDelete: f.onDelete ?? 'no action',
      onUpdate: f.onUpdate ?? 'no action',
      ...renamed(f),
    })),
    indexes: (input.indexes ?? []).map((i) => ({
      name: i.name,
      columns: (i.columns ?? []).map((k): ModelIndexKey =>
        typeof k === 'string'
          ? { column: k }
          : 'expression' in k
            ? { expression: k.expression, ...(k.descending ? { descending: true } : {}) }
            : { column: k.column, ...(k.descending ? { descending: true } : {}) },
      ),
      unique: i.unique ?? false,
      ...(i.where !== undefined ? { where: i.where } : {}),
      ...(i.include && i.include.length > 0 ? { include: [...i.include] } : {}),
      ...renamed(i),
    })),
  };
}

/**
 * A view. Name the schema's tables as `{{schema}}.table`.
 *
 * @example view('active_jobs', 'SELECT job_id, name FROM {{schema}}.automation_jobs WHERE status = \'active\'')
 */
export function view(name: string, definition: DialectText): ModelView {
  return { name, definition };
}

/** A sequence: `sequence('invoice_numbers', { start: 1000 })` (bigint, increment 1 by default). */
export function sequence(name: string, options: { readonly type?: 'smallint' | 'int' | 'bigint'; readonly start?: number; readonly increment?: number } = {}): ModelSequence {
  return { name, type: options.type ?? 'bigint', start: options.start ?? 1, increment: options.increment ?? 1 };
}

/**
 * A function, stored procedure or trigger as its CREATE statement per dialect.
 *
 * @example routine('function', 'touch_updated', { postgres: 'CREATE FUNCTION {{schema}}.touch_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_utc := now(); RETURN NEW; END $$' })
 */
export function routine(kind: ModelRoutine['kind'], name: string, definition: ModelRoutine['definition'], options: { readonly table?: string } = {}): ModelRoutine {
  return { kind, name, definition: { ...definition }, ...(options.table ? { table: options.table } : {}) };
}

/** The model of one scope: `export default defineSchema({ scope: 'tenant', tables: [...], views: [...], sequences: [...] })`. */
export function defineSchema(input: {
  readonly scope: ModelScope;
  readonly tables: readonly ModelTable[];
  readonly views?: readonly ModelView[];
  readonly sequences?: readonly ModelSequence[];
  readonly routines?: readonly ModelRoutine[];
}): SchemaModel {
  return {
    scope: input.scope,
    tables: [...input.tables],
    ...(input.views && input.views.length > 0 ? { views: [...input.views] } : {}),
    ...(input.sequences && input.sequences.length > 0 ? { sequences: [...input.sequences] } : {}),
    ...(input.routines && input.routines.length > 0 ? { routines: [...input.routines] } : {}),
  };
}
