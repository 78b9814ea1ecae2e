import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { TemplateError, type ErrorContext } from '../errors.js';
import { checksumOf } from '../source/checksum.js';
import { HelperArgumentError, registerHelpers } from './helpers.js';
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
}

type HandlebarsEnv = typeof Handlebars;
type Template = HandlebarsTemplateDelegate<RenderContext>;

const COMPILE_OPTIONS = { noEscape: true, strict: true } as const;

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
  #compiles = 0;

  private constructor(env: HandlebarsEnv, vars: Record<string, unknown>) {
    this.#env = env;
    this.#vars = vars;
  }

  /** Create an engine, loading `*.hbs` partials from `partialsDir` when it exists. */
  static async create(opts: TemplateEngineOptions = {}): Promise<TemplateEngine> {
    const env = createStrictEnvironment();
    registerHelpers(env as unknown as Parameters<typeof registerHelpers>[0]);
    if (opts.partialsDir !== undefined) {
      const rootDir = opts.rootDir ?? process.cwd();
      const dir = path.resolve(rootDir, opts.partialsDir);
      await loadPartials(env, dir, rootDir);
    }
    return new TemplateEngine(env, opts.vars ?? {});
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
    if (!file.isTemplate) return file.source;
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
        template = this.#env.compile<RenderContext>(file.source, COMPILE_OPTIONS);
        // Handlebars compiles lazily on first call; parse now so syntax errors surface here.
        this.#env.parse(file.source);
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

async function loadPartials(env: HandlebarsEnv, dir: string, rootDir: string): Promise<void> {
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
      env.parse(file.source);
      compiled = env.compile<RenderContext>(file.source, COMPILE_OPTIONS);
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

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
