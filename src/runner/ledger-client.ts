import type { Driver } from '../dialect/contracts/driver.js';
import type { LedgerStore } from '../dialect/contracts/ledger-store.js';
import type { LedgerTenantOutcome } from '../dialect/ledger-types.js';
import type { MigratorListener } from '../events.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Attempts of one ledger call on transient errors (~100 ms … 6.4 s apart: about 13 s in all). */
const LEDGER_ATTEMPTS = 8;

/**
 * Run `fn`, retrying it with exponential backoff and jitter while it fails with an error the
 * dialect classifies as transient (deadlock, failover, reset connection), at most `attempts` times.
 * `fn` must be safe to run again: the callers retry idempotent steps only.
 */
export async function retryTransient<T>(
  driver: Pick<Driver, 'classifyError'>,
  attempts: number,
  fn: () => Promise<T>,
  onRetry: (attempt: number, message: string, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const cls = driver.classifyError(err);
      if (!cls.transient || attempt >= attempts) throw err;
      const delayMs = Math.round(100 * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      onRetry(attempt, cls.message, delayMs);
      await sleep(delayMs);
    }
  }
}

/**
 * A worker's access to the run ledger, made to survive faults. The ledger is progress and
 * coordination, not the truth (the meta tables are), so a ledger call that meets a transient error
 * (deadlock 1205 between a heartbeat and an outcome write, a failover 40613/40197, a reset
 * connection) is retried with backoff instead of failing the worker; a permanent error is thrown.
 */
export class LedgerClient {
  readonly #ledger: LedgerStore;
  readonly #driver: Pick<Driver, 'classifyError'>;
  readonly #emit: MigratorListener;

  constructor(ledger: LedgerStore, driver: Pick<Driver, 'classifyError'>, emit: MigratorListener) {
    this.#ledger = ledger;
    this.#driver = driver;
    this.#emit = emit;
  }

  get store(): LedgerStore {
    return this.#ledger;
  }

  /** Run one ledger operation, retrying transient errors. */
  call<T>(operation: string, fn: (ledger: LedgerStore) => Promise<T>): Promise<T> {
    return retryTransient(this.#driver, LEDGER_ATTEMPTS, () => fn(this.#ledger), (attempt, message, delayMs) =>
      this.#emit({ type: 'ledger:retry', operation, attempt, message, delayMs }),
    );
  }
}

/**
 * Outcomes of a worker's tenants on their way to the ledger, in batches. Writes are serialised;
 * a write that fails (after {@link LedgerClient.call}'s retries) puts its outcomes back at the
 * front and the error is returned to the caller of that flush only — the next flush tries again,
 * so one failed write never drops later outcomes, and no outcome is lost while the worker lives.
 */
export class OutcomeBuffer {
  readonly #client: LedgerClient;
  readonly #runId: string;
  readonly #workerId: string;
  #pending: LedgerTenantOutcome[] = [];
  #writing: Promise<void> = Promise.resolve();

  constructor(client: LedgerClient, runId: string, workerId: string) {
    this.#client = client;
    this.#runId = runId;
    this.#workerId = workerId;
  }

  get size(): number {
    return this.#pending.length;
  }

  push(outcome: LedgerTenantOutcome): void {
    this.#pending.push(outcome);
  }

  /** Write everything buffered so far (after any write in progress). Rejects when this write failed. */
  flush(): Promise<void> {
    const run = this.#writing.then(async () => {
      const batch = this.#pending.splice(0);
      if (batch.length === 0) return;
      try {
        await this.#client.call('completeTenants', (l) => l.completeTenants(this.#runId, this.#workerId, batch));
      } catch (err) {
        this.#pending.unshift(...batch);
        throw err;
      }
    });
    // The chain continues whatever this write did; only this flush's caller sees its error.
    this.#writing = run.catch(() => undefined);
    return run;
  }
}
