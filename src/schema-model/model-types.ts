/**
 * The schema model: the desired state of the tenant (or master) schema as plain data, in the
 * template helpers' logical types (DESIGN.md, "The declarative half"). Written with the typed
 * builders of model-builders.ts, validated by validate-model.ts, stored as the snapshot.
 *
 * Every constraint and index has an explicit name: SQL Server and PostgreSQL generate different
 * names, and a migration can only drop or re-create what it can name.
 */
import type { ReferentialAction } from '../catalog/catalog-model.js';

export type ModelScope = 'tenant' | 'master';

/** SQL text the same on both dialects, or one text per dialect family. */
export type DialectText = string | { readonly mssql: string; readonly postgres: string };

/**
 * A column default: the portable current UTC time / new GUID (the `{{utcnow}}` / `{{newid}}`
 * helpers), a literal, or SQL text.
 */
export type ModelDefault =
  | { readonly kind: 'utcnow' }
  | { readonly kind: 'newid' }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'sql'; readonly sql: DialectText };

export interface ModelColumn {
  readonly name: string;
  /**
   * Logical type, the catalog's vocabulary: `uuid`, `nvarchar(128)`, `nvarchar(max)`, `varchar(64)`,
   * `text`, `datetime2`, `datetime2(3)`, `bit`, `int`, `bigint`, `decimal(18,2)`, `json`,
   * `varbinary(16)`, `varbinary(max)`, `identity`; or a dialect-raw type `mssql:…` / `postgres:…`
   * (renders only on its own dialect).
   */
  readonly type: string;
  readonly nullable: boolean;
  readonly default?: ModelDefault;
  /** SQL Server default-constraint name; default `df_<table>_<column>`. */
  readonly defaultName?: string;
  /** The column's previous name: `diff` renames instead of drop + add. Never guessed. */
  readonly renamedFrom?: string;
  /**
   * A computed column: SQL Server `name AS (expression) [PERSISTED]` (the type is inferred from
   * the expression), PostgreSQL `name <type> GENERATED ALWAYS AS (expression) STORED` (always
   * stored). Nullable (the expression decides), no default. A change is a drop and an add.
   */
  readonly computed?: ModelComputed;
}

export interface ModelComputed {
  readonly expression: DialectText;
  /** SQL Server PERSISTED (PostgreSQL's generated columns are always stored). */
  readonly persisted?: boolean;
}

/** `renamedFrom` on a named constraint or index: its previous name, so `diff` renames it (never guessed). */
export interface Renamable {
  readonly renamedFrom?: string;
}

/**
 * `generated: true` on a key, check or foreign key: the database named it (it was created without a
 * name; `pull` records the name it has, e.g. `users_pkey`). PostgreSQL's generated names are
 * deterministic, so the name is used as written; SQL Server's differ per schema (`PK__users__3213E83F…`),
 * so there it is created without a name and found by its definition when it is dropped.
 */
export interface ServerNamed {
  readonly generated?: boolean;
}

export interface ModelKey extends Renamable, ServerNamed {
  readonly name: string;
  readonly columns: readonly string[];
}

export interface ModelCheck extends Renamable, ServerNamed {
  readonly name: string;
  /** The condition, without the outer `CHECK (…)`. */
  readonly expression: DialectText;
}

export interface ModelForeignKey extends Renamable, ServerNamed {
  readonly name: string;
  readonly columns: readonly string[];
  /** A table of the same schema, or (`schema: 'master'`) of the master schema. */
  readonly references: { readonly table: string; readonly columns: readonly string[]; readonly schema?: 'master' };
  readonly onDelete: ReferentialAction;
  readonly onUpdate: ReferentialAction;
}

/**
 * An index key's expression (PostgreSQL's expression index, `lower(email)`): one text, or
 * `{ postgres }`. SQL Server has no expression indexes — it indexes a computed column instead — so
 * an index with an expression key exists on PostgreSQL only.
 */
export type IndexExpression = string | { readonly postgres: string };

/** An index key: a column, or (PostgreSQL) an expression. */
export type ModelIndexKey =
  | { readonly column: string; readonly expression?: never; readonly descending?: boolean }
  | { readonly expression: IndexExpression; readonly column?: never; readonly descending?: boolean };

/** The PostgreSQL text of an index key's expression. */
export const indexExpressionText = (e: IndexExpression): string => (typeof e === 'string' ? e : e.postgres);

/** An index with an expression key: created on PostgreSQL only (SQL Server indexes computed columns instead). */
export const isPostgresOnlyIndex = (i: { readonly columns: readonly ModelIndexKey[] }): boolean => i.columns.some((k) => k.expression !== undefined);

export interface ModelIndex extends Renamable {
  readonly name: string;
  readonly columns: readonly ModelIndexKey[];
  readonly unique: boolean;
  /** Filtered (SQL Server) / partial (PostgreSQL) index condition. */
  readonly where?: DialectText;
  /** Included (non-key) columns. */
  readonly include?: readonly string[];
}

export interface ModelTable {
  readonly name: string;
  /** The table's previous name: `diff` renames instead of drop + create. Never guessed. */
  readonly renamedFrom?: string;
  /** In creation order (the order of CREATE TABLE). */
  readonly columns: readonly ModelColumn[];
  readonly primaryKey?: ModelKey;
  readonly uniques: readonly ModelKey[];
  readonly checks: readonly ModelCheck[];
  readonly foreignKeys: readonly ModelForeignKey[];
  readonly indexes: readonly ModelIndex[];
}

/**
 * A view: its SELECT, one text or `{ mssql, postgres }`. Tables of the schema are named
 * `{{schema}}.table` (the schema's quoted name on each tenant). Views are created after the tables
 * and the views listed before them, and dropped before what they read.
 */
export interface ModelView {
  readonly name: string;
  readonly definition: DialectText;
}

/** A sequence of its own: `CREATE SEQUENCE … AS type START WITH start INCREMENT BY increment` on both dialects. */
export interface ModelSequence {
  readonly name: string;
  readonly type: 'smallint' | 'int' | 'bigint';
  readonly start: number;
  readonly increment: number;
}

/**
 * A function, stored procedure or trigger: its CREATE statement as text, per dialect (a dialect
 * left out has none). `{{schema}}` names the tenant schema. Created in the order listed (after the
 * tables and views), replaced when its text changes (`CREATE OR ALTER` on SQL Server, `CREATE OR
 * REPLACE` on PostgreSQL), dropped before anything else changes.
 */
export interface ModelRoutine {
  readonly kind: 'function' | 'procedure' | 'trigger';
  readonly name: string;
  readonly definition: { readonly mssql?: string; readonly postgres?: string };
  /** A trigger's table (PostgreSQL drops a trigger ON its table). */
  readonly table?: string;
}

export interface SchemaModel {
  readonly scope: ModelScope;
  readonly tables: readonly ModelTable[];
  /** In creation order: a view after the views it reads. */
  readonly views?: readonly ModelView[];
  readonly sequences?: readonly ModelSequence[];
  /** In creation order: a routine after what it uses (a trigger after its function). */
  readonly routines?: readonly ModelRoutine[];
}

/** The default-constraint name of a column. */
export const defaultNameOf = (table: string, column: ModelColumn): string => column.defaultName ?? `df_${table}_${column.name}`;
