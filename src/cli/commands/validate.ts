import type { Argv, CommandModule } from 'yargs';
import { formatValidate, validateMigrations } from '../../release/validate.js';
import { checkModels, formatCheck, modelScopes } from '../../declarative/check-model.js';
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
      // Schema as code: when model files exist, `check` is part of validate (model = snapshot = migrations).
      const model = result.ok && modelScopes(migrator.config).length > 0 ? await checkModels(migrator.config) : undefined;
      if (argv.json) printJson(model ? { ...result, ok: result.ok && model.ok, schemaModel: model } : result);
      else process.stdout.write(`${formatValidate(result)}${model ? formatCheck(model) : ''}`);
      return result.ok && (model?.ok ?? true) ? EXIT.ok : EXIT.usage;
    } finally {
      await migrator.close();
    }
  }),
};
