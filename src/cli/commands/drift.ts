import { writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { type DriftFormat, formatDrift } from '../../drift/drift-report-format.js';
import { hasDrift } from '../../drift/drift-report.js';
import { type GlobalArgs, command, migratorFromArgs } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface DriftArgs extends GlobalArgs {
  format?: DriftFormat;
  out?: string;
  workspace?: string;
  shard?: string;
  includeArchived?: boolean;
  offline?: boolean;
  target?: string;
}

/** `\r`-rewritten progress line on a TTY stderr; nothing otherwise. */
function progressLine(enabled: boolean) {
  let last = 0;
  return {
    update(done: number, total: number) {
      if (!enabled || (Date.now() - last < 100 && done < total)) return;
      last = Date.now();
      process.stderr.write(`\rreading schemas: ${done}/${total}`);
    },
    end() {
      if (enabled && last > 0) process.stderr.write('\r\x1b[K');
    },
  };
}

export const driftCommand: CommandModule<GlobalArgs, DriftArgs> = {
  command: 'drift',
  describe: 'Compare every tenant schema with what its applied migrations make (exit 4 on drift)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('format', { choices: ['text', 'json', 'markdown'] as const, describe: 'Report format (--json = --format json)' })
      .option('out', { type: 'string', describe: 'Write the report to this file' })
      .option('workspace', { type: 'string', describe: 'Only this workspace GUID' })
      .option('shard', { type: 'string', describe: 'Only the tenants of shard i/n, e.g. 1/4' })
      .option('include-archived', { type: 'boolean', describe: 'Archived workspaces too' })
      .option('target', { type: 'string', describe: 'Only the workspaces placed on this target database (a name of config targets, or "(master)")' })
      .option('offline', { type: 'boolean', describe: 'Build the expected schemas in an in-memory PGlite instead of a scratch schema (PostgreSQL only)' })
      .example('$0 drift', 'Report drifted tenants; exit 4 when there are any')
      .example('$0 drift --format markdown --out drift.md', 'A report to paste into a pull request or ticket') as unknown as Argv<DriftArgs>,
  handler: command<DriftArgs>(async (argv) => {
    const format: DriftFormat = argv.format ?? (argv.json ? 'json' : 'text');
    const progress = progressLine(Boolean(process.stderr.isTTY) && !argv.json && format !== 'json');
    const migrator = await migratorFromArgs(argv);
    try {
      const report = await migrator.drift({
        ...(argv.workspace ? { workspaceId: argv.workspace } : {}),
        ...(argv.shard ? { shard: argv.shard } : {}),
        ...(argv.includeArchived ? { includeArchived: true } : {}),
        ...(argv.offline ? { offline: true } : {}),
        ...(argv.target !== undefined ? { target: argv.target } : {}),
        onProgress: progress.update,
      });
      progress.end();
      const text = `${formatDrift(report, format)}\n`;
      if (argv.out) {
        await writeFile(argv.out, text);
        if (format !== 'text') process.stderr.write(`${formatDrift(report, 'text')}\n`);
      } else process.stdout.write(text);
      return hasDrift(report) ? EXIT.drift : EXIT.ok;
    } finally {
      progress.end();
      await migrator.close();
    }
  }),
};
