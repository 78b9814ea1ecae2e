/**
 * Round trips, counted on the wire: a TCP proxy between a client and a database server that reads
 * the client's side of the protocol and counts requests — each one is a round trip the client
 * waits for.
 *
 * - PostgreSQL: after the startup packet, a simple Query ('Q') or the Sync ('S') that ends an
 *   extended-protocol exchange is one request.
 *   https://www.postgresql.org/docs/current/protocol-message-formats.html
 * - TDS (SQL Server, Babelfish): a SQL batch (type 1), an RPC (type 3) or a transaction manager
 *   request (type 14) whose packet carries the end-of-message status bit is one request; login and
 *   pre-login are not counted. https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-tds/
 *
 * With `delayMs`, it is also a network: every chunk from the client waits `delayMs` before it is
 * passed on (answers go back at once), so a request and its answer take at least `delayMs` more —
 * the round trip of a deploy runner to a managed database (~1–2 ms) instead of loopback's ~0.05 ms.
 * Whole milliseconds: Node's timers do not go below 1 ms (a 0.5 ms wait each way would be 1 ms each
 * way). Order is kept (timers of the same duration fire in the order they were set).
 *
 * Only the bench uses it (the engine's numbers are measured, not estimated).
 */
import net from 'node:net';

export type WireProtocol = 'postgres' | 'tds';

export interface RequestCounter {
  readonly port: number;
  /** Requests seen since the last reset. */
  readonly requests: number;
  reset(): void;
  close(): Promise<void>;
}

/** Counts the requests in one client connection's byte stream. */
function postgresParser(count: (text: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let started = false;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (!started) {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        const code = buf.readInt32BE(4);
        if (buf.length < len) return;
        buf = buf.subarray(len);
        // SSLRequest / GSSENCRequest come before the real startup packet.
        if (code !== 80877103 && code !== 80877104) started = true;
        continue;
      }
      if (buf.length < 5) return;
      const len = buf.readInt32BE(1);
      if (buf.length < 1 + len) return;
      const type = String.fromCharCode(buf[0]!);
      if (type === 'Q') count(buf.subarray(5, Math.min(1 + len, 205)).toString('utf8'));
      else if (type === 'S') count('(extended protocol)');
      buf = buf.subarray(1 + len);
    }
  };
}

function tdsParser(count: (text: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 8) return;
      const len = buf.readUInt16BE(2);
      if (buf.length < len) return;
      const type = buf[0]!;
      const endOfMessage = (buf[1]! & 0x01) === 0x01;
      if (endOfMessage && (type === 1 || type === 3 || type === 14)) count(`tds type ${type}`);
      buf = buf.subarray(len);
    }
  };
}

/** Start a counting proxy on 127.0.0.1 (a free port) in front of `host:port`. */
export async function startRequestCounter(
  protocol: WireProtocol,
  host: string,
  port: number,
  onRequest?: (text: string) => void,
  options: { readonly delayMs?: number } = {},
): Promise<RequestCounter> {
  const delay = Math.round(options.delayMs ?? 0);
  const pass = (to: net.Socket, chunk: Buffer, wait: number) => (wait > 0 ? setTimeout(() => to.destroyed || to.write(chunk), wait) : to.write(chunk));
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const parse = (protocol === 'postgres' ? postgresParser : tdsParser)((text) => {
      requests++;
      onRequest?.(text);
    });
    client.on('data', (chunk) => {
      parse(chunk);
      pass(upstream, chunk, delay);
    });
    upstream.on('data', (chunk: Buffer) => pass(client, chunk, 0));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    get requests() {
      return requests;
    },
    reset: () => void (requests = 0),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
