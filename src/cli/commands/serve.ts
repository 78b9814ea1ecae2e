import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { TenantMigrateError } from '../../errors.js';
import { type ProvisioningServer, type ServiceLogEntry, checkListenOptions, startProvisioningServer } from '../../service/provisioning-server.js';
import { WorkspaceService } from '../../workspaces/workspace-service.js';
import { type GlobalArgs, command, migratorFromArgs } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';

interface ServeArgs extends GlobalArgs {
  socket?: string;
  listen?: string;
  tokenFile?: string;
  tokenEnv: string;
  allowRemote: boolean;
  socketMode: string;
  drainMs: number;
}

/** Where the socket goes when neither --socket nor --listen is given. */
export const DEFAULT_SOCKET = '.tenant-migrate/serve.sock';

export const serveCommand: CommandModule<GlobalArgs, ServeArgs> = {
  command: 'serve',
  describe: 'Run the warm provisioning service (HTTP + JSON on a Unix socket or loopback port) for applications in other languages',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('socket', { type: 'string', describe: `Unix socket to listen on (env TM_SERVICE_SOCKET; default ${DEFAULT_SOCKET} in the current folder)` })
      .option('listen', { type: 'string', describe: 'TCP address host:port instead of a socket (loopback only unless --allow-remote; needs a token)' })
      .option('token-file', { type: 'string', describe: 'File holding the bearer token clients must send (required with --listen)' })
      .option('token-env', { type: 'string', default: 'TM_SERVICE_TOKEN', describe: 'Environment variable holding the bearer token (when no --token-file)' })
      .option('allow-remote', { type: 'boolean', default: false, describe: 'Allow --listen on a non-loopback address (put TLS in front of it)' })
      .option('socket-mode', { type: 'string', default: '660', describe: 'Permission bits of the socket file, octal' })
      .option('concurrency', { type: 'number', describe: 'Provisionings at once (default: config concurrency, 8); the pool holds one more connection' })
      .option('drain-ms', { type: 'number', default: 30_000, describe: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish' })
      .conflicts('socket', 'listen')
      .example('$0 serve --socket /run/pmassist/tm.sock', 'Serve on a Unix socket (its file mode is the access control)')
      .example('TM_SERVICE_TOKEN=… $0 serve --listen 127.0.0.1:7070', 'Serve on a loopback port with a bearer token') as unknown as Argv<ServeArgs>,
  handler: command<ServeArgs>(async (argv) => {
    const listen = argv.listen !== undefined ? parseListen(argv.listen) : undefined;
    const socket = listen ? undefined : path.resolve(argv.socket ?? process.env.TM_SERVICE_SOCKET ?? DEFAULT_SOCKET);
    const token = readToken(argv);
    const socketMode = Number.parseInt(argv.socketMode, 8);
    if (!/^[0-7]{3,4}$/.test(argv.socketMode)) throw new TenantMigrateError('USAGE', `--socket-mode ${argv.socketMode}: octal permission bits expected, e.g. 660`, { key: 'socket-mode' });
    // Refused before connecting to anything: a listener that would be open to others never starts.
    checkListenOptions({ ...(socket ? { socket } : { listen: listen! }), ...(token !== undefined ? { token } : {}), allowRemote: argv.allowRemote });

    const service = new WorkspaceService((await migratorFromArgs(argv)).context, { ownsMigrator: true });
    let server: ProvisioningServer;
    try {
      // Warm before listening: the pool is open and the files are read, and a database that does
      // not answer fails the start (the deployment restarts it) instead of the first request.
      await service.migrator.loadFiles();
      await service.lookupWorkspace('00000000-0000-0000-0000-000000000000');
      if (socket) mkdirSync(path.dirname(socket), { recursive: true });
      server = await startProvisioningServer({
        service,
        ...(socket ? { socket, socketMode } : { listen: listen! }),
        ...(token !== undefined ? { token } : {}),
        allowRemote: argv.allowRemote,
        maxConcurrentProvisions: service.migrator.config.concurrency,
        drainMs: argv.drainMs,
        onLog: (entry) => log(argv.json === true, entry),
      });
    } catch (err) {
      await service.close();
      throw err;
    }
    emit(argv.json === true, { event: 'listening', address: server.address, pid: process.pid, auth: token !== undefined ? 'bearer' : 'socket-permissions' }, `tenant-migrate serve: listening on ${server.address} (pid ${process.pid}${token !== undefined ? ', bearer token required' : ''})`);

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    emit(argv.json === true, { event: 'stopping', signal, inFlight: server.inFlight }, `tenant-migrate serve: ${signal}: finishing ${server.inFlight} request(s), accepting no new ones`);
    // A second signal while draining stops at once (the engine keeps every workspace all-or-nothing).
    const force = () => process.exit(EXIT.interrupted);
    process.once('SIGTERM', force);
    process.once('SIGINT', force);
    await server.close();
    emit(argv.json === true, { event: 'stopped' }, 'tenant-migrate serve: stopped');
    return EXIT.ok;
  }),
};

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TenantMigrateError('USAGE', `--listen ${value}: expected host:port, e.g. 127.0.0.1:7070`, { key: 'listen' });
  return { host: (m[1] ?? m[2])!, port };
}

function readToken(argv: ServeArgs): string | undefined {
  if (argv.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(argv.tokenFile, 'utf8');
    } catch (err) {
      throw new TenantMigrateError('USAGE', `--token-file ${argv.tokenFile}: ${(err as Error).message}`, { key: 'token-file', file: argv.tokenFile });
    }
    const token = text.trim();
    if (token === '') throw new TenantMigrateError('USAGE', `--token-file ${argv.tokenFile} is empty`, { key: 'token-file', file: argv.tokenFile });
    return token;
  }
  const fromEnv = process.env[argv.tokenEnv]?.trim();
  return fromEnv ? fromEnv : undefined;
}

function emit(json: boolean, entry: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(entry)}\n` : `${text}\n`);
}

function log(json: boolean, e: ServiceLogEntry): void {
  emit(json, { ...e }, `${e.method} ${e.path} ${e.status}${e.code ? ` ${e.code}` : ''} ${e.durationMs} ms`);
}
