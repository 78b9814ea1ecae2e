import cliProgress from 'cli-progress';
import type { MigratorEvent, MigratorListener } from '../events.js';

export interface ConsoleReporterOptions {
  readonly stream?: NodeJS.WriteStream;
  /** Live bar on a TTY; plain periodic lines otherwise. */
  readonly tty?: boolean;
  /** Seconds between plain progress lines. */
  readonly intervalSeconds?: number;
}

/**
 * Renders migrator events for humans: a live bar (done, failed, remaining, rate, ETA) on a TTY,
 * and otherwise a line per master migration, failures as they happen and a progress line every
 * few seconds — so CI logs stay readable for 10,000 tenants.
 */
export class ConsoleReporter {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #interval: number;
  #bar: cliProgress.SingleBar | undefined;
  #total = 0;
  #done = 0;
  #failed = 0;
  #started = 0;
  #lastLine = 0;

  constructor(options: ConsoleReporterOptions = {}) {
    this.#stream = options.stream ?? process.stderr;
    this.#tty = options.tty ?? Boolean(this.#stream.isTTY);
    this.#interval = (options.intervalSeconds ?? 5) * 1000;
  }

  listener: MigratorListener = (event: MigratorEvent) => this.#on(event);

  #line(text: string): void {
    if (this.#bar) this.#bar.stop();
    this.#stream.write(`${text}\n`);
    if (this.#bar) this.#bar.start(this.#total, this.#done, this.#payload());
  }

  #payload() {
    return { failed: this.#failed, remaining: this.#total - this.#done };
  }

  #on(event: MigratorEvent): void {
    switch (event.type) {
      case 'master:start':
        if (event.pending.length > 0) this.#line(`master: ${event.pending.length} pending (${event.pending.join(', ')})`);
        break;
      case 'master:migrated':
        this.#line(`master: applied ${event.id} (${event.durationMs} ms)`);
        break;
      case 'tenants:discovered':
        for (const bad of event.invalid) this.#line(`skipped invalid registry row ${bad.workspaceId}: ${bad.reason}`);
        this.#total = event.pending;
        this.#started = Date.now();
        this.#lastLine = this.#started;
        if (event.pending === 0) {
          this.#line(`tenants: all ${event.total} up to date`);
        } else {
          this.#line(`tenants: ${event.pending} of ${event.total} to migrate`);
          if (this.#tty) {
            this.#bar = new cliProgress.SingleBar(
              {
                format: 'tenants [{bar}] {value}/{total} | failed {failed} | remaining {remaining} | {rate}/s | ETA {eta_formatted}',
                stream: this.#stream,
                hideCursor: true,
                etaBuffer: 50,
              },
              cliProgress.Presets.shades_classic,
            );
            this.#bar.start(this.#total, 0, { ...this.#payload(), rate: '0' });
          }
        }
        break;
      case 'tenant:retry':
        this.#line(`retrying ${event.schema} (attempt ${event.attempt + 1}) after: ${event.error.message}`);
        break;
      case 'tenant:done': {
        this.#done++;
        if (event.result.status === 'failed') {
          this.#failed++;
          this.#line(`FAILED ${event.result.schema} (${event.result.workspaceId}): ${event.result.error?.message}`);
        }
        const elapsed = (Date.now() - this.#started) / 1000;
        const rate = elapsed > 0 ? (this.#done / elapsed).toFixed(1) : '0';
        if (this.#bar) this.#bar.update(this.#done, { ...this.#payload(), rate });
        else if (Date.now() - this.#lastLine >= this.#interval || this.#done === this.#total) {
          this.#lastLine = Date.now();
          this.#stream.write(`tenants: ${this.#done}/${this.#total} done, ${this.#failed} failed, ${rate}/s\n`);
        }
        if (this.#done === this.#total) this.finish();
        break;
      }
      case 'run:opened':
        if (event.opening === 'resumed') {
          this.#line(`resuming run ${event.runId} (was ${event.previousStatus ?? 'unfinished'}): ${event.remaining} of ${event.total} tenant(s) left`);
        } else if (event.opening === 'joined') {
          this.#line(`joining run ${event.runId} as worker ${event.workerId}: ${event.remaining} of ${event.total} tenant(s) left`);
        } else {
          this.#line(`run ${event.runId}: ${event.total} tenant(s)`);
        }
        break;
      case 'wave:start':
        this.#line(`wave ${event.wave}/${event.waves}`);
        break;
      case 'wave:failed':
        this.#line(`wave ${event.wave} had ${event.failed} failure(s): later waves not started`);
        break;
      case 'run:interrupted':
        this.#line('interrupted: in-flight tenants finished, no new ones started');
        break;
      case 'warning':
        this.#line(`warning: ${event.message}`);
        break;
      case 'ledger:retry':
        this.#line(`ledger ${event.operation} retried (attempt ${event.attempt + 1}) after: ${event.message}`);
        break;
      case 'tenant:handed-back':
        this.#line(`${event.schema} is locked by another process: handed back to the run (${event.handbacks})`);
        break;
      case 'run:reconciled':
        this.#line(`ledger reconciled with the meta tables: ${event.schemas.length} tenant(s) already at target recorded as succeeded`);
        break;
      default:
        break;
    }
  }

  finish(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}
