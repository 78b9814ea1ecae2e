import type { ArgumentsCamelCase } from 'yargs';
import { loadConfig } from '../config/load-config.js';
import type { ConfigInput } from '../config/config-schema.js';
import type { MigratorImpl } from '../migrator.js';
import { describeError, isTenantMigrateError } from '../errors.js';
import { errorJson } from '../service/workspace-json.js';
import { EXIT, exitCodeForError } from './exit-codes.js';

/** Options every command accepts. */
export interface GlobalArgs {
  url?: string;
  config?: string;
  json?: boolean;
  concurrency?: number;
}

/** Load config (flags > env > file > defaults) and open a migrator. */
export async function migratorFromArgs(argv: GlobalArgs, overrides: ConfigInput = {}): Promise<MigratorImpl> {
  const config = await loadConfig({
    ...(argv.config ? { configFile: argv.config } : {}),
    overrides: {
      ...overrides,
      ...(argv.url ? { url: argv.url } : {}),
      ...(argv.concurrency !== undefined ? { concurrency: argv.concurrency } : {}),
    },
  });
  // Imported here, not at the top: commands that need no database (init, create) skip its load.
  const { MigratorImpl } = await import('../migrator.js');
  return new MigratorImpl(config);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The single place that turns a command's outcome into an exit code and prints errors. */
export function command<A extends GlobalArgs>(fn: (argv: ArgumentsCamelCase<A>) => Promise<number>) {
  return async (argv: ArgumentsCamelCase<A>): Promise<void> => {
    try {
      process.exitCode = await fn(argv);
    } catch (err) {
      process.exitCode = exitCodeForError(err);
      if (argv.json) {
        printJson(errorJson(err));
      } else {
        process.stderr.write(`tenant-migrate: ${describeError(err)}\n`);
        if (process.exitCode === EXIT.failed && !isTenantMigrateError(err) && process.env.TM_DEBUG && err instanceof Error) {
          process.stderr.write(`${err.stack}\n`);
        }
      }
    }
  };
}
