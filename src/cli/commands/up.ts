import type { Argv, CommandModule } from 'yargs';
import type { UpResult } from '../../migrator.js';
import { ConsoleReporter } from '../../reporting/console-reporter.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface UpArgs extends GlobalArgs {
  includeArchived?: boolean;
  to?: string;
}

export function exitCodeForUp(result: UpResult): number {
  if (result.interrupted) return EXIT.interrupted;
  return result.tenants.failed > 0 ? EXIT.failed : EXIT.ok;
}

/** Plain-text summary of an up run. */
export function formatUpSummary(result: UpResult): string {
  const t = result.tenants;
  const lines = [
    `master: ${result.master.applied.length ? `applied ${result.master.applied.join(', ')}` : 'up to date'}` +
      (result.master.waiting.length ? `; waiting for tenants: ${result.master.waiting.join(', ')}` : ''),
    `tenants: ${t.total} total, ${t.succeeded} migrated, ${t.upToDate} already up to date, ${t.failed} failed, ${t.skipped} skipped` +
      (result.invalid.length ? `, ${result.invalid.length} invalid registry row(s) skipped` : ''),
  ];
  if (t.succeeded === 0 && t.failed === 0 && result.master.applied.length === 0) lines.push('nothing to do: everything is up to date');
  for (const r of result.results.filter((x) => x.status === 'failed')) {
    lines.push(`  failed ${r.schema}: ${r.error?.message}`);
  }
  lines.push(`done in ${(result.durationMs / 1000).toFixed(2)} s (run ${result.runId})`);
  return lines.join('\n');
}

/** Serializable form of an up result for --json. */
export function upJson(result: UpResult) {
  return {
    ok: result.tenants.failed === 0 && !result.interrupted,
    runId: result.runId,
    master: result.master,
    tenants: result.tenants,
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
  const migrator = await migratorFromArgs(argv);
  const reporter = argv.json ? undefined : new ConsoleReporter();
  if (reporter) migrator.on(reporter.listener);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await migrator.up({
      signal: controller.signal,
      ...(argv.includeArchived ? { includeArchived: true } : {}),
      ...(argv.to ? { to: argv.to } : {}),
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
      .option('concurrency', { type: 'number', describe: 'Tenants migrated at once (default from config: 8)' }) as Argv<UpArgs>,
  handler: command<UpArgs>(async (argv) => {
    const { result, code } = await runUp(argv);
    if (argv.json) printJson(upJson(result));
    else process.stdout.write(`${formatUpSummary(result)}\n`);
    return code;
  }),
};
