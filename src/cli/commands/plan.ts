import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { TenantMigrateError } from '../../errors.js';
import { buildReleasePlan } from '../../release/plan.js';
import { renderPlannedScripts } from '../../release/plan-scripts.js';
import { planToMarkdown } from '../../release/plan-report-markdown.js';
import { scriptFileName, scriptToSql } from '../../release/plan-report-sql.js';
import { planToText } from '../../release/plan-report-text.js';
import { type GlobalArgs, command, migratorFromArgs } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';
import { discoverTenants } from '../../operations/discover.js';
import type { ReleasePlan } from '../../release/plan.js';
import type { Tenant } from '../../types.js';

type PlanFormat = 'text' | 'json' | 'markdown' | 'sql';

interface PlanArgs extends GlobalArgs {
  format?: PlanFormat;
  out?: string;
  workspace?: string;
  includeArchived?: boolean;
  driftCheck?: boolean;
}

export const planCommand: CommandModule<GlobalArgs, PlanArgs> = {
  command: 'plan',
  describe: 'Dry run: what up would do to master and every tenant, with problems found in advance (changes nothing)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('format', { choices: ['text', 'json', 'markdown', 'sql'] as const, describe: 'Report format (--json = --format json)' })
      .option('out', { type: 'string', describe: 'Write the report to this file (--format sql without --workspace: a folder, one file per schema)' })
      .option('workspace', { type: 'string', describe: 'Plan for this workspace GUID only' })
      .option('include-archived', { type: 'boolean', describe: 'Plan Archived workspaces too, as up --include-archived would' })
      .option('drift-check', {
        type: 'boolean',
        default: true,
        describe: 'Warn when a tenant to migrate has a schema unlike the others at its version (reads the catalogs of the tenants to migrate only; --no-drift-check skips it)',
      })
      .example('$0 plan --format markdown --out plan.md', 'A report to paste into the release PR')
      .example('$0 plan --format sql --workspace 123e4567-e89b-12d3-a456-426614174000', 'The exact SQL one tenant would get') as unknown as Argv<PlanArgs>,
  handler: command<PlanArgs>(async (argv) => {
    const format: PlanFormat = argv.format ?? (argv.json ? 'json' : 'text');
    if (format === 'sql' && !argv.workspace && !argv.out) {
      throw new TenantMigrateError('USAGE', '--format sql needs --workspace <guid> (one script) or --out <folder> (one file per schema)');
    }
    const migrator = await migratorFromArgs(argv);
    try {
      const plan = await buildReleasePlan(migrator.context, { workspaceId: argv.workspace, includeArchived: argv.includeArchived });
      const exit = plan.clean ? EXIT.ok : EXIT.usage;
      if (argv.driftCheck !== false) await warnDrifted(migrator, plan, Boolean(argv.workspace));
      if (format === 'sql') {
        const scripts = await renderPlannedScripts(migrator.context, plan, { workspaceId: argv.workspace });
        if (argv.workspace) {
          await emit(scripts.map(scriptToSql).join('\n'), argv.out);
        } else {
          const dir = path.resolve(argv.out!);
          await mkdir(dir, { recursive: true });
          for (const s of scripts) await writeFile(path.join(dir, scriptFileName(s)), scriptToSql(s));
          process.stderr.write(`wrote ${scripts.length} script(s) to ${dir}\n`);
        }
        return exit;
      }
      const text = format === 'json' ? `${JSON.stringify(plan, null, 2)}\n` : format === 'markdown' ? planToMarkdown(plan) : planToText(plan);
      await emit(text, argv.out);
      if (argv.out && format !== 'text') process.stderr.write(planToText(plan));
      return exit;
    } finally {
      await migrator.close();
    }
  }),
};

async function emit(text: string, out: string | undefined): Promise<void> {
  if (out) await writeFile(out, text);
  else process.stdout.write(text);
}

/**
 * Warn (stderr) about tenants this plan would migrate whose fingerprint is not the common one at
 * their version: a hand-altered schema may make the next migration fail or do something else. Reads
 * the catalogs of the tenants to migrate only (src/drift/plan-drift-check.ts); for a one-workspace
 * plan a few peers from the registry are read beside it.
 */
async function warnDrifted(migrator: Awaited<ReturnType<typeof migratorFromArgs>>, plan: ReleasePlan, oneWorkspace: boolean): Promise<void> {
  const toMigrate = plan.schemas.filter((t) => t.pending.length > 0);
  if (toMigrate.length === 0) return;
  const { planDriftCheck } = await import('../../drift/plan-drift-check.js');
  const ctx = migrator.context;
  let others: readonly Tenant[] = [];
  if (oneWorkspace) {
    const dialect = await ctx.dialect();
    others = (await dialect.withSession((s) => discoverTenants(ctx, dialect.registry, s))).tenants;
  }
  const { suspects } = await planDriftCheck(ctx, toMigrate, others);
  if (suspects.length === 0) return;
  process.stderr.write(
    `warning: ${suspects.length} tenant(s) to migrate have a schema unlike the others at their version (e.g. ${suspects.slice(0, 5).join(', ')}); run \`tenant-migrate drift\` before deploying\n`,
  );
}
