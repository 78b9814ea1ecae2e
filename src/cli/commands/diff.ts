import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/load-config.js';
import { generateMigration } from '../../declarative/generate-migration.js';
import { ALLOW_KINDS } from '../../declarative/schema-changes.js';
import type { ModelScope } from '../../schema-model/model-types.js';
import { type GlobalArgs, command, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface DiffArgs extends GlobalArgs {
  name?: string;
  scope: ModelScope;
  allow?: string[];
  init?: boolean;
}

export const diffCommand: CommandModule<GlobalArgs, DiffArgs> = {
  command: 'diff [name]',
  describe: 'Write the next migration from the schema model vs its snapshot (schema as code; docs/schema-as-code.md)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('name', { type: 'string', describe: 'snake_case name of the migration, e.g. add_job_priority' })
      .option('scope', { choices: ['tenant', 'master'] as const, default: 'tenant' as const, describe: 'Which model' })
      .option('allow', { type: 'string', array: true, describe: `Destructive changes allowed by name: ${ALLOW_KINDS.join(', ')} (comma-separated or repeated)` })
      .option('init', { type: 'boolean', describe: 'Record the model as the snapshot of the existing migrations, write no migration' })
      .example('$0 diff add_job_priority', 'tenant-migrations/NNNN_add_job_priority.sql.hbs (+ .down) and schema/tenant.snapshot.json')
      .example('$0 diff drop_legacy --scope master --allow drop-table', 'A master migration that drops a table') as unknown as Argv<DiffArgs>,
  handler: command<DiffArgs>(async (argv) => {
    const config = await loadConfig({ ...(argv.config ? { configFile: argv.config } : {}) });
    const result = await generateMigration(config, {
      scope: argv.scope,
      ...(argv.name !== undefined ? { name: argv.name } : {}),
      ...(argv.allow ? { allow: argv.allow } : {}),
      ...(argv.init ? { init: true } : {}),
    });
    if (argv.json) printJson(result);
    else {
      const out: string[] = [];
      switch (result.status) {
        case 'no-changes':
          out.push(`No changes: the ${result.scope} model equals its snapshot; nothing to generate.`);
          break;
        case 'snapshot-written':
          out.push(`Recorded the ${result.scope} model as the snapshot: ${result.files.join(', ')}. Run \`tenant-migrate check\` to prove the migrations make it.`);
          break;
        case 'refused':
          out.push(`Refused: the ${result.scope} model has destructive changes not allowed by name:`);
          for (const r of result.refused) out.push(`  - ${r.allow}: ${r.what}`);
          out.push(`Allow them with --allow ${[...new Set(result.refused.map((r) => r.allow))].join(',')} (the generated file marks them), or change the model (a rename needs renamedFrom).`);
          break;
        case 'written':
          out.push(`Wrote ${result.id}:`);
          for (const c of result.changes) out.push(`  - ${c}`);
          for (const d of result.destructive) out.push(`  ! ${d.allow}: ${d.what}`);
          out.push(`Files: ${result.files.join(', ')}`);
          out.push(`Review it (\`tenant-migrate render ${result.id} --all-dialects\`), then \`tenant-migrate plan\` and \`tenant-migrate up\`.`);
          break;
      }
      process.stdout.write(`${out.join('\n')}\n`);
    }
    return result.status === 'refused' ? EXIT.usage : EXIT.ok;
  }),
};
