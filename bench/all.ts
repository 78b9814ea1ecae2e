/**
 * `npm run bench`: the fleet benchmark (bench/run.ts, every argument forwarded), the whole-CLI-run
 * benchmark against raw psql with the scale points (bench/cli.ts, local PostgreSQL) and then the
 * provisioning benchmarks (bench/provision.ts in-process, bench/python-provision.ts from Python through the CLI
 * and the warm service), the fleet over 4 target databases against one database (bench/targets.ts)
 * and the fleet report over 10,000 / 100,000 tenants (bench/report.ts), all local PostgreSQL only:
 * skipped when --dialects or BENCH_DIALECTS leave postgres out.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const run = (file: string, argv: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url)), ...argv], { stdio: 'inherit' }).status ?? 1;

const fleet = run('./run.ts', args);
const i = args.indexOf('--dialects');
const dialects = (i >= 0 ? args[i + 1] : process.env.BENCH_DIALECTS) ?? 'postgres,pglite';
// Whole CLI runs against raw psql, and the 10,000 / 100,000-tenant scale points (local PostgreSQL).
const cli = dialects.split(',').includes('postgres') ? run('./cli.ts', []) : 0;
const provision = dialects.split(',').includes('postgres') ? run('./provision.ts', []) : 0;
// Provisioning from Python: the CLI per call against the warm service (local PostgreSQL, /usr/bin/python3).
const python = dialects.split(',').includes('postgres') ? run('./python-provision.ts', []) : 0;
// 10,000 tenants (BENCH_TARGETS_N) over 4 target databases against one database (local PostgreSQL).
const targets = dialects.split(',').includes('postgres') ? run('./targets.ts', []) : 0;
// The HTML fleet report: whole CLI time, peak RSS and file size at 10,000 and 100,000 tenants.
const report = dialects.split(',').includes('postgres') ? run('./report.ts', []) : 0;
if (!dialects.split(',').includes('postgres')) process.stdout.write('provisioning benchmark skipped: it runs on local PostgreSQL only\n');
process.exit(fleet || cli || provision || python || targets || report);
