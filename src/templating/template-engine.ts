import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { MigrationUnsafeError, TemplateError, type ErrorContext } from '../errors.js';
import { type TransactionControlFinding, findTransactionControl } from '../release/transaction-control.js';
import { checksumOf } from '../source/checksum.js';
import { DATA_GUARD, type RawValueUse, UnquotedValueError, collectPartialLiterals, createDataGuard, guardDataValues, rawValueUses } from './data-guard.js';
import { HELPER_NAMES, HelperArgumentError, registerHelpers } from './helpers.js';
import { MASTER_ELSEWHERE, type RenderContext } from './render-context.js';

export interface TemplateEngineOptions {
  /** Folder of `*.hbs` partials (`audit_columns.hbs` → `{{> audit_columns}}`). Ignored when missing. */
  readonly partialsDir?: string;
  /** Default `vars`, overridden key by key by the render context's `vars`. */
  readonly vars?: Record<string, unknown>;
  /** Base for the partial paths shown in errors; defaults to `process.cwd()`. */
  readonly rootDir?: string;
}

/** What `render` needs of a migration file (a `MigrationFile` or its `down` fits). */
export interface RenderableFile {
  /** Shown in errors, e.g. `tenant-migrations/0004_x.sql.hbs`. */
  readonly path: string;
  readonly source: string;
  /** False for plain `.sql`: returned unchanged. */
  readonly isTemplate: boolean;
  /** sha256 of the source when already known (saves hashing on every render). */
  readonly checksum?: string;
  /**
   * A migration's directives. When given and the file is transactional (no `no-transaction`), every
   * render is checked for top-level transaction control (`MIGRATION_UNSAFE`, see
   * release/transaction-control.ts): the engine opens and ends that transaction.
   */
  readonly directives?: { readonly noTransaction: boolean };
}

type HandlebarsEnv = typeof Handlebars;
type Template = HandlebarsTemplateDelegate<RenderContext>;

const COMPILE_OPTIONS = { noEscape: true, strict: true } as const;

const OUR_HELPERS: ReadonlySet<string> = new Set(HELPER_NAMES);

/** Appended to each source line to map a rendered position back to its template line. */
const LINE_MARK = ' --@tm-line:';
const LINE_MARK_RE = /--@tm-line:(\d+)/g;

/** Marks an error thrown inside a partial with the partial's file (innermost partial wins). */
const PARTIAL_FILE = Symbol('tenant-migrate.partialFile');

/**
 * Renders migration templates. One engine serves every dialect and every tenant: the dialect
 * comes from the render context, and compiled templates are cached per path + checksum, so
 * rendering 10,000 tenants compiles each template once.
 *
 * Handlebars runs isolated (`Handlebars.create()`), with `noEscape` (this is SQL, not HTML) and
 * `strict`, extended to helper arguments: stock strict mode does not check `{{#if isMsql}}`
 * (a typo that would silently render the PostgreSQL branch on SQL Server), ours does.
 *
 * @example
 * const engine = await TemplateEngine.create({ partialsDir: 'templates/partials' });
 * const sql = engine.render(file, sampleRenderContext(syntaxFor('mssql'), 'pmassist_master'));
 */
export class TemplateEngine {
  readonly #env: HandlebarsEnv;
  readonly #vars: Readonly<Record<string, unknown>>;
  readonly #cache = new Map<string, Template>();
  /** Rendered texts (tenant names masked) that passed the transaction-control rule. */
  readonly #passed = new Set<string>();
  /** Literals templates pass to partials: author text a partial may paste as it is. */
  readonly #authorText: Set<string>;
  #compiles = 0;

  private constructor(env: HandlebarsEnv, vars: Record<string, unknown>, authorText: Set<string>) {
    this.#env = env;
    this.#vars = vars;
    this.#authorText = authorText;
  }

  /** Create an engine, loading `*.hbs` partials from `partialsDir` when it exists. */
  static async create(opts: TemplateEngineOptions = {}): Promise<TemplateEngine> {
    const env = createStrictEnvironment();
    registerHelpers(env as unknown as Parameters<typeof registerHelpers>[0]);
    const authorText = new Set<string>();
    env.registerHelper(DATA_GUARD, createDataGuard(authorText));
    if (opts.partialsDir !== undefined) {
      const rootDir = opts.rootDir ?? process.cwd();
      const dir = path.resolve(rootDir, opts.partialsDir);
      await loadPartials(env, dir, rootDir, authorText);
    }
    return new TemplateEngine(env, opts.vars ?? {}, authorText);
  }

  /** How many templates were compiled so far (cache misses). */
  get compileCount(): number {
    return this.#compiles;
  }

  /** Names of the registered partials. */
  get partialNames(): string[] {
    return Object.keys(this.#env.partials);
  }

  /**
   * Render a migration for one context. A non-template (`.sql`) is returned as is.
   *
   * @throws TemplateError naming file, line, column and the variable or helper at fault.
   */
  render(file: RenderableFile, context: RenderContext): string {
    const out = file.isTemplate ? this.#render(file, context) : file.source;
    if (file.directives && !file.directives.noTransaction) this.#refuseTransactionControl(file, context, out);
    return out;
  }

  /**
   * The raw value uses (`{{{x}}}`, `{{& x}}`) of a template, which paste a value into the SQL
   * unquoted: `validate` lists them with file and line.
   */
  rawValues(file: RenderableFile): RawValueUse[] {
    if (!file.isTemplate) return [];
    try {
      return rawValueUses(this.#env.parse(file.source));
    } catch (err) {
      throw toTemplateError(err, file);
    }
  }

  /**
   * Every transaction-control statement and session option of one rendering, with template lines
   * (for `validate`; `render` refuses the errors of a transactional file by itself).
   */
  transactionControl(file: RenderableFile, context: RenderContext): TransactionControlFinding[] {
    const out = file.isTemplate ? this.#render(file, context) : file.source;
    const family = context.isMssql ? 'mssql' : 'postgres';
    const found = findTransactionControl(out, family);
    if (found.length === 0 || !file.isTemplate) return found;
    const lines = this.#templateLines(file, context, family, false);
    return lines && lines.length === found.length ? found.map((f, i) => ({ ...f, line: lines[i]! })) : found;
  }

  /**
   * Top-level transaction control in a transactional migration is refused: the engine's
   * transaction holds the statements, the meta row and the tenant lock together.
   */
  #refuseTransactionControl(file: RenderableFile, context: RenderContext, out: string): void {
    const family = context.isMssql ? 'mssql' : 'postgres';
    // Tenants differ only by engine-made names in most renders: a text already read, up to those
    // names, needs no second reading (10,000 tenants cost one lint per file, not 10,000).
    const shape = `${family}\0${file.path}\0${tenantNeutral(out, context)}`;
    if (this.#passed.has(shape)) return;
    const refused = findTransactionControl(out, family).filter((f) => f.severity === 'error');
    if (refused.length === 0) {
      if (this.#passed.size >= PASSED_LIMIT) this.#passed.clear();
      this.#passed.add(shape);
      return;
    }
    const mapped = file.isTemplate ? this.#templateLines(file, context, family, true) : refused.map((f) => f.line);
    const lines = mapped && mapped.length === refused.length ? mapped : undefined;
    const first = refused[0]!;
    const line = lines?.[0] ?? first.line;
    const where = file.isTemplate && !lines ? `${file.path} (line ${first.line} of the rendered SQL)` : `${file.path}:${line}`;
    const tenant = context.workspaceId ? ` for tenant ${context.schemaName}` : '';
    throw new MigrationUnsafeError(
      `${where}: ${first.message} (rendered${tenant}, ${context.dialect})` +
        (refused.length > 1 ? `; ${refused.length - 1} more at line(s) ${(lines ?? refused.map((f) => f.line)).slice(1).join(', ')}` : ''),
      {
        file: file.path,
        line,
        key: first.statement,
        ...(context.workspaceId ? { tenant: context.schemaName } : {}),
        dialect: context.dialect,
      },
    );
  }

  /**
   * Template lines of the findings: render once more with a marker comment at the end of every
   * source line, and take the first marker after each statement's start (a statement from a partial
   * maps to the line that includes the partial). Only runs when something was found.
   */
  #templateLines(file: RenderableFile, context: RenderContext, family: 'mssql' | 'postgres', errorsOnly: boolean): number[] | undefined {
    const marked = markLines(file.source);
    if (marked === undefined) return undefined;
    let out: string;
    try {
      out = this.#render({ path: file.path, source: marked, isTemplate: true }, context).replace(/\r\n?/g, '\n');
    } catch {
      return undefined;
    }
    const found = findTransactionControl(out, family).filter((f) => !errorsOnly || f.severity === 'error');
    return found.map((f) => {
      LINE_MARK_RE.lastIndex = f.offset;
      const m = LINE_MARK_RE.exec(out);
      return m ? Number(m[1]) : f.line;
    });
  }

  #render(file: RenderableFile, context: RenderContext): string {
    const template = this.#compiled(file);
    const ctx: RenderContext =
      Object.keys(this.#vars).length > 0 ? { ...context, vars: { ...this.#vars, ...context.vars } } : context;
    let out: string;
    try {
      out = template(ctx);
    } catch (err) {
      throw toTemplateError(err, file);
    }
    if (context.target && out.includes(MASTER_ELSEWHERE)) {
      throw new TemplateError(
        `${file.path} reads the master schema ({{master}} / {{masterSchema}}), which is not in the database of target ${context.target} ` +
          `(${context.schemaName}); guard the master read with {{#if onMasterDatabase}} and say what a tenant on a target does instead (docs/fleet.md)`,
        { file: file.path, key: 'master', tenant: context.schemaName, target: context.target },
      );
    }
    return out;
  }

  /** Check that a template parses, without rendering it. */
  check(file: RenderableFile): void {
    if (!file.isTemplate) return;
    try {
      this.#env.parse(file.source);
    } catch (err) {
      throw toTemplateError(err, file);
    }
  }

  #compiled(file: RenderableFile): Template {
    const key = `${file.path}\0${file.checksum ?? checksumOf(file.source)}`;
    let template = this.#cache.get(key);
    if (!template) {
      try {
        // Parse now (Handlebars compiles lazily) so syntax errors surface here, and guard data values.
        const ast = guardDataValues(this.#env.parse(file.source), OUR_HELPERS);
        collectPartialLiterals(ast, this.#authorText);
        template = this.#env.compile<RenderContext>(ast as unknown as string, COMPILE_OPTIONS);
      } catch (err) {
        throw toTemplateError(err, file);
      }
      this.#compiles++;
      this.#cache.set(key, template);
    }
    return template;
  }
}

/**
 * An isolated Handlebars whose context lookups are strict everywhere, helper arguments included.
 * Handlebars passes `strict=false` for helper parameters; the subclass forces it on.
 * See handlebars/lib/handlebars/compiler/javascript-compiler.js (`lookupOnContext`, `strictLookup`).
 */
function createStrictEnvironment(): HandlebarsEnv {
  const env = Handlebars.create();
  type Compiler = {
    prototype: Record<string, unknown> & {
      lookupOnContext(parts: string[], falsy: boolean, strict: boolean, scoped: boolean): void;
    };
  };
  const Base = (env as unknown as { JavaScriptCompiler: Compiler & (new () => object) }).JavaScriptCompiler;
  function StrictCompiler(this: unknown): void {}
  StrictCompiler.prototype = Object.create(Base.prototype) as Compiler['prototype'];
  StrictCompiler.prototype.compiler = StrictCompiler;
  StrictCompiler.prototype.lookupOnContext = function (
    this: unknown,
    parts: string[],
    falsy: boolean,
    _strict: boolean,
    scoped: boolean,
  ): void {
    Base.prototype.lookupOnContext.call(this, parts, falsy, true, scoped);
  };
  (env as unknown as { JavaScriptCompiler: unknown }).JavaScriptCompiler = StrictCompiler;
  return env;
}

async function loadPartials(env: HandlebarsEnv, dir: string, rootDir: string, authorText: Set<string>): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith('.hbs') && !e.name.startsWith('.'))
      .map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const fileName of names.sort()) {
    const absolutePath = path.join(dir, fileName);
    const file: RenderableFile = {
      path: path.relative(rootDir, absolutePath).split(path.sep).join('/'),
      source: await readFile(absolutePath, 'utf8'),
      isTemplate: true,
    };
    let compiled: Template;
    try {
      const ast = guardDataValues(env.parse(file.source), OUR_HELPERS);
      collectPartialLiterals(ast, authorText);
      compiled = env.compile<RenderContext>(ast as unknown as string, COMPILE_OPTIONS);
    } catch (err) {
      throw toTemplateError(err, file);
    }
    const partial = (context: RenderContext, options?: Handlebars.RuntimeOptions): string => {
      try {
        return compiled(context, options);
      } catch (err) {
        if (err !== null && typeof err === 'object' && !(PARTIAL_FILE in err)) {
          Object.defineProperty(err, PARTIAL_FILE, { value: file, enumerable: false });
        }
        throw err;
      }
    };
    env.registerPartial(fileName.slice(0, -'.hbs'.length), partial as unknown as Handlebars.Template);
  }
}

const STRICT_RE = /^"([^"]+)" not defined in .* - (\d+):(\d+)$/s;
const PARSE_RE = /^Parse error on line (\d+):\n(?:.*\n){2}(.*)$/s;
const HB_LOC_RE = / - (\d+):(\d+)$/;
const PARTIAL_MISSING_RE = /^The partial (.+) could not be found$/;

/** Map a Handlebars or helper error to a TemplateError naming file:line and the variable. */
export function toTemplateError(err: unknown, file: RenderableFile): TemplateError {
  if (err instanceof TemplateError) return err;
  const inPartial =
    err !== null && typeof err === 'object' ? (err as { [PARTIAL_FILE]?: RenderableFile })[PARTIAL_FILE] : undefined;
  const where = inPartial ?? file;
  const context: ErrorContext = { file: where.path };
  if (inPartial) context.includedFrom = file.path;
  const at = (line: number | undefined, column?: number): string => {
    if (line !== undefined) context.line = line;
    if (column !== undefined) context.column = column;
    return line !== undefined ? `${where.path}:${line}` : where.path;
  };
  const raw = err instanceof Error ? err.message : String(err);

  if (err instanceof UnquotedValueError) {
    context.key = err.expression;
    return new TemplateError(`${at(err.line, err.column)}: ${err.message}`, context, { cause: err });
  }
  if (err instanceof HelperArgumentError) {
    context.key = err.helper;
    const loc = err.loc?.start;
    return new TemplateError(`${at(loc?.line, loc && loc.column + 1)}: ${err.message}`, context, { cause: err });
  }
  let m = STRICT_RE.exec(raw);
  if (m) {
    const line = Number(m[2]);
    const column = Number(m[3]);
    const key = pathAt(where.source, line, column, m[1] ?? '');
    context.key = key;
    return new TemplateError(`${at(line, column + 1)}: "${key}" not defined in the render context`, context, {
      cause: err,
    });
  }
  m = PARSE_RE.exec(raw);
  if (m) {
    return new TemplateError(`${at(Number(m[1]))}: template parse error: ${m[2]}`, context, { cause: err });
  }
  m = PARTIAL_MISSING_RE.exec(raw);
  if (m) {
    const name = m[1] ?? '';
    context.key = name;
    const index = where.source.split(/\r?\n/).findIndex((l) => new RegExp(`\\{\\{#?>\\s*${escapeRe(name)}\\b`).test(l));
    return new TemplateError(`${at(index >= 0 ? index + 1 : undefined)}: partial "${name}" not found`, context, {
      cause: err,
    });
  }
  m = HB_LOC_RE.exec(raw);
  if (m) {
    const message = raw.replace(HB_LOC_RE, '');
    return new TemplateError(`${at(Number(m[1]), Number(m[2]) + 1)}: ${message}`, context, { cause: err });
  }
  return new TemplateError(`${at(undefined)}: ${raw}`, context, { cause: err });
}

/**
 * The full path expression at a Handlebars location (`a.b.c` where the error names only `c`);
 * falls back to the name from the message when the location points elsewhere (e.g. a helper argument).
 */
function pathAt(source: string, line: number, column: number, name: string): string {
  const text = source.split(/\r?\n/)[line - 1] ?? '';
  const token = /^[\w@./[\]-]+/.exec(text.slice(column))?.[0];
  if (token && (token === name || token.endsWith(`.${name}`) || token.endsWith(`/${name}`))) return token;
  const inLine = new RegExp(`(?<![\\w.@/])((?:[\\w@]+[./])*${escapeRe(name)})(?![\\w])`).exec(
    text.replace(/^[^{]*/, ''),
  );
  return inLine?.[1] ?? name;
}

/** How many passed texts the engine remembers (a few per migration file in practice). */
const PASSED_LIMIT = 256;

/**
 * The rendered text with the tenant's engine-made names (schema name, workspace id) masked by fixed
 * names of the same kind: a validated identifier for another one, so the transaction-control rule reads
 * the masked text exactly as it reads the real one.
 */
function tenantNeutral(out: string, context: RenderContext): string {
  let text = out;
  if (context.workspaceId) {
    text = text.split(context.schemaName).join('ws_tenant').split(context.workspaceId).join('00000000-0000-0000-0000-000000000000');
  }
  return text;
}

/**
 * The source with ` --@tm-line:N` appended to line N, except where a line ends inside a
 * mustache (`{{#if` continued on the next line) or a Handlebars comment; undefined when the result
 * would not parse the same way (then lines are reported in rendered-SQL terms).
 */
function markLines(source: string): string | undefined {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let open = false;
  const out = lines.map((line, index) => {
    for (const m of line.matchAll(/\{\{|\}\}/g)) open = m[0] === '{{';
    return open || line.trimEnd().endsWith('\\') ? line : `${line}${LINE_MARK}${index + 1}`;
  });
  return open ? undefined : out.join('\n');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
