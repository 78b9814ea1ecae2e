/**
 * Typed changes → a portable migration template (Handlebars + the template helpers), so one file
 * renders valid T-SQL and PostgreSQL. Statement order: renames; drops (foreign keys, indexes,
 * constraints, columns, tables); creates and column changes; then keys, checks, indexes and
 * foreign keys. Phases are separated by `{{go}}`: SQL Server compiles a batch as a whole, so a
 * statement that uses a column added or renamed earlier must be in a later batch.
 */
import type { ModelColumn, ModelDefault, ModelForeignKey, ModelIndex, ModelRoutine, ModelSequence, ModelTable, ModelView, DialectText } from '../schema-model/model-types.js';
import { defaultNameOf, indexExpressionText, isPostgresOnlyIndex } from '../schema-model/model-types.js';
import { autoNumber, identityAlways, storageType, typeSql } from '../schema-model/logical-types.js';
import { type Destructive, type ModelConstraint, type RenamedObjectType, type SchemaChange, constraintName, describeChange } from './schema-changes.js';

/** Words both dialects (or one of them) reserve: such column names are quoted with `{{ident}}`. */
const RESERVED = new Set(
  'add all alter and any as asc authorization backup begin between by cascade case check column commit constraint create cross current current_date current_time current_timestamp current_user default delete desc distinct drop else end escape except exec execute exists external file fetch for foreign from full function grant group having identity in index inner insert intersect into is join key left like limit merge not null of offset on open option or order outer over percent plan primary procedure public references right role rollback rule schema select session_user set some table then to top tran transaction trigger union unique update user using values view when where while with action'.split(' '),
);

const hbsString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** A column, constraint or index name: bare when safe on both dialects, else `{{ident "…"}}`. */
export function ident(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name) ? name : `{{ident ${hbsString(name)}}}`;
}

const table = (name: string): string => `{{table ${hbsString(name)}}}`;
const refTable = (fk: ModelForeignKey): string => (fk.references.schema === 'master' ? `{{master}}.{{ident ${hbsString(fk.references.table)}}}` : table(fk.references.table));
const list = (names: readonly string[]): string => names.map(ident).join(', ');

/**
 * User SQL inside a template: `{{` would start a Handlebars expression — except `{{schema}}`, the
 * tenant schema's quoted name, which views, defaults and checks use to name the schema's objects.
 */
const escapeHbs = (s: string): string => s.replace(/\{\{(?!schema\}\})/g, '\\{{');

export function dialectText(text: DialectText): string {
  if (typeof text === 'string') return escapeHbs(text);
  if (text.mssql === text.postgres) return escapeHbs(text.mssql);
  return `{{#if isMssql}}${escapeHbs(text.mssql)}{{else}}${escapeHbs(text.postgres)}{{/if}}`;
}

/** A logical type → its helper call (`nvarchar(128)` → `{{nvarchar 128}}`). */
export function typeHelper(type: string): string {
  const raw = /^(mssql|postgres):(.+)$/.exec(type);
  if (raw) {
    const [, family, t] = raw as unknown as [string, string, string];
    const text = family === 'mssql' ? t.toUpperCase() : t;
    const missing = `/* no ${family === 'mssql' ? 'PostgreSQL' : 'SQL Server'} type for ${type} */`;
    return family === 'mssql' ? `{{#if isMssql}}${text}{{else}}${missing}{{/if}}` : `{{#if isMssql}}${missing}{{else}}${text}{{/if}}`;
  }
  // `identity` keeps its helper ({{identity}}): migrations generated before read the same.
  const own = type === 'identity' ? undefined : typeSql(type);
  if (own) return own.mssql === own.postgres ? own.mssql : `{{#if isMssql}}${own.mssql}{{else}}${own.postgres}{{/if}}`;
  const m = /^([a-z0-9]+)(?:\(([^)]*)\))?$/.exec(type);
  if (!m) return type;
  const [, base, args] = m as unknown as [string, string, string | undefined];
  if (!args) return `{{${base}}}`;
  return `{{${base} ${args.split(',').map((a) => (a === 'max' ? '"max"' : a)).join(' ')}}}`;
}

export function defaultSql(d: ModelDefault): string {
  switch (d.kind) {
    case 'utcnow':
      return '{{utcnow}}';
    case 'newid':
      return '{{newid}}';
    case 'string':
      // Plain ASCII literals read the same on both dialects; anything else gets N'…' on SQL Server.
      return /^[\x20-\x7e]*$/.test(d.value) && !d.value.includes('{{') ? `'${d.value.replace(/'/g, "''")}'` : `{{literal ${hbsString(d.value)}}}`;
    case 'number':
      return String(d.value);
    case 'bool':
      return d.value ? '{{true}}' : '{{false}}';
    case 'sql':
      return dialectText(d.sql);
  }
}

/** `name TYPE NULL|NOT NULL [CONSTRAINT df DEFAULT x]` */
/** One dialect's text of a {@link DialectText}. */
const textOf = (text: DialectText, family: 'mssql' | 'postgres'): string => escapeHbs(typeof text === 'string' ? text : text[family]);

function columnDefinition(tableName: string, c: ModelColumn, nullable = c.nullable, withDefault = true): string {
  if (c.computed) {
    const { expression, persisted } = c.computed;
    return `${ident(c.name)} {{#if isMssql}}AS (${textOf(expression, 'mssql')})${persisted ? ' PERSISTED' : ''}{{else}}${typeHelper(c.type)} GENERATED ALWAYS AS (${textOf(expression, 'postgres')}) STORED{{/if}}`;
  }
  const def = c.default && withDefault ? ` CONSTRAINT ${ident(defaultNameOf(tableName, c))} DEFAULT ${defaultSql(c.default)}` : '';
  return `${ident(c.name)} ${typeHelper(c.type)} ${nullable ? 'NULL' : 'NOT NULL'}${def}`;
}

const ACTION_SQL: Record<string, string> = { cascade: 'CASCADE', 'set null': 'SET NULL', 'set default': 'SET DEFAULT', restrict: 'RESTRICT' };
function actions(fk: ModelForeignKey): string {
  const one = (verb: string, a: string) => {
    if (a === 'no action') return '';
    // SQL Server has no RESTRICT; its NO ACTION is checked at once, which is what RESTRICT means.
    if (a === 'restrict') return `{{#if isMssql}}{{else}} ${verb} RESTRICT{{/if}}`;
    return ` ${verb} ${ACTION_SQL[a]}`;
  };
  return `${one('ON DELETE', fk.onDelete)}${one('ON UPDATE', fk.onUpdate)}`;
}

/**
 * `CONSTRAINT name ` before a constraint's definition. A constraint the database named (`generated`)
 * is created without a name on SQL Server, whose generated names differ per schema; PostgreSQL's
 * generated names are deterministic, so there the recorded name is written.
 */
function constraintPrefix(name: string, generated: boolean | undefined): string {
  return generated ? `{{#if isMssql}}{{else}}CONSTRAINT ${ident(name)} {{/if}}` : `CONSTRAINT ${ident(name)} `;
}

const generatedOf = (c: ModelConstraint): boolean | undefined => (c.type === 'check' ? c.check.generated : c.type === 'foreign key' ? c.fk.generated : c.key.generated);

export function constraintDefinition(c: ModelConstraint): string {
  const prefix = constraintPrefix(constraintName(c), generatedOf(c));
  switch (c.type) {
    case 'primary key':
      return `${prefix}PRIMARY KEY (${list(c.key.columns)})`;
    case 'unique':
      return `${prefix}UNIQUE (${list(c.key.columns)})`;
    case 'check':
      return `${prefix}CHECK (${dialectText(c.check.expression)})`;
    case 'foreign key':
      return `${prefix}FOREIGN KEY (${list(c.fk.columns)})\n        REFERENCES ${refTable(c.fk)} (${list(c.fk.references.columns)})${actions(c.fk)}`;
  }
}

const nameList = (names: readonly string[]): string => names.map((n) => `N'${n}'`).join(', ');

/**
 * SQL Server: the WHERE clause that finds a server-named constraint by its definition (its name
 * differs per schema): the primary key by its type; a unique key or foreign key by its recorded name
 * (Babelfish's generated names are PostgreSQL's, the same everywhere) or, system-named, by its
 * columns (and referenced table); a check by its recorded name only.
 */
function generatedLookupMssql(tableName: string, c: ModelConstraint): { from: string; where: string } {
  const tbl = `OBJECT_ID(N'${table(tableName)}')`;
  const name = constraintName(c);
  const sameColumns = (countOf: (filter: string) => string, columns: readonly string[]) =>
    `${countOf(`c.name IN (${nameList(columns)})`)} = ${columns.length} AND ${countOf('1 = 1')} = ${columns.length}`;
  switch (c.type) {
    case 'primary key':
      return { from: 'sys.key_constraints AS k', where: `k.parent_object_id = ${tbl} AND k.type = 'PK'` };
    case 'unique': {
      const count = (filter: string) =>
        `(SELECT COUNT(*) FROM sys.index_columns AS ic JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id WHERE ic.object_id = k.parent_object_id AND ic.index_id = k.unique_index_id AND ic.is_included_column = 0 AND ${filter})`;
      return { from: 'sys.key_constraints AS k', where: `k.parent_object_id = ${tbl} AND k.type = 'UQ' AND (k.name = N'${name}' OR (k.is_system_named = 1 AND ${sameColumns(count, c.key.columns)}))` };
    }
    case 'foreign key': {
      const count = (filter: string) =>
        `(SELECT COUNT(*) FROM sys.foreign_key_columns AS fc JOIN sys.columns AS c ON c.object_id = fc.parent_object_id AND c.column_id = fc.parent_column_id WHERE fc.constraint_object_id = k.object_id AND ${filter})`;
      return {
        from: 'sys.foreign_keys AS k',
        where: `k.parent_object_id = ${tbl} AND (k.name = N'${name}' OR (k.is_system_named = 1 AND k.referenced_object_id = OBJECT_ID(N'${refTable(c.fk)}') AND ${sameColumns(count, c.fk.columns)}))`,
      };
    }
    case 'check':
      return { from: 'sys.check_constraints AS k', where: `k.parent_object_id = ${tbl} AND k.name = N'${name}'` };
  }
}

/** `ALTER TABLE … DROP CONSTRAINT …` — for a server-named one, looked up by definition on SQL Server. */
export function dropConstraintSql(tableName: string, c: ModelConstraint, next: () => number): string {
  const plain = `ALTER TABLE ${table(tableName)} DROP CONSTRAINT ${ident(constraintName(c))};`;
  if (!generatedOf(c)) return plain;
  const v = `@tm_cn_${next()}`;
  const { from, where } = generatedLookupMssql(tableName, c);
  const mssql = [
    `DECLARE ${v} NVARCHAR(400) = (SELECT TOP 1 N'ALTER TABLE ${table(tableName)} DROP CONSTRAINT ' + QUOTENAME(k.name)`,
    `    FROM ${from}`,
    `    WHERE ${where});`,
    `IF ${v} IS NOT NULL EXEC (${v});`,
  ].join('\n');
  return `{{#if isMssql}}\n${mssql}\n{{else}}\n${plain}\n{{/if}}`;
}

/**
 * CREATE INDEX. An expression key is written in parentheses (PostgreSQL needs them around anything
 * but a function call); an index with one is PostgreSQL's only — SQL Server has no expression
 * indexes (it indexes a computed column), so there the statement is left out.
 */
export function createIndexSql(tableName: string, i: ModelIndex): string {
  const keys = i.columns.map((k) => `${k.column !== undefined ? ident(k.column) : `(${escapeHbs(indexExpressionText(k.expression).trim())})`}${k.descending ? ' DESC' : ''}`).join(', ');
  const include = i.include && i.include.length > 0 ? ` INCLUDE (${list(i.include)})` : '';
  const where = i.where !== undefined ? `\n    WHERE ${isPostgresOnlyIndex(i) ? textOf(i.where, 'postgres') : dialectText(i.where)}` : '';
  const sql = `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${ident(i.name)} ON ${table(tableName)} (${keys})${include}${where};`;
  return isPostgresOnlyIndex(i) ? postgresOnly(`-- ${i.name} has an expression key: PostgreSQL only (SQL Server indexes a computed column instead)\n${sql}`) : sql;
}

const dropIndexSql = (tableName: string, i: ModelIndex): string =>
  isPostgresOnlyIndex(i)
    ? postgresOnly(`DROP INDEX {{schema}}.${ident(i.name)};`)
    : `{{#if isMssql}}\nDROP INDEX ${ident(i.name)} ON ${table(tableName)};\n{{else}}\nDROP INDEX {{schema}}.${ident(i.name)};\n{{/if}}`;

/**
 * SQL Server only: drop a column's default constraint whatever its name (system-named ones too).
 * Not on Babelfish, which cannot drop a default by name (babelfish_extensions issue 4316) and has
 * no need to: a new default replaces the old one there, and DROP COLUMN drops it with the column.
 */
function dropDefaultMssql(tableName: string, column: string, n: number): string {
  const v = `@tm_df_${n}`;
  return [
    `DECLARE ${v} NVARCHAR(400) = (SELECT N'ALTER TABLE ${table(tableName)} DROP CONSTRAINT ' + QUOTENAME(dc.name)`,
    `    FROM sys.default_constraints AS dc`,
    `    JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id`,
    `    WHERE dc.parent_object_id = OBJECT_ID(N'${table(tableName)}') AND c.name = N'${column}');`,
    `IF ${v} IS NOT NULL AND SERVERPROPERTY('Babelfish') IS NULL EXEC (${v});`,
  ].join('\n');
}

/**
 * Rename a named constraint or index. SQL Server: `sp_rename` with object type INDEX for an index
 * (`schema.table.index`), OBJECT for a constraint (`schema.constraint`; a key's index is renamed
 * with it). Babelfish supports neither ("renaming object type Index/Constraint" is not supported):
 * there the object is dropped and created again under the new name (with the foreign keys that
 * reference a key). PostgreSQL: ALTER INDEX … RENAME, ALTER TABLE … RENAME CONSTRAINT (a key's index too).
 */
function renameObjectSql(c: Extract<SchemaChange, { kind: 'rename-object' }>): string {
  const { table: tableName, from, to, definition } = c;
  const isIndex = !('type' in definition);
  const rename = isIndex ? `EXEC sp_rename N'${table(tableName)}.[${from}]', N'${to}', N'INDEX';` : `EXEC sp_rename N'{{schema}}.[${from}]', N'${to}', N'OBJECT';`;
  const recreate = [
    ...c.referencedBy.map((r) => `ALTER TABLE ${table(r.table)} DROP CONSTRAINT ${ident(r.fk.name)};`),
    isIndex ? `DROP INDEX ${ident(from)} ON ${table(tableName)};` : `ALTER TABLE ${table(tableName)} DROP CONSTRAINT ${ident(from)};`,
    isIndex ? createIndexSql(tableName, definition) : `ALTER TABLE ${table(tableName)} ADD ${constraintDefinition(definition)};`,
    ...c.referencedBy.map((r) => `ALTER TABLE ${table(r.table)} ADD ${constraintDefinition({ type: 'foreign key', fk: r.fk })};`),
  ];
  const postgres = isIndex ? `ALTER INDEX {{schema}}.${ident(from)} RENAME TO ${ident(to)};` : `ALTER TABLE ${table(tableName)} RENAME CONSTRAINT ${ident(from)} TO ${ident(to)};`;
  if (isIndex && isPostgresOnlyIndex(definition)) return postgresOnly(postgres);
  return `{{#if isMssql}}\nIF SERVERPROPERTY('Babelfish') IS NULL\n    ${rename}\nELSE\nBEGIN\n    -- Babelfish cannot rename it: dropped and created again under the new name\n${recreate.map((l) => l.replace(/^/gm, '    ')).join('\n')}\nEND\n{{else}}\n${postgres}\n{{/if}}`;
}

/**
 * SQL Server: rename a table. `schema.table` unquoted (model and schema names are plain
 * identifiers) and object type OBJECT: Babelfish finds no object under a bracketed name and asks
 * for the object type.
 */
const renameTableMssql = (from: string, to: string): string => `EXEC sp_rename N'{{schemaName}}.${from}', N'${to}', N'OBJECT';`;

const viewName = (name: string): string => `{{schema}}.${ident(name)}`;
const createViewSql = (v: ModelView, verb = 'CREATE'): string => `${verb} VIEW ${viewName(v.name)} AS\n${dialectText(v.definition)};`;
/**
 * SQL Server: CREATE OR ALTER VIEW (keeps its permissions); Babelfish, which has no ALTER VIEW,
 * creates it again (dropped first, with the views that read it). Through EXEC: CREATE VIEW must
 * otherwise be alone in its batch.
 */
function replaceViewMssql(v: ModelView): string {
  const body = (verb: string) => `N'${createViewSql(v, verb).replace(/;$/, '').replace(/'/g, "''")}'`;
  return `IF SERVERPROPERTY('Babelfish') IS NULL\n    EXEC (${body('CREATE OR ALTER')});\nELSE\n    EXEC (${body('CREATE')});`;
}

const sequenceSql = (q: ModelSequence): string => `CREATE SEQUENCE {{schema}}.${ident(q.name)} AS ${typeHelper(q.type)} START WITH ${q.start} INCREMENT BY ${q.increment};`;

/**
 * A routine's CREATE per dialect; `replace`: as CREATE OR ALTER (SQL Server) / CREATE OR REPLACE
 * (PostgreSQL), written over the statement's leading CREATE (a text already saying OR REPLACE stays).
 */
function routineSql(r: ModelRoutine, replace: boolean): string {
  const one = (text: string | undefined, family: 'mssql' | 'postgres') => {
    if (text === undefined) return '';
    const sql = escapeHbs(text.trim());
    if (!replace) return sql;
    if (family === 'postgres') return sql.replace(/^CREATE\s+(?!OR\s)/i, 'CREATE OR REPLACE ');
    // Through EXEC (CREATE … must otherwise be alone in its batch): SQL Server alters it in place;
    // Babelfish, where it was dropped above, creates it.
    const exec = (t: string) => `EXEC (N'${t.replace(/'/g, "''")}');`;
    return `IF SERVERPROPERTY('Babelfish') IS NULL\n    ${exec(sql.replace(/^CREATE\s+(?:OR\s+ALTER\s+)?/i, 'CREATE OR ALTER '))}\nELSE\n    ${exec(sql.replace(/^CREATE\s+OR\s+ALTER\s+/i, 'CREATE '))}`;
  };
  const [mssql, pg] = [one(r.definition.mssql, 'mssql'), one(r.definition.postgres, 'postgres')];
  // PostgreSQL runs the batch as one script: each statement ends with `;` (pg_get_functiondef prints none).
  const postgres = pg === '' || pg.endsWith(';') ? pg : `${pg};`;
  return `{{#if isMssql}}\n${mssql}\n{{else}}\n${postgres}\n{{/if}}`;
}

/** SQL Server: a trigger created again if a column drop took it (Babelfish does; SQL Server never needs it). */
function restoreTriggerMssql(r: ModelRoutine): string {
  const text = escapeHbs(r.definition.mssql!.trim()).replace(/^CREATE\s+OR\s+ALTER\s+/i, 'CREATE ');
  return mssqlOnly(`-- Babelfish drops a table's triggers with any of its columns: ${r.name} is created again if it is gone\nIF OBJECT_ID(N'{{schema}}.${ident(r.name)}', N'TR') IS NULL\n    EXEC (N'${text.replace(/'/g, "''")}');`);
}

function dropRoutineSql(r: ModelRoutine): string {
  const verb = r.kind.toUpperCase();
  const mssql = r.definition.mssql !== undefined ? `DROP ${verb} {{schema}}.${ident(r.name)};` : '';
  const postgres =
    r.definition.postgres === undefined ? '' : r.kind === 'trigger' ? `DROP TRIGGER ${ident(r.name)} ON ${table(r.table ?? '')};` : `DROP ${verb} {{schema}}.${ident(r.name)};`;
  return `{{#if isMssql}}\n${mssql}\n{{else}}\n${postgres}\n{{/if}}`;
}

const mssqlOnly = (sql: string): string => `{{#if isMssql}}\n${sql}\n{{/if}}`;
const postgresOnly = (sql: string): string => `{{#if isPostgres}}\n${sql}\n{{/if}}`;

/** Creation order: a table after the tables its foreign keys reference (cycles broken, those keys added later). */
function creationOrder(tables: readonly ModelTable[]): ModelTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: ModelTable[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: ModelTable) => {
    if (state.get(t.name)) return;
    state.set(t.name, 'visiting');
    for (const f of t.foreignKeys) {
      const target = f.references.schema ? undefined : byName.get(f.references.table);
      if (target && target !== t && state.get(target.name) !== 'visiting') visit(target);
    }
    state.set(t.name, 'done');
    out.push(t);
  };
  for (const t of tables) visit(t);
  return out;
}

export interface RenderOptions {
  /** Title line of the header, e.g. `0003_add_job_priority: generated by tenant-migrate diff`. */
  readonly title: string;
  /** Destructive changes allowed for this migration (marked in the file). */
  readonly destructive: readonly Destructive[];
  /** Extra header lines. */
  readonly notes?: readonly string[];
}

/** The migration template for `changes`. */
export function renderMigration(changes: readonly SchemaChange[], options: RenderOptions): string {
  const renames: string[] = [];
  const drops: string[] = [];
  const creates: string[] = [];
  const after: string[] = [];
  const adds: string[] = [];
  const rebuilds: string[] = [];
  let n = 0;
  const marker = (allow: string, what: string) => `-- tenant-migrate diff: DESTRUCTIVE (${allow}, allowed by --allow ${allow}): ${what}`;

  const fkDrops = changes.filter((c) => c.kind === 'drop-constraint' && c.constraint.type === 'foreign key');
  const otherDrops = changes.filter((c) => (c.kind === 'drop-constraint' && c.constraint.type !== 'foreign key') || c.kind === 'drop-index');
  // Foreign keys go first, then tables (with the foreign keys they hold), then other keys: a key
  // cannot be dropped while a foreign key — of a live or of a dropped table — references it.
  const fkDropSql: string[] = [];
  for (const c of [...fkDrops, ...otherDrops]) {
    if (c.kind === 'drop-constraint') {
      const sql = dropConstraintSql(c.table, c.constraint, () => ++n);
      (c.constraint.type === 'foreign key' ? fkDropSql : drops).push(c.only ? mssqlOnly(sql) : sql);
    } else if (c.kind === 'drop-index') {
      drops.push(c.only ? mssqlOnly(`DROP INDEX ${ident(c.index.name)} ON ${table(c.table)};`) : dropIndexSql(c.table, c.index));
    }
  }
  for (const c of changes) {
    switch (c.kind) {
      case 'rename-table': {
        const indexes = (c.indexes ?? []).filter((i) => !isPostgresOnlyIndex(i));
        // Babelfish keeps an index's stored name (made with the table's name) through the rename and
        // then looks the index up under the new table's name: its indexes are dropped before and created after.
        const mssql =
          indexes.length === 0
            ? renameTableMssql(c.from, c.to)
            : [
                `IF SERVERPROPERTY('Babelfish') IS NULL`,
                `    ${renameTableMssql(c.from, c.to)}`,
                `ELSE`,
                `BEGIN`,
                `    -- Babelfish finds an index by its table's current name: ${c.from}'s indexes are created again under ${c.to}`,
                ...indexes.map((i) => `    DROP INDEX ${ident(i.name)} ON ${table(c.from)};`),
                `    ${renameTableMssql(c.from, c.to)}`,
                ...indexes.map((i) => createIndexSql(c.to, i).replace(/^/gm, '    ')),
                `END`,
              ].join('\n');
        renames.push(`{{#if isMssql}}\n${mssql}\n{{else}}\nALTER TABLE ${table(c.from)} RENAME TO ${ident(c.to)};\n{{/if}}`);
        break;
      }
      case 'rename-object':
        renames.push(renameObjectSql(c));
        break;
      case 'rename-column':
        renames.push(
          `{{#if isMssql}}\nEXEC sp_rename N'${table(c.table)}.[${c.from}]', N'${c.to}', N'COLUMN';\n{{else}}\nALTER TABLE ${table(c.table)} RENAME COLUMN ${ident(c.from)} TO ${ident(c.to)};\n{{/if}}`,
        );
        break;
      case 'drop-column':
        drops.push(
          `${c.column.computed ? `-- ${c.table}.${c.column.name} is computed: dropped and added again, no data lost` : marker('drop-column', `${c.table}.${c.column.name} and its data`)}\n${c.column.default ? `${mssqlOnly(dropDefaultMssql(c.table, c.column.name, ++n))}\n` : ''}ALTER TABLE ${table(c.table)} DROP COLUMN ${ident(c.column.name)};`,
        );
        break;
      default:
        break;
    }
  }
  // Sequences before the tables whose defaults may use them.
  for (const c of changes) if (c.kind === 'create-sequence') creates.push(sequenceSql(c.sequence));
  const created = new Set<string>();
  const deferredFks: { table: string; fk: ModelForeignKey }[] = [];
  for (const t of creationOrder(changes.flatMap((c) => (c.kind === 'create-table' ? [c.table] : [])))) {
    const lines = t.columns.map((c) => `    ${columnDefinition(t.name, c)}`);
    const inline: string[] = [];
    if (t.primaryKey) inline.push(constraintDefinition({ type: 'primary key', key: t.primaryKey }));
    for (const u of t.uniques) inline.push(constraintDefinition({ type: 'unique', key: u }));
    for (const ck of t.checks) inline.push(constraintDefinition({ type: 'check', check: ck }));
    for (const fk of t.foreignKeys) {
      const target = fk.references.table;
      if (fk.references.schema === 'master' || target === t.name || created.has(target) || !changes.some((c) => c.kind === 'create-table' && c.table.name === target)) {
        inline.push(constraintDefinition({ type: 'foreign key', fk }));
      } else deferredFks.push({ table: t.name, fk });
    }
    creates.push(`CREATE TABLE ${table(t.name)} (\n${[...lines, ...inline.map((l) => `    ${l}`)].join(',\n')}\n);`);
    for (const i of t.indexes) creates.push(createIndexSql(t.name, i));
    created.add(t.name);
  }
  for (const c of changes) {
    if (c.kind === 'add-column') {
      const needsBackfill = !c.column.nullable && !c.column.default && !autoNumber(c.column.type) && !c.column.computed;
      if (!needsBackfill) {
        creates.push(`ALTER TABLE ${table(c.table)} ADD ${columnDefinition(c.table, c.column)};`);
        continue;
      }
      creates.push(`${marker('not-null', `${c.table}.${c.column.name} is added NULL, backfilled, then made NOT NULL`)}\nALTER TABLE ${table(c.table)} ADD ${columnDefinition(c.table, c.column, true)};`);
      after.push(
        `-- REVIEW: backfill ${c.table}.${c.column.name} before it becomes NOT NULL, e.g.\n-- UPDATE ${table(c.table)} SET ${ident(c.column.name)} = … WHERE ${ident(c.column.name)} IS NULL;\n{{#if isMssql}}\n${alterColumnMssql(c.table, c.column, true, () => ++n, { dropDefault: false, reAddDefault: false })}\n{{else}}\nALTER TABLE ${table(c.table)} ALTER COLUMN ${ident(c.column.name)} SET NOT NULL;\n{{/if}}`,
      );
    } else if (c.kind === 'alter-column') {
      const { from, to } = c;
      const identityAdded = c.identityChanged && autoNumber(to.type) === 'identity';
      const identityRemoved = c.identityChanged && autoNumber(from.type) === 'identity';
      const typeOrNull = c.typeChanged || c.nullabilityChanged;
      const defaultGone = from.default !== undefined && (c.defaultChanged || c.typeChanged);
      const defaultReAdded = to.default !== undefined && (defaultGone || !from.default);
      const sql: string[] = [];
      if (c.typeChanged) sql.push(`-- ${c.table}.${to.name}: ${from.type} → ${to.type}`);
      if (identityAdded) sql.push(`-- ${c.table}.${to.name}: IDENTITY added (SQL Server: the table is rebuilt below)`);
      if (identityRemoved) sql.push(`-- ${c.table}.${to.name}: IDENTITY removed (SQL Server: the column is rebuilt, values kept)`);
      if (defaultGone) sql.push(mssqlOnly(dropDefaultMssql(c.table, from.name, ++n)));
      if (c.nullabilityChanged && !to.nullable && to.default) {
        sql.push(`UPDATE ${table(c.table)} SET ${ident(to.name)} = ${defaultSql(to.default)} WHERE ${ident(to.name)} IS NULL;`);
      } else if (c.nullabilityChanged && !to.nullable) {
        sql.push(`-- REVIEW: existing NULLs in ${c.table}.${to.name} must be backfilled first, e.g.\n-- UPDATE ${table(c.table)} SET ${ident(to.name)} = … WHERE ${ident(to.name)} IS NULL;`);
      }
      const pg: string[] = [];
      if (identityRemoved) pg.push(`ALTER TABLE ${table(c.table)} ALTER COLUMN ${ident(to.name)} DROP IDENTITY;`);
      if (c.typeChanged) {
        const type = typeHelper(storageType(to.type));
        const using = baseOf(from.type) !== baseOf(to.type) ? ` USING ${ident(to.name)}::${type}` : '';
        pg.push(`ALTER TABLE ${table(c.table)} ALTER COLUMN ${ident(to.name)} TYPE ${type}${using};`);
      }
      if (c.nullabilityChanged) pg.push(`ALTER TABLE ${table(c.table)} ALTER COLUMN ${ident(to.name)} ${to.nullable ? 'DROP' : 'SET'} NOT NULL;`);
      if (c.generationChanged) pg.push(`ALTER TABLE ${table(c.table)} ALTER COLUMN ${ident(to.name)} SET GENERATED ${identityAlways(to.type) ? 'ALWAYS' : 'BY DEFAULT'};`);
      if (c.defaultChanged) pg.push(`ALTER TABLE ${table(c.table)} ALTER COLUMN ${ident(to.name)} ${to.default ? `SET DEFAULT ${defaultSql(to.default)}` : 'DROP DEFAULT'};`);
      if (identityAdded) {
        // The sequence starts after the values the column already holds.
        pg.push(
          `ALTER TABLE ${table(c.table)} ALTER COLUMN ${ident(to.name)} ADD GENERATED ${identityAlways(to.type) ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY;`,
          `SELECT setval(pg_get_serial_sequence('${table(c.table)}', '${to.name}'), COALESCE(MAX(${ident(to.name)}), 0) + 1, false) FROM ${table(c.table)};`,
        );
      }
      const mssql: string[] = [];
      // The old column's default is in the way of a column rebuild unless already dropped above; put back below unless re-added anyway.
      const rebuild = { dropDefault: from.default !== undefined && !defaultGone, reAddDefault: !defaultReAdded };
      if (identityRemoved) mssql.push(rebuildColumnMssql(c.table, to, () => ++n, rebuild));
      else if (typeOrNull && !identityAdded) mssql.push(alterColumnMssql(c.table, to, c.nullabilityChanged, () => ++n, rebuild));
      if (defaultReAdded && !identityAdded) mssql.push(`ALTER TABLE ${table(c.table)} ADD CONSTRAINT ${ident(defaultNameOf(c.table, to))} DEFAULT ${defaultSql(to.default!)} FOR ${ident(to.name)};`);
      if (mssql.length > 0 && pg.length > 0) sql.push(`{{#if isMssql}}\n${mssql.join('\n')}\n{{else}}\n${pg.join('\n')}\n{{/if}}`);
      else if (mssql.length > 0) sql.push(mssqlOnly(mssql.join('\n')));
      else if (pg.length > 0) sql.push(postgresOnly(pg.join('\n')));
      creates.push(sql.join('\n'));
    } else if (c.kind === 'rebuild-table') {
      rebuilds.push(mssqlOnly(rebuildTableMssql(c.table, c.column)));
    }
  }
  const constraintAdds = changes.filter((c) => c.kind === 'add-constraint' && c.constraint.type !== 'foreign key');
  const indexAdds = changes.filter((c) => c.kind === 'create-index');
  const fkAdds = changes.filter((c) => c.kind === 'add-constraint' && c.constraint.type === 'foreign key');
  for (const c of [...constraintAdds, ...indexAdds, ...fkAdds]) {
    let sql = '';
    if (c.kind === 'add-constraint') sql = `ALTER TABLE ${table(c.table)} ADD ${constraintDefinition(c.constraint)};`;
    else if (c.kind === 'create-index') sql = createIndexSql(c.table, c.index);
    adds.push('only' in c && c.only ? mssqlOnly(sql) : sql);
  }
  for (const { table: t, fk } of deferredFks) adds.push(`ALTER TABLE ${table(t)} ADD ${constraintDefinition({ type: 'foreign key', fk })};`);
  // Tables are dropped last among the drops, children (those with foreign keys to others) first.
  const tableDrops = creationOrder(changes.flatMap((c) => (c.kind === 'drop-table' ? [c.table] : [])))
    .reverse()
    .map((t) => `${marker('drop-table', `${t.name} and its data`)}\nDROP TABLE ${table(t.name)};`);
  const rest = drops;
  const sequenceDrops = changes.flatMap((c) =>
    c.kind === 'drop-sequence' ? [`${marker('drop-sequence', `sequence ${c.sequence.name} and its current value`)}\nDROP SEQUENCE {{schema}}.${ident(c.sequence.name)};`] : [],
  );
  for (const c of changes) if (c.kind === 'alter-sequence') creates.push(`ALTER SEQUENCE {{schema}}.${ident(c.to.name)} INCREMENT BY ${c.to.increment};`);
  // Views: dropped before anything they read changes, created after everything (each in its own
  // batch: SQL Server's CREATE VIEW must be alone in one). A changed view is CREATE OR ALTER on SQL
  // Server; PostgreSQL drops and creates it (CREATE OR REPLACE cannot change its columns).
  // Dependents first: in reverse order of the snapshot's list (a view comes after what it reads).
  const viewDrops = changes
    .flatMap((c) =>
      c.kind === 'drop-view'
        ? [{ position: c.position, sql: `DROP VIEW ${viewName(c.view.name)};` }]
        : c.kind === 'replace-view'
          ? // Babelfish has no ALTER VIEW (so no CREATE OR ALTER): there, as on PostgreSQL, dropped first and created last.
            [{ position: c.position, sql: `{{#if isMssql}}\nIF SERVERPROPERTY('Babelfish') IS NOT NULL DROP VIEW ${viewName(c.from.name)};\n{{else}}\nDROP VIEW ${viewName(c.from.name)};\n{{/if}}` }]
          : [],
    )
    .sort((a, b) => b.position - a.position)
    .map((d) => d.sql);
  const viewCreates = changes.flatMap((c) =>
    c.kind === 'create-view' ? [createViewSql(c.view)] : c.kind === 'replace-view' ? [`{{#if isMssql}}\n${replaceViewMssql(c.to)}\n{{else}}\n${createViewSql(c.to)}\n{{/if}}`] : [],
  );

  const header = [
    `{{!--`,
    `  ${options.title}`,
    ...changes.filter((c) => !('only' in c && c.only)).map((c) => `  - ${describeChange(c)}`),
    ...(options.destructive.length > 0 ? ['', '  DESTRUCTIVE, allowed by name:', ...options.destructive.map((d) => `  - ${d.allow}: ${d.what}`)] : []),
    ...(options.notes ?? []).map((l) => `  ${l}`),
    `  Review before committing; edit freely (e.g. add a data backfill). \`tenant-migrate check\` proves it still makes the model.`,
    `--}}`,
  ].join('\n');
  // Routines: dropped before anything else (a trigger or function may use what changes), created
  // and replaced last, each in its own batch (SQL Server: CREATE PROCEDURE/FUNCTION/TRIGGER must be).
  // Babelfish has no ALTER FUNCTION / ALTER TRIGGER (nor CREATE OR ALTER PROCEDURE): a replaced
  // routine is dropped there with the others, and created again below.
  const routineDrops = changes
    .flatMap((c) =>
      c.kind === 'drop-routine'
        ? [{ position: c.position, sql: dropRoutineSql(c.routine) }]
        : c.kind === 'replace-routine' && c.from.definition.mssql !== undefined
          ? [{ position: c.position, sql: mssqlOnly(`IF SERVERPROPERTY('Babelfish') IS NOT NULL DROP ${c.from.kind.toUpperCase()} {{schema}}.${ident(c.from.name)};`) }]
          : [],
    )
    .sort((a, b) => b.position - a.position)
    .map((d) => [d.sql]);
  const routineCreates = changes.flatMap((c) =>
    c.kind === 'create-routine' ? [[routineSql(c.routine, false)]] : c.kind === 'replace-routine' ? [[routineSql(c.to, true)]] : c.kind === 'restore-trigger' ? [[restoreTriggerMssql(c.routine)]] : [],
  );
  const phases = [
    ...routineDrops,
    viewDrops,
    renames,
    [...fkDropSql, ...tableDrops, ...sequenceDrops, ...rest],
    [...creates, ...rebuilds],
    [...after, ...adds],
    ...viewCreates.map((v) => [v]),
    ...routineCreates,
  ]
    .filter((p) => p.length > 0)
    .map((p) => p.join('\n\n'));
  return `${header}\n${phases.join('\n\n{{go}}\n\n')}\n`;
}

const baseOf = (type: string): string => {
  const b = type.replace(/\(.*$/, '');
  return b === 'nvarchar' || b === 'varchar' || b === 'text' ? 'string' : b;
};

/**
 * SQL Server zero value of a type: the temporary default that lets a NOT NULL column be added to a
 * table with rows before the real values are copied in.
 */
function zeroValue(type: string): string {
  const base = baseOf(storageType(type));
  if (base === 'uuid') return "'00000000-0000-0000-0000-000000000000'";
  if (base === 'string' || base === 'json' || base === 'char' || base === 'nchar') return "''";
  if (base === 'datetime2' || base === 'date' || base === 'datetimeoffset') return "'0001-01-01'";
  if (base === 'time') return "'00:00'";
  if (base === 'varbinary') return '0x';
  return '0';
}

/**
 * SQL Server: rebuild a column as `to` with its values kept — a new column (NOT NULL ones with a
 * temporary zero default), filled by UPDATE, the old column dropped, the new one renamed. Used
 * where ALTER COLUMN cannot do it: removing IDENTITY (SQL Server), and NULL / NOT NULL on
 * Babelfish, which refuses them in ALTER COLUMN. The column's default constraint goes with the
 * old column; `reAddDefault` puts it back. The UPDATE runs through EXEC: SQL Server compiles a
 * batch as a whole and the new column does not exist yet at compile time.
 */
function rebuildColumnMssql(tableName: string, to: ModelColumn, next: () => number, options: { dropDefault: boolean; reAddDefault: boolean }): string {
  const temp = `${to.name}__tm_rebuild`;
  const type = typeHelper(storageType(to.type));
  return [
    ...(options.dropDefault ? [dropDefaultMssql(tableName, to.name, next())] : []),
    `ALTER TABLE ${table(tableName)} ADD ${ident(temp)} ${type} ${to.nullable ? 'NULL' : `NOT NULL DEFAULT ${zeroValue(to.type)}`};`,
    `EXEC (N'UPDATE ${table(tableName)} SET ${ident(temp)} = ${ident(to.name)}');`,
    ...(to.nullable ? [] : [dropDefaultMssql(tableName, temp, next())]),
    `ALTER TABLE ${table(tableName)} DROP COLUMN ${ident(to.name)};`,
    `EXEC sp_rename N'${table(tableName)}.[${temp}]', N'${to.name}', N'COLUMN';`,
    ...(options.reAddDefault && to.default ? [`ALTER TABLE ${table(tableName)} ADD CONSTRAINT ${ident(defaultNameOf(tableName, to))} DEFAULT ${defaultSql(to.default)} FOR ${ident(to.name)};`] : []),
  ].join('\n');
}

/**
 * SQL Server ALTER COLUMN to `to`'s type and nullability. Babelfish (SERVERPROPERTY('Babelfish')
 * is NULL on SQL Server: an unknown property) refuses NULL / NOT NULL in ALTER COLUMN at parse
 * time — so SQL Server's statement runs through EXEC — and keeps a column's nullability through a
 * type change: there a type change is ALTER COLUMN without it, a nullability change a rebuild.
 */
function alterColumnMssql(tableName: string, to: ModelColumn, nullabilityChanged: boolean, next: () => number, options: { dropDefault: boolean; reAddDefault: boolean }): string {
  const type = typeHelper(storageType(to.type));
  const alter = `ALTER TABLE ${table(tableName)} ALTER COLUMN ${ident(to.name)} ${type}`;
  const babelfish = nullabilityChanged
    ? `BEGIN\n    -- Babelfish: the column is rebuilt (values kept)\n${rebuildColumnMssql(tableName, to, next, options).replace(/^/gm, '    ')}\nEND`
    : `    ${alter}; -- Babelfish keeps the nullability`;
  return `IF SERVERPROPERTY('Babelfish') IS NULL\n    EXEC (N'${alter} ${to.nullable ? 'NULL' : 'NOT NULL'}');\nELSE\n${babelfish}`;
}

/** SQL Server: rebuild `t` so that `column` gets IDENTITY (see the `rebuild-table` change). */
function rebuildTableMssql(t: ModelTable, column: string): string {
  const temp = `${t.name}__tm_rebuild`;
  const stored = t.columns.filter((c) => !c.computed);
  const names = list(stored.map((c) => c.name));
  return [
    `-- ${t.name}.${column} gains IDENTITY, which SQL Server cannot add to a column: the table is rebuilt — a copy`,
    `-- filled under IDENTITY_INSERT (values kept), the old table dropped, the copy renamed; its keys, checks,`,
    `-- indexes and the foreign keys into it are re-created below.`,
    `CREATE TABLE ${table(temp)} (\n${t.columns.map((c) => `    ${columnDefinition(t.name, c, c.nullable, false)}`).join(',\n')}\n);`,
    `SET IDENTITY_INSERT ${table(temp)} ON;`,
    `EXEC (N'INSERT INTO ${table(temp)} (${names}) SELECT ${names} FROM ${table(t.name)}');`,
    `SET IDENTITY_INSERT ${table(temp)} OFF;`,
    `DROP TABLE ${table(t.name)};`,
    renameTableMssql(temp, t.name),
    ...t.columns.flatMap((c) => (c.default ? [`ALTER TABLE ${table(t.name)} ADD CONSTRAINT ${ident(defaultNameOf(t.name, c))} DEFAULT ${defaultSql(c.default)} FOR ${ident(c.name)};`] : [])),
  ].join('\n');
}
