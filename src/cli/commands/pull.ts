import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { createCatalogReader } from '../../dialect/create-catalog-reader.js';
import { catalogToModelSource } from '../../declarative/pull-model.js';
import { TenantMigrateError } from '../../errors.js';
import { selectTenants } from '../../release/release-context.js';
import type { ModelScope } from '../../schema-model/model-types.js';
import { type GlobalArgs, command, migratorFromArgs } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface PullArgs extends GlobalArgs {
  workspace?: string;
  scope: ModelScope;
  out?: string;
  force?: boolean;
  importFrom?: string;
}

export const pullCommand: CommandModule<GlobalArgs, PullArgs> = {
  command: 'pull',
  describe: 'Write a schema model file from a live schema (tenant: --workspace <guid>; master: the master schema)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('workspace', { type: 'string', describe: 'Workspace GUID whose tenant schema is read (tenant scope)' })
      .option('scope', { choices: ['tenant', 'master'] as const, default: 'tenant' as const })
      .option('out', { type: 'string', describe: 'Model file to write (default: config model.<scope>); "-" for stdout' })
      .option('force', { type: 'boolean', describe: 'Overwrite an existing model file' })
      .option('import-from', { type: 'string', describe: "Module the builders are imported from (default 'tenant-migrate')" })
      .check((a) => (a.scope === 'tenant' && !a.workspace ? 'pull --scope tenant needs --workspace <guid>' : true))
      .example('$0 pull --workspace 123e4567-e89b-12d3-a456-426614174000', 'schema/tenant.ts from that workspace\'s schema') as unknown as Argv<PullArgs>,
  handler: command<PullArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      const config = migrator.config;
      const adapter = await migrator.adapter();
      let schema = config.masterSchema;
      if (argv.scope === 'tenant') {
        const { tenants, invalid } = await adapter.withSession((s) => selectTenants(migrator.context, adapter.registry, s, { workspaceId: argv.workspace }));
        if (!tenants[0]) throw new TenantMigrateError('NOT_FOUND', invalid[0]?.reason ?? `No workspace ${argv.workspace}`, { workspaceId: argv.workspace });
        schema = tenants[0].schema;
      }
      const reader = await createCatalogReader(adapter);
      const raw = await adapter.withSession((s) => reader.readCatalog(s, schema));
      const catalog = argv.scope === 'master' ? { ...raw, tables: raw.tables.filter((t) => !t.name.startsWith(config.ledgerPrefix)) } : raw;
      if (catalog.tables.length === 0) throw new TenantMigrateError('NOT_FOUND', `Schema ${schema} has no tables`, { tenant: schema });
      const source = catalogToModelSource(catalog, {
        scope: argv.scope,
        masterSchema: config.masterSchema,
        source: argv.scope === 'tenant' ? `workspace ${argv.workspace}` : `the master schema ${schema}`,
        ...(argv.importFrom ? { importFrom: argv.importFrom } : {}),
      });
      if (argv.out === '-') {
        process.stdout.write(source);
        return EXIT.ok;
      }
      const file = path.resolve(config.rootDir, argv.out ?? config.model[argv.scope]);
      if (existsSync(file) && !argv.force) throw new TenantMigrateError('USAGE', `${file} exists: pass --force to overwrite, or --out another file`, { file });
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, source);
      process.stdout.write(`Wrote ${path.relative(config.rootDir, file)} (${catalog.tables.length} tables from ${schema}, ${adapter.name}).\n`);
      return EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
