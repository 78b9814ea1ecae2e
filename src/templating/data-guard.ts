/**
 * Template values are data, not SQL. A workspace name comes from an end user through the
 * application; pasted into a migration as `'{{workspace.name}}'` it is SQL injection under the
 * deploy login. So a plain `{{value}}` renders only what cannot carry SQL:
 *
 * - engine-made values, already quoted or validated: `schema`, `master`, `schemaName`,
 *   `masterSchema`, `workspaceId`, `target`, `dialect`;
 * - numbers and booleans (whatever their source);
 * - the output of the engine's helpers (`{{ident …}}`, `{{literal …}}`, `{{table …}}`, types, …).
 *
 * Any other string (a registry column, a `vars` entry, `{{lookup …}}`, an `{{#each}}` item) is a
 * template error naming file, line and expression: quote it with `{{literal x}}` (a string literal)
 * or `{{ident x}}` (a quoted name), or paste it raw with the visible `{{{x}}}`, which `validate` flags.
 *
 * How: after parsing, every double-stash mustache that is not a call of one of our helpers is
 * rewritten to pass its value through {@link DATA_GUARD} (`{{workspace.name}}` becomes
 * `{{tm-data-guard workspace.name "workspace.name" line column}}`); triple-stash `{{{…}}}` and
 * `{{& …}}` are left raw.
 */
import type { HelperOptions } from 'handlebars';
import type { RenderContext } from './render-context.js';

type Node = { type: string; loc?: Loc; [key: string]: unknown };
type Loc = { start: { line: number; column: number }; end: { line: number; column: number }; source?: string };
type Program = Node & { body: Node[] };

/** The guard helper's name: not a valid variable name in a template context, so no collision. */
export const DATA_GUARD = 'tm-data-guard';

/** Engine-made context values a template may paste as they are (quoted or validated by the engine). */
const ENGINE_VALUES = new Set(['schema', 'master', 'schemaName', 'masterSchema', 'workspaceId', 'target', 'dialect']);

/** A data value reached SQL text without a helper; the engine turns it into a TemplateError with file:line. */
export class UnquotedValueError extends Error {
  readonly expression: string;
  readonly line: number;
  readonly column: number;
  constructor(expression: string, line: number, column: number, source: 'vars' | 'registry' | 'data') {
    const from =
      source === 'vars' ? 'a configuration `vars` value' : source === 'registry' ? 'a tenant registry value' : 'a data value';
    super(
      `{{${expression}}} pastes ${from} into the SQL unquoted (SQL injection if it holds a quote): ` +
        `write {{literal ${expression}}} for a string literal or {{ident ${expression}}} for a quoted name; ` +
        `{{{${expression}}}} pastes it raw on purpose (validate lists it)`,
    );
    this.name = 'UnquotedValueError';
    this.expression = expression;
    this.line = line;
    this.column = column;
  }
}

/** A raw `{{{x}}}` or `{{& x}}` in a template: shown by `validate`. */
export interface RawValueUse {
  readonly expression: string;
  /** 1-based line, 1-based column. */
  readonly line: number;
  readonly column: number;
}

function walk(node: unknown, visit: (n: Node) => void): void {
  if (!node || typeof node !== 'object') return;
  const n = node as Node;
  if (n.type === 'Program') for (const child of (n as Program).body) walk(child, visit);
  else {
    visit(n);
    for (const key of ['program', 'inverse']) if (n[key]) walk(n[key], visit);
  }
}

/** Source text of an expression node, for messages (`workspace.name`, `lookup workspace "name"`). */
function describe(node: Node): string {
  switch (node.type) {
    case 'PathExpression':
      return String(node.original);
    case 'StringLiteral':
      return JSON.stringify(node.value);
    case 'NumberLiteral':
    case 'BooleanLiteral':
      return String(node.value);
    case 'SubExpression':
      return `(${callText(node)})`;
    default:
      return node.type;
  }
}

function callText(node: Node): string {
  const params = (node.params as Node[] | undefined) ?? [];
  const pairs = ((node.hash as { pairs?: { key: string; value: Node }[] } | undefined)?.pairs ?? []).map((p) => `${p.key}=${describe(p.value)}`);
  return [describe(node.path as Node), ...params.map(describe), ...pairs].join(' ');
}

/**
 * Rewrite a parsed template so every double-stash value that is not one of our helpers goes
 * through {@link DATA_GUARD}. Mutates and returns `program`.
 */
export function guardDataValues<T>(program: T, helperNames: ReadonlySet<string>): T {
  walk(program, (n) => {
    if (n.type !== 'MustacheStatement' || n.escaped !== true) return;
    const path = n.path as Node;
    // `{{true}}` parses as a literal path but calls our `true` helper, as `{{uuid}}` calls `uuid`.
    const single = path.type === 'PathExpression' ? (path.parts as string[]).length === 1 && path.data !== true : path.type !== 'SubExpression';
    const isOurHelper = single && helperNames.has(String(path.original ?? path.value));
    if (isOurHelper) return;
    const params = (n.params as Node[] | undefined) ?? [];
    const hash = n.hash as Node | undefined;
    const loc = (n.loc ?? path.loc)!;
    const inner: Node = params.length === 0 && !hash ? path : { type: 'SubExpression', path, params, hash, loc };
    const text = params.length === 0 && !hash ? describe(path) : callText(n);
    const literal = (value: string | number): Node =>
      typeof value === 'string' ? { type: 'StringLiteral', value, original: value, loc } : { type: 'NumberLiteral', value, original: value, loc };
    n.path = { type: 'PathExpression', data: false, depth: 0, parts: [DATA_GUARD], original: DATA_GUARD, loc };
    n.params = [inner, literal(text), literal(loc.start.line), literal(loc.start.column + 1)];
    n.hash = undefined;
  });
  return program;
}

/**
 * String literals a template passes to a partial (`{{> audit_columns tableName="jobs"}}`): author
 * text, so the partial may paste them with a plain `{{tableName}}`. Added to `into`.
 */
export function collectPartialLiterals(program: unknown, into: Set<string>): void {
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as Node;
    if (n.type === 'PartialStatement' || n.type === 'PartialBlockStatement') {
      const values = [...((n.params as Node[] | undefined) ?? []), ...((n.hash as { pairs?: { value: Node }[] } | undefined)?.pairs ?? []).map((p) => p.value)];
      for (const v of values) if (v.type === 'StringLiteral') into.add(String(v.value));
    }
    for (const [key, child] of Object.entries(n)) if (key !== 'loc' && typeof child === 'object') visit(child);
  };
  visit(program);
}

/** The raw value uses (`{{{x}}}`, `{{& x}}`) of a parsed template, in source order. */
export function rawValueUses(program: unknown): RawValueUse[] {
  const out: RawValueUse[] = [];
  walk(program, (n) => {
    if (n.type !== 'MustacheStatement' || n.escaped !== false) return;
    const loc = n.loc!;
    out.push({ expression: callText(n), line: loc.start.line, column: loc.start.column + 1 });
  });
  return out;
}

/**
 * The guard helper: what a plain `{{value}}` may render. `authorText` holds the literals templates
 * pass to partials ({@link collectPartialLiterals}); a value equal to one of them is what an author wrote.
 */
export function createDataGuard(authorText: ReadonlySet<string>) {
  return (value: unknown, expression: unknown, line: unknown, column: unknown, options: HelperOptions): string =>
    dataGuard(value, expression, line, column, options, authorText);
}

function dataGuard(value: unknown, expression: unknown, line: unknown, column: unknown, options: HelperOptions, authorText: ReadonlySet<string>): string {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '';
  const expr = String(expression);
  if (typeof value === 'string') {
    if (authorText.has(value)) return value;
    const root = (options.data as { root?: Partial<RenderContext> } | undefined)?.root;
    const tail = expr.split(/[./]/).at(-1) ?? expr;
    if (ENGINE_VALUES.has(tail) && root && (root as Record<string, unknown>)[tail] === value) return value;
  }
  const source = /^(?:@root\.|(?:\.\.\/)*)?vars\./.test(expr) ? 'vars' : /^(?:@root\.|(?:\.\.\/)*)?workspace\./.test(expr) ? 'registry' : 'data';
  throw new UnquotedValueError(expr, Number(line), Number(column), source);
}
