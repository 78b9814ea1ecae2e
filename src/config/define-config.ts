import type { ConfigInput } from './config-schema.js';

/**
 * Type a `tenant-migrate.config.ts` (or `.mjs` with JSDoc): returns its argument unchanged, so the
 * editor completes and checks every key against {@link ConfigInput}. Validation still happens when
 * the file is loaded (every problem listed with its path, exit code 2).
 *
 * @example
 * // tenant-migrate.config.ts
 * import { defineConfig } from 'tenant-migrate';
 * export default defineConfig({ url: process.env.DATABASE_URL, masterSchema: 'app_master', concurrency: 16 });
 */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}
