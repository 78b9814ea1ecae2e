import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/load-config.js';
import { createMigration } from '../../release/create.js';
import { type GlobalArgs, command, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface CreateArgs extends GlobalArgs {
  scope: 'master' | 'tenant';
  name: string;
  down?: boolean;
}

export const createCommand: CommandModule<GlobalArgs, CreateArgs> = {
  command: 'create <scope> <name>',
  describe: 'Scaffold the next numbered master or tenant migration (needs no database)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('scope', { choices: ['master', 'tenant'] as const, demandOption: true })
      .positional('name', { type: 'string', demandOption: true, describe: 'lower snake_case, e.g. add_job_priority' })
      .option('down', { type: 'boolean', describe: 'Also create the .down.sql.hbs file' })
      .example('$0 create tenant add_job_priority --down', 'tenant-migrations/0003_add_job_priority.sql.hbs + .down.sql.hbs') as unknown as Argv<CreateArgs>,
  handler: command<CreateArgs>(async (argv) => {
    const config = await loadConfig({ ...(argv.config ? { configFile: argv.config } : {}) });
    const result = await createMigration(config, { scope: argv.scope, name: argv.name, down: argv.down ?? false });
    if (argv.json) printJson(result);
    else {
      for (const f of result.files) process.stdout.write(`created ${f}\n`);
      process.stdout.write(`next: tenant-migrate render ${result.id} --all-dialects, then tenant-migrate validate\n`);
    }
    return EXIT.ok;
  }),
};
