/**
 * Pure parsing and validation of the fleet options of `up` (`--shard`, `--waves`, `--order`,
 * `--max-failures`, `--concurrency`, `--lease-ms`). Used by the CLI before anything is opened and by
 * `Migrator.up` for library callers. Every error is a USAGE TenantMigrateError (exit 2) whose message
 * names the flag and whose context `key` is the option name.
 */
import { TenantMigrateError } from '../errors.js';

/** A stable partition of the tenants: `--shard 2/4` is shard index 2 (1-based) of 4. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Tenant order of a run: registry order, least recently seen first, most recently seen first, oldest first. */
export type TenantOrder = 'registry' | 'last-seen' | 'recent' | 'created';
export const TENANT_ORDERS: readonly TenantOrder[] = ['registry', 'last-seen', 'recent', 'created'];

function usage(key: string, message: string): TenantMigrateError {
  return new TenantMigrateError('USAGE', message, { key });
}

const show = (value: unknown) => (typeof value === 'string' ? `"${value}"` : String(value));

/** Parse `i/n` (1 ≤ i ≤ n), e.g. `2/4`. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw usage('shard', `--shard ${show(text)}: expected i/n with 1 ≤ i ≤ n, e.g. 1/4`);
  }
  return { index, count };
}

/** `"2/4"` or `{ index: 2, count: 4 }` (library callers), checked the same way. */
export function toShard(shard: string | Shard): Shard {
  if (typeof shard === 'string') return parseShard(shard);
  const { index, count } = shard;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw usage('shard', `--shard ${index}/${count}: expected i/n with 1 ≤ i ≤ n, e.g. 1/4`);
  }
  return { index, count };
}

/**
 * Parse canary waves, e.g. `1,10%,100%`: each entry is the cumulative size after that wave, as a
 * positive count or a percentage in (0, 100] of the run's tenants. Sizes are cumulative, so counts
 * must grow from one count to the next and percentages from one percentage to the next (a count and
 * a percentage are compared only once the run's size is known). The last wave always extends to
 * every tenant. Empty entries (`1,,10%`, a trailing comma) are ignored.
 */
export function parseWaves(input: string | readonly string[]): string[] {
  const text = typeof input === 'string' ? input : input.join(',');
  const parts = (typeof input === 'string' ? input.split(',') : [...input]).map((p) => String(p).trim()).filter(Boolean);
  const fail = (why: string) => usage('waves', `--waves ${show(text)}: ${why}; expected cumulative counts or percentages, e.g. 1,10%,100%`);
  if (parts.length === 0) throw fail('no wave given');
  let lastCount = 0;
  let lastPercent = 0;
  for (const p of parts) {
    if (/^\d+$/.test(p)) {
      const n = Number(p);
      if (!Number.isSafeInteger(n) || n < 1) throw fail(`"${p}" is not a positive count`);
      if (n <= lastCount) throw fail(`"${p}" does not grow after ${lastCount}`);
      lastCount = n;
    } else if (/^\d+(\.\d+)?%$/.test(p)) {
      const pct = parseFloat(p);
      if (pct <= 0 || pct > 100) throw fail(`"${p}" is not a percentage in (0, 100]`);
      if (pct <= lastPercent) throw fail(`"${p}" does not grow after ${lastPercent}%`);
      lastPercent = pct;
    } else {
      throw fail(`"${p}" is neither a count nor a percentage`);
    }
  }
  return parts;
}

/** One of {@link TENANT_ORDERS}. */
export function parseOrder(text: string): TenantOrder {
  const order = text.trim() as TenantOrder;
  if (!TENANT_ORDERS.includes(order)) {
    throw usage('order', `--order ${show(text)}: expected one of ${TENANT_ORDERS.join(', ')}`);
  }
  return order;
}

/** A positive integer option (`--max-failures`, `--concurrency`, `--lease-ms`); undefined stays undefined. */
export function positiveInteger(flag: string, key: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(value)) throw usage(key, `--${flag}: expected a positive integer, got something that is not a number`);
  if (!Number.isSafeInteger(value) || value < 1) throw usage(key, `--${flag} ${show(value)}: expected a positive integer`);
  return value;
}

/**
 * The shortest lease `up` accepts. A claim is renewed by a heartbeat and each renewal is a round
 * trip to the ledger: below a second, a worker that is merely slow (a GC pause, a busy ledger) loses
 * its tenants to another worker while it is still migrating them.
 */
export const MIN_LEASE_MS = 1_000;

/** The fleet options of `up` as the CLI (or a library caller) gives them. */
export interface FleetArgs {
  readonly shard?: string | Shard | undefined;
  readonly waves?: string | readonly string[] | undefined;
  readonly order?: string | undefined;
  readonly maxFailures?: number | undefined;
  readonly concurrency?: number | undefined;
  readonly leaseMs?: number | undefined;
}

/** Validated fleet options; absent ones stay absent. */
export interface FleetSettings {
  readonly shard?: Shard;
  readonly waves?: string[];
  readonly order?: TenantOrder;
  readonly maxFailures?: number;
  readonly concurrency?: number;
  readonly leaseMs?: number;
}

/** Parse and check every fleet option; the first bad one throws (USAGE, naming its flag). */
export function parseFleetArgs(args: FleetArgs): FleetSettings {
  const maxFailures = positiveInteger('max-failures', 'maxFailures', args.maxFailures);
  const concurrency = positiveInteger('concurrency', 'concurrency', args.concurrency);
  const leaseMs = positiveInteger('lease-ms', 'leaseMs', args.leaseMs);
  if (leaseMs !== undefined && leaseMs < MIN_LEASE_MS) {
    throw usage('leaseMs', `--lease-ms ${leaseMs}: a lease shorter than ${MIN_LEASE_MS} ms would expire between heartbeats; use at least ${MIN_LEASE_MS}`);
  }
  return {
    ...(args.shard !== undefined ? { shard: toShard(args.shard) } : {}),
    ...(args.waves !== undefined ? { waves: parseWaves(args.waves) } : {}),
    ...(args.order !== undefined ? { order: parseOrder(args.order) } : {}),
    ...(maxFailures !== undefined ? { maxFailures } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(leaseMs !== undefined ? { leaseMs } : {}),
  };
}
