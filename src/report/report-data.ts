/**
 * The data of the HTML fleet report: what `collectReport` reads and aggregates in Node and what the
 * page embeds as JSON. Aggregated so that the file lists only what a person reads (counts,
 * failures, the slowest, the drifted), plus a compact index of every tenant for the search box.
 * The browser script imports these types only (no code).
 */

/**
 * Tenant states in the index (by position: `TENANT_STATES[code]`). `failed`: behind, and failed in
 * the newest run; `blocked`: `up` refuses it as it is (an applied migration's file changed).
 */
export const TENANT_STATES = ['up-to-date', 'behind', 'failed', 'blocked', 'archived'] as const;
export type TenantState = (typeof TENANT_STATES)[number];

/** The label of tenants with no tenant migration applied. */
export const NO_VERSION = '(none)';

export interface ReportData {
  /** Changes when a field is removed or renamed. */
  readonly format: 1;
  readonly generatedUtc: string;
  readonly dialect: string;
  readonly masterSchema: string;
  /** Tenant migration ids in file order; the last is the target of `up`. */
  readonly migrations: readonly string[];
  readonly fleet: FleetSection;
  readonly runs: RunsSection;
  /** Present with `--drift`. */
  readonly drift?: DriftSection;
  /** Present with `--plan`. */
  readonly plan?: PlanSection;
  readonly tenants: TenantIndex;
}

/** How the Active tenants of the fleet, or of one target database, stand. */
export interface StandingCounts {
  readonly total: number;
  readonly upToDate: number;
  /** Not at the last migration (the failed ones included). */
  readonly behind: number;
  /** Behind, and failed in the newest run. */
  readonly failed: number;
  /** Tenants `up` refuses as they are (checksum mismatch). */
  readonly blocked: number;
  readonly invalid: number;
  readonly archived: number;
}

export interface TargetCounts extends StandingCounts {
  readonly name: string;
  /** The error when this database's meta tables could not be read. */
  readonly unreachable?: string;
}

export interface FleetSection extends StandingCounts {
  readonly active: number;
  /**
   * Active tenants per applied version (bars) and target database (stacks): `counts[t][v]` is how
   * many tenants of `targets[t]` have `versions[v]` as their last applied migration.
   */
  readonly byVersion: { readonly versions: readonly string[]; readonly targets: readonly string[]; readonly counts: readonly (readonly number[])[] };
  /** One row per target database (one row, `(master)`, without config `targets`). */
  readonly targets: readonly TargetCounts[];
  readonly master: {
    readonly schema: string;
    readonly applied: readonly string[];
    readonly pending: readonly string[];
    /** after-tenants migrations waiting for tenants, and for how many. */
    readonly waiting: readonly string[];
    readonly waitingFor: number;
    /** Applied master migrations whose files changed since (`up` refuses until reverted or repaired). */
    readonly changed: readonly string[];
  };
  /** Registry rows that cannot be migrated (bad schema name…), at most {@link LIST_LIMIT}. */
  readonly invalidRows: readonly { readonly workspaceId: string; readonly reason: string }[];
  /** Tenants whose applied migrations differ from the files (checksum), at most {@link LIST_LIMIT}. */
  readonly blockedTenants: readonly { readonly schema: string; readonly migrations: readonly string[] }[];
}

/** How many tenants a list names before it says "and N more". */
export const LIST_LIMIT = 100;

export interface RunsSection {
  /** How many runs were asked for (`--runs`). */
  readonly requested: number;
  /** Newest first. */
  readonly runs: readonly RunSummary[];
}

export interface FailedTenantRef {
  readonly schema: string;
  readonly workspaceId: string;
}

export interface FailureGroup {
  readonly code: string;
  /** The message with the tenant's own schema and id replaced by placeholders, so equal failures group. */
  readonly message: string;
  readonly migrationId?: string;
  readonly file?: string;
  readonly line?: number;
  readonly count: number;
  /** The first tenants of the group (at most {@link LIST_LIMIT}). */
  readonly tenants: readonly FailedTenantRef[];
}

export interface SlowTenant {
  readonly schema: string;
  readonly workspaceId: string;
  readonly durationMs: number;
  readonly status: string;
}

export interface RunSummary {
  readonly runId: string;
  readonly status: string;
  readonly target: string;
  readonly startedBy: string;
  readonly startedUtc: string;
  readonly finishedUtc: string | null;
  /** Start to finish (or to the last heartbeat of a run still open). */
  readonly durationMs: number | null;
  readonly counts: { readonly total: number; readonly succeeded: number; readonly failed: number; readonly skipped: number; readonly pending: number; readonly running: number };
  readonly options: Readonly<Record<string, unknown>>;
  /** Per-tenant durations of finished tenants (ms). */
  readonly durations: { readonly n: number; readonly p50: number; readonly p95: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** Histogram of per-tenant durations: bucket `i` is `[edges[i], edges[i+1])` ms. */
  readonly histogram: { readonly edges: readonly number[]; readonly counts: readonly number[] };
  /** Tenants finished by each second mark (cumulative), from the run's first start. */
  readonly throughput: { readonly seconds: readonly number[]; readonly succeeded: readonly number[]; readonly failed: readonly number[] };
  readonly slowest: readonly SlowTenant[];
  readonly waves: readonly { readonly wave: number; readonly total: number; readonly succeeded: number; readonly failed: number }[];
  readonly workers: readonly { readonly worker: string; readonly tenants: number }[];
  readonly failures: readonly FailureGroup[];
}

export interface DriftSection {
  readonly tenants: number;
  readonly driftedTenants: number;
  readonly expectedFrom: string;
  readonly busyTenants: number;
  readonly groups: readonly {
    readonly version: string | null;
    readonly state: string;
    readonly tenantCount: number;
    readonly sampleTenants: readonly string[];
    readonly differences: readonly string[];
    readonly note?: string;
    readonly target?: string;
  }[];
}

export interface PlanSection {
  readonly clean: boolean;
  readonly errors: number;
  readonly warnings: number;
  readonly behind: number;
  readonly masterPending: readonly PlannedMigration[];
  readonly pending: readonly PlannedMigration[];
  readonly problems: readonly { readonly severity: string; readonly kind: string; readonly message: string; readonly count: number; readonly sample: readonly string[] }[];
}

export interface PlannedMigration {
  readonly id: string;
  readonly file: string;
  /** Tenants that would get it (1 for a master migration). */
  readonly tenants: number;
  /** The first of them (schema names, at most 20). */
  readonly sampleTenants: readonly string[];
  readonly noTransaction: boolean;
  readonly afterTenants: boolean;
  readonly lint: readonly { readonly rule: string; readonly severity: string; readonly line: number; readonly message: string }[];
  /** The SQL the template renders to, per dialect family, for a sample tenant (or the render error). */
  readonly sql: readonly { readonly dialect: string; readonly text?: string; readonly error?: string }[];
}

/**
 * Every tenant for the search box and the details pane, compact: `rows` is one line per tenant,
 * fields separated by a tab: workspace id · name · version index (into `versions`, -1 none) ·
 * state code ({@link TENANT_STATES}) · target index · pending-group index (-1 none) · schema when
 * it is not `ws_` + the id without hyphens. Full rows of 100,000 tenants would weigh tens of MB.
 */
export interface TenantIndex {
  readonly total: number;
  /** Tenants in `rows` (less than `total` when capped by `maxIndexed`). */
  readonly indexed: number;
  readonly versions: readonly string[];
  readonly targets: readonly string[];
  /** Pending lists shared by many tenants. */
  readonly pendingGroups: readonly (readonly string[])[];
  readonly rows: string;
  /** Per schema: the ledger rows and drift of the tenants a list names (failed, slowest, drifted). */
  readonly details: Readonly<Record<string, TenantDetails>>;
}

export interface TenantDetails {
  readonly workspaceId: string;
  readonly name: string | null;
  /** The target database (`(master)`: the master's own). */
  readonly target: string;
  readonly runs: readonly {
    readonly runId: string;
    readonly status: string;
    readonly durationMs: number | null;
    readonly attempts: number;
    readonly applied: readonly string[];
    readonly error?: { readonly code: string; readonly message: string; readonly migrationId?: string; readonly file?: string; readonly line?: number };
  }[];
  readonly drift?: { readonly version: string | null; readonly differences: readonly string[] };
}
