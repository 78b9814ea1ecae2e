import type { Argv, CommandModule } from 'yargs';
import { repair } from '../../release/repair.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface RepairArgs extends GlobalArgs {
  yes?: boolean;
}

export const repairCommand: CommandModule<GlobalArgs, RepairArgs> = {
  command: 'repair',
  describe: 'Store the current checksums of applied migrations whose files were edited on purpose, and rebuild stale applied-version summary rows (lists only, unless --yes)',
  builder: (y: Argv<GlobalArgs>) =>
    y.option('yes', { type: 'boolean', alias: 'y', describe: 'Write the listed changes' }) as Argv<RepairArgs>,
  handler: command<RepairArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      const result = await repair(migrator.context, { apply: argv.yes ?? false });
      if (argv.json) printJson(result);
      else {
        for (const c of result.changes) {
          process.stdout.write(
            `${c.schema}: ${c.migrationId} (${c.file}) checksum ${c.recordedChecksum.slice(0, 12)}… → ${c.fileChecksum.slice(0, 12)}…` +
              `${c.renderedSame ? ' (rendered SQL unchanged)' : ' (RENDERED SQL DIFFERS from what ran: consider a new migration instead)'}\n`,
          );
        }
        const { missing, stale } = result.summaries;
        const rows = missing.length + stale.length;
        for (const schema of stale) process.stdout.write(`${schema}: applied-version summary row differs from the meta table\n`);
        if (rows > 0) process.stdout.write(`applied-version summary: ${stale.length} stale, ${missing.length} missing row(s)${result.applied ? ' rebuilt from the meta tables' : ''}\n`);
        if (result.changes.length === 0 && rows === 0) process.stdout.write('nothing to repair: every applied migration matches its file, every summary row its meta table\n');
        else if (result.applied) process.stdout.write(`repaired ${result.changes.length} checksum(s)\n`);
        else process.stdout.write(`${result.changes.length} checksum(s) and ${rows} summary row(s) would change; run again with --yes to write them\n`);
      }
      return EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
