#!/usr/bin/env node
// The package as a user installs it: `npm pack` this repository, install the tarball into a fresh
// application in a temporary folder, and use it there — the CLI from node_modules (--help, demo,
// status --json, init, validate), the library from a JavaScript module (provision a workspace on
// pglite:memory), the public types with `tsc --noEmit`, and the message for a .ts config without
// tsx. Any failure exits 1 (CI runs this; it never skips). Plain Node: no tsx, no vitest.
//
//   npm run test:consumer            (TM_CONSUMER_KEEP=1 keeps the temporary folder)
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(path.join(tmpdir(), 'tm-consumer-'));
const app = path.join(work, 'app');
const started = Date.now();
const devVersion = (name) => JSON.parse(readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')).version;

let failures = 0;
function step(title, fn) {
  const t0 = Date.now();
  try {
    const note = fn();
    console.log(`ok   ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s)${note ? `: ${note}` : ''}`);
  } catch (err) {
    failures++;
    console.log(`FAIL ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n${String(err instanceof Error ? err.message : err).replace(/^/gm, '     ')}`);
  }
}

/** Run a command; throw with its output unless it exits with `expect`. */
function run(cmd, args, { cwd = app, expect = 0, env = {} } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '', npm_config_audit: 'false', npm_config_fund: 'false', ...env },
    timeout: 300_000,
  });
  if (r.error) throw r.error;
  if (r.status !== expect) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal} (expected ${expect})\n${r.stdout}\n${r.stderr}`.trim());
  }
  return r;
}
const cli = (args, options) => run(path.join(app, 'node_modules', '.bin', 'tenant-migrate'), args, options);
const check = (ok, message) => {
  if (!ok) throw new Error(message);
};

let tarball;
step('npm pack (prepare builds dist/)', () => {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [info] = JSON.parse(out.slice(out.indexOf('[')));
  tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path);
  for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/bundle/cli.js', 'bin/tenant-migrate.js', 'schema/tenant-migrate.config.schema.json',
    'templates/init/tenant-migrate.config.json', 'templates/partials/audit_columns.hbs', 'master-migrations/0001_initial_layout.sql.hbs']) {
    check(files.includes(needed), `${needed} is not in the package`);
  }
  const stray = files.filter((f) => /^(src|test|bench|scripts|docs)\//.test(f) || f.endsWith('.map'));
  check(stray.length === 0, `shipped but not needed: ${stray.join(', ')}`);
  return `${info.filename}, ${files.length} files, ${(info.size / 1024).toFixed(0)} KiB`;
});
if (!tarball) process.exit(1);

step('npm install the tarball into an empty application', () => {
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer-app', private: true, type: 'module' }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, `typescript@${devVersion('typescript')}`, `@types/node@${devVersion('@types/node')}`]);
  const installed = JSON.parse(readFileSync(path.join(app, 'node_modules/tenant-migrate/package.json'), 'utf8'));
  check(!('tsx' in (installed.dependencies ?? {})), 'tsx is a runtime dependency');
});

step('npx tenant-migrate --help, --version', () => {
  const { stdout } = cli(['--help']);
  check(stdout.includes('tenant-migrate init') && stdout.includes('tenant-migrate up'), `unexpected help:\n${stdout}`);
  const version = cli(['--version']).stdout.trim();
  const expected = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version;
  check(version === expected, `--version printed ${version}, not the package's ${expected}`);
});

step('tenant-migrate demo --workspaces 5 (the pmassist migrations shipped in the package)', () => {
  const { stdout } = cli(['demo', '--workspaces', '5']);
  check(/tenants: 5\/5 up to date/.test(stdout), `demo did not migrate 5 workspaces:\n${stdout}`);
});

step('tenant-migrate report (the page script and styles prebuilt in dist/: no bundler in the application)', () => {
  check(!existsSync(path.join(app, 'node_modules', 'esbuild')), 'esbuild is installed in the application: the test would not show the report needs none');
  const demoReport = readFileSync(path.join(app, '.tenant-migrate', 'demo-report.html'), 'utf8');
  check(demoReport.includes('id="report-data"'), 'demo wrote no report');
  const { stdout } = cli(['report', '--out', 'fleet-report.html', '--json']);
  const summary = JSON.parse(stdout);
  const html = readFileSync(path.join(app, 'fleet-report.html'), 'utf8');
  check(summary.tenants === 5 && summary.upToDate === 5, `report: ${stdout}`);
  check(html.includes("default-src 'none'") && html.includes('tenantMigrateReport') && !/<(link|img|iframe)\b|src="http/.test(html), 'the report is not self-contained');
  return `${(html.length / 1024).toFixed(0)} KB`;
});

step('tenant-migrate status --json', () => {
  const status = JSON.parse(cli(['status', '--json']).stdout);
  check(status.tenants.total === 5 && status.tenants.upToDate === 5, `status: ${JSON.stringify(status.tenants)}`);
  check(status.master.pending.length === 0, `master pending: ${status.master.pending}`);
  return `${status.tenants.upToDate}/${status.tenants.total} up to date`;
});

step('tenant-migrate init --ci github, then again (refused, exit 2)', () => {
  const { stdout } = cli(['init', '--ci', 'github']);
  for (const f of ['tenant-migrate.config.json', 'master-migrations/0001_create_workspace_registry.sql.hbs', 'tenant-migrations/0001_create_items.sql.hbs',
    'templates/partials/audit_columns.hbs', '.github/workflows/tenant-migrate.yml']) {
    check(stdout.includes(`created ${f}`), `init did not create ${f}:\n${stdout}`);
  }
  const again = cli(['init'], { expect: 2 });
  check(again.stderr.includes('tenant-migrate.config.json'), `the refusal does not name the files:\n${again.stderr}`);
});

step('tenant-migrate validate and render in the initialised project', () => {
  cli(['validate']);
  const { stdout } = cli(['render', '0001_create_items', '--dialect', 'mssql']);
  check(stdout.includes('UNIQUEIDENTIFIER'), `render --dialect mssql:\n${stdout}`);
});

step('a JavaScript module imports the library and provisions a workspace on pglite:memory', () => {
  cpSync(path.join(repo, 'test/consumer/provision.mjs'), path.join(app, 'provision.mjs'));
  const { stdout } = run(process.execPath, ['provision.mjs']);
  const result = JSON.parse(stdout.trim().split('\n').at(-1));
  check(result.ok === true, stdout);
  return result.schema;
});

step('tsc --noEmit on a TypeScript file using the public types (skipLibCheck off)', () => {
  cpSync(path.join(repo, 'test/consumer/typed.ts'), path.join(app, 'typed.ts'));
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
      files: ['typed.ts'],
    }, null, 2),
  );
  run(path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);
});

step('a tenant-migrate.config.ts without tsx installed: a clear message, exit 2', () => {
  const dir = path.join(app, 'ts-config');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'tenant-migrate.config.ts'), "import { defineConfig } from 'tenant-migrate';\nexport default defineConfig({ url: 'pglite:memory' });\n");
  const { stderr } = cli(['status'], { cwd: dir, expect: 2, env: { NODE_OPTIONS: '' } });
  check(/tsx/.test(stderr) && /npm install --save-dev tsx/.test(stderr), `message:\n${stderr}`);
});

console.log(`${failures === 0 ? 'consumer test passed' : `consumer test FAILED (${failures} step(s))`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (process.env.TM_CONSUMER_KEEP === '1') console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(failures === 0 ? 0 : 1);
