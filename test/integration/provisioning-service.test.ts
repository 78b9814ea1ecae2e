/**
 * The warm provisioning service (src/service/) over HTTP, on a real database: routes, the JSON
 * contract, error codes and statuses, authentication, the socket file, concurrency and the drain
 * on close. The Python client is tested against it in python-example.test.ts.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigratorImpl, createMigrator } from '../../src/migrator.js';
import { type ProvisioningServer, type WorkspaceApi, startProvisioningServer } from '../../src/service/provisioning-server.js';
import { WorkspaceService } from '../../src/workspaces/workspace-service.js';
import { guid, runCli, runnableTargets, useProjectFixture } from './harness.js';
import { FAIL_MIGRATION, FAIL_NAME, staleSocket } from './service-fixtures.js';

const TENANT_IDS = ['0001_create_workspace_tables', '0002_copy_workspace_external_links'];
const schemaOf = (id: string) => `ws_${id.replace(/-/g, '')}`;
const TOKEN = 'test-token-0123456789abcdef';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One request on a fresh connection (no keep-alive agent: each test sees its own connection). */
function request(address: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const target = address.startsWith('unix:') ? { socketPath: address.slice(5) } : { host: new URL(address).hostname, port: Number(new URL(address).port) };
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method, path: route, agent: false, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const serviceTargets = runnableTargets;

describe.each(serviceTargets)('provisioning service on $name', (target) => {
  const fx = useProjectFixture(target, { concurrency: 4, lockTimeoutMs: 30_000 });
  let dir: string;
  let service: WorkspaceService;
  let server: ProvisioningServer | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tm-serve-'));
    const migrator = createMigrator({ url: fx.db.url, rootDir: fx.project.root, concurrency: 4, lockTimeoutMs: 30_000 }) as MigratorImpl;
    await migrator.up();
    service = new WorkspaceService(migrator, { ownsMigrator: true });
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const onSocket = async (extra: Record<string, unknown> = {}) => {
    server = await startProvisioningServer({ service, socket: path.join(dir, 'tm.sock'), ownsService: false, maxConcurrentProvisions: 4, ...extra });
    return server.address;
  };

  it('answers the four routes with the workspace add|show|archive documents and 20 provisionings at once share the pool', async () => {
    const address = await onSocket();
    expect((statSync(path.join(dir, 'tm.sock')).mode & 0o777).toString(8)).toBe('660');
    expect(await request(address, 'GET', '/v1/health')).toMatchObject({ status: 200, body: { ok: true, status: 'serving' } });

    const ids = Array.from({ length: 20 }, () => guid());
    const answers = await Promise.all(ids.map((id, i) => request(address, 'POST', '/v1/workspaces', { workspaceId: id, name: `W${i}`, owner: `u${i}` })));
    for (const [i, a] of answers.entries()) {
      expect(a.status, JSON.stringify(a.body)).toBe(201);
      expect(a.body).toEqual({ ok: true, workspaceId: ids[i], schema: schemaOf(ids[i]!), outcome: 'created', applied: TENANT_IDS, durationMs: expect.any(Number) });
    }
    const again = await request(address, 'POST', '/v1/workspaces', { workspaceId: ids[0]!.toUpperCase() });
    expect(again).toMatchObject({ status: 200, body: { ok: true, outcome: 'existing', workspaceId: ids[0], applied: [] } });
    // One id asked for five times at once: one call builds it, the others find it (the per-workspace lock).
    const same = guid();
    const racing = await Promise.all(Array.from({ length: 5 }, () => request(address, 'POST', '/v1/workspaces', { workspaceId: same })));
    expect(racing.map((a) => a.body.ok)).toEqual([true, true, true, true, true]);
    expect(racing.filter((a) => a.body.outcome === 'created')).toHaveLength(1);
    expect(racing.every((a) => a.body.schema === schemaOf(same))).toBe(true);
    const generated = await request(address, 'POST', '/v1/workspaces', { name: 'No id given' });
    expect(generated.status).toBe(201);
    expect(generated.body.schema).toBe(schemaOf(generated.body.workspaceId));

    const shown = await request(address, 'GET', `/v1/workspaces/${ids[3]}`);
    expect(shown.status).toBe(200);
    expect(Object.keys(shown.body).sort()).toEqual(['applied', 'createdUtc', 'lastSeenUtc', 'name', 'ok', 'pending', 'schema', 'schemaExists', 'status', 'target', 'workspaceId'].sort());
    expect(shown.body).toMatchObject({ ok: true, name: 'W3', status: 'Active', schemaExists: true, pending: [], target: null });
    expect(shown.body.applied.map((a: { id: string }) => a.id)).toEqual(TENANT_IDS);

    const archived = await request(address, 'POST', `/v1/workspaces/${ids[3]}/archive`);
    expect(archived).toMatchObject({ status: 200, body: { ok: true, workspaceId: ids[3], schema: schemaOf(ids[3]!), status: 'Archived', target: null } });
    expect((await service.lookupWorkspace(ids[3]!))?.status).toBe('Archived');
    for (const id of ids.filter((_, i) => i !== 3)) expect((await service.lookupWorkspace(id))?.status).toBe('Active');
  });

  it('errors: the engine code with its documented HTTP status and exit code, and the HTTP layer’s own', async () => {
    const address = await onSocket();
    const id = guid();
    await request(address, 'POST', '/v1/workspaces', { workspaceId: id });
    await request(address, 'POST', `/v1/workspaces/${id}/archive`);
    const cases: [string, string, unknown, number, string, number][] = [
      ['POST', '/v1/workspaces', { workspaceId: 'nope' }, 400, 'INVALID_WORKSPACE_ID', 2],
      ['GET', '/v1/workspaces/nope', undefined, 400, 'INVALID_WORKSPACE_ID', 2],
      ['GET', `/v1/workspaces/${guid()}`, undefined, 404, 'NOT_FOUND', 2],
      ['POST', `/v1/workspaces/${guid()}/archive`, undefined, 404, 'NOT_FOUND', 2],
      ['POST', '/v1/workspaces', { workspaceId: id }, 409, 'WORKSPACE_NOT_ACTIVE', 1],
      ['POST', '/v1/workspaces', { workspaceId: guid(), target: 'eu9' }, 400, 'USAGE', 2],
      ['POST', '/v1/workspaces', { workspaceId: guid(), ownerUserId: 'x' }, 400, 'USAGE', 2],
      ['POST', '/v1/workspaces', { workspaceId: guid(), name: 42 }, 400, 'USAGE', 2],
      ['POST', '/v1/workspaces', '{"workspaceId":', 400, 'USAGE', 2],
      ['GET', '/v1/nothing', undefined, 404, 'ROUTE_NOT_FOUND', 2],
      ['DELETE', `/v1/workspaces/${id}`, undefined, 405, 'METHOD_NOT_ALLOWED', 2],
    ];
    for (const [method, route, body, status, code, exitCode] of cases) {
      const a = await request(address, method, route, body);
      expect({ route, method, status: a.status, code: a.body.error?.code, exitCode: a.body.exitCode, ok: a.body.ok }).toEqual({ route, method, status, code, exitCode, ok: false });
      expect(typeof a.body.error.message).toBe('string');
    }
    const typo = await request(address, 'POST', '/v1/workspaces', { workspaceId: guid(), ownerUserId: 'x' });
    expect(typo.body.error.message).toMatch(/ownerUserId/);
    const big = await request(address, 'POST', '/v1/workspaces', { workspaceId: guid(), name: 'x'.repeat(70 * 1024) }).catch((err: Error) => err);
    // The body is refused once past the limit: a 413 answer, or the connection cut while sending.
    if (!(big instanceof Error)) expect({ status: big.status, code: big.body.error.code }).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('a provisioning failure: PROVISION_FAILED with the migration, and the row and schema it created are gone', async () => {
    fx.project.write('tenant-migrations/0003_fail_for_marked_name.sql.hbs', FAIL_MIGRATION);
    const address = await onSocket();
    const id = guid();
    const a = await request(address, 'POST', '/v1/workspaces', { workspaceId: id, name: FAIL_NAME });
    expect(a.status).toBe(500);
    expect(a.body).toMatchObject({ ok: false, exitCode: 1, error: { code: 'PROVISION_FAILED', workspaceId: id, cleanedUp: true, migrationId: '0003_fail_for_marked_name' } });
    expect(await service.lookupWorkspace(id)).toBeUndefined();
    const ok = await request(address, 'POST', '/v1/workspaces', { workspaceId: guid(), name: 'fine' });
    expect(ok.body).toMatchObject({ ok: true, applied: [...TENANT_IDS, '0003_fail_for_marked_name'] });
  });

  it('TCP: loopback only unless allowed, a bearer token required and checked', async () => {
    await expect(startProvisioningServer({ service, listen: { host: '127.0.0.1', port: 0 }, ownsService: false })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/token/) });
    await expect(startProvisioningServer({ service, listen: { host: '0.0.0.0', port: 0 }, token: TOKEN, ownsService: false })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/loopback/) });
    await expect(startProvisioningServer({ service, listen: { host: '127.0.0.1', port: 0 }, token: 'short', ownsService: false })).rejects.toMatchObject({ code: 'USAGE' });
    server = await startProvisioningServer({ service, listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, ownsService: false });
    expect(server.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await request(server.address, 'GET', '/v1/health')).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
    expect(await request(server.address, 'GET', '/v1/health', undefined, { authorization: `Bearer ${TOKEN}x` })).toMatchObject({ status: 401 });
    expect(await request(server.address, 'POST', '/v1/workspaces', { workspaceId: guid() }, { authorization: 'Basic abc' })).toMatchObject({ status: 401 });
    expect(await request(server.address, 'GET', '/v1/health', undefined, { authorization: `Bearer ${TOKEN}` })).toMatchObject({ status: 200 });
  });

  it('the socket file: a stale one is replaced, a live one or a regular file is refused and left alone', async () => {
    const socket = path.join(dir, 'tm.sock');
    await staleSocket(socket);
    expect(statSync(socket).isSocket()).toBe(true);
    writeFileSync(path.join(dir, 'plain'), 'not a socket');
    await expect(startProvisioningServer({ service, socket: path.join(dir, 'x'.repeat(110)), ownsService: false })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/longer than 103 bytes/) });
    await expect(startProvisioningServer({ service, socket: path.join(dir, 'plain'), ownsService: false })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/not a socket/) });
    expect(existsSync(path.join(dir, 'plain'))).toBe(true);

    const address = await onSocket();
    expect((await request(address, 'GET', '/v1/health')).status).toBe(200);
    await expect(startProvisioningServer({ service, socket, ownsService: false })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/already serving/) });
    expect((await request(address, 'GET', '/v1/health')).status).toBe(200);
    await server!.close();
    server = undefined;
    expect(existsSync(socket)).toBe(false);
  });

  it('close drains: in-flight provisionings finish and answer, then nothing is accepted', async () => {
    // The provisionings wait at a gate until the server is closing, so all of them are in flight then.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const gated: WorkspaceApi = {
      provisionWorkspace: async (input) => {
        await gate;
        return service.provisionWorkspace(input);
      },
      showWorkspace: (id) => service.showWorkspace(id),
      archiveWorkspace: (id) => service.archiveWorkspace(id),
      lookupWorkspace: (id) => service.lookupWorkspace(id),
      close: () => service.close(),
    };
    server = await startProvisioningServer({ service: gated, socket: path.join(dir, 'tm.sock'), ownsService: false });
    const address = server.address;
    const ids = Array.from({ length: 6 }, () => guid());
    const inFlight = ids.map((id) => request(address, 'POST', '/v1/workspaces', { workspaceId: id }));
    for (let i = 0; i < 3000 && server.inFlight < ids.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.inFlight).toBe(ids.length);
    const closed = server.close();
    await expect(request(address, 'GET', '/v1/health')).rejects.toThrow(/ENOENT|ECONNREFUSED/);
    open();
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 201));
    expect(answers.every((a) => a.headers.connection === 'close')).toBe(true);
    await closed;
    server = undefined;
    for (const id of ids) expect((await service.lookupWorkspace(id))?.status).toBe('Active');
  });

  it('past the drain time: clients are cut, queued provisionings never start, started ones finish before the service closes', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const started: string[] = [];
    let closedWhileRunning = false;
    let running = 0;
    const gated: WorkspaceApi = {
      provisionWorkspace: async (input) => {
        started.push(input.workspaceId!);
        running++;
        try {
          await gate;
          return await service.provisionWorkspace(input);
        } finally {
          running--;
        }
      },
      showWorkspace: (id) => service.showWorkspace(id),
      archiveWorkspace: (id) => service.archiveWorkspace(id),
      lookupWorkspace: (id) => service.lookupWorkspace(id),
      close: async () => {
        closedWhileRunning ||= running > 0;
      },
    };
    server = await startProvisioningServer({ service: gated, socket: path.join(dir, 'tm.sock'), ownsService: true, maxConcurrentProvisions: 2, drainMs: 200 });
    const address = server.address;
    const ids = Array.from({ length: 4 }, () => guid());
    const answers = ids.map((id) => request(address, 'POST', '/v1/workspaces', { workspaceId: id }).catch((e: Error) => e));
    for (let i = 0; i < 3000 && (server.inFlight < ids.length || started.length < 2); i++) await new Promise((r) => setTimeout(r, 10));
    expect(started).toHaveLength(2);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    // Every client is cut at the drain time; the two started provisionings are still at the gate.
    for (const a of await Promise.all(answers)) expect(a).toBeInstanceOf(Error);
    expect(closed).toBe(false);
    open();
    await closing;
    server = undefined;
    expect(closedWhileRunning).toBe(false);
    expect(started).toHaveLength(2);
    for (const id of started) expect((await service.lookupWorkspace(id))?.status).toBe('Active');
    for (const id of ids.filter((x) => !started.includes(x))) expect(await service.lookupWorkspace(id)).toBeUndefined();
  });
});

describe('tenant-migrate serve: refused before it connects anywhere', () => {
  it('a non-loopback address, a TCP port without a token, a short token: exit 2 with the reason', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'tm-serve-cli-'));
    try {
      // An unreachable database URL: the refusals come before any connection attempt.
      const env = { TM_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', TM_SERVICE_TOKEN: '' };
      const remote = await runCli(['serve', '--listen', '0.0.0.0:7070'], { cwd, env: { ...env, TM_SERVICE_TOKEN: TOKEN } });
      expect({ code: remote.code, err: remote.stderr }).toMatchObject({ code: 2, err: expect.stringMatching(/not a loopback address/) });
      const noToken = await runCli(['serve', '--listen', '127.0.0.1:7070'], { cwd, env });
      expect({ code: noToken.code, err: noToken.stderr }).toMatchObject({ code: 2, err: expect.stringMatching(/needs a bearer token/) });
      const short = await runCli(['serve', '--listen', '[::1]:7070', '--json'], { cwd, env: { ...env, TM_SERVICE_TOKEN: 'short' } });
      expect(short.code).toBe(2);
      expect(JSON.parse(short.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'USAGE', key: 'token' } });
      const badAddress = await runCli(['serve', '--listen', '7070'], { cwd, env });
      expect({ code: badAddress.code, err: badAddress.stderr }).toMatchObject({ code: 2, err: expect.stringMatching(/host:port/) });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
