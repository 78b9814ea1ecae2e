import { createRequire } from 'node:module';
import type pgModule from 'pg';

/**
 * The `pg` package, loaded without its runtime probe's cost on Node 20. At load, pg asks whether it
 * runs in a Cloudflare Worker: where `globalThis.navigator` is missing (Node 20; Node 21+ has one),
 * it constructs a fetch `Response`, which loads Node's whole fetch implementation — ~30 ms of every
 * CLI start. A `navigator` that names Node.js answers the same question (not a Worker) without it;
 * it exists only while pg loads.
 */
function loadPg(): typeof pgModule {
  const global = globalThis as { navigator?: unknown };
  const shim = global.navigator === undefined;
  if (shim) Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true, writable: true });
  try {
    return createRequire(import.meta.url)('pg') as typeof pgModule;
  } finally {
    if (shim) delete global.navigator;
  }
}

const pg = loadPg();
export default pg;
