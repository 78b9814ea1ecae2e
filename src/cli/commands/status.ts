import type { Argv, CommandModule } from 'yargs';
import type { StatusResult } from '../../migrator.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface StatusArgs extends GlobalArgs {
  includeArchived?: boolean;
  verbose?: boolean;
}

/** The status contract: `{"master":{"applied":[…],"pending":[…]},"tenants":{"total",…}}`. */
export function statusJson(status: StatusResult, verbose = false) {
  return {
    dialect: status.dialect,
    master: status.master,
    tenants: status.tenants,
    invalid: status.invalid,
    ...(verbose
      ? { schemas: status.plans.map((p) => ({ schema: p.schema, state: p.state, pending: p.pending, unknownApplied: p.unknownApplied })) }
      : {}),
  };
}

export function formatStatus(status: StatusResult): string {
  const { master, tenants } = status;
  const lines = [
    `dialect: ${status.dialect}`,
    `master: ${master.applied.length} applied, ${master.pending.length} pending${master.pending.length ? ` (${master.pending.join(', ')})` : ''}` +
      (master.waiting.length ? `; ${master.waiting.join(', ')} waiting for ${tenants.behind + tenants.failed} tenant(s)` : ''),
    `tenants: ${tenants.upToDate}/${tenants.total} up to date, ${tenants.behind} behind, ${tenants.failed} failed, ${tenants.invalid} invalid`,
  ];
  for (const [id, n] of Object.entries(tenants.pendingCounts)) lines.push(`  ${id}: pending on ${n} tenant(s)`);
  for (const bad of status.invalid) lines.push(`  invalid ${bad.workspaceId}: ${bad.reason}`);
  return lines.join('\n');
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status',
  describe: 'Show applied and pending migrations for master and all tenants (changes nothing)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('include-archived', { type: 'boolean', describe: 'Count Archived workspaces too' })
      .option('verbose', { type: 'boolean', alias: 'v', describe: 'With --json: list every schema' }) as Argv<StatusArgs>,
  handler: command<StatusArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      const status = await migrator.status({ includeArchived: argv.includeArchived ?? false });
      if (argv.json) printJson(statusJson(status, argv.verbose));
      else process.stdout.write(`${formatStatus(status)}\n`);
      return EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
