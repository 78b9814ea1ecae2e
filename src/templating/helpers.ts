import type { HelperOptions } from 'handlebars';
import type { DialectSyntax } from '../dialect/dialect-syntax.js';
import { RENDER_SYNTAX, type RenderContext } from './render-context.js';

/** Where a helper was called, as Handlebars passes it in `options.loc` (line 1-based, column 0-based). */
export interface HelperLocation {
  readonly start: { readonly line: number; readonly column: number };
}

/** A helper was called with bad arguments; the engine turns it into a TemplateError with file:line. */
export class HelperArgumentError extends Error {
  readonly helper: string;
  readonly loc: HelperLocation | undefined;
  constructor(helper: string, message: string, loc: HelperLocation | undefined) {
    super(`{{${helper}}}: ${message}`);
    this.name = 'HelperArgumentError';
    this.helper = helper;
    this.loc = loc;
  }
}

type Options = HelperOptions & { loc?: HelperLocation; data?: { root?: Partial<RenderContext> } };

interface Call {
  readonly name: string;
  readonly args: readonly unknown[];
  readonly options: Options;
  readonly syntax: DialectSyntax;
  fail(message: string): never;
}

type Helper = (call: Call) => string;

const describe = (v: unknown): string => (typeof v === 'string' ? `"${v}"` : String(v));

function arity(call: Call, min: number, max = min): void {
  const n = call.args.length;
  if (n < min || n > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    call.fail(`expects ${expected} argument${max === 1 ? '' : 's'}, got ${n}`);
  }
}

function integer(call: Call, value: unknown, what: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    call.fail(`${what} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return n;
}

/** A length: a positive integer up to SQL Server's in-row limit, or "max" (the limit keeps templates portable). */
function length(call: Call, limit: number): number | 'max' {
  arity(call, 1);
  const value = call.args[0];
  if (typeof value === 'string' && value.toLowerCase() === 'max') return 'max';
  if (typeof value === 'number' || typeof value === 'string') {
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= limit) return n;
  }
  return call.fail(`length must be a positive integer up to ${limit} or "max", got ${describe(value)}`);
}

function noArgs(render: (s: DialectSyntax) => string): Helper {
  return (call) => {
    arity(call, 0);
    return render(call.syntax);
  };
}

function identName(call: Call): string {
  arity(call, 1);
  const value = call.args[0];
  if (typeof value !== 'string' || value === '') call.fail(`expects a non-empty name, got ${describe(value)}`);
  if (value.length > call.syntax.maxIdentifierLength) {
    call.fail(`"${value}" is longer than ${call.syntax.maxIdentifierLength} characters (${call.syntax.name})`);
  }
  return value;
}

/**
 * The template helpers. Types come from the dialect's `PortableTypes`, so one template renders
 * T-SQL and PostgreSQL. Limits follow the stricter dialect so a template that renders is valid on both.
 */
const HELPERS: Record<string, Helper> = {
  uuid: noArgs((s) => s.types.uuid()),
  nvarchar: (c) => c.syntax.types.nvarchar(length(c, 4000)),
  varchar: (c) => c.syntax.types.varchar(length(c, 8000)),
  varbinary: (c) => c.syntax.types.varbinary(length(c, 8000)),
  text: noArgs((s) => s.types.text()),
  datetime2: (c) => {
    arity(c, 0, 1);
    if (c.args.length === 0) return c.syntax.types.datetime2();
    const p = integer(c, c.args[0], 'precision', 0, 7);
    // PostgreSQL timestamps stop at microseconds (6); DATETIME2(7) is 100 ns. Take the finest available.
    return c.syntax.types.datetime2(c.syntax.family === 'postgres' ? Math.min(p, 6) : p);
  },
  bit: noArgs((s) => s.types.bit()),
  int: noArgs((s) => s.types.int()),
  bigint: noArgs((s) => s.types.bigint()),
  decimal: (c) => {
    arity(c, 2);
    const p = integer(c, c.args[0], 'precision', 1, 38);
    const s = integer(c, c.args[1], 'scale', 0, p);
    return c.syntax.types.decimal(p, s);
  },
  json: noArgs((s) => s.types.json()),
  utcnow: noArgs((s) => s.types.utcnow()),
  newid: noArgs((s) => s.types.newid()),
  identity: noArgs((s) => s.types.identity()),
  true: noArgs((s) => s.types.bool(true)),
  false: noArgs((s) => s.types.bool(false)),
  ident: (c) => c.syntax.quoteIdent(identName(c)),
  literal: (c) => {
    arity(c, 1);
    const value = c.args[0];
    if (typeof value === 'string') return c.syntax.quoteString(value);
    if (typeof value === 'number' && Number.isFinite(value)) return c.syntax.quoteString(String(value));
    if (typeof value === 'boolean') return c.syntax.quoteString(String(value));
    return c.fail(`expects a string, number or boolean, got ${describe(value)}`);
  },
  table: (c) => {
    const name = identName(c);
    const schema = c.options.data?.root?.schema;
    if (typeof schema !== 'string') c.fail('the render context has no schema');
    return `${schema}.${c.syntax.quoteIdent(name)}`;
  },
  // T-SQL needs CREATE SCHEMA/VIEW/PROCEDURE to start a batch and cannot reference a column added
  // earlier in the same batch; PostgreSQL has no batches.
  go: noArgs((s) => (s.batchSeparator === 'GO' ? 'GO' : '')),
};

/** Names of the registered helpers (for docs and `create` scaffolds). */
export const HELPER_NAMES: readonly string[] = Object.keys(HELPERS);

interface HelperRegistry {
  registerHelper(name: string, fn: (...args: unknown[]) => unknown): void;
}

/** Register every helper on an isolated Handlebars environment. */
export function registerHelpers(env: HelperRegistry): void {
  for (const [name, helper] of Object.entries(HELPERS)) {
    env.registerHelper(name, function (this: unknown, ...rawArgs: unknown[]): string {
      const options = rawArgs[rawArgs.length - 1] as Options;
      const args = rawArgs.slice(0, -1);
      const fail = (message: string): never => {
        throw new HelperArgumentError(name, message, options.loc);
      };
      const syntax = (options.data?.root as RenderContext | undefined)?.[RENDER_SYNTAX];
      if (!syntax) fail('the render context has no dialect (build it with buildRenderContext)');
      return helper({ name, args, options, syntax: syntax!, fail });
    });
  }
}
