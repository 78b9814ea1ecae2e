import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { redactUrl } from '../../dialect/create-adapter.js';
import { TenantMigrateError } from '../../errors.js';
import { seedDemo } from '../../demo/seed-demo.js';
import { ConsoleReporter } from '../../reporting/console-reporter.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';
import { exitCodeForUp, formatUpSummary, upJson } from './up.js';
import { formatStatus, statusJson } from './status.js';

/** The package folder (src/cli/commands → three levels up; the same from dist/cli/commands). */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Whether a master folder holds the pmassist layout the demo seeds into. */
function isPmassistProject(masterDir: string): boolean {
  return existsSync(masterDir) && readdirSync(masterDir).some((f) => f.startsWith('0001_initial_layout.'));
}

interface DemoArgs extends GlobalArgs {
  workspaces: number;
  report: string | false;
}

export const demoCommand: CommandModule<GlobalArgs, DemoArgs> = {
  command: 'demo',
  describe: 'The pmassist upgrade on the embedded database: legacy layout, N pre-existing workspaces, then up',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('workspaces', { type: 'number', default: 200, describe: 'Pre-existing workspaces to register' })
      .option('report', {
        type: 'string',
        default: '.tenant-migrate/demo-report.html',
        describe: 'At the end, write the HTML fleet report of the demo fleet here (--no-report: none)',
      }) as unknown as Argv<DemoArgs>,
  handler: command<DemoArgs>(async (argv) => {
    if (!Number.isInteger(argv.workspaces) || argv.workspaces < 1) throw new TenantMigrateError('USAGE', `--workspaces must be a positive integer, got ${argv.workspaces}`, { key: 'workspaces' });
    let migrator = await migratorFromArgs(argv);
    // Outside the pmassist project (no master 0001_initial_layout, e.g. an empty folder or one made
    // by `init`), the demo uses the pmassist migrations shipped with the package: it seeds pmassist
    // tables, so other migrations would not fit.
    if (!isPmassistProject(path.resolve(migrator.config.rootDir, migrator.config.masterMigrationsDir))) {
      await migrator.close();
      migrator = await migratorFromArgs(argv, {
        masterMigrationsDir: path.join(PACKAGE_ROOT, 'master-migrations'),
        tenantMigrationsDir: path.join(PACKAGE_ROOT, 'tenant-migrations'),
        templatesDir: path.join(PACKAGE_ROOT, 'templates'),
      });
    }
    const out = (s: string) => !argv.json && process.stdout.write(`${s}\n`);
    try {
      out(`tenant-migrate demo on ${redactUrl(migrator.config.url)}`);
      // 1. The layout before the two-level change (master 0001 only, if nothing is applied yet).
      await migrator.up({ masterTo: '0001_initial_layout' });
      const adapter = await migrator.adapter();
      const seeded = await seedDemo(adapter, migrator.config.masterSchema, argv.workspaces);
      out(
        seeded.workspaces > 0
          ? `seeded ${seeded.workspaces} pre-existing workspaces (no schema yet) with ${seeded.links} legacy WorkspaceExternalLink rows`
          : 'demo workspaces already present: nothing seeded',
      );
      // 2. The deploy: master 0002, then every workspace gets its schema, tables and integrations.
      const reporter = argv.json ? undefined : new ConsoleReporter();
      if (reporter) migrator.on(reporter.listener);
      const result = await migrator.up();
      reporter?.finish();
      const status = await migrator.status();
      // 3. The fleet as a release manager sees it: one HTML file, opened from disk.
      let reportFile: string | undefined;
      if (argv.report !== false && argv.report !== '') {
        reportFile = path.resolve(migrator.config.rootDir, argv.report);
        mkdirSync(path.dirname(reportFile), { recursive: true });
        const { writeFleetReport } = await import('../../report/fleet-report.js');
        await writeFleetReport(migrator, reportFile, { plan: true });
      }
      if (argv.json) printJson({ seeded, up: upJson(result), status: statusJson(status), ...(reportFile ? { report: reportFile } : {}) });
      else out(`${formatUpSummary(result)}\n\n${formatStatus(status)}${reportFile ? `\n\nfleet report: ${reportFile}` : ''}`);
      return exitCodeForUp(result) === EXIT.ok ? EXIT.ok : exitCodeForUp(result);
    } finally {
      await migrator.close();
    }
  }),
};
