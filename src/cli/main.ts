import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { GlobalArgs } from './cli-context.js';
import { describeError } from '../errors.js';
import { COMMANDS, selectCommand } from './command-index.js';
import { EXIT, exitCodeForError } from './exit-codes.js';

/**
 * Build the CLI. Commands live one per file in commands/ and are listed in command-index.ts;
 * only the module of the command being run is imported (`--help` imports none), so start-up does
 * not pay for the migrator, zod, umzug and Handlebars unless the command needs them.
 */
export async function buildCli(argv: string[]) {
  // yargs reads a lone `-` as a positional, not as an option's value: `--out -` (stdout, as Unix
  // tools spell it) becomes `--out=-`.
  const args = argv.flatMap((a, i) => (a === '-' && argv[i - 1] === '--out' ? [] : a === '--out' && argv[i + 1] === '-' ? ['--out=-'] : [a]));
  const cli = yargs(args)
    .scriptName('tenant-migrate')
    .usage('$0 <command> [options]\n\nMigrations for schema-per-tenant databases (SQL Server, PostgreSQL, embedded PGlite).')
    .option('url', { type: 'string', global: true, describe: 'Database URL (mssql://…, Server=…;…, postgres://…, pglite:<dir>); env TM_DATABASE_URL' })
    .option('config', { type: 'string', global: true, describe: 'Config file (default: tenant-migrate.config.json|js|mjs|ts in the cwd)' })
    .option('json', { type: 'boolean', global: true, describe: 'Machine-readable output on stdout, no progress' });
  const selected = selectCommand(args);
  for (const entry of COMMANDS) {
    if (entry === selected) cli.command(await entry.load());
    // Listed for --help and for yargs' "did you mean"; never run (its name would have selected it).
    else cli.command({ command: entry.command, aliases: entry.aliases ? [...entry.aliases] : [], describe: entry.describe, handler: () => undefined });
  }
  skipHelpCache(cli);
  return cli
    .demandCommand(1, 'Name a command: up, status, render, demo, init … (see --help)')
    .strict()
    .recommendCommands()
    .fail((msg, err) => {
      // Errors thrown by handlers are handled by command(); this is yargs' own validation
      // (unknown command, bad choice) or a throwing .check(): both are usage errors.
      process.stderr.write(`tenant-migrate: ${msg ?? (err ? describeError(err) : 'invalid arguments')}\nRun with --help for usage.\n`);
      process.exit(err ? exitCodeForError(err) === EXIT.failed ? EXIT.usage : exitCodeForError(err) : EXIT.usage);
    })
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns || 100));
}

/**
 * This package's version, for `--version`. yargs would guess it from the package.json above the
 * folder that holds its own node_modules, or above the current directory when it runs bundled:
 * the application's version, not this package's.
 */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * yargs formats the running command's whole help text before its handler's first await (it keeps
 * it to print after a later failure). This CLI prints its own failures and never that text, and the
 * formatting took ~35 ms of every command's start; `--help` formats it as before.
 */
function skipHelpCache(cli: object): void {
  type Internal = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = (cli as Internal).getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

export type { GlobalArgs };

await (await buildCli(hideBin(process.argv))).parseAsync();
