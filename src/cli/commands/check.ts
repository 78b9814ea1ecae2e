import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/load-config.js';
import { checkModels, formatCheck } from '../../declarative/check-model.js';
import type { ModelScope } from '../../schema-model/model-types.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface CheckArgs extends GlobalArgs {
  scope?: ModelScope;
  onServer?: boolean;
}

export const checkCommand: CommandModule<GlobalArgs, CheckArgs> = {
  command: 'check',
  describe: 'CI: the schema model equals its snapshot and the migrations make it (replayed in PGlite, or on the server with --on-server); exit 2 when not',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('scope', { choices: ['tenant', 'master'] as const, describe: 'Only this model (default: every model file present)' })
      .option('on-server', {
        type: 'boolean',
        describe: 'Replay on the database (config url, or --url, which implies this) in scratch schemas instead of PGlite: the real dialect, e.g. SQL Server',
      })
      .example('$0 check', 'In CI: fails when a model change was not generated or a migration was edited by hand')
      .example('$0 check --url "mssql://…/dev"', 'The same, replayed on a SQL Server development database (scratch schemas, dropped after)') as unknown as Argv<CheckArgs>,
  handler: command<CheckArgs>(async (argv) => {
    const onServer = argv.onServer === true || (argv.url !== undefined && argv.onServer !== false);
    const report = (result: Awaited<ReturnType<typeof checkModels>>) => {
      if (argv.json) printJson(result);
      else process.stdout.write(formatCheck(result));
      return result.ok ? EXIT.ok : EXIT.usage;
    };
    if (!onServer) {
      const config = await loadConfig({ ...(argv.config ? { configFile: argv.config } : {}) });
      return report(await checkModels(config, argv.scope ? { scope: argv.scope } : {}));
    }
    const migrator = await migratorFromArgs(argv);
    try {
      const server = await migrator.adapter();
      return report(await checkModels(migrator.config, { ...(argv.scope ? { scope: argv.scope } : {}), server }));
    } finally {
      await migrator.close();
    }
  }),
};
