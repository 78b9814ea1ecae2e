import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { GlobalArgs } from './cli-context.js';
import { describeError } from '../errors.js';
import { EXIT, exitCodeForError } from './exit-codes.js';
import { demoCommand } from './commands/demo.js';
import { renderCommand } from './commands/render.js';
import { statusCommand } from './commands/status.js';
import { upCommand } from './commands/up.js';
import { baselineCommand } from './commands/baseline.js';
import { createCommand } from './commands/create.js';
import { downCommand } from './commands/down.js';
import { planCommand } from './commands/plan.js';
import { repairCommand } from './commands/repair.js';
import { validateCommand } from './commands/validate.js';
import { workspaceCommand } from './commands/workspace.js';
import { driftCommand } from './commands/drift.js';

/** Build the CLI. Commands live one per file in commands/; this file only wires them. */
export function buildCli(args: string[]) {
  return yargs(args)
    .scriptName('tenant-migrate')
    .usage('$0 <command> [options]\n\nMigrations for schema-per-tenant databases (SQL Server, PostgreSQL, embedded PGlite).')
    .option('url', { type: 'string', global: true, describe: 'Database URL (mssql://…, Server=…;…, postgres://…, pglite:<dir>); env TM_DATABASE_URL' })
    .option('config', { type: 'string', global: true, describe: 'Config file (default: tenant-migrate.config.json|js|ts in the cwd)' })
    .option('json', { type: 'boolean', global: true, describe: 'Machine-readable output on stdout, no progress' })
    .command(upCommand)
    .command(statusCommand)
    .command(renderCommand)
    .command(demoCommand)
    .command(planCommand)
    .command(createCommand)
    .command(validateCommand)
    .command(baselineCommand)
    .command(downCommand)
    .command(repairCommand)
    .command(workspaceCommand)
    .command(driftCommand)
    .demandCommand(1, 'Name a command: up, status, render, demo … (see --help)')
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
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100));
}

export type { GlobalArgs };

await buildCli(hideBin(process.argv)).parseAsync();
