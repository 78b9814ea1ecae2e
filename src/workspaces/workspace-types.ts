/** The workspace service's inputs, results and error. */
import { TenantMigrateError } from '../errors.js';
import type { FailureInfo } from '../events.js';
import type { AppliedMigration, TenantStatus } from '../types.js';
import type { WorkspaceCacheOptions } from './workspace-cache.js';

/** Registry status of a workspace whose schema is being built (master migration 0003). */
export const PROVISIONING = 'Provisioning';

export interface WorkspaceServiceOptions {
  /** Schema-name lookup cache; default TTL 60 s, 10 000 entries. See {@link WorkspaceCache}. */
  readonly cache?: WorkspaceCacheOptions;
  /** Member table in the master schema for `ownerUserId`. Default `WorkspaceMember`. */
  readonly memberTable?: string;
}

export interface ProvisionInput {
  /** The workspace GUID (with or without hyphens/braces, any case). */
  readonly workspaceId: string;
  /** Display name for a new row; default the GUID. An existing row keeps its name. */
  readonly name?: string;
  /** Added as OWNER in the member table (kept as is if already a member). */
  readonly ownerUserId?: string;
  /**
   * Target database of a new workspace (a name of config `targets`, or `(master)` for the master's
   * own database). Absent: the placement rule (docs/fleet.md). An unknown or full target is a USAGE
   * error before anything is created; an existing workspace must already live there.
   */
  readonly target?: string;
}

export interface ProvisionResult {
  readonly workspaceId: string;
  readonly schema: string;
  /** The target database the schema was built on; absent: the master's own. */
  readonly target?: string;
  /** created: new row; resumed: a 'Provisioning' row left by an earlier attempt; existing: was Active. */
  readonly outcome: 'created' | 'resumed' | 'existing';
  /** Tenant migrations applied by this call ([] when the workspace was already up to date). */
  readonly applied: readonly string[];
  readonly durationMs: number;
}

export interface WorkspaceInfo {
  readonly workspaceId: string;
  readonly name: string | null;
  /** Validated schema name (stored, or derived for a row not yet backfilled). */
  readonly schema: string;
  readonly status: TenantStatus;
  readonly lastSeenUtc: Date | null;
  readonly createdUtc: Date | null;
  /** The target database the schema lives on (config `targets`, docs/fleet.md); absent: the master's own. */
  readonly target?: string;
}

export interface WorkspaceDetails extends WorkspaceInfo {
  readonly schemaExists: boolean;
  readonly applied: readonly AppliedMigration[];
  readonly pending: readonly string[];
}

/** A provisioning that did not complete; the workspace is not Active. `context.cleanedUp` says what was undone. */
export class ProvisionError extends TenantMigrateError {
  readonly failure: FailureInfo | undefined;
  constructor(message: string, context: Record<string, unknown>, failure?: FailureInfo, cause?: unknown) {
    super('PROVISION_FAILED', message, context, cause === undefined ? undefined : { cause });
    this.failure = failure;
  }
}
