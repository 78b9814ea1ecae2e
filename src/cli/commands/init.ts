import type { Argv, CommandModule } from 'yargs';
import { type GlobalArgs, command, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';
import { CI_WORKFLOWS, type CiProvider, initProject } from '../init-project.js';

interface InitArgs extends GlobalArgs {
  ci?: CiProvider;
}

export const initCommand: CommandModule<GlobalArgs, InitArgs> = {
  command: 'init',
  describe: 'Scaffold a project in the current folder: config, migration folders with a first example of each, partials',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('ci', { choices: Object.keys(CI_WORKFLOWS) as CiProvider[], describe: 'Also write a CI workflow (github: .github/workflows/tenant-migrate.yml)' })
      .example('$0 init --ci github', 'config, master-migrations/, tenant-migrations/, templates/partials/ and a GitHub Actions workflow') as Argv<InitArgs>,
  handler: command<InitArgs>(async (argv) => {
    const result = await initProject({ dir: process.cwd(), ...(argv.ci ? { ci: argv.ci } : {}) });
    if (argv.json) printJson(result);
    else {
      for (const f of result.files) process.stdout.write(`created ${f}\n`);
      process.stdout.write(
        [
          '',
          'next:',
          '  npx tenant-migrate render 0001_create_items     # the SQL a tenant migration renders to',
          '  npx tenant-migrate up                           # apply master, then every workspace (embedded PGlite by default)',
          '  npx tenant-migrate workspace add <guid>         # provision a workspace',
          '  npx tenant-migrate create tenant <name>         # the next migration',
          'Set "url" in tenant-migrate.config.json (or TM_DATABASE_URL) for SQL Server or PostgreSQL.',
          '',
        ].join('\n'),
      );
    }
    return EXIT.ok;
  }),
};
