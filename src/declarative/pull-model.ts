/**
 * `pull`: a live schema → a model file (adopting an existing database). The schema is read with
 * the dialect's catalog reader (the same one `drift` uses) and written as builder calls. Types map
 * back exactly (SQL Server's NVARCHAR(n), DATETIME2(p), DECIMAL(p,s) …; on PostgreSQL varchar(n)
 * reads as nvarchar(n)); defaults become `sql.utcnow` / `sql.newid` / literals where they are
 * those, SQL text otherwise; check and filter expressions are written in the source dialect's
 * spelling. A system-generated constraint name gets a conventional one (`pk_<table>`, …).
 */
import type { Catalog, CatalogColumn, CatalogTable } from '../catalog/catalog-model.js';
import { SELF_SCHEMA } from '../catalog/catalog-model.js';

export interface PullSourceOptions {
  readonly scope: 'tenant' | 'master';
  /** Module the builders are imported from (default `tenant-migrate`). */
  readonly importFrom?: string;
  readonly masterSchema: string;
  /** Where it was read from, for the header. */
  readonly source: string;
}

const str = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const key = (name: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : str(name));

function typeCall(type: string, family: Catalog['family']): { call: string; note?: string } {
  if (type === 'identity') return { call: 'col.identity()' };
  let m: RegExpExecArray | null;
  if ((m = /^(nvarchar|varchar|varbinary)\((\d+|max)\)$/.exec(type))) return { call: `col.${m[1]}(${m[2] === 'max' ? "'max'" : m[2]})` };
  if ((m = /^datetime2(?:\((\d)\))?$/.exec(type))) return { call: `col.datetime2(${m[1] ?? ''})` };
  if ((m = /^decimal\((\d+),(\d+)\)$/.exec(type))) return { call: `col.decimal(${m[1]}, ${m[2]})` };
  if (['uuid', 'text', 'bit', 'int', 'bigint', 'json'].includes(type)) return { call: `col.${type}()` };
  if (/^(mssql|postgres):/.test(type)) return { call: `col.raw(${str(type)})`, note: 'renders on its own dialect only' };
  return { call: `col.raw(${str(`${family}:${type}`)})`, note: `unmapped type ${type}` };
}

function defaultCall(c: CatalogColumn): string | undefined {
  const d = c.default;
  if (d === undefined || c.type === 'identity') return undefined;
  if (d === 'utcnow()') return 'sql.utcnow';
  if (d === 'newid()') return 'sql.newid';
  const lit = /^'((?:[^']|'')*)'$/.exec(d);
  if (lit) return str(lit[1]!.replace(/''/g, "'"));
  if (/^-?\d+(?:\.\d+)?$/.test(d)) return c.type === 'bit' ? (Number(d) === 0 ? 'false' : 'true') : d;
  if (d === 'true' || d === 'false') return d;
  return `sql.expr(${str(d)})`;
}

/**
 * PostgreSQL prints `status IN ('a', 'b')` as `(status)::text = ANY ((ARRAY['a', 'b'])::text[])`;
 * written back as the IN list, the model is portable and re-creates the same catalog text.
 */
export function portableExpression(expression: string): string {
  const m = /^\(?([A-Za-z_][A-Za-z0-9_]*)\)?(?:::[a-z ]+)? = ANY \(\(?ARRAY\[((?:'(?:[^']|'')*'(?:, )?)+)\]\)?(?:::[a-z ]+\[\])?\)$/.exec(expression);
  return m ? `${m[1]} IN (${m[2]})` : expression;
}

/** Generated names for constraints the server named itself. */
const orName = (name: string | undefined, fallback: string): string => name ?? fallback;

function tableSource(t: CatalogTable, masterSchema: string, family: Catalog['family']): string {
  const out: string[] = [];
  const notes: string[] = [];
  out.push(`    table(${str(t.name)}, {`);
  out.push('      columns: {');
  for (const c of t.columns) {
    const { call, note } = typeCall(c.type, family);
    let expr = call;
    if (c.computed !== undefined) {
      // Nullable and without a default by definition; SQL Server's PERSISTED is not read back.
      expr += `.computed(${str(c.computed)})`;
    } else {
      if (c.nullable) expr += '.nullable()';
      const def = defaultCall(c);
      if (def) expr += `.default(${def})`;
    }
    out.push(`        ${key(c.name)}: ${expr},${note ? ` // ${note}` : ''}`);
  }
  out.push('      },');
  const cols = (xs: readonly string[]) => `[${xs.map(str).join(', ')}]`;
  if (t.primaryKey) out.push(`      primaryKey: { name: ${str(orName(t.primaryKey.name, `pk_${t.name}`))}, columns: ${cols(t.primaryKey.columns)} },`);
  if (t.uniques.length > 0) {
    out.push('      uniques: [');
    for (const u of t.uniques) out.push(`        { name: ${str(orName(u.name, `uq_${t.name}_${u.columns.join('_')}`))}, columns: ${cols(u.columns)} },`);
    out.push('      ],');
  }
  if (t.checks.length > 0) {
    out.push('      checks: [');
    t.checks.forEach((c, i) => {
      out.push(`        { name: ${str(orName(c.name, `ck_${t.name}_${i + 1}`))}, expression: ${str(portableExpression(c.expression.replace(/ NOT VALID$/, '')))} },`);
    });
    out.push('      ],');
  }
  if (t.foreignKeys.length > 0) {
    out.push('      foreignKeys: [');
    for (const f of t.foreignKeys) {
      const ref = f.refSchema === SELF_SCHEMA ? '' : f.refSchema === masterSchema ? ", schema: 'master'" : '';
      if (f.refSchema !== SELF_SCHEMA && f.refSchema !== masterSchema) notes.push(`foreign key ${f.name ?? f.columns.join(',')} references schema ${f.refSchema}: written as same-schema`);
      const acts = `${f.onDelete !== 'no action' ? `, onDelete: ${str(f.onDelete)}` : ''}${f.onUpdate !== 'no action' ? `, onUpdate: ${str(f.onUpdate)}` : ''}`;
      out.push(
        `        { name: ${str(orName(f.name, `fk_${t.name}_${f.columns.join('_')}`))}, columns: ${cols(f.columns)}, references: { table: ${str(f.refTable)}, columns: ${cols(f.refColumns)}${ref} }${acts} },`,
      );
    }
    out.push('      ],');
  }
  if (t.indexes.length > 0) {
    out.push('      indexes: [');
    for (const i of t.indexes) {
      if (i.method && i.method !== 'btree' && i.method !== 'nonclustered') notes.push(`index ${i.name} is ${i.method}: written as a default index`);
      // Babelfish stores an index as <name><table><md5> cut to 63 characters; when the cut reaches
      // into the name itself (the catalog reader could not take the suffix off), the name is lost.
      if (/^.{31}[0-9a-f]{32}$/.test(i.name)) notes.push(`index ${i.name}: looks shortened by Babelfish (PostgreSQL's 63-character names); give it its real name`);
      const keys = i.keys.map((k) => (k.descending ? `{ column: ${str(k.column)}, descending: true }` : str(k.column))).join(', ');
      const parts = [`name: ${str(i.name)}`, `columns: [${keys}]`];
      if (i.unique) parts.push('unique: true');
      if (i.filter) parts.push(`where: ${str(i.filter)}`);
      if (i.include && i.include.length > 0) parts.push(`include: ${cols(i.include)}`);
      out.push(`        { ${parts.join(', ')} },`);
    }
    out.push('      ],');
  }
  out.push('    }),');
  return [...notes.map((n) => `    // pull: ${n}`), ...out].join('\n');
}

/** A model file (TypeScript source) for `catalog`. */
export function catalogToModelSource(catalog: Catalog, options: PullSourceOptions): string {
  const tables = [...catalog.tables].sort((a, b) => (a.name < b.name ? -1 : 1));
  return [
    '/**',
    ` * The ${options.scope} schema model, written by \`tenant-migrate pull\` from ${options.source} (${catalog.family}).`,
    ' * Check and filter expressions are in that dialect\'s spelling: give `{ mssql, postgres }` where they differ.',
    ' * Next: `tenant-migrate diff --init` when existing migrations make this schema (then `check`), or',
    ' * `tenant-migrate diff initial` to generate the first migration from it. docs/schema-as-code.md',
    ' */',
    `import { col, defineSchema, sql, table } from ${str(options.importFrom ?? 'tenant-migrate')};`,
    '',
    'export default defineSchema({',
    `  scope: ${str(options.scope)},`,
    '  tables: [',
    tables.map((t) => tableSource(t, options.masterSchema, catalog.family)).join('\n\n'),
    '  ],',
    '});',
    '',
  ].join('\n');
}
