import type { Argv, CommandModule } from 'yargs';
import { WorkspaceService, type WorkspaceDetails } from '../../workspaces/workspace-service.js';
import { archiveJson, provisionJson, workspaceJson } from '../../service/workspace-json.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface WorkspaceArgs extends GlobalArgs {
  guid: string;
  name?: string;
  owner?: string;
  target?: string;
}

/** Run `fn` with a workspace service over a migrator built from the flags; always closes it. */
async function withService<T>(argv: GlobalArgs, fn: (service: WorkspaceService) => Promise<T>): Promise<T> {
  const service = new WorkspaceService((await migratorFromArgs(argv)).context, { ownsMigrator: true });
  try {
    return await fn(service);
  } finally {
    await service.close();
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function formatWorkspace(w: WorkspaceDetails): string {
  const lines = [
    `workspace: ${w.workspaceId}${w.name ? ` (${w.name})` : ''}`,
    `schema: ${w.schema}${w.schemaExists ? '' : ' (does not exist yet)'}${w.target ? ` on target ${w.target}` : ''}`,
    `status: ${w.status}`,
    `last seen: ${iso(w.lastSeenUtc) ?? 'never'}`,
    `applied: ${w.applied.length}${w.pending.length ? `, pending: ${w.pending.length} (${w.pending.join(', ')})` : ', up to date'}`,
  ];
  for (const a of w.applied) lines.push(`  ${a.id}  ${a.appliedUtc.toISOString()}  ${a.durationMs} ms`);
  return lines.join('\n');
}

const guidArg = (y: Argv<GlobalArgs>) =>
  y.positional('guid', { type: 'string', demandOption: true, describe: 'Workspace GUID' }) as unknown as Argv<WorkspaceArgs>;

const add: CommandModule<GlobalArgs, WorkspaceArgs> = {
  command: 'add <guid>',
  describe: 'Provision a workspace: create its schema, apply every tenant migration, register it Active (idempotent)',
  builder: (y) =>
    guidArg(y)
      .option('name', { type: 'string', describe: 'Display name of a new workspace (default: the GUID)' })
      .option('owner', { type: 'string', describe: 'User id added as OWNER' })
      .option('target', {
        type: 'string',
        describe: 'Target database of a new workspace (a name of config targets, or "(master)"); default: the one with the fewest workspaces among targets not in fullTargets',
      })
      .example('$0 workspace add 3f2b… --target eu2', 'Create the workspace on target eu2') as Argv<WorkspaceArgs>,
  handler: command<WorkspaceArgs>((argv) =>
    withService(argv, async (service) => {
      const result = await service.provisionWorkspace({
        workspaceId: argv.guid,
        ...(argv.name !== undefined ? { name: argv.name } : {}),
        ...(argv.owner !== undefined ? { ownerUserId: argv.owner } : {}),
        ...(argv.target !== undefined ? { target: argv.target } : {}),
      });
      if (argv.json) printJson(provisionJson(result));
      else {
        const what = result.outcome === 'existing' ? 'already provisioned' : result.outcome === 'resumed' ? 'provisioning resumed and completed' : 'provisioned';
        const applied = result.applied.length ? `, applied ${result.applied.join(', ')}` : '';
        process.stdout.write(`${result.workspaceId}: ${what} as ${result.schema}${result.target ? ` on target ${result.target}` : ''}${applied} (${result.durationMs} ms)\n`);
      }
      return EXIT.ok;
    }),
  ),
};

const archive: CommandModule<GlobalArgs, WorkspaceArgs> = {
  command: 'archive <guid>',
  describe: 'Mark a workspace Archived (up skips it unless --include-archived; data is kept)',
  builder: guidArg,
  handler: command<WorkspaceArgs>((argv) =>
    withService(argv, async (service) => {
      const info = await service.archiveWorkspace(argv.guid);
      if (argv.json) printJson(archiveJson(info));
      else process.stdout.write(`${info.workspaceId}: ${info.status} (schema ${info.schema} kept)\n`);
      return EXIT.ok;
    }),
  ),
};

const show: CommandModule<GlobalArgs, WorkspaceArgs> = {
  command: 'show <guid>',
  describe: 'Show a workspace: schema, status, applied and pending tenant migrations (changes nothing)',
  builder: guidArg,
  handler: command<WorkspaceArgs>((argv) =>
    withService(argv, async (service) => {
      const details = await service.showWorkspace(argv.guid);
      if (argv.json) printJson(workspaceJson(details));
      else process.stdout.write(`${formatWorkspace(details)}\n`);
      return EXIT.ok;
    }),
  ),
};

export const workspaceCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'workspace <command>',
  describe: 'Provision, archive and inspect single workspaces',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .command(add)
      .command(archive)
      .command(show)
      .demandCommand(1, 'Name a workspace command: add, archive, show'),
  handler: () => undefined,
};
