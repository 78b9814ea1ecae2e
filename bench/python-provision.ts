/**
 * Provisioning one workspace from Python on local PostgreSQL, through the CLI (a `tenant-migrate
 * workspace add --json` process per call) and through the warm service (`tenant-migrate serve` on
 * a Unix socket), one after another and 20 at once; p50/p95 as the Python caller measures them
 * around examples/python/workspace_schema.create_workspace().
 *
 *   node --import tsx bench/python-provision.ts [--n 50] [--cli-n 10] [--concurrent 20] [--rounds 3]
 *   TM_BENCH_POSTGRES_URL=postgres://user@host:5432/postgres   (default: TM_TEST_POSTGRES_URL or local)
 *   TM_TEST_PYTHON=/usr/bin/python3                            (needs python3-psycopg2 for the example's import only)
 *
 * Each path gets its own fresh database (master migrated). Prints a table and one JSON line
 * (`{"bench":"python-provision",…}`). Exit 1 when a call fails or the warm path's sequential p50
 * exceeds the 100 ms target.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createMigrator } from '../src/migrator.js';
import { ADMIN_URL, admin } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.TM_TEST_PYTHON ?? '/usr/bin/python3';
const CLI = path.join(ROOT, 'bin/tenant-migrate.js');
const TARGET_P50_MS = 100;

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50' },
    'cli-n': { type: 'string', default: '10' },
    concurrent: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
  },
});

function stats(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
  const round = (x: number) => Math.round(x * 10) / 10;
  return { n: sorted.length, p50: round(at(50)), p95: round(at(95)), max: round(sorted.at(-1) ?? NaN) };
}

/** A project folder (the shipped migrations) over a fresh, master-migrated database. */
async function project(): Promise<{ root: string; drop: () => Promise<void> }> {
  const database = `tm_bench_py_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const root = mkdtempSync(path.join(os.tmpdir(), 'tm-bench-py-'));
  for (const dir of ['master-migrations', 'tenant-migrations', 'templates']) cpSync(path.join(ROOT, dir), path.join(root, dir), { recursive: true });
  // Pool: concurrency + 1 connections; 8 provisionings at once, the rest queue in the service.
  writeFileSync(path.join(root, 'tenant-migrate.config.json'), JSON.stringify({ url: url.toString(), concurrency: 8 }));
  const m = createMigrator({ url: url.toString(), rootDir: root });
  await m.up();
  await m.close();
  return {
    root,
    drop: async () => {
      rmSync(root, { recursive: true, force: true });
      await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },
  };
}

function run(cmd: string, args: string[], env: Record<string, string>, cwd = ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function serve(cwd: string, socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--socket', socket, '--json'], { cwd, env: { ...process.env, TM_DATABASE_URL: '', TM_CONFIG: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"event":"listening"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  child.stdout!.resume();
  return child;
}

async function measure(mode: 'service' | 'cli') {
  const p = await project();
  let server: ChildProcess | undefined;
  try {
    const socket = path.join(p.root, 'tm.sock');
    if (mode === 'service') server = await serve(p.root, socket);
    const n = mode === 'service' ? values.n : values['cli-n'];
    const rounds = mode === 'service' ? values.rounds : '1';
    const r = await run(PYTHON, [path.join(ROOT, 'bench/provision_from_python.py'), '--mode', mode, '--n', n, '--concurrent', values.concurrent, '--rounds', rounds, '--warmup', mode === 'service' ? '3' : '1'], {
      TM_SERVICE_SOCKET: socket,
      TM_CLI: `${process.execPath} ${CLI}`,
      TM_PY_PROJECT: p.root,
    });
    if (r.code !== 0) throw new Error(`python (${mode}) exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const doc = JSON.parse(r.stdout) as { sequential: number[]; sequentialEngineMs: number[]; sequentialOverheadMs: number[]; concurrent: number[]; wallsMs: number[] };
    return {
      sequential: stats(doc.sequential),
      // Sequential calls split: inside the engine (the result's durationMs) and the rest (process start or HTTP, JSON, Python).
      engine: stats(doc.sequentialEngineMs),
      overhead: stats(doc.sequentialOverheadMs),
      concurrent: { ...stats(doc.concurrent), wallsMs: doc.wallsMs.map(Math.round) },
    };
  } finally {
    if (server) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    await p.drop();
  }
}

// The CLI runs from dist/ when it is fresh; from the TypeScript sources (slower start) otherwise.
const probe = await run(process.execPath, [CLI, '--version'], {});
const cliFrom = /through tsx/.test(probe.stderr) ? 'src via tsx (dist/ stale: run npm run build for the packaged timing)' : 'dist';
const service = await measure('service');
const cli = await measure('cli');
const line = (label: string, s: { n: number; p50: number; p95: number; max: number }, extra = '') =>
  console.log(`  ${label.padEnd(28)} n=${String(s.n).padEnd(4)} p50 ${String(s.p50).padStart(7)} ms  p95 ${String(s.p95).padStart(7)} ms  max ${String(s.max).padStart(7)} ms${extra}`);
console.log(`provisioning one workspace from Python (create_workspace) on local PostgreSQL, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
line('warm service, sequential', service.sequential, `  (target p50 <= ${TARGET_P50_MS} ms)`);
line('  of which in the engine', service.engine);
line('  of which outside it', service.overhead, '  (HTTP over the socket, JSON, Python)');
line(`warm service, ${values.concurrent} at once`, service.concurrent, `  wall per round ${service.concurrent.wallsMs.join(', ')} ms`);
line('CLI per call, sequential', cli.sequential, `  (CLI from ${cliFrom})`);
line('  of which in the engine', cli.engine);
line('  of which outside it', cli.overhead, '  (Node start, config, connect, files)');
line(`CLI per call, ${values.concurrent} at once`, cli.concurrent, `  wall ${cli.concurrent.wallsMs.join(', ')} ms`);
console.log(`  warm vs CLI, sequential p50: ${(cli.sequential.p50 / service.sequential.p50).toFixed(1)}x faster`);
console.log(JSON.stringify({ bench: 'python-provision', service, cli, cliFrom, targetP50Ms: TARGET_P50_MS }));
if (service.sequential.p50 > TARGET_P50_MS) process.exitCode = 1;
