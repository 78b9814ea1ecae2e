import type { MigratorEvent, MigratorListener } from '../events.js';

/**
 * Every event as one JSON line (`{"ts":"…","type":"tenant:done",…}`), for CI logs and tools.
 * @example migrator.on(jsonLinesListener(process.stderr));
 */
export function jsonLinesListener(stream: NodeJS.WritableStream): MigratorListener {
  return (event: MigratorEvent) => {
    stream.write(`${JSON.stringify({ ts: new Date().toISOString(), ...event })}\n`);
  };
}
