import { TenantMigrateError } from '../errors.js';

/** A schema model (or its snapshot) is invalid: every problem, each with its path. Exit code 2. */
export class ModelError extends TenantMigrateError {
  readonly issues: readonly string[];
  constructor(source: string, issues: readonly string[]) {
    super('MODEL_INVALID', `${source}: invalid schema model:\n${issues.map((i) => `  - ${i}`).join('\n')}`, { file: source });
    this.name = 'ModelError';
    this.issues = issues;
  }
}
