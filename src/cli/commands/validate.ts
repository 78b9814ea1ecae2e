import type { Argv, CommandModule } from 'yargs';
import { formatValidate, validateMigrations } from '../../release/validate.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

type ValidateArgs = GlobalArgs;

export const validateCommand: CommandModule<GlobalArgs, ValidateArgs> = {
  command: 'validate',
  aliases: ['lint'],
  describe: 'Check the migration folders offline: numbering, templates for every dialect, risky statements (with --url: the fast-forward rule)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .example('$0 validate', 'Pre-commit hook: no database needed')
      .example('$0 validate --url postgres://…/app', 'Also refuse new files numbered below one already applied') as Argv<ValidateArgs>,
  handler: command<ValidateArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      // The database is read only when a URL is given explicitly (flag or TM_DATABASE_URL): offline by default.
      const checkApplied = Boolean(argv.url || process.env.TM_DATABASE_URL);
      const result = await validateMigrations(migrator.context, { checkApplied });
      if (argv.json) printJson(result);
      else process.stdout.write(formatValidate(result));
      return result.ok ? EXIT.ok : EXIT.usage;
    } finally {
      await migrator.close();
    }
  }),
};
