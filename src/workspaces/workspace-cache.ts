/**
 * A small TTL + LRU cache of workspace lookups for a long-lived application process.
 *
 * Invalidation rule: an entry lives at most `ttlMs` after it was loaded; the
 * {@link WorkspaceService} of this process drops an entry itself whenever it provisions, archives
 * or otherwise changes that workspace. A change made by *another* process (an `archive` from the
 * CLI, another app instance) is therefore seen here after at most `ttlMs`. Only successful
 * lookups are cached; a failed or missing lookup is asked again next time. Concurrent lookups of
 * one id share a single query.
 */
export interface WorkspaceCacheOptions {
  /** Lifetime of an entry in ms; 0 disables caching. Default 60 000. */
  readonly ttlMs?: number;
  /** Most entries kept (least recently used are evicted first). Default 10 000. */
  readonly maxEntries?: number;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
}

interface Entry<V> {
  readonly value: Promise<V>;
  readonly expires: number;
}

export class WorkspaceCache<V> {
  readonly ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry<V>>();

  constructor(options: WorkspaceCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The cached value for `key`, or the result of `load` (cached when it resolves, and `keep` says so). */
  get(key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const now = this.#now();
    const hit = this.#entries.get(key);
    if (hit && hit.expires > now) {
      // Re-insert: Map iteration order is the LRU order.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.value;
    }
    if (hit) this.#entries.delete(key);
    const value = load();
    if (this.ttlMs <= 0) return value;
    const entry: Entry<V> = { value, expires: now + this.ttlMs };
    this.#entries.set(key, entry);
    const forget = () => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    };
    value.then((v) => (keep(v) ? undefined : forget()), forget);
    while (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    return value;
  }

  /** Drop one entry, or every entry when `key` is omitted. */
  invalidate(key?: string): void {
    if (key === undefined) this.#entries.clear();
    else this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
