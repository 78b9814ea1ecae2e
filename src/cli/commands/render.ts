import type { Argv, CommandModule } from 'yargs';
import type { DialectName } from '../../dialect/dialect-syntax.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface RenderArgs extends GlobalArgs {
  migrationId: string;
  workspace?: string;
  dialect?: DialectName;
  allDialects?: boolean;
}

/** `--all-dialects`: the families a portable template must serve, one after the other. */
const ALL_DIALECTS: readonly DialectName[] = ['mssql', 'postgres'];

export const renderCommand: CommandModule<GlobalArgs, RenderArgs> = {
  command: 'render <migration-id>',
  describe: 'Print the SQL a migration renders to, for one workspace (default: a sample workspace)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('migration-id', { type: 'string', demandOption: true, describe: 'e.g. 0001_create_workspace_tables' })
      .option('workspace', { type: 'string', describe: 'Workspace GUID to render for' })
      .option('dialect', { choices: ['mssql', 'postgres', 'pglite'] as const, describe: 'Render for this dialect instead of the database URL' })
      .option('all-dialects', { type: 'boolean', conflicts: 'dialect', describe: 'Render for SQL Server (T-SQL) and PostgreSQL, one after the other' })
      .example('$0 render 0003_add_job_priority --all-dialects', 'T-SQL then PostgreSQL for the sample workspace') as unknown as Argv<RenderArgs>,
  handler: command<RenderArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      const dialects: readonly (DialectName | undefined)[] = argv.allDialects ? ALL_DIALECTS : [argv.dialect];
      const renders: { dialect: DialectName; sql: string }[] = [];
      for (const dialect of dialects) {
        const sql = await migrator.render(argv.migrationId, {
          ...(argv.workspace ? { workspaceId: argv.workspace } : {}),
          ...(dialect ? { dialect } : {}),
        });
        renders.push({ dialect: dialect ?? migrator.dialect, sql });
      }
      if (argv.json) {
        printJson(argv.allDialects ? { migrationId: argv.migrationId, renders } : { migrationId: argv.migrationId, ...renders[0] });
      } else {
        for (const { dialect, sql } of renders) {
          if (argv.allDialects) process.stdout.write(`-- ===== ${argv.migrationId} · ${dialect} =====\n`);
          process.stdout.write(sql.endsWith('\n') ? sql : `${sql}\n`);
        }
      }
      return EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
