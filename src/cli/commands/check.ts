import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/load-config.js';
import { checkModels, formatCheck } from '../../declarative/check-model.js';
import type { ModelScope } from '../../schema-model/model-types.js';
import { type GlobalArgs, command, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface CheckArgs extends GlobalArgs {
  scope?: ModelScope;
}

export const checkCommand: CommandModule<GlobalArgs, CheckArgs> = {
  command: 'check',
  describe: 'CI: the schema model equals its snapshot and the migrations make it (replayed in PGlite); exit 2 when not',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('scope', { choices: ['tenant', 'master'] as const, describe: 'Only this model (default: every model file present)' })
      .example('$0 check', 'In CI: fails when a model change was not generated or a migration was edited by hand') as unknown as Argv<CheckArgs>,
  handler: command<CheckArgs>(async (argv) => {
    const config = await loadConfig({ ...(argv.config ? { configFile: argv.config } : {}) });
    const result = await checkModels(config, argv.scope ? { scope: argv.scope } : {});
    if (argv.json) printJson(result);
    else process.stdout.write(formatCheck(result));
    return result.ok ? EXIT.ok : EXIT.usage;
  }),
};
