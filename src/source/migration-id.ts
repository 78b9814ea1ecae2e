import type { MigrationFile } from '../types.js';

/**
 * A migration id (contract): at least four digits, an underscore and a lower snake_case name,
 * e.g. `0003_add_job_priority`.
 */
export const MIGRATION_ID_RE = /^\d{4,}_[a-z0-9]+(?:_[a-z0-9]+)*$/;

/** The parts of a migration file name, e.g. `0003_add_job_priority.down.sql.hbs`. */
export interface ParsedFileName {
  readonly id: string;
  readonly number: number;
  readonly name: string;
  readonly isDown: boolean;
  readonly isTemplate: boolean;
}

const FILE_RE = /^(\d{4,})_([a-z0-9]+(?:_[a-z0-9]+)*)(\.down)?\.sql(\.hbs)?$/;

/** True for names that claim to be migrations (`*.sql`, `*.sql.hbs`, `*.hbs`); others are ignored. */
export function looksLikeMigration(fileName: string): boolean {
  return !fileName.startsWith('.') && /\.(sql|hbs)$/i.test(fileName);
}

/** Parse a migration file name; undefined when it does not follow `NNNN_snake_name[.down].sql[.hbs]`. */
export function parseMigrationFileName(fileName: string): ParsedFileName | undefined {
  const m = FILE_RE.exec(fileName);
  if (!m) return undefined;
  const [, digits = '', name = '', down, hbs] = m;
  return {
    id: `${digits}_${name}`,
    number: Number.parseInt(digits, 10),
    name,
    isDown: down !== undefined,
    isTemplate: hbs !== undefined,
  };
}

/**
 * The number for a new migration: one more than the highest present, 1 for an empty folder.
 *
 * @example nextMigrationNumber([{ number: 1 }, { number: 7 }] as MigrationFile[]) // 8
 */
export function nextMigrationNumber(files: readonly Pick<MigrationFile, 'number'>[]): number {
  return files.reduce((max, f) => Math.max(max, f.number), 0) + 1;
}

/** Zero-padded to four digits (or more when the number needs them): `7` → `0007`. */
export function formatMigrationNumber(n: number): string {
  return String(n).padStart(4, '0');
}
