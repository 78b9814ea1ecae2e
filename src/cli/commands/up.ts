import type { Argv, CommandModule } from 'yargs';
import type { UpResult } from '../../migrator.js';
import type { ConsoleReporter } from '../../reporting/console-reporter.js';
import { jsonLinesListener } from '../../reporting/json-lines-reporter.js';
import { TENANT_ORDERS, type TenantOrder, parseFleetArgs } from '../../runner/fleet-options.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface UpArgs extends GlobalArgs {
  includeArchived?: boolean;
  to?: string;
  maxFailures?: number;
  shard?: string;
  run?: string;
  waves?: string;
  order?: TenantOrder;
  leaseMs?: number;
  events?: boolean;
  target?: string;
  targetConcurrency?: number;
  tenantsPerSend?: number;
}

export function exitCodeForUp(result: UpResult): number {
  if (result.interrupted) return EXIT.interrupted;
  return result.tenants.failed > 0 || result.stopped ? EXIT.failed : EXIT.ok;
}

/** Plain-text summary of an up run. */
export function formatUpSummary(result: UpResult): string {
  const t = result.tenants;
  const lines = [
    ...(result.opening === 'resumed' ? [`resumed run ${result.runId}`] : result.opening === 'joined' ? [`joined run ${result.runId}`] : []),
    `master: ${result.master.applied.length ? `applied ${result.master.applied.join(', ')}` : 'up to date'}` +
      (result.master.waiting.length ? `; waiting for tenants: ${result.master.waiting.join(', ')}` : ''),
    `tenants: ${t.total} total, ${t.succeeded} migrated, ${t.upToDate} already up to date, ${t.failed} failed, ${t.skipped} skipped` +
      (result.invalid.length ? `, ${result.invalid.length} invalid registry row(s) skipped` : ''),
  ];
  if (t.succeeded === 0 && t.failed === 0 && result.master.applied.length === 0) lines.push('nothing to do: everything is up to date');
  for (const [name, c] of Object.entries(result.targets ?? {})) {
    lines.push(`  target ${name}: ${c.total} total, ${c.succeeded} migrated, ${c.upToDate} up to date, ${c.failed} failed, ${c.skipped} skipped`);
  }
  for (const r of result.results.filter((x) => x.status === 'failed')) {
    lines.push(`  failed ${r.schema}: ${r.error?.message}`);
  }
  if (result.run && result.run.pending + result.run.running > 0) {
    const why = result.stopped === 'max-failures' ? 'stopped after --max-failures' : result.stopped === 'wave-failed' ? 'a canary wave failed' : result.stopped === 'interrupted' ? 'interrupted' : 'stopped';
    lines.push(`${why}: ${result.run.pending} tenant(s) not started; \`tenant-migrate up\` resumes run ${result.runId}`);
  }
  lines.push(`done in ${(result.durationMs / 1000).toFixed(2)} s (run ${result.runId})`);
  return lines.join('\n');
}

/** Serializable form of an up result for --json. */
export function upJson(result: UpResult) {
  return {
    ok: result.tenants.failed === 0 && !result.interrupted && !result.stopped,
    runId: result.runId,
    opening: result.opening ?? null,
    workerId: result.workerId,
    run: result.run ?? null,
    stopped: result.stopped ?? null,
    master: result.master,
    tenants: result.tenants,
    ...(result.targets ? { targets: result.targets } : {}),
    failed: result.results.filter((r) => r.status === 'failed'),
    invalid: result.invalid,
    interrupted: result.interrupted,
    durationMs: result.durationMs,
  };
}

/**
 * Run `up` with a reporter and SIGINT/SIGTERM handling: the first signal stops new tenants,
 * in-flight ones finish; exit 130.
 */
export async function runUp(argv: UpArgs): Promise<{ result: UpResult; code: number }> {
  // Bad --shard/--waves/--order/--max-failures/--concurrency/--lease-ms: exit 2 naming the flag,
  // before the config is loaded or the database opened.
  parseFleetArgs(argv);
  const migrator = await migratorFromArgs(argv);
  // The progress bar's modules load only when there is a progress bar (not with --json).
  const reporter: ConsoleReporter | undefined = argv.json ? undefined : new (await import('../../reporting/console-reporter.js')).ConsoleReporter();
  if (reporter) migrator.on(reporter.listener);
  if (argv.events) migrator.on(jsonLinesListener(process.stderr));
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await migrator.up({
      signal: controller.signal,
      ...(argv.includeArchived ? { includeArchived: true } : {}),
      ...(argv.to ? { to: argv.to } : {}),
      ...(argv.concurrency !== undefined ? { concurrency: argv.concurrency } : {}),
      ...(argv.maxFailures !== undefined ? { maxFailures: argv.maxFailures } : {}),
      ...(argv.shard !== undefined ? { shard: argv.shard } : {}),
      ...(argv.run ? { runId: argv.run } : {}),
      ...(argv.waves !== undefined ? { waves: argv.waves } : {}),
      ...(argv.order ? { order: argv.order } : {}),
      ...(argv.leaseMs !== undefined ? { leaseMs: argv.leaseMs } : {}),
      ...(argv.target !== undefined ? { dbTarget: argv.target } : {}),
      ...(argv.targetConcurrency !== undefined ? { targetConcurrency: argv.targetConcurrency } : {}),
      ...(argv.tenantsPerSend !== undefined ? { tenantsPerSend: argv.tenantsPerSend } : {}),
    });
    reporter?.finish();
    return { result, code: exitCodeForUp(result) };
  } finally {
    reporter?.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await migrator.close();
  }
}

export const upCommand: CommandModule<GlobalArgs, UpArgs> = {
  command: 'up',
  describe: 'Apply pending master migrations, then pending tenant migrations to every Active workspace',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('include-archived', { type: 'boolean', describe: 'Also migrate Archived workspaces' })
      .option('to', { type: 'string', describe: 'Apply tenant migrations up to and including this id' })
      .option('concurrency', { type: 'number', describe: 'Tenants migrated at once; the pool gets one more connection (default from config: 8)' })
      .option('max-failures', { type: 'number', describe: 'Stop taking new tenants after N failures (default: never stop)' })
      .option('shard', { type: 'string', describe: 'Only shard i of n, e.g. 2/4 (stable hash of the workspace id)' })
      .option('run', { type: 'string', describe: 'Join this ledger run as another worker (claims with leases)' })
      .option('waves', { type: 'string', describe: 'Canary waves, cumulative counts or %, e.g. 1,10%,100%; a failed wave stops the run' })
      .option('order', { choices: TENANT_ORDERS, describe: 'Tenant order: registry, last-seen (least recently seen first), recent, created' })
      .option('lease-ms', { type: 'number', describe: 'Lease on claimed tenants; a silent worker loses them after this (default 30000)' })
      .option('target', { type: 'string', describe: 'Only the workspaces placed on this target database (a name of config targets)' })
      .option('tenants-per-send', { type: 'number', describe: 'At most this many tenants share one request when their migrations are all transactional (default from config: 32; 1 = a request per tenant)' })
      .option('target-concurrency', { type: 'number', describe: 'Tenants migrated at once per target database (default: config targetConcurrency, else --concurrency)' })
      // Values are checked in runUp (parseFleetArgs): a bad one exits 2 naming the flag. A yargs
      // .check() error would reach main.ts's fail handler as an exception (exit 1, stack trace).
      .option('events', { type: 'boolean', describe: 'Also write every event as a JSON line on stderr (CI logs)' }) as Argv<UpArgs>,
  handler: command<UpArgs>(async (argv) => {
    const { result, code } = await runUp(argv);
    if (argv.json) printJson(upJson(result));
    else process.stdout.write(`${formatUpSummary(result)}\n`);
    return code;
  }),
};
