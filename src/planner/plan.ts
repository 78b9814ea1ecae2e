import type { AppliedMigration, MigrationFile } from '../types.js';

export interface ChecksumMismatch {
  readonly id: string;
  /** Checksum of the file on disk now. */
  readonly expected: string;
  /** Checksum recorded when it was applied. */
  readonly recorded: string;
}

/** What one schema needs, computed without touching the database. */
export interface SchemaPlan {
  readonly schema: string;
  readonly applied: readonly string[];
  /** Ids to apply, in order. */
  readonly pending: readonly string[];
  readonly checksumMismatches: readonly ChecksumMismatch[];
  /** Applied in the database but missing on disk (the database is ahead of this code). */
  readonly unknownApplied: readonly string[];
  readonly state: 'up-to-date' | 'behind' | 'blocked';
}

/**
 * Compare the files with the applied rows of one schema. Pure: no I/O, so `plan`/`status` can
 * print it and the runner can trust it.
 */
export function planSchema(
  schema: string,
  files: readonly MigrationFile[],
  applied: readonly Pick<AppliedMigration, 'id' | 'checksum'>[],
  options: { readonly to?: string } = {},
): SchemaPlan {
  const byId = new Map(applied.map((a) => [a.id, a]));
  const known = new Set(files.map((f) => f.id));
  const target = options.to ? files.findIndex((f) => f.id === options.to) : files.length - 1;
  const inScope = target >= 0 ? files.slice(0, target + 1) : files;
  const pending: string[] = [];
  const checksumMismatches: ChecksumMismatch[] = [];
  for (const file of inScope) {
    const row = byId.get(file.id);
    if (!row) pending.push(file.id);
    else if (row.checksum !== file.checksum) {
      checksumMismatches.push({ id: file.id, expected: file.checksum, recorded: row.checksum });
    }
  }
  const unknownApplied = applied.filter((a) => !known.has(a.id)).map((a) => a.id);
  const state = checksumMismatches.length > 0 ? 'blocked' : pending.length > 0 ? 'behind' : 'up-to-date';
  return { schema, applied: applied.map((a) => a.id), pending, checksumMismatches, unknownApplied, state };
}

export interface FleetPlanSummary {
  readonly total: number;
  readonly upToDate: number;
  readonly behind: number;
  readonly blocked: number;
  /** For each pending id, how many schemas would get it. */
  readonly pendingCounts: Readonly<Record<string, number>>;
}

export function summarizePlans(plans: Iterable<SchemaPlan>): FleetPlanSummary {
  let total = 0;
  let upToDate = 0;
  let behind = 0;
  let blocked = 0;
  const pendingCounts: Record<string, number> = {};
  for (const plan of plans) {
    total++;
    if (plan.state === 'up-to-date') upToDate++;
    else if (plan.state === 'behind') behind++;
    else blocked++;
    for (const id of plan.pending) pendingCounts[id] = (pendingCounts[id] ?? 0) + 1;
  }
  return { total, upToDate, behind, blocked, pendingCounts };
}
