import { createHash } from 'node:crypto';
import type { AppliedMigration, MigrationFile } from '../types.js';

/**
 * The applied-version summary (docs/fleet.md, "The applied-version summary"): one row per tenant
 * schema in a table of tenant-migrate's own in each database, written in the same transaction as
 * every change of the schema's meta table. Planning (`status`, `plan`, `up`) reads it instead of
 * opening every meta table; the meta tables stay the truth.
 */

/** What planning needs of an applied migration: which one, and the checksum of the file that ran. */
export type AppliedRef = Pick<AppliedMigration, 'id' | 'checksum'>;

/** One summary row: how many migrations the schema's meta table holds, the last id, and their digest. */
export interface SchemaSummary {
  readonly schema: string;
  readonly count: number;
  /** Highest id in byte order; null for an empty meta table. */
  readonly lastId: string | null;
  /** {@link appliedFingerprint} of the meta table's rows. */
  readonly digest: string;
}

const ASCII = /^[\x00-\x7f]*$/;
/** Byte order of the UTF-8 encodings (what `COLLATE "C"` sorts by); plain string order for ASCII, which is the same. */
const byBytes = (a: string, b: string) =>
  ASCII.test(a) && ASCII.test(b) ? (a < b ? -1 : a > b ? 1 : 0) : Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Fingerprints by their `id:checksum` list as given: the tenants of a fleet mostly share a few (one per version). */
const fingerprints = new Map<string, string>();
const FINGERPRINT_CACHE = 1000;

/**
 * The fingerprint of a meta table: sha256 of `id:checksum` pairs in byte order of the ids, joined
 * by commas (sha256, not md5: md5() is refused by servers in FIPS mode). The folded send's check
 * and the summary row compute the same value in SQL.
 */
export function appliedFingerprint(rows: readonly AppliedRef[]): string {
  // Length-prefixed: no two different lists share a key, whatever their ids and checksums hold.
  const key = rows.map(({ id, checksum }) => `${String(id).length}:${id}${String(checksum).length}:${checksum}`).join('');
  const known = fingerprints.get(key);
  if (known !== undefined) return known;
  const sorted = [...rows].sort((a, b) => byBytes(a.id, b.id));
  const digest = createHash('sha256').update(sorted.map((r) => `${r.id}:${r.checksum}`).join(',')).digest('hex');
  if (fingerprints.size >= FINGERPRINT_CACHE) fingerprints.clear();
  fingerprints.set(key, digest);
  return digest;
}

/** The summary row that a meta table holding `rows` must have. */
export function summaryOf(schema: string, rows: readonly AppliedRef[]): SchemaSummary {
  const ids = rows.map((r) => r.id).sort(byBytes);
  return { schema, count: rows.length, lastId: ids.at(-1) ?? null, digest: appliedFingerprint(rows) };
}

/** Same count, last id and digest. */
export function sameSummary(a: SchemaSummary, b: SchemaSummary): boolean {
  return a.count === b.count && a.lastId === b.lastId && a.digest === b.digest;
}

/**
 * Turns summary rows back into applied lists, for the usual state only: the schema holds exactly the
 * first k migration files (k = 0 … all), with the files' current checksums. Anything else — a gap, an
 * id the files do not have (the database is ahead of this code), a changed checksum — decodes to
 * undefined and the caller reads that schema's meta table, so planning reports those states exactly
 * as before.
 */
export class SummaryDecoder {
  /** digest of the first k files → k. */
  readonly #prefixes = new Map<string, number>();
  readonly #files: readonly AppliedRef[];

  constructor(files: readonly MigrationFile[]) {
    this.#files = files.map((f) => ({ id: f.id, checksum: f.checksum }));
    const inByteOrder = this.#files.every((f, i) => i === 0 || byBytes(this.#files[i - 1]!.id, f.id) < 0);
    if (inByteOrder) {
      // The digest of each prefix, hashing incrementally (the digest joins sorted pairs by commas).
      const hash = createHash('sha256');
      this.#prefixes.set(hash.copy().digest('hex'), 0);
      this.#files.forEach((f, i) => {
        hash.update(`${i === 0 ? '' : ','}${f.id}:${f.checksum}`);
        this.#prefixes.set(hash.copy().digest('hex'), i + 1);
      });
    } else {
      for (let k = 0; k <= this.#files.length; k++) this.#prefixes.set(appliedFingerprint(this.#files.slice(0, k)), k);
    }
  }

  /** The applied list the summary stands for, or undefined when it is not a prefix of the files. */
  decode(summary: SchemaSummary): AppliedRef[] | undefined {
    const k = this.#prefixes.get(summary.digest);
    if (k === undefined || k !== summary.count) return undefined;
    return this.#files.slice(0, k);
  }
}
