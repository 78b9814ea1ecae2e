import type { Argv, CommandModule } from 'yargs';
import type { DialectName } from '../../dialect/dialect-syntax.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface RenderArgs extends GlobalArgs {
  migrationId: string;
  workspace?: string;
  dialect?: DialectName;
}

export const renderCommand: CommandModule<GlobalArgs, RenderArgs> = {
  command: 'render <migration-id>',
  describe: 'Print the SQL a migration renders to, for one workspace (default: a sample workspace)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('migration-id', { type: 'string', demandOption: true, describe: 'e.g. 0001_create_workspace_tables' })
      .option('workspace', { type: 'string', describe: 'Workspace GUID to render for' })
      .option('dialect', { choices: ['mssql', 'postgres', 'pglite'] as const, describe: 'Render for this dialect instead of the database URL' }) as unknown as Argv<RenderArgs>,
  handler: command<RenderArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      const sql = await migrator.render(argv.migrationId, {
        ...(argv.workspace ? { workspaceId: argv.workspace } : {}),
        ...(argv.dialect ? { dialect: argv.dialect } : {}),
      });
      if (argv.json) printJson({ migrationId: argv.migrationId, dialect: argv.dialect ?? migrator.dialect, sql });
      else process.stdout.write(sql.endsWith('\n') ? sql : `${sql}\n`);
      return EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
