import type { Argv, CommandModule } from 'yargs';
import { down } from '../../release/down.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface DownArgs extends GlobalArgs {
  to: string;
  scope?: 'master' | 'tenant';
  workspace?: string;
  includeArchived?: boolean;
}

export const downCommand: CommandModule<GlobalArgs, DownArgs> = {
  command: 'down',
  describe: 'Revert migrations newer than --to with their .down.sql.hbs files (master or tenants, per-tenant locks)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('to', { type: 'string', demandOption: true, describe: 'Migration id that stays applied; 0 reverts everything' })
      .option('scope', { choices: ['master', 'tenant'] as const, describe: 'Default: the folder the id is in (tenant for 0)' })
      .option('workspace', { type: 'string', describe: 'Only this workspace GUID (default: all Active tenants)' })
      .option('include-archived', { type: 'boolean', describe: 'Archived workspaces too' })
      .option('concurrency', { type: 'number', describe: 'Tenants reverted at once (default: config concurrency)' })
      .example('$0 down --to 0002_copy_workspace_external_links', 'Revert every tenant migration after 0002') as unknown as Argv<DownArgs>,
  handler: command<DownArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    try {
      const result = await down(migrator.context, {
        to: argv.to,
        scope: argv.scope,
        workspaceId: argv.workspace,
        includeArchived: argv.includeArchived,
        concurrency: argv.concurrency,
        signal: controller.signal,
      });
      if (argv.json) printJson(result);
      else {
        for (const s of result.schemas) {
          if (s.status === 'reverted') process.stdout.write(`${s.schema}: reverted ${s.reverted.join(', ')}\n`);
          if (s.status === 'failed') process.stdout.write(`${s.schema}: FAILED${s.reverted.length ? ` after reverting ${s.reverted.join(', ')}` : ''}: ${s.error?.message}\n`);
        }
        const reverted = result.schemas.filter((s) => s.status === 'reverted').length;
        process.stdout.write(`down ${result.scope} to ${result.to}: ${reverted} reverted, ${result.failed} failed, ${result.schemas.length - reverted - result.failed} unchanged\n`);
      }
      if (result.interrupted) return EXIT.interrupted;
      return result.failed > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      process.off('SIGINT', onSigint);
      await migrator.close();
    }
  }),
};
