#!/usr/bin/env node
// The CLI entry: runs the compiled JavaScript in dist/ (built by `npm run build`, which `prepare`
// runs on install from git, on `npm ci` in this repository and before `npm pack`/`publish`).
//
// A development checkout also has src/ (never shipped in the package). There, when dist/ is missing
// or older than a file under src/, the TypeScript sources run through tsx instead: an edit in src/
// must never be silently ignored by a stale build. The check is a stat of each source file (~1 ms).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const distMain = `${root}dist/cli/main.js`;
const srcDir = `${root}src`;

/** Why dist/ should not be run in a development checkout, or undefined when it is fresh. */
function staleReason() {
  if (!existsSync(`${srcDir}/cli/main.ts`)) return undefined; // the installed package: dist/ only
  if (!existsSync(distMain)) return 'dist/ is not built';
  const built = statSync(distMain).mtimeMs;
  for (const entry of readdirSync(srcDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = `${entry.parentPath ?? entry.path}/${entry.name}`;
    if (statSync(file).mtimeMs > built) return `src/ changed after the last build (${file.slice(root.length)})`;
  }
  return undefined;
}

const stale = staleReason();
if (stale === undefined) {
  await import(pathToFileURL(distMain).href);
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
