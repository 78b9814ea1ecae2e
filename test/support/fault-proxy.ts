/**
 * A TCP proxy for fault injection (test infrastructure; toxiproxy's server is not installable
 * here). It sits between the engine and a database and, on a seeded schedule, resets
 * connections, stalls them, or adds latency to them at random moments of a run. The same seed
 * gives the same sequence of decisions; what a fault hits depends on the traffic at that moment.
 *
 * Works for any TCP protocol (PostgreSQL wire, TDS): it never looks inside the bytes.
 */
import net from 'node:net';

export type FaultKind = 'reset' | 'stall' | 'latency';

export interface FaultProxyOptions {
  /** Where the real server listens. */
  readonly targetHost: string;
  readonly targetPort: number;
  /** Seed of the schedule (same seed → same decisions). */
  readonly seed: number;
  /** Relative weights of the fault kinds (default reset 3, stall 1, latency 1). */
  readonly weights?: Partial<Record<FaultKind, number>>;
  /** How long a stall holds a connection's bytes (default 300–2000 ms, seeded). */
  readonly stallMs?: readonly [number, number];
  /** Latency added to every chunk of a slowed connection (default 5–50 ms, seeded). */
  readonly latencyMs?: readonly [number, number];
}

export interface FaultRecord {
  readonly kind: FaultKind;
  readonly at: number;
  readonly connection: number;
}

/** mulberry32: small, fast, good enough for test schedules. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Link {
  readonly id: number;
  readonly client: net.Socket;
  readonly server: net.Socket;
  stalledUntil: number;
  latencyMs: number;
  /** Chunks held back by a stall or latency, per direction, delivered in order. */
  readonly held: { toServer: Buffer[]; toClient: Buffer[] };
  flushTimer?: NodeJS.Timeout | undefined;
}

export class FaultProxy {
  readonly #options: FaultProxyOptions;
  readonly #random: () => number;
  readonly #links = new Map<number, Link>();
  readonly #server: net.Server;
  #nextId = 1;
  #port = 0;
  #scheduleTimer: NodeJS.Timeout | undefined;
  /** Every fault injected, in order. */
  readonly faults: FaultRecord[] = [];
  /** Connections accepted so far. */
  connections = 0;

  constructor(options: FaultProxyOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed);
    this.#server = net.createServer((client) => this.#accept(client));
  }

  /** Listen on 127.0.0.1 on a free port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#server.address() as net.AddressInfo).port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** Live proxied connections. */
  get open(): number {
    return this.#links.size;
  }

  /**
   * Inject `count` faults spread over `durationMs`, at seeded random moments, each on a random
   * live connection (a moment with no live connection is retried a little later).
   */
  schedule(count: number, durationMs: number): void {
    let left = count;
    const next = () => {
      if (left <= 0) return;
      // Exponential-ish spacing with the mean that spreads `count` faults over the duration.
      const mean = durationMs / Math.max(1, count);
      const wait = Math.max(5, Math.round(-Math.log(1 - this.#random()) * mean));
      this.#scheduleTimer = setTimeout(() => {
        if (this.inject() !== undefined) left--;
        next();
      }, wait);
      this.#scheduleTimer.unref();
    };
    next();
  }

  /** Stop injecting (connections stay up). */
  calm(): void {
    if (this.#scheduleTimer) clearTimeout(this.#scheduleTimer);
    this.#scheduleTimer = undefined;
  }

  /** Inject one fault now on a random live connection; returns its kind, or undefined when none is live. */
  inject(kind?: FaultKind): FaultKind | undefined {
    const links = [...this.#links.values()];
    if (links.length === 0) return undefined;
    const link = links[Math.floor(this.#random() * links.length)]!;
    const chosen = kind ?? this.#pickKind();
    const between = (range: readonly [number, number]) => Math.round(range[0] + this.#random() * (range[1] - range[0]));
    switch (chosen) {
      case 'reset':
        link.client.resetAndDestroy();
        link.server.resetAndDestroy();
        break;
      case 'stall':
        link.stalledUntil = Date.now() + between(this.#options.stallMs ?? [300, 2000]);
        this.#scheduleFlush(link);
        break;
      case 'latency':
        link.latencyMs = between(this.#options.latencyMs ?? [5, 50]);
        break;
    }
    this.faults.push({ kind: chosen, at: Date.now(), connection: link.id });
    return chosen;
  }

  /** Counts of injected faults by kind. */
  tally(): Record<FaultKind, number> {
    const out: Record<FaultKind, number> = { reset: 0, stall: 0, latency: 0 };
    for (const f of this.faults) out[f.kind]++;
    return out;
  }

  async stop(): Promise<void> {
    this.calm();
    for (const link of this.#links.values()) {
      link.client.destroy();
      link.server.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #pickKind(): FaultKind {
    const w = { reset: 3, stall: 1, latency: 1, ...this.#options.weights };
    const total = w.reset + w.stall + w.latency;
    let r = this.#random() * total;
    for (const kind of ['reset', 'stall', 'latency'] as const) {
      r -= w[kind];
      if (r < 0) return kind;
    }
    return 'reset';
  }

  #accept(client: net.Socket): void {
    const server = net.connect(this.#options.targetPort, this.#options.targetHost);
    const link: Link = { id: this.#nextId++, client, server, stalledUntil: 0, latencyMs: 0, held: { toServer: [], toClient: [] } };
    this.connections++;
    this.#links.set(link.id, link);
    client.setNoDelay(true);
    server.setNoDelay(true);
    const forward = (direction: 'toServer' | 'toClient') => (chunk: Buffer) => {
      if (link.stalledUntil === 0 && link.latencyMs === 0 && link.held[direction].length === 0) {
        (direction === 'toServer' ? server : client).write(chunk);
        return;
      }
      link.held[direction].push(chunk);
      this.#scheduleFlush(link);
    };
    client.on('data', forward('toServer'));
    server.on('data', forward('toClient'));
    const close = () => {
      if (!this.#links.delete(link.id)) return;
      if (link.flushTimer) clearTimeout(link.flushTimer);
      client.destroy();
      server.destroy();
    };
    client.on('close', close);
    server.on('close', close);
    client.on('error', close);
    server.on('error', close);
  }

  #scheduleFlush(link: Link): void {
    if (link.flushTimer) return;
    const delay = Math.max(link.stalledUntil - Date.now(), link.latencyMs, 0);
    link.flushTimer = setTimeout(() => {
      link.flushTimer = undefined;
      if (Date.now() < link.stalledUntil) return this.#scheduleFlush(link);
      link.stalledUntil = 0;
      for (const chunk of link.held.toServer.splice(0)) link.server.write(chunk);
      for (const chunk of link.held.toClient.splice(0)) link.client.write(chunk);
      // Latency stays on the connection: later chunks keep being delayed.
    }, delay);
    link.flushTimer.unref();
  }
}

/** Start a proxy in front of `host:port`. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxy(options);
  await proxy.start();
  return proxy;
}
