/**
 * The typed changes between two schema models (snapshot → model): what `diff` renders into a
 * migration. Pure data; see schema-diff.ts for how they are found and render-migration.ts for SQL.
 */
import { autoNumber, identityAlways } from '../schema-model/logical-types.js';
import type { ModelCheck, ModelColumn, ModelForeignKey, ModelIndex, ModelKey, ModelRoutine, ModelSequence, ModelTable, ModelView } from '../schema-model/model-types.js';

/** Destructive or data-dependent change kinds, allowed only by name (`--allow drop-column,…`). */
export const ALLOW_KINDS = ['drop-table', 'drop-column', 'drop-index', 'drop-sequence', 'narrow-type', 'not-null', 'identity'] as const;
export type AllowKind = (typeof ALLOW_KINDS)[number];

export type ModelConstraint =
  | { readonly type: 'primary key'; readonly key: ModelKey }
  | { readonly type: 'unique'; readonly key: ModelKey }
  | { readonly type: 'check'; readonly check: ModelCheck }
  | { readonly type: 'foreign key'; readonly fk: ModelForeignKey };

export const constraintName = (c: ModelConstraint): string =>
  c.type === 'check' ? c.check.name : c.type === 'foreign key' ? c.fk.name : c.key.name;

/** `mssql`: only SQL Server needs it (dependents dropped and re-created around ALTER COLUMN). */
export type Only = { readonly only?: 'mssql' };

/** What a `rename-object` change renames. */
export type RenamedObjectType = 'primary key' | 'unique' | 'check' | 'foreign key' | 'index';

export type SchemaChange =
  | {
      readonly kind: 'rename-table';
      readonly from: string;
      readonly to: string;
      /**
       * The table's indexes before this migration: Babelfish stores an index under a name made with
       * its table's name, keeps it through a rename and then looks it up under the new table's name —
       * so there they are dropped before the rename and created again after it.
       */
      readonly indexes?: readonly ModelIndex[];
    }
  | {
      readonly kind: 'rename-object';
      readonly table: string;
      readonly object: RenamedObjectType;
      readonly from: string;
      readonly to: string;
      /**
       * The object as it is before this migration, under its new name, and the foreign keys that
       * reference it (a key): Babelfish cannot rename constraints or indexes, so there it is
       * dropped and created again under the new name.
       */
      readonly definition: ModelConstraint | ModelIndex;
      readonly referencedBy: readonly { readonly table: string; readonly fk: ModelForeignKey }[];
    }
  | { readonly kind: 'rename-column'; readonly table: string; readonly from: string; readonly to: string }
  | { readonly kind: 'create-table'; readonly table: ModelTable }
  | { readonly kind: 'drop-table'; readonly table: ModelTable }
  | { readonly kind: 'add-column'; readonly table: string; readonly column: ModelColumn }
  | { readonly kind: 'drop-column'; readonly table: string; readonly column: ModelColumn }
  | {
      readonly kind: 'alter-column';
      readonly table: string;
      readonly from: ModelColumn;
      readonly to: ModelColumn;
      readonly typeChanged: boolean;
      readonly nullabilityChanged: boolean;
      readonly defaultChanged: boolean;
      /** IDENTITY added or removed (`identity` ↔ `bigint`; a type change besides is in typeChanged). */
      readonly identityChanged: boolean;
      /** PostgreSQL: GENERATED ALWAYS ↔ BY DEFAULT on an identity (nothing to do on SQL Server). */
      readonly generationChanged?: boolean;
    }
  /**
   * SQL Server cannot add IDENTITY to an existing column: the table is rebuilt (a copy with the
   * target columns filled under IDENTITY_INSERT, the old table dropped, the copy renamed — what
   * SSMS's change script does). Its constraints and indexes, and foreign keys referencing it, are
   * dropped before and re-created after (SQL Server-only drops/adds). PostgreSQL adds the identity in place.
   */
  | { readonly kind: 'rebuild-table'; readonly table: ModelTable; readonly column: string; readonly only: 'mssql' }
  | ({ readonly kind: 'drop-constraint'; readonly table: string; readonly constraint: ModelConstraint } & Only)
  | ({ readonly kind: 'add-constraint'; readonly table: string; readonly constraint: ModelConstraint } & Only)
  | ({ readonly kind: 'drop-index'; readonly table: string; readonly index: ModelIndex } & Only)
  | ({ readonly kind: 'create-index'; readonly table: string; readonly index: ModelIndex } & Only)
  | { readonly kind: 'create-view'; readonly view: ModelView }
  /** `position`: the view's place in the snapshot's list (dropped last-created first). */
  | { readonly kind: 'drop-view'; readonly view: ModelView; readonly position: number }
  /**
   * A view whose definition changed, or that reads a table or view this migration changes:
   * PostgreSQL drops it first and creates it last (CREATE OR REPLACE cannot change its columns);
   * SQL Server alters it last (CREATE OR ALTER VIEW).
   */
  | { readonly kind: 'replace-view'; readonly from: ModelView; readonly to: ModelView; readonly reason: 'changed' | 'reads a changed object'; readonly position: number }
  | { readonly kind: 'create-sequence'; readonly sequence: ModelSequence }
  | { readonly kind: 'drop-sequence'; readonly sequence: ModelSequence }
  | { readonly kind: 'alter-sequence'; readonly from: ModelSequence; readonly to: ModelSequence }
  | { readonly kind: 'create-routine'; readonly routine: ModelRoutine }
  /** `position`: its place in the snapshot's list (dropped last-created first). */
  | { readonly kind: 'drop-routine'; readonly routine: ModelRoutine; readonly position: number }
  /**
   * Its text changed: CREATE OR ALTER (SQL Server) / CREATE OR REPLACE (PostgreSQL); Babelfish, which
   * has neither ALTER FUNCTION nor ALTER TRIGGER, drops it first and creates it last.
   */
  | { readonly kind: 'replace-routine'; readonly from: ModelRoutine; readonly to: ModelRoutine; readonly position: number }
  /**
   * A trigger left as it is on a table whose column this migration drops (also a column rebuilt):
   * Babelfish drops a table's triggers with any of its columns, so there it is created again if missing.
   */
  | { readonly kind: 'restore-trigger'; readonly routine: ModelRoutine; readonly only: 'mssql' };

/** A change that needs `--allow <kind>`, in words. */
export interface Destructive {
  readonly allow: AllowKind;
  readonly what: string;
}

export interface SchemaDiff {
  readonly changes: readonly SchemaChange[];
  /** Destructive changes found (allowed or not). */
  readonly destructive: readonly Destructive[];
  /** Those not allowed: `diff` refuses while any remain. */
  readonly refused: readonly Destructive[];
}

/** One change in words, for the migration header and the CLI. */
export function describeChange(c: SchemaChange): string {
  switch (c.kind) {
    case 'rename-table':
      return `rename table ${c.from} → ${c.to}`;
    case 'rename-column':
      return `rename column ${c.table}.${c.from} → ${c.to}`;
    case 'rename-object':
      return `rename ${c.object} ${c.from} → ${c.to} on ${c.table}`;
    case 'create-table':
      return `create table ${c.table.name}`;
    case 'drop-table':
      return `drop table ${c.table.name}`;
    case 'add-column':
      return c.column.computed
        ? `add computed column ${c.table}.${c.column.name} ${c.column.type}${c.column.computed.persisted ? ' PERSISTED' : ''}`
        : `add column ${c.table}.${c.column.name} ${c.column.type}${c.column.nullable ? ' NULL' : ' NOT NULL'}`;
    case 'drop-column':
      return `drop column ${c.table}.${c.column.name}`;
    case 'alter-column': {
      const parts = [
        ...(c.typeChanged ? [`type ${c.from.type} → ${c.to.type}`] : []),
        ...(c.nullabilityChanged ? [c.to.nullable ? 'NULL' : 'NOT NULL'] : []),
        ...(c.defaultChanged ? [c.to.default ? 'default changed' : 'default dropped'] : []),
        ...(c.identityChanged ? [autoNumber(c.to.type) === 'identity' ? 'IDENTITY added' : 'IDENTITY removed'] : []),
        ...(c.generationChanged ? [identityAlways(c.to.type) ? 'GENERATED ALWAYS' : 'GENERATED BY DEFAULT'] : []),
      ];
      return `alter column ${c.table}.${c.to.name}: ${parts.join(', ')}`;
    }
    case 'rebuild-table':
      return `rebuild table ${c.table.name} to add IDENTITY to ${c.column} (SQL Server only)`;
    case 'drop-constraint':
    case 'add-constraint':
      return `${c.kind === 'drop-constraint' ? 'drop' : 'add'} ${c.constraint.type} ${constraintName(c.constraint)} on ${c.table}${c.only ? ' (SQL Server only)' : ''}`;
    case 'drop-index':
    case 'create-index':
      return `${c.kind === 'drop-index' ? 'drop' : 'create'} index ${c.index.name} on ${c.table}${c.only ? ' (SQL Server only)' : ''}`;
    case 'create-view':
      return `create view ${c.view.name}`;
    case 'drop-view':
      return `drop view ${c.view.name}`;
    case 'replace-view':
      return c.reason === 'changed' ? `change view ${c.to.name}` : `re-create view ${c.to.name} (it reads a changed table or view)`;
    case 'create-sequence':
      return `create sequence ${c.sequence.name}`;
    case 'drop-sequence':
      return `drop sequence ${c.sequence.name}`;
    case 'alter-sequence':
      return `alter sequence ${c.to.name}: increment ${c.from.increment} → ${c.to.increment}`;
    case 'create-routine':
      return `create ${c.routine.kind} ${c.routine.name}`;
    case 'drop-routine':
      return `drop ${c.routine.kind} ${c.routine.name}`;
    case 'replace-routine':
      return `replace ${c.to.kind} ${c.to.name} (its text changed)`;
    case 'restore-trigger':
      return `create trigger ${c.routine.name} again where a column drop took it (Babelfish)`;
  }
}
