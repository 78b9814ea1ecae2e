/**
 * `pull`: a live schema → a model file (adopting an existing database). The schema is read with
 * the dialect's catalog reader (the same one `drift` uses), turned into a plain model — validated
 * like a hand-written one — and written as builder calls.
 *
 * What it keeps: the database's own names (a constraint the server named is recorded with that
 * name and `generated: true`, never given one it does not have); defaults, checks, filters and
 * computed expressions in the catalog's own printed form (only a few whole forms become portable:
 * literals, the current UTC time, a new GUID, `x IN (…)`). What it cannot express it refuses, naming
 * each object, instead of writing a model that makes something else.
 */
import type { Catalog, CatalogColumn, CatalogTable } from '../catalog/catalog-model.js';
import { SELF_SCHEMA } from '../catalog/catalog-model.js';
import { TenantMigrateError } from '../errors.js';
import type { ModelCheck, ModelColumn, ModelDefault, ModelForeignKey, ModelIndex, ModelIndexKey, ModelKey, ModelScope, ModelTable, SchemaModel } from '../schema-model/model-types.js';
import { validateModel } from '../schema-model/validate-model.js';
import { LOGICAL_TYPE, autoNumber } from '../schema-model/logical-types.js';

export interface PullSourceOptions {
  readonly scope: ModelScope;
  /** Module the builders are imported from (default `tenant-migrate`). */
  readonly importFrom?: string;
  readonly masterSchema: string;
  /** Where it was read from, for the header. */
  readonly source: string;
}

/** `pull` met objects the model cannot express; `problems` names each. Exit code 2. */
export class PullRefusedError extends TenantMigrateError {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(
      'USAGE',
      `pull: ${source} has what the schema model cannot express; nothing was written:\n${problems.map((p) => `  - ${p}`).join('\n')}\nChange these objects (or keep this schema's migrations hand-written), then pull again.`,
      { problems },
    );
    this.name = 'PullRefusedError';
    this.problems = problems;
  }
}

/** Names the model takes: plain identifiers within PostgreSQL's 63 characters (SQL Server allows 128). */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A TypeScript string literal for any text: quotes, backslashes, line breaks and control characters escaped. */
export function tsString(s: string): string {
  // SQL text is full of single quotes: such text reads better in double quotes.
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote) out += `\\${quote}`;
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}${quote}`;
}

const key = (name: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : tsString(name));

/** A one-line comment text (a name with a line break must not end the comment). */
const commentText = (s: string): string => s.replace(/[\r\n\u2028\u2029]+/g, ' ').replace(/\*\//g, '* /');

/** The logical types `pull` writes with a builder; others are dialect-raw. */
function typeCall(type: string): string {
  let m: RegExpExecArray | null;
  if ((m = /^(?:(smallint|int|bigint) )?identity( always)?$/.exec(type))) {
    const opts = [...(m[1] && m[1] !== 'bigint' ? [`type: '${m[1]}'`] : []), ...(m[2] ? ['always: true'] : [])];
    return `col.identity(${opts.length > 0 ? `{ ${opts.join(', ')} }` : ''})`;
  }
  if ((m = /^(time|datetimeoffset)(?:\((\d)\))?$/.exec(type))) return `col.${m[1]}(${m[2] ?? ''})`;
  if ((m = /^(n?char)\((\d+)\)$/.exec(type))) return `col.${m[1]}(${m[2]})`;
  if (['smallint', 'real', 'float', 'date', 'serial', 'bigserial', 'smallserial'].includes(type)) return `col.${type}()`;
  if ((m = /^(nvarchar|varchar|varbinary)\((\d+|max)\)$/.exec(type))) return `col.${m[1]}(${m[2] === 'max' ? "'max'" : m[2]})`;
  if ((m = /^datetime2(?:\((\d)\))?$/.exec(type))) return `col.datetime2(${m[1] ?? ''})`;
  if ((m = /^decimal\((\d+),(\d+)\)$/.exec(type))) return `col.decimal(${m[1]}, ${m[2]})`;
  if (['uuid', 'text', 'bit', 'int', 'bigint', 'json'].includes(type)) return `col.${type}()`;
  return `col.raw(${tsString(type)})`;
}

/** The catalog's (normalized) default → a model default. */
function modelDefault(c: CatalogColumn): ModelDefault | undefined {
  const d = c.default;
  if (d === undefined) return undefined;
  if (d === 'utcnow()') return { kind: 'utcnow' };
  if (d === 'newid()') return { kind: 'newid' };
  const lit = /^'((?:[^']|'')*)'$/.exec(d);
  if (lit) return { kind: 'string', value: lit[1]!.replace(/''/g, "'") };
  // A number only where it prints back the same (`0.50` stays SQL: the catalog keeps the scale).
  if (/^-?\d+(?:\.\d+)?$/.test(d) && String(Number(d)) === d) return c.type === 'bit' ? { kind: 'bool', value: Number(d) !== 0 } : { kind: 'number', value: Number(d) };
  if (d === 'true' || d === 'false') return { kind: 'bool', value: d === 'true' };
  return { kind: 'sql', sql: own(d) };
}

/**
 * PostgreSQL prints `status IN ('a', 'b')` as `(status)::text = ANY ((ARRAY['a'::character varying,
 * 'b'::character varying])::text[])`; written back as the IN list, the model is portable and
 * re-creates the same catalog text. Only that whole form is rewritten; everything else stays as printed.
 */
export function portableExpression(expression: string): string {
  const elem = `'(?:[^']|'')*'(?:::(?:character varying|text))?`;
  const m = new RegExp(`^\\(?([A-Za-z_][A-Za-z0-9_]*)\\)?(?:::(?:character varying|text))? = ANY \\(\\(?ARRAY\\[((?:${elem})(?:, ${elem})*)\\]\\)?(?:::(?:character varying|text)\\[\\])?\\)$`).exec(expression);
  if (!m) return expression;
  const values = m[2]!.match(new RegExp(`'(?:[^']|'')*'`, 'g'))!;
  return `${m[1]} IN (${values.join(', ')})`;
}

/** The catalog's `$schema.` (the schema's own name) → `{{schema}}.`, which renders it on every tenant. */
const own = (text: string): string => text.replaceAll(`${SELF_SCHEMA}.`, '{{schema}}.');

const byName = <T extends { readonly name: string }>(items: readonly T[]): T[] => [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** One table → its model; problems the model cannot express go to `refuse`. */
function tableModel(t: CatalogTable, masterSchema: string, refuse: (what: string) => void): ModelTable {
  const at = `table ${t.name}`;
  const checkName = (kind: string, name: string) => {
    if (!PLAIN_NAME.test(name)) refuse(`${at}: ${kind} ${JSON.stringify(name)} is not a plain identifier of at most 63 characters (letters, digits, _)`);
  };
  checkName('table name', t.name);
  const columnNames = new Set(t.columns.map((c) => c.name));
  const columns: ModelColumn[] = t.columns.map((c) => {
    checkName('column', c.name);
    if (/ identity(?: always)?$/.test(c.type) && !LOGICAL_TYPE.test(c.type)) refuse(`${at}: column ${c.name} is an identity of type ${c.type.replace(/ identity(?: always)?$/, '')}: the model's identities are smallint, int or bigint`);
    if (c.computed !== undefined) return { name: c.name, type: c.type, nullable: true, computed: { expression: own(c.computed), ...(c.persisted ? { persisted: true } : {}) } };
    const def = autoNumber(c.type) ? undefined : modelDefault(c);
    return { name: c.name, type: c.type, nullable: c.nullable, ...(def ? { default: def } : {}) };
  });
  const nameOf = (c: { readonly name?: string; readonly generatedName?: string }, kind: string): { name: string; generated?: true } => {
    const name = c.name ?? c.generatedName ?? '';
    checkName(kind, name);
    return c.name !== undefined ? { name } : { name, generated: true };
  };
  const primaryKey: ModelKey | undefined = t.primaryKey ? { ...nameOf(t.primaryKey, 'primary key'), columns: [...t.primaryKey.columns] } : undefined;
  const uniques: ModelKey[] = t.uniques.map((u) => ({ ...nameOf(u, 'unique key'), columns: [...u.columns] }));
  const checks: ModelCheck[] = t.checks.flatMap((c) => {
    const named = nameOf(c, 'check');
    if (c.expression.startsWith('postgres:')) {
      refuse(`${at}: ${named.name} is an exclusion constraint (${c.expression.slice('postgres:'.length)}): the model has no exclusion constraints`);
      return [];
    }
    if (/ NO INHERIT$/.test(c.expression)) refuse(`${at}: check ${named.name} is NO INHERIT: the model's checks are inherited (drop NO INHERIT, or keep this check in a hand-written migration)`);
    if (/ NOT VALID$/.test(c.expression)) refuse(`${at}: check ${named.name} is NOT VALID (existing rows unchecked): validate it first (ALTER TABLE … VALIDATE CONSTRAINT / WITH CHECK CHECK CONSTRAINT)`);
    if (/ \(disabled\)$/.test(c.expression)) refuse(`${at}: check ${named.name} is disabled: enable it first, or drop it`);
    return [{ ...named, expression: own(portableExpression(c.expression)) }];
  });
  const foreignKeys: ModelForeignKey[] = t.foreignKeys.map((f) => {
    const named = nameOf(f, 'foreign key');
    if (f.refSchema !== SELF_SCHEMA && f.refSchema !== masterSchema) {
      refuse(`${at}: foreign key ${named.name} references ${f.refSchema}.${f.refTable}: the model references its own schema or the master schema only`);
    }
    return {
      ...named,
      columns: [...f.columns],
      references: { table: f.refTable, columns: [...f.refColumns], ...(f.refSchema !== SELF_SCHEMA && f.refSchema === masterSchema ? { schema: 'master' as const } : {}) },
      onDelete: f.onDelete,
      onUpdate: f.onUpdate,
    };
  });
  const indexes: ModelIndex[] = t.indexes.map((i) => {
    checkName('index', i.name);
    if (i.method && i.method !== 'btree' && i.method !== 'nonclustered') refuse(`${at}: index ${i.name} is ${i.method}: the model has default (btree / nonclustered) indexes only`);
    if (i.valid === false) refuse(`${at}: index ${i.name} is invalid or disabled (a failed CREATE INDEX CONCURRENTLY leaves one): drop or rebuild it first`);
    // Babelfish stores an index as <name><table><md5> cut to 63 characters; when the cut reaches
    // into the name itself (the catalog reader could not take the suffix off), the name is lost.
    if (/^.{31}[0-9a-f]{32}$/.test(i.name)) refuse(`${at}: index ${i.name} looks shortened by Babelfish (PostgreSQL's 63-character names): rename it to a shorter name first`);
    for (const k of i.keys) {
      if (!k.expression && !columnNames.has(k.column)) refuse(`${at}: index ${i.name} has the key ${JSON.stringify(k.column)}, which is not a column of the table`);
    }
    return {
      name: i.name,
      // An expression key in the catalog's printed form, as PostgreSQL's (the only dialect with them).
      columns: i.keys.map((k): ModelIndexKey => ({ ...(k.expression ? { expression: { postgres: own(k.column) } } : { column: k.column }), ...(k.descending ? { descending: true } : {}) })),
      unique: i.unique,
      ...(i.filter ? { where: own(i.filter) } : {}),
      ...(i.include && i.include.length > 0 ? { include: [...i.include] } : {}),
    };
  });
  return { name: t.name, columns, ...(primaryKey ? { primaryKey } : {}), uniques: byName(uniques), checks: byName(checks), foreignKeys: byName(foreignKeys), indexes: byName(indexes) };
}

/**
 * The model of `catalog`: tables by name, columns in the table's order, constraints and indexes by
 * name. Throws {@link PullRefusedError} naming every object the model cannot express, and the
 * model's own validation error if the result would not load.
 */
export function catalogToModel(catalog: Catalog, options: Pick<PullSourceOptions, 'scope' | 'masterSchema' | 'source'>): SchemaModel {
  const problems: string[] = [];
  const tables = byName(catalog.tables).map((t) => tableModel(t, options.masterSchema, (p) => problems.push(p)));
  for (const v of catalog.views ?? []) if (!PLAIN_NAME.test(v.name)) problems.push(`view ${JSON.stringify(v.name)}: not a plain identifier of at most 63 characters`);
  for (const q of catalog.sequences ?? []) {
    if (!PLAIN_NAME.test(q.name)) problems.push(`sequence ${JSON.stringify(q.name)}: not a plain identifier of at most 63 characters`);
    if (!['smallint', 'int', 'bigint'].includes(q.type)) problems.push(`sequence ${q.name} is ${q.type}: the model's sequences are smallint, int or bigint`);
    if (!Number.isSafeInteger(Number(q.start)) || !Number.isSafeInteger(Number(q.increment))) problems.push(`sequence ${q.name}: start ${q.start} / increment ${q.increment} beyond the model's numbers (±2^53)`);
  }
  for (const r of catalog.routines ?? []) if (!PLAIN_NAME.test(r.name)) problems.push(`${r.kind} ${JSON.stringify(r.name)}: not a plain identifier of at most 63 characters`);
  if (problems.length > 0) throw new PullRefusedError(options.source, problems);
  // Functions and procedures before the triggers that call them.
  const routines = [...byName((catalog.routines ?? []).filter((r) => r.kind !== 'trigger')), ...byName((catalog.routines ?? []).filter((r) => r.kind === 'trigger'))].map((r) => ({
    kind: r.kind,
    name: r.name,
    definition: { [catalog.family]: own(r.definition) },
    ...(r.table ? { table: r.table } : {}),
  }));
  // Views in the catalog's order is by name; a view reading another is created after it only when
  // listed after it — order them by what their text names.
  const views = viewOrder(catalog.views ?? []).map((v) => ({ name: v.name, definition: own(v.definition) }));
  const sequences = byName(catalog.sequences ?? []).map((q) => ({ name: q.name, type: q.type, start: Number(q.start), increment: Number(q.increment) }));
  return validateModel(
    { scope: options.scope, tables, ...(views.length > 0 ? { views } : {}), ...(sequences.length > 0 ? { sequences } : {}), ...(routines.length > 0 ? { routines } : {}) },
    `pull from ${options.source}`,
  );
}

/** Views by name, each after the views its definition names (a cycle keeps the name order). */
function viewOrder<T extends { readonly name: string; readonly definition: string }>(views: readonly T[]): T[] {
  const sorted = byName(views);
  const out: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (v: T) => {
    if (state.get(v.name)) return;
    state.set(v.name, 'visiting');
    for (const w of sorted) if (w !== v && !state.get(w.name) && new RegExp(`(?<![A-Za-z0-9_$])${w.name}(?![A-Za-z0-9_$])`).test(v.definition)) visit(w);
    state.set(v.name, 'done');
    out.push(v);
  };
  for (const v of sorted) visit(v);
  return out;
}

function defaultSource(d: ModelDefault): string {
  switch (d.kind) {
    case 'utcnow':
      return 'sql.utcnow';
    case 'newid':
      return 'sql.newid';
    case 'string':
      return tsString(d.value);
    case 'number':
      return String(d.value);
    case 'bool':
      return String(d.value);
    case 'sql':
      return `sql.expr(${textSource(d.sql)})`;
  }
}

const textSource = (t: ModelCheck['expression']): string => (typeof t === 'string' ? tsString(t) : `{ mssql: ${tsString(t.mssql)}, postgres: ${tsString(t.postgres)} }`);
const names = (xs: readonly string[]) => `[${xs.map(tsString).join(', ')}]`;
const generated = (g: boolean | undefined) => (g ? ', generated: true' : '');

function tableSource(t: ModelTable): string {
  const out: string[] = [];
  out.push(`    table(${tsString(t.name)}, {`);
  out.push('      columns: {');
  for (const c of t.columns) {
    let expr = typeCall(c.type);
    if (c.computed) expr += `.computed(${textSource(c.computed.expression)}${c.computed.persisted ? ', { persisted: true }' : ''})`;
    else {
      if (c.nullable) expr += '.nullable()';
      if (c.default) expr += `.default(${defaultSource(c.default)})`;
    }
    const raw = /^(mssql|postgres):/.test(c.type) ? ' // renders on its own dialect only' : '';
    out.push(`        ${key(c.name)}: ${expr},${raw}`);
  }
  out.push('      },');
  if (t.primaryKey) out.push(`      primaryKey: { name: ${tsString(t.primaryKey.name)}, columns: ${names(t.primaryKey.columns)}${generated(t.primaryKey.generated)} },`);
  const block = (label: string, lines: string[]) => {
    if (lines.length === 0) return;
    out.push(`      ${label}: [`, ...lines.map((l) => `        ${l},`), '      ],');
  };
  block('uniques', t.uniques.map((u) => `{ name: ${tsString(u.name)}, columns: ${names(u.columns)}${generated(u.generated)} }`));
  block('checks', t.checks.map((c) => `{ name: ${tsString(c.name)}, expression: ${textSource(c.expression)}${generated(c.generated)} }`));
  block(
    'foreignKeys',
    t.foreignKeys.map((f) => {
      const ref = f.references.schema === 'master' ? ", schema: 'master'" : '';
      const acts = `${f.onDelete !== 'no action' ? `, onDelete: ${tsString(f.onDelete)}` : ''}${f.onUpdate !== 'no action' ? `, onUpdate: ${tsString(f.onUpdate)}` : ''}`;
      return `{ name: ${tsString(f.name)}, columns: ${names(f.columns)}, references: { table: ${tsString(f.references.table)}, columns: ${names(f.references.columns)}${ref} }${acts}${generated(f.generated)} }`;
    }),
  );
  block(
    'indexes',
    t.indexes.map((i) => {
      const keys = i.columns
        .map((k) => {
          const desc = k.descending ? ', descending: true' : '';
          if (k.column === undefined) return `{ expression: ${typeof k.expression === 'string' ? tsString(k.expression) : `{ postgres: ${tsString(k.expression.postgres)} }`}${desc} }`;
          return desc ? `{ column: ${tsString(k.column)}${desc} }` : tsString(k.column);
        })
        .join(', ');
      const parts = [`name: ${tsString(i.name)}`, `columns: [${keys}]`];
      if (i.unique) parts.push('unique: true');
      if (i.where !== undefined) parts.push(`where: ${textSource(i.where)}`);
      if (i.include && i.include.length > 0) parts.push(`include: ${names(i.include)}`);
      return `{ ${parts.join(', ')} }`;
    }),
  );
  out.push('    }),');
  return out.join('\n');
}

/** The builders the source uses (an unused import fails a project compiled with noUnusedLocals). */
function builders(model: SchemaModel): string[] {
  const usesSql = model.tables.some((t) => t.columns.some((c) => c.default && !['string', 'number', 'bool'].includes(c.default.kind)));
  return ['col', 'defineSchema', ...(model.routines?.length ? ['routine'] : []), ...(model.sequences?.length ? ['sequence'] : []), ...(usesSql ? ['sql'] : []), 'table', ...(model.views?.length ? ['view'] : [])];
}

/** A model file (TypeScript source) for a pulled model. */
export function modelToSource(model: SchemaModel, family: Catalog['family'], options: Pick<PullSourceOptions, 'importFrom' | 'source'>): string {
  return [
    '/**',
    ` * The ${model.scope} schema model, written by \`tenant-migrate pull\` from ${commentText(options.source)} (${family}).`,
    " * Defaults, checks and filters are in that dialect's spelling: give `{ mssql, postgres }` where they differ.",
    ' * `generated: true` marks a constraint the database named itself (kept under that name).',
    ' * Next: `tenant-migrate diff --init` when existing migrations make this schema (then `check`), or',
    ' * `tenant-migrate diff initial` to generate the first migration from it. docs/schema-as-code.md',
    ' */',
    `import { ${builders(model).join(', ')} } from ${tsString(options.importFrom ?? 'tenant-migrate')};`,
    '',
    'export default defineSchema({',
    `  scope: ${tsString(model.scope)},`,
    '  tables: [',
    model.tables.map(tableSource).join('\n\n'),
    '  ],',
    ...(model.views && model.views.length > 0 ? ['  views: [', ...model.views.map((v) => `    view(${tsString(v.name)}, ${textSource(v.definition)}),`), '  ],'] : []),
    ...(model.sequences && model.sequences.length > 0
      ? ['  sequences: [', ...model.sequences.map((q) => `    sequence(${tsString(q.name)}, { type: ${tsString(q.type)}, start: ${q.start}, increment: ${q.increment} }),`), '  ],']
      : []),
    ...(model.routines && model.routines.length > 0
      ? [
          '  routines: [',
          ...model.routines.map((r) => {
            const def = (['mssql', 'postgres'] as const).filter((f) => r.definition[f] !== undefined).map((f) => `${f}: ${tsString(r.definition[f]!)}`).join(', ');
            return `    routine(${tsString(r.kind)}, ${tsString(r.name)}, { ${def} }${r.table ? `, { table: ${tsString(r.table)} }` : ''}),`;
          }),
          '  ],',
        ]
      : []),
    '});',
    '',
  ].join('\n');
}

/** A model file (TypeScript source) for `catalog` (see {@link catalogToModel} for what is refused). */
export function catalogToModelSource(catalog: Catalog, options: PullSourceOptions): string {
  return modelToSource(catalogToModel(catalog, options), catalog.family, options);
}
