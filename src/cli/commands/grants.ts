import type { Argv, CommandModule } from 'yargs';
import { type GlobalArgs, command, migratorFromArgs } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

/** `tenant-migrate grants`: apply the configured `access` grants to master and every tenant schema (docs/security.md). */
export const grantsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'grants',
  describe: 'Apply the configured access grants to master and every existing tenant schema (idempotent)',
  builder: (y: Argv<GlobalArgs>) =>
    y.example('$0 grants', 'After adding `access` to the config of an existing fleet') as unknown as Argv<GlobalArgs>,
  handler: command<GlobalArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      const result = await migrator.grants();
      if (argv.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        process.stdout.write(`Grants applied to ${result.tenants} tenant schema(s) and the registry.\n`);
        for (const f of result.failed) process.stdout.write(`  failed: ${f.schema}: ${f.message}\n`);
      }
      return result.failed.length > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
