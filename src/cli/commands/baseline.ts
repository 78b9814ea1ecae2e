import type { Argv, CommandModule } from 'yargs';
import { baseline } from '../../release/baseline.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface BaselineArgs extends GlobalArgs {
  to: string;
  scope?: 'master' | 'tenant';
  workspace?: string;
  includeArchived?: boolean;
}

export const baselineCommand: CommandModule<GlobalArgs, BaselineArgs> = {
  command: 'baseline',
  describe: 'Record migrations up to --to as applied (with checksums), without running them, for schemas built outside the tool',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('to', { type: 'string', demandOption: true, describe: 'Last migration id to record (inclusive)' })
      .option('scope', { choices: ['master', 'tenant'] as const, describe: 'Default: the folder the id is in' })
      .option('workspace', { type: 'string', describe: 'Only this workspace GUID (default: all Active tenants)' })
      .option('include-archived', { type: 'boolean', describe: 'Archived workspaces too' }) as unknown as Argv<BaselineArgs>,
  handler: command<BaselineArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      const result = await baseline(migrator.context, { to: argv.to, scope: argv.scope, workspaceId: argv.workspace, includeArchived: argv.includeArchived });
      if (argv.json) printJson(result);
      else {
        for (const s of result.schemas) {
          const what = s.status === 'recorded' ? `recorded ${s.recorded.join(', ')}` : s.status === 'already' ? 'already recorded' : `skipped: ${s.reason}`;
          process.stdout.write(`${s.schema}: ${what}\n`);
        }
        const n = result.schemas.filter((s) => s.status === 'recorded').length;
        process.stdout.write(`baseline ${result.scope} to ${result.to}: ${n} of ${result.schemas.length} schema(s) recorded\n`);
      }
      return EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
