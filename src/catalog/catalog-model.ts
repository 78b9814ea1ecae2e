/**
 * The catalog model: a normalized, dialect-neutral description of one schema (DESIGN.md, "The
 * declarative half"). Each dialect maps its own catalog into it (src/dialect/<name>/*-catalog.ts);
 * fingerprints and diffs work on the model alone.
 *
 * Names are schema-relative: the schema's own name never appears — a reference into the same
 * schema uses {@link SELF_SCHEMA}, and expressions have the schema name replaced by it.
 */
import type { DialectFamily } from '../dialect/dialect-syntax.js';

/** Placeholder for the schema's own name in references and expressions. */
export const SELF_SCHEMA = '$schema';

/**
 * A logical type in the template helpers' vocabulary: `uuid`, `nvarchar(128)`, `nvarchar(max)`,
 * `varchar(64)`, `text`, `datetime2`, `datetime2(3)`, `bit`, `int`, `bigint`, `decimal(10,2)`, `json`,
 * `varbinary(16)`, `varbinary(max)`, `identity` (bigint identity). What a dialect cannot map stays
 * dialect-raw, prefixed with the family: `postgres:smallint`, `mssql:datetimeoffset(7)`.
 */
export type LogicalType = string;

export interface CatalogColumn {
  readonly name: string;
  readonly type: LogicalType;
  readonly nullable: boolean;
  /** Normalized default expression (`'active'`, `newid()`, `utcnow()`, `1`, `true`). */
  readonly default?: string;
  /** Computed column (PostgreSQL generated, SQL Server computed): its normalized expression. */
  readonly computed?: string;
  /**
   * SQL Server: the computed column is PERSISTED. Not compared and not part of fingerprints (as
   * before it was read); `pull` writes it back (`{ persisted: true }`).
   */
  readonly persisted?: true;
}

/**
 * Constraints are identified by name when the name was chosen by a person; a system-generated
 * name (`PK__t__3213E83F…`, `t_pkey`) is dropped and the constraint is matched by its definition.
 */
export interface KeyConstraint {
  readonly name?: string;
  /**
   * The name the server gave a constraint created without one (`users_pkey`, `PK__users__3213E83F…`).
   * Not compared (two tenants' generated names may differ); `pull` keeps it so the model names what
   * the database has.
   */
  readonly generatedName?: string;
  readonly columns: readonly string[];
}

export interface CheckConstraint {
  readonly name?: string;
  /** See {@link KeyConstraint.generatedName}. */
  readonly generatedName?: string;
  /** Normalized expression, compared within one dialect family. */
  readonly expression: string;
}

export type ReferentialAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

export interface ForeignKey {
  readonly name?: string;
  /** See {@link KeyConstraint.generatedName}. */
  readonly generatedName?: string;
  readonly columns: readonly string[];
  /** {@link SELF_SCHEMA} for a table of the same schema, else the other schema's name (e.g. master). */
  readonly refSchema: string;
  readonly refTable: string;
  readonly refColumns: readonly string[];
  readonly onDelete: ReferentialAction;
  readonly onUpdate: ReferentialAction;
}

export interface IndexKey {
  /** Column name, or a normalized expression for an expression index. */
  readonly column: string;
  /**
   * True when `column` is an expression (PostgreSQL: the key's `indkey` is 0). Not compared and not
   * part of fingerprints — the text already tells them apart; `pull` writes the key as an expression.
   */
  readonly expression?: true;
  readonly descending?: boolean;
}

export interface CatalogIndex {
  readonly name: string;
  readonly keys: readonly IndexKey[];
  readonly unique: boolean;
  /** Normalized filter (partial index predicate / filtered index WHERE). */
  readonly filter?: string;
  /** Included (non-key) columns. */
  readonly include?: readonly string[];
  /** False for an index a failed `CREATE INDEX CONCURRENTLY` left behind (PostgreSQL `indisvalid`). */
  readonly valid?: boolean;
  /** Access method / index kind when not the dialect's default (btree, clustered/nonclustered). */
  readonly method?: string;
}

export interface CatalogTable {
  readonly name: string;
  readonly columns: readonly CatalogColumn[];
  readonly primaryKey?: KeyConstraint;
  readonly uniques: readonly KeyConstraint[];
  readonly checks: readonly CheckConstraint[];
  readonly foreignKeys: readonly ForeignKey[];
  readonly indexes: readonly CatalogIndex[];
}

/** A view: its definition as the server prints it (PostgreSQL pg_get_viewdef; SQL Server the text as written). */
export interface CatalogView {
  readonly name: string;
  readonly definition: string;
}

/** A sequence of its own (not one a serial or identity column owns). */
export interface CatalogSequence {
  readonly name: string;
  /** Logical type: smallint, int or bigint. */
  readonly type: string;
  readonly start: string;
  readonly increment: string;
}

/** A function, stored procedure or trigger: its definition as the server prints or keeps it. */
export interface CatalogRoutine {
  readonly kind: 'function' | 'procedure' | 'trigger';
  readonly name: string;
  readonly definition: string;
  /** A trigger's table. */
  readonly table?: string;
}

export interface Catalog {
  /** Raw types and expressions are compared only within one family. */
  readonly family: DialectFamily;
  readonly tables: readonly CatalogTable[];
  /** Absent when the schema has none (so fingerprints of schemas without views stay as they were). */
  readonly views?: readonly CatalogView[];
  readonly sequences?: readonly CatalogSequence[];
  readonly routines?: readonly CatalogRoutine[];
}

/** A table as an introspector builds it before canonicalization. */
export interface MutableTable {
  name: string;
  columns: CatalogColumn[];
  primaryKey?: KeyConstraint;
  uniques: KeyConstraint[];
  checks: CheckConstraint[];
  foreignKeys: ForeignKey[];
  indexes: CatalogIndex[];
}

export function emptyTable(name: string): MutableTable {
  return { name, columns: [], uniques: [], checks: [], foreignKeys: [], indexes: [] };
}

/**
 * Tables of many schemas, grouped per schema as a set-based reader meets their rows (every dialect's
 * introspection fills the same shape): `table(schema, name)` returns the table, created on first use.
 */
export function collectTables(schemas: readonly string[]): {
  readonly tables: Map<string, Map<string, MutableTable>>;
  readonly table: (schema: string, name: string) => MutableTable;
} {
  const tables = new Map<string, Map<string, MutableTable>>(schemas.map((s) => [s, new Map()]));
  const table = (schema: string, name: string): MutableTable => {
    let bySchema = tables.get(schema);
    if (!bySchema) tables.set(schema, (bySchema = new Map()));
    let t = bySchema.get(name);
    if (!t) bySchema.set(name, (t = emptyTable(name)));
    return t;
  };
  return { tables, table };
}
