/**
 * SQL Server for the integration suite: a fresh database per call, on
 * - the server of `TM_TEST_MSSQL_URL` (any form the tool accepts; the login needs CREATE DATABASE), or
 * - one `mcr.microsoft.com/mssql/server:2022-latest` container per test process, started through
 *   testcontainers when a Docker engine is reachable (Ryuk removes it when the process exits).
 * Otherwise `{ skipped: reason }`, found within a few seconds.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { type MssqlEngine, createMssqlDatabase, detectMssqlEngine } from '../../src/dialect/mssql/mssql-admin.js';
import { type MssqlConnectionSettings, parseMssqlUrl } from '../../src/dialect/mssql/mssql-url.js';

export type StartedMssql = { url: string; engine: MssqlEngine; stop(): Promise<void> } | { skipped: string };

const IMAGE = process.env.TM_TEST_MSSQL_IMAGE ?? 'mcr.microsoft.com/mssql/server:2022-latest';
const DOCKER_PROBE_MS = 5_000;

let server: Promise<(MssqlConnectionSettings & { engine: MssqlEngine }) | { skipped: string }> | undefined;

/** A fresh, empty database; `stop()` drops it. */
export async function startMssql(): Promise<StartedMssql> {
  server ??= locateServer();
  const admin = await server;
  if ('skipped' in admin) return admin;
  const database = `tm_test_${randomBytes(6).toString('hex')}`;
  const created = await createMssqlDatabase(admin, database);
  return { url: toAdoString({ ...admin, database }), engine: admin.engine, stop: () => created.drop() };
}

async function locateServer(): Promise<(MssqlConnectionSettings & { engine: MssqlEngine }) | { skipped: string }> {
  const url = process.env.TM_TEST_MSSQL_URL;
  if (url) {
    const settings = parseMssqlUrl(url);
    // fail loudly: a URL was given, so a wrong one must not look like a skip
    return { ...settings, engine: await detectMssqlEngine(settings) };
  }
  const noDocker = await dockerUnavailable();
  if (noDocker) return { skipped: `no TM_TEST_MSSQL_URL and no Docker engine: ${noDocker}` };
  const { MSSQLServerContainer } = await import('@testcontainers/mssqlserver');
  const password = `Tm-${randomBytes(12).toString('hex')}A1`;
  const container = await new MSSQLServerContainer(IMAGE).acceptLicense().withPassword(password).start();
  return {
    engine: 'sqlserver',
    server: container.getHost(),
    port: container.getPort(),
    database: 'master',
    user: container.getUsername(),
    password: container.getPassword(),
    encrypt: false,
    trustServerCertificate: true,
  };
}

/** Why no Docker engine can be used, or undefined when one answers. */
async function dockerUnavailable(): Promise<string | undefined> {
  const candidates = ['/var/run/docker.sock', path.join(homedir(), '.docker/run/docker.sock'), path.join(homedir(), '.colima/default/docker.sock')];
  const configured =
    process.env.DOCKER_HOST ??
    (existsSync(path.join(homedir(), '.testcontainers.properties'))
      ? /docker\.host\s*=/.test(readFileSync(path.join(homedir(), '.testcontainers.properties'), 'utf8'))
        ? '~/.testcontainers.properties'
        : undefined
      : undefined);
  if (!configured && !candidates.some((c) => existsSync(c))) {
    return `DOCKER_HOST is not set and no Docker socket exists (${candidates.join(', ')})`;
  }
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${DOCKER_PROBE_MS} ms`)), DOCKER_PROBE_MS);
    });
    try {
      await Promise.race([getContainerRuntimeClient(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return undefined;
  } catch (err) {
    return `testcontainers found no working container runtime: ${(err as Error).message}`;
  }
}


/** An ADO-style connection string (what testcontainers prints), values quoted where needed. */
function toAdoString(s: MssqlConnectionSettings & { database: string }): string {
  const quote = (v: string) => (/[;"'=\s]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const host = `${s.server}${s.instanceName ? `\\${s.instanceName}` : ''}${s.port !== undefined ? `,${s.port}` : ''}`;
  const parts = [
    `Server=${quote(host)}`,
    `Database=${quote(s.database)}`,
    ...(s.user !== undefined ? [`User Id=${quote(s.user)}`] : []),
    ...(s.password !== undefined ? [`Password=${quote(s.password)}`] : []),
    `Encrypt=${s.encrypt}`,
    `TrustServerCertificate=${s.trustServerCertificate}`,
  ];
  if (s.requestTimeoutMs !== undefined) parts.push(`Request Timeout=${s.requestTimeoutMs}`);
  if (s.connectionTimeoutMs !== undefined) parts.push(`Connection Timeout=${Math.ceil(s.connectionTimeoutMs / 1000)}`);
  return parts.join(';');
}
