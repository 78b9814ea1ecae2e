import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { TenantMigrateError } from '../../errors.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface ReportArgs extends GlobalArgs {
  out: string;
  runs: number;
  drift?: boolean;
  plan?: boolean;
}

export const reportCommand: CommandModule<GlobalArgs, ReportArgs> = {
  command: 'report',
  describe: 'Write a self-contained HTML report of the fleet: versions per database, the last runs, failures, drift, the next deploy (changes nothing)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('out', { type: 'string', default: 'fleet-report.html', describe: 'The HTML file to write' })
      .option('runs', { type: 'number', default: 5, describe: 'How many of the newest ledger runs to show' })
      .option('drift', { type: 'boolean', describe: 'Also compare every tenant schema with what its migrations make (reads every catalog)' })
      .option('plan', { type: 'boolean', describe: 'Also show the next deploy: pending migrations, tenants each touches, lint findings, rendered SQL' })
      .example('$0 report --out fleet-report.html --plan', 'Before a deploy: where the fleet stands and what up would do')
      .example('$0 report --runs 10 --drift', 'After a deploy: the last runs, their failures and drifted schemas') as unknown as Argv<ReportArgs>,
  handler: command<ReportArgs>(async (argv) => {
    if (!Number.isInteger(argv.runs) || argv.runs < 0) throw new TenantMigrateError('USAGE', `--runs must be a whole number ≥ 0, got ${argv.runs}`, { key: 'runs' });
    if (!argv.out) throw new TenantMigrateError('USAGE', '--out needs a file name', { key: 'out' });
    const migrator = await migratorFromArgs(argv);
    try {
      const { writeFleetReport } = await import('../../report/fleet-report.js');
      const file = path.resolve(argv.out);
      // A progress line on a terminal (stderr), nothing with --json or in a pipe.
      const tty = !argv.json && process.stderr.isTTY;
      const onProgress = (phase: string, done?: number, total?: number) =>
        process.stderr.write(`\r\x1b[K${phase}${total ? ` ${done}/${total}` : ''}…`);
      const data = await writeFleetReport(migrator, file, { runs: argv.runs, drift: argv.drift ?? false, plan: argv.plan ?? false, ...(tty ? { onProgress } : {}) });
      if (tty) process.stderr.write('\r\x1b[K');
      const f = data.fleet;
      if (argv.json) {
        printJson({ file, tenants: f.total, upToDate: f.upToDate, behind: f.behind, failed: f.failed, blocked: f.blocked, invalid: f.invalid, archived: f.archived, runs: data.runs.runs.length, ...(data.drift ? { driftedTenants: data.drift.driftedTenants } : {}) });
      } else {
        process.stdout.write(`wrote ${file}\n  ${f.active} Active tenant(s): ${f.upToDate} up to date, ${f.behind} behind (${f.failed} failed in the last run), ${f.blocked} blocked; ${f.invalid} invalid, ${f.archived} archived; ${data.runs.runs.length} run(s)\n`);
      }
      return EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
