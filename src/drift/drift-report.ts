import type { DialectName } from '../dialect/dialect-syntax.js';
import type { Difference } from '../catalog/catalog-diff.js';
import type { GrantDrift } from '../operations/grants.js';

/**
 * Tenants that share an applied version and a fingerprint. Each distinct fingerprint is compared
 * once with the expected catalog of its version.
 */
export interface DriftGroup {
  /** Last applied tenant migration id; null when none is applied. */
  readonly version: string | null;
  readonly fingerprint: string;
  readonly tenantCount: number;
  /** A few tenants of the group (schema names), to look at or repair first. */
  readonly sampleTenants: readonly string[];
  /**
   * `ok`: the schema is what its migrations make; `drifted`: it differs; `unknown-version`: the
   * version is not in the migration files on disk (the database is ahead of this code), not compared.
   */
  readonly state: 'ok' | 'drifted' | 'unknown-version';
  readonly differences: readonly Difference[];
  /** E.g. applied migrations that are not a prefix of the files (compared with the prefix). */
  readonly note?: string;
  /** The database the tenants live in (a name of config `targets`, or `(master)`), when targets are configured. */
  readonly target?: string;
}

/** One target database's share of the report (with config `targets`). */
export interface DriftTargetSummary {
  readonly tenants: number;
  readonly driftedTenants: number;
  /** Tenants not compared because in-flight DDL held their catalog (SQL Server). */
  readonly busyTenants: number;
}

export interface DriftReport {
  readonly dialect: DialectName;
  /** Where the expected catalogs came from: a scratch schema on the same server, or PGlite. */
  readonly expectedFrom: 'scratch-schema' | 'offline-pglite';
  readonly tenants: number;
  /** Tenants in `drifted` groups. */
  readonly driftedTenants: number;
  /** Versions whose expected catalog was built. */
  readonly versions: readonly string[];
  /** Drifted groups first (most tenants first), then the rest by version. */
  readonly groups: readonly DriftGroup[];
  /** Tenants not compared because in-flight DDL held their catalog (SQL Server); run drift again. */
  readonly busyTenants: readonly string[];
  /**
   * Per target database (config `targets`, docs/fleet.md; `(master)` for the master's own): each
   * tenant is read in its own database and compared with the expected schema built on that database.
   */
  readonly targets?: Readonly<Record<string, DriftTargetSummary>>;
  /**
   * Only with `access` configured (docs/security.md): tenants whose grants differ from the configured
   * roles. Kept apart from the fingerprint, so fleets without `access` fingerprint exactly as before.
   */
  readonly grants?: GrantDrift;
  readonly durationMs: number;
}

export const hasDrift = (report: DriftReport): boolean => report.driftedTenants > 0 || (report.grants?.driftedTenants ?? 0) > 0;
