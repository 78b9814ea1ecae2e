/**
 * `npm run build` (after tsc): bundle the CLI (dist/cli/main.js and what it imports, yargs, zod, pg…)
 * with esbuild into dist/bundle/, which bin/tenant-migrate.js runs. Node 20 has no module compile
 * cache, and loading the ~370 files of the tsc output and its dependencies one by one is most of a
 * short command's start. The library (`exports`, types) stays the tsc output in dist/.
 *
 * Code splitting keeps what main.ts and the rest import lazily lazy: each command module, the
 * migrator, Handlebars, the progress bar, the dialect adapters are chunks loaded by the command
 * that needs them. Packages with native or WebAssembly assets (PGlite, the mssql driver) and
 * optional requires (pg-native) stay external: Node loads them from node_modules as before.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'bundle');
const entry = path.join(dist, 'cli', 'main.js');

/** Never bundled: native or WebAssembly assets, optional or development-only packages. */
const EXTERNAL = ['@electric-sql/pglite', '@electric-sql/pglite/*', 'mssql', 'pg-native', 'esbuild', 'tsx', 'tsx/*', 'typescript'];

/** Where yargs' locale files go: y18n reads them from beside its (here: rewritten) module path. */
const YARGS_LOCALES = path.join(outdir, 'locales');
/** yargs' own locales folder, found when its module is bundled. */
let yargsLocales: string | undefined;

const posix = (p: string) => p.split(path.sep).join('/');
const relativeUrl = (file: string) => {
  const rel = posix(path.relative(outdir, file));
  return rel.startsWith('.') ? rel : `./${rel}`;
};

/**
 * Bundled code runs from dist/bundle/, not from where it was written. The project's modules find
 * the package's files (templates/, dist/report/assets/, package.json) relative to their own
 * `import.meta.url`: each is rewritten to the URL of the module's tsc output in dist/, which is
 * shipped beside the bundle. Chunks are written to outdir itself, so a relative URL holds in
 * every chunk. The same goes for the packages below; any other bundled package that locates files
 * relative to itself fails the build, to be looked at rather than break at run time.
 */
const relocate: Plugin = {
  name: 'relocate-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.(m?js|cjs)$/ }, (args) => {
      const file = args.path;
      let code = readFileSync(file, 'utf8');
      const inProject = file.startsWith(dist + path.sep);
      if (inProject) {
        if (file === path.join(dist, 'dialect', 'postgres', 'pg-module.js')) {
          // pg is CommonJS loaded through createRequire (after its navigator shim): as a plain
          // require esbuild bundles it, still evaluated at that point, after the shim.
          code = replaceOnce(file, code, "createRequire(import.meta.url)('pg')", "require('pg')");
        }
        code = code.replaceAll('import.meta.url', `new URL(${JSON.stringify(relativeUrl(file))}, import.meta.url).href`);
        return { contents: code, loader: 'js' };
      }
      const pkgFile = posix(file).replace(/^.*\/node_modules\//, '');
      if (pkgFile === 'yargs/lib/platform-shims/esm.mjs') {
        // The shim reads yargs' locales at '../../../locales' from this module's path (the file's,
        // not its folder's): yargs/lib/platform-shims/esm.mjs → yargs/locales.
        const moved = path.join(YARGS_LOCALES, '..', 'lib', 'platform-shims', 'esm.mjs');
        yargsLocales = path.resolve(file, '../../../locales');
        code = replaceOnce(file, code, 'fileURLToPath(import.meta.url)', `fileURLToPath(new URL(${JSON.stringify(relativeUrl(moved))}, import.meta.url))`);
        return { contents: code, loader: 'js' };
      }
      if (/\bimport\.meta\b|\b__dirname\b|\b__filename\b|\brequire\.resolve\b/.test(code) && !REVIEWED.has(pkgFile)) {
        return { errors: [{ text: `${pkgFile} locates files relative to itself: check it works from dist/bundle/, then list it in REVIEWED (scripts/bundle-cli.ts)` }] };
      }
      return undefined;
    });
  },
};

/**
 * `await import('umzug')` of a CommonJS package gives, in Node, its exports as named exports. A
 * split chunk made of a CommonJS module has only a default export (`module.exports`), so the
 * dynamic import of a bundled CommonJS package goes through a small ES module naming the exports
 * Node finds in it (asked of Node itself here, at build time).
 */
const cjsDynamicImports: Plugin = {
  name: 'cjs-dynamic-imports',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.kind !== 'dynamic-import' || args.pluginData === 'inner') return undefined;
      const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'inner' });
      if (resolved.errors.length > 0 || resolved.external || !isCommonJs(resolved.path)) return resolved;
      return { path: resolved.path, namespace: 'cjs-dynamic-import', pluginData: { specifier: args.path, resolveDir: args.resolveDir } };
    });
    b.onLoad({ filter: /.*/, namespace: 'cjs-dynamic-import' }, async (args) => {
      const { specifier, resolveDir } = args.pluginData as { specifier: string; resolveDir: string };
      const names = Object.keys(await import(pathToFileURL(args.path).href)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const contents = `const m = require(${JSON.stringify(specifier)});\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`;
      return { contents, resolveDir, loader: 'js' };
    });
  },
};

/** Whether Node loads this file as CommonJS (.cjs, or .js in a package that is not "type": "module"). */
function isCommonJs(file: string): boolean {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type !== 'module';
  }
  return true;
}

/** Bundled package files that mention their own location, checked to work from dist/bundle/. */
const REVIEWED = new Set<string>([
  // A require for yargs' `.config()` files and `extends`, which the CLI does not use.
  'yargs-parser/build/lib/index.js',
  'yargs/build/lib/utils/apply-extends.js',
  // Probes for picomatch for its own glob(); umzug (through tinyglobby) passes its own matcher.
  'fdir/dist/index.cjs',
  // Mentioned in comments only.
  '@rushstack/node-core-library/lib/Import.js',
  '@rushstack/node-core-library/lib/PackageJsonLookup.js',
]);

function replaceOnce(file: string, code: string, from: string, to: string): string {
  const at = code.indexOf(from);
  if (at < 0 || code.indexOf(from, at + 1) >= 0) throw new Error(`${file}: expected one \`${from}\` to rewrite for the bundle`);
  return code.slice(0, at) + to + code.slice(at + from.length);
}

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: entry },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  external: EXTERNAL,
  // CommonJS packages (pg, Handlebars, cli-progress…) call require() for Node's built-ins and for
  // the external packages: in an ES module that needs a require of its own.
  banner: { js: "import { createRequire as __tmCreateRequire } from 'node:module'; const require = __tmCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
  plugins: [cjsDynamicImports, relocate],
});
if (!yargsLocales || !existsSync(yargsLocales)) throw new Error(`yargs' locales were not found (${yargsLocales ?? 'its platform shim was not bundled'})`);
cpSync(yargsLocales, YARGS_LOCALES, { recursive: true });
// For a look at what went where (esbuild's analyzer reads it).
if (process.env.TM_BUNDLE_METAFILE) writeFileSync(process.env.TM_BUNDLE_METAFILE, JSON.stringify(result.metafile));

// What `--help` loads: the entry and the chunks it imports statically.
const outputs = result.metafile.outputs;
const atStart = new Set<string>();
const visit = (file: string) => {
  if (atStart.has(file)) return;
  atStart.add(file);
  for (const i of outputs[file]!.imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
};
visit(posix(path.relative(root, path.join(outdir, 'cli.js'))));
const kb = (files: Iterable<string>) => `${([...files].reduce((n, f) => n + outputs[f]!.bytes, 0) / 1024).toFixed(0)} KB`;
process.stdout.write(`cli bundle: ${Object.keys(outputs).length} files, ${kb(Object.keys(outputs))}; loaded at start: ${atStart.size} files, ${kb(atStart)}\n`);
