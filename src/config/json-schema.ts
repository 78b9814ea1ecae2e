import { z } from 'zod';
import { configSchema } from './config-schema.js';

/**
 * JSON Schema of the config file for editors: reference it with
 * `"$schema": "./node_modules/tenant-migrate/schema/tenant-migrate.config.schema.json"`.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'tenant-migrate configuration',
  };
}
