/**
 * The warm provisioning path for applications not written in TypeScript: a long-lived local HTTP
 * service over one {@link WorkspaceService} (one pool, migration files read once), so a Python (or
 * any) backend provisions a workspace in one local request instead of starting Node per call.
 *
 * Plain HTTP/1.1 + JSON on a Unix socket (default) or a loopback TCP port with a bearer token;
 * the answers are the `workspace add|show|archive --json` documents (workspace-json.ts), the routes
 * and statuses are documented in docs/workspace-api.md. Nothing here prints: `onLog` receives one
 * entry per request and the CLI (`tenant-migrate serve`) renders them.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import pLimit from 'p-limit';
import { z } from 'zod';
import { TenantMigrateError } from '../errors.js';
import type { WorkspaceService } from '../workspaces/workspace-service.js';
import { ServiceError, archiveJson, badRequest, errorResponse, provisionJson, workspaceJson } from './workspace-json.js';

/** What the service needs of a {@link WorkspaceService}. */
export type WorkspaceApi = Pick<WorkspaceService, 'provisionWorkspace' | 'showWorkspace' | 'archiveWorkspace' | 'lookupWorkspace' | 'close'>;

export interface ProvisioningServerOptions {
  readonly service: WorkspaceApi;
  /** Unix socket path to listen on (mode {@link socketMode}). Exactly one of `socket` and `listen`. */
  readonly socket?: string;
  /** TCP address; a loopback host unless {@link allowRemote}. Needs {@link token}. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Bearer token every request must carry (`Authorization: Bearer …`); at least 16 characters. Required with `listen`. */
  readonly token?: string;
  /** Allow a non-loopback `listen` host (put TLS in front of it). Default false. */
  readonly allowRemote?: boolean;
  /** Permission bits of the socket file. Default 0o660 (owner and group may connect). */
  readonly socketMode?: number;
  /** Provisionings run at once; more wait in a queue. Default 8; keep it below the pool size. */
  readonly maxConcurrentProvisions?: number;
  /** On close, how long in-flight requests may take before their connections are cut. Default 30 000 ms. */
  readonly drainMs?: number;
  /**
   * After the drain: how long closing waits for provisionings that had started to finish (or undo
   * what they created) before it closes the service's pool anyway (default 120 s).
   */
  readonly finishMs?: number;
  /** Largest request body accepted. Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** Close the service (its pool) when the server closes. Default true. */
  readonly ownsService?: boolean;
  /** One entry per answered request (never a token or a URL). */
  readonly onLog?: (entry: ServiceLogEntry) => void;
}

export interface ServiceLogEntry {
  readonly event: 'request';
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The error code of an error answer. */
  readonly code?: string;
  readonly durationMs: number;
}

export interface ProvisioningServer {
  /** `unix:<path>` or `http://host:port` (the port the system chose when 0 was asked). */
  readonly address: string;
  /** Requests being answered right now. */
  readonly inFlight: number;
  /** Stop accepting, let in-flight requests finish (up to `drainMs`), close the service. Idempotent. */
  close(): Promise<void>;
}

const ProvisionBody = z
  .object({
    workspaceId: z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    owner: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
  })
  .strict();

const MIN_TOKEN_LENGTH = 16;

/**
 * Start the service; resolves once it listens.
 *
 * @example
 * const service = createWorkspaceService({ url: process.env.DATABASE_URL });
 * const server = await startProvisioningServer({ service, socket: '/run/pmassist/tm.sock' });
 * process.once('SIGTERM', () => void server.close());
 */
export async function startProvisioningServer(options: ProvisioningServerOptions): Promise<ProvisioningServer> {
  const { service, token } = options;
  checkListenOptions(options);
  const expected = token === undefined ? undefined : digest(token);
  const limit = pLimit(options.maxConcurrentProvisions ?? 8);
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  let inFlight = 0;
  let draining = false;
  /** Provisionings that have started (not those still queued): closing waits for them. */
  const provisioning = new Set<Promise<unknown>>();
  const tracked = <T>(work: Promise<T>): Promise<T> => {
    provisioning.add(work);
    const done = () => provisioning.delete(work);
    work.then(done, done);
    return work;
  };

  const server = http.createServer((req, res) => {
    const started = performance.now();
    inFlight++;
    let logged: { status: number; code?: string } | undefined;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
        ...(draining ? { connection: 'close' } : {}),
        ...headers,
      });
      res.end(text);
      const code = (body as { error?: { code?: string } }).error?.code;
      logged = { status, ...(code ? { code } : {}) };
    };
    res.on('close', () => {
      inFlight--;
      const path = (req.url ?? '/').split('?')[0]!;
      options.onLog?.({ event: 'request', method: req.method ?? '?', path, status: logged?.status ?? 0, ...(logged?.code ? { code: logged.code } : {}), durationMs: Math.round(performance.now() - started) });
      if (draining) server.closeIdleConnections();
    });
    handle(req)
      .then(({ status, body }) => send(status, body))
      .catch((err: unknown) => {
        const { status, body } = errorResponse(err);
        send(status, body, status === 503 ? { 'retry-after': '1' } : {});
      });
  });
  // Longer than most clients' idle reuse, so a kept-alive connection is rarely closed under a request.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  async function handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown }> {
    if (draining) throw new ServiceError('SHUTTING_DOWN', 503, 'The provisioning service is shutting down; retry on its successor');
    if (expected && !authorized(req.headers.authorization, expected)) {
      throw new ServiceError('UNAUTHORIZED', 401, 'Missing or wrong bearer token (Authorization: Bearer …)');
    }
    const url = new URL(req.url ?? '/', 'http://service');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const route = routeOf(parts);
    if (!route) throw new ServiceError('ROUTE_NOT_FOUND', 404, `No route ${url.pathname}; see docs/workspace-api.md`);
    if (method !== route.method) throw new ServiceError('METHOD_NOT_ALLOWED', 405, `${url.pathname} answers ${route.method}, not ${method}`);
    switch (route.name) {
      case 'health': {
        // One registry read: a readiness probe fails while the database does not answer.
        await service.lookupWorkspace('00000000-0000-0000-0000-000000000000');
        return { status: 200, body: { ok: true, status: 'serving', inFlight: inFlight - 1 } };
      }
      case 'provision': {
        const input = parseBody(await readBody(req, maxBody));
        const result = await limit(() =>
          tracked(service.provisionWorkspace({
            workspaceId: input.workspaceId ?? randomUUID(),
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.owner !== undefined ? { ownerUserId: input.owner } : {}),
            ...(input.target !== undefined ? { target: input.target } : {}),
          })),
        );
        return { status: result.outcome === 'created' ? 201 : 200, body: provisionJson(result) };
      }
      case 'show':
        return { status: 200, body: workspaceJson(await service.showWorkspace(route.id)) };
      case 'archive':
        await readBody(req, maxBody); // drained; no fields
        return { status: 200, body: archiveJson(await service.archiveWorkspace(route.id)) };
    }
  }

  let address: string;
  if (options.socket !== undefined) {
    await clearStaleSocket(options.socket);
    await listen(server, options.socket);
    chmodSync(options.socket, options.socketMode ?? 0o660);
    address = `unix:${options.socket}`;
  } else {
    await listen(server, options.listen!.port, options.listen!.host);
    const a = server.address() as net.AddressInfo;
    address = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  let closing: Promise<void> | undefined;
  return {
    address,
    get inFlight() {
      return inFlight;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const drainMs = options.drainMs ?? 30_000;
        const cut = setTimeout(() => server.closeAllConnections(), drainMs);
        try {
          await closed;
        } finally {
          clearTimeout(cut);
          if (options.socket !== undefined) removeSocket(options.socket);
          // Queued provisionings whose clients were cut never start; started ones finish (or undo
          // what they created) before the pool closes, up to `finishMs`: closing the pool under them
          // would leave their workspaces 'Provisioning'.
          limit.clearQueue();
          if (provisioning.size > 0) {
            let timer: NodeJS.Timeout | undefined;
            const finishMs = options.finishMs ?? 120_000;
            await Promise.race([Promise.allSettled([...provisioning]), new Promise((resolve) => (timer = setTimeout(resolve, finishMs)))]);
            clearTimeout(timer);
          }
          if (options.ownsService ?? true) await service.close();
        }
      })();
      return closing;
    },
  };
}


/**
 * The listening rules, checked before anything is opened: exactly one of socket and TCP; a TCP
 * listener on loopback (unless allowed) with a token; a token of at least 16 characters.
 */
export function checkListenOptions(options: Pick<ProvisioningServerOptions, 'socket' | 'listen' | 'token' | 'allowRemote'>): void {
  const { token } = options;
  if ((options.socket === undefined) === (options.listen === undefined)) {
    throw new TenantMigrateError('USAGE', 'The provisioning service listens on a Unix socket or a TCP address: give exactly one', { key: 'socket' });
  }
  // sockaddr_un holds 108 bytes on Linux, 104 on macOS (with the terminating NUL): a longer path fails at bind.
  if (options.socket !== undefined && Buffer.byteLength(options.socket) > 103) {
    throw new TenantMigrateError('USAGE', `Socket path ${options.socket} is longer than 103 bytes, the limit of Unix socket addresses; choose a shorter one`, { key: 'socket', file: options.socket });
  }
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new TenantMigrateError('USAGE', `The service token must have at least ${MIN_TOKEN_LENGTH} characters`, { key: 'token' });
  }
  if (options.listen) {
    if (token === undefined) {
      throw new TenantMigrateError('USAGE', 'A TCP listener needs a bearer token (serve: --token-file or TM_SERVICE_TOKEN); a Unix socket is protected by its file permissions instead', { key: 'token' });
    }
    if (!isLoopback(options.listen.host) && !options.allowRemote) {
      throw new TenantMigrateError('USAGE', `${options.listen.host} is not a loopback address; the service listens on 127.0.0.1, ::1 or a Unix socket unless remote listening is allowed explicitly`, {
        key: 'listen',
      });
    }
  }
}

type Route = { name: 'health'; method: 'GET' } | { name: 'provision'; method: 'POST' } | { name: 'show'; method: 'GET'; id: string } | { name: 'archive'; method: 'POST'; id: string };

function routeOf(parts: string[]): Route | undefined {
  if (parts[0] !== 'v1') return undefined;
  if (parts.length === 2 && parts[1] === 'health') return { name: 'health', method: 'GET' };
  if (parts[1] !== 'workspaces') return undefined;
  if (parts.length === 2) return { name: 'provision', method: 'POST' };
  if (parts.length === 3) return { name: 'show', method: 'GET', id: parts[2]! };
  if (parts.length === 4 && parts[3] === 'archive') return { name: 'archive', method: 'POST', id: parts[2]! };
  return undefined;
}

function parseBody(text: string): z.output<typeof ProvisionBody> {
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw badRequest(`The request body is not JSON: ${(err as Error).message}`);
    }
  }
  const parsed = ProvisionBody.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const key = i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '(body)');
      return `${key}: ${i.message}`;
    });
    throw badRequest(`Invalid request body (fields: workspaceId, name, owner, target): ${issues.join('; ')}`, parsed.error.issues[0]?.path.join('.') || undefined);
  }
  return parsed.data;
}

function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        reject(new ServiceError('PAYLOAD_TOO_LARGE', 413, `The request body exceeds ${max} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison (of digests, so the lengths match). */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), expected);
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

function listen(server: http.Server, portOrPath: number | string, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof portOrPath === 'string') server.listen(portOrPath, done);
    else server.listen(portOrPath, host, done);
  });
}

/**
 * A socket file left by a process that died is removed; one another process still answers on, or
 * a path that is not a socket, is refused (never deleted).
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // absent
  }
  if (!isSocket) throw new TenantMigrateError('USAGE', `${path} exists and is not a socket; it is left alone`, { key: 'socket', file: path });
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new TenantMigrateError('USAGE', `Another process is already serving on ${path}`, { key: 'socket', file: path });
  removeSocket(path);
}

function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
