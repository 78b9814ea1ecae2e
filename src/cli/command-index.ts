import type { CommandModule } from 'yargs';
import type { GlobalArgs } from './cli-context.js';

/**
 * Every command, in `--help` order, with what the help listing needs and a loader for the rest.
 * main.ts imports only the module of the command being run (each pulls in the migrator, zod,
 * umzug, Handlebars…); the others are listed from here. `command`, `aliases` and `describe` must
 * equal the module's own (test/unit/cli-commands.test.ts checks it).
 */
export interface CommandEntry {
  readonly command: string;
  readonly aliases?: readonly string[];
  readonly describe: string;
  /** The command module (its argument type is its own, hence `any`). */
  readonly load: () => Promise<CommandModule<GlobalArgs, any>>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    command: 'up',
    describe: 'Apply pending master migrations, then pending tenant migrations to every Active workspace',
    load: async () => (await import('./commands/up.js')).upCommand,
  },
  {
    command: 'status',
    describe: 'Show applied and pending migrations for master and all tenants (changes no migration state; fills in missing applied-version summary rows)',
    load: async () => (await import('./commands/status.js')).statusCommand,
  },
  {
    command: 'render <migration-id>',
    describe: 'Print the SQL a migration renders to, for one workspace (default: a sample workspace)',
    load: async () => (await import('./commands/render.js')).renderCommand,
  },
  {
    command: 'demo',
    describe: 'The pmassist upgrade on the embedded database: legacy layout, N pre-existing workspaces, then up',
    load: async () => (await import('./commands/demo.js')).demoCommand,
  },
  {
    command: 'init',
    describe: 'Scaffold a project in the current folder: config, migration folders with a first example of each, partials',
    load: async () => (await import('./commands/init.js')).initCommand,
  },
  {
    command: 'drift',
    describe: 'Compare every tenant schema with what its applied migrations make (exit 4 on drift)',
    load: async () => (await import('./commands/drift.js')).driftCommand,
  },
  {
    command: 'grants',
    describe: 'Apply the configured access grants to master and every existing tenant schema (idempotent)',
    load: async () => (await import('./commands/grants.js')).grantsCommand,
  },
  {
    command: 'diff [name]',
    describe: 'Write the next migration from the schema model vs its snapshot (schema as code; docs/schema-as-code.md)',
    load: async () => (await import('./commands/diff.js')).diffCommand,
  },
  {
    command: 'check',
    describe: 'CI: the schema model equals its snapshot and the migrations make it (replayed in PGlite, or on the server with --on-server); exit 2 when not',
    load: async () => (await import('./commands/check.js')).checkCommand,
  },
  {
    command: 'pull',
    describe: 'Write a schema model file from a live schema (tenant: --workspace <guid>; master: the master schema)',
    load: async () => (await import('./commands/pull.js')).pullCommand,
  },
  {
    command: 'plan',
    describe: 'Dry run: what up would do to master and every tenant, with problems found in advance (changes nothing)',
    load: async () => (await import('./commands/plan.js')).planCommand,
  },
  {
    command: 'report',
    describe: 'Write a self-contained HTML report of the fleet: versions per database, the last runs, failures, drift, the next deploy (changes nothing)',
    load: async () => (await import('./commands/report.js')).reportCommand,
  },
  {
    command: 'create <scope> <name>',
    describe: 'Scaffold the next numbered master or tenant migration (needs no database)',
    load: async () => (await import('./commands/create.js')).createCommand,
  },
  {
    command: 'validate',
    aliases: ['lint'],
    describe:
      'Check the migration folders offline: numbering, templates for every dialect, risky statements (with --url: the fast-forward rule)',
    load: async () => (await import('./commands/validate.js')).validateCommand,
  },
  {
    command: 'baseline',
    describe: 'Record migrations up to --to as applied (with checksums), without running them, for schemas built outside the tool',
    load: async () => (await import('./commands/baseline.js')).baselineCommand,
  },
  {
    command: 'down',
    describe: 'Revert migrations newer than --to with their .down.sql.hbs files (master or tenants, per-tenant locks)',
    load: async () => (await import('./commands/down.js')).downCommand,
  },
  {
    command: 'repair',
    describe: 'Store the current checksums of applied migrations whose files were edited on purpose, and rebuild stale applied-version summary rows (lists only, unless --yes)',
    load: async () => (await import('./commands/repair.js')).repairCommand,
  },
  {
    command: 'workspace <command>',
    describe: 'Provision, archive and inspect single workspaces',
    load: async () => (await import('./commands/workspace.js')).workspaceCommand,
  },
  {
    command: 'serve',
    describe: 'Run the warm provisioning service (HTTP + JSON on a Unix socket or loopback port) for applications in other languages',
    load: async () => (await import('./commands/serve.js')).serveCommand,
  },
];

/** Options of the root command that take a value: their value is not the command name. */
const VALUE_OPTIONS = new Set(['--url', '--config']);

/**
 * The entry named by the arguments (its name or an alias as the first positional), if any.
 * Only that module is loaded; an unknown name loads none and yargs reports it as usual.
 */
export function selectCommand(args: readonly string[]): CommandEntry | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return undefined;
    if (arg.startsWith('-')) {
      if (VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    return COMMANDS.find((c) => c.command.split(' ')[0] === arg || c.aliases?.includes(arg));
  }
  return undefined;
}
