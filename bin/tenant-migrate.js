#!/usr/bin/env node
// The CLI entry: runs the compiled JavaScript in dist/ (built by `npm run build`, which `prepare`
// runs on install from git, on `npm ci` in this repository and before `npm pack`/`publish`): the
// bundle in dist/bundle/ (the CLI and its dependencies in a few files, which starts faster than
// the ~370 modules of dist/cli/main.js and node_modules), else dist/cli/main.js.
//
// A development checkout also has src/ (never shipped in the package). There, a build older than a
// file under src/ is not run: the bundle, else dist/cli/main.js when it is newer than every source,
// else the TypeScript sources through tsx. An edit in src/ must never be silently ignored by a
// stale build. The check is a stat of each source file (~1 ms).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const builds = [`${root}dist/bundle/cli.js`, `${root}dist/cli/main.js`];
const srcDir = `${root}src`;

/** The build to run, or why none is (a development checkout with no build newer than src/). */
function pickBuild() {
  const built = builds.filter((file) => existsSync(file));
  if (!existsSync(`${srcDir}/cli/main.ts`)) return { file: built[0] ?? builds[1] }; // the installed package: dist/ only
  if (built.length === 0) return { stale: 'dist/ is not built' };
  let newest = 0;
  let newestFile = '';
  for (const entry of readdirSync(srcDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = `${entry.parentPath ?? entry.path}/${entry.name}`;
    const mtime = statSync(file).mtimeMs;
    if (mtime > newest) [newest, newestFile] = [mtime, file];
  }
  const fresh = built.find((file) => statSync(file).mtimeMs >= newest);
  return fresh ? { file: fresh } : { stale: `src/ changed after the last build (${newestFile.slice(root.length)})` };
}

const { file, stale } = pickBuild();
if (file !== undefined) {
  await import(pathToFileURL(file).href);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    process.stderr.write(`tenant-migrate: ${stale}, and tsx is not installed to run the sources: run \`npm run build\`\n`);
    process.exit(2);
  }
  process.stderr.write(`tenant-migrate: ${stale}: running the TypeScript sources through tsx (\`npm run build\` makes it start faster)\n`);
  tsx.register();
  await import(pathToFileURL(`${srcDir}/cli/main.ts`).href);
}
