import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { EventEmitter } from 'node:events';
import { isMssqlUrl, parseMssqlUrl, redactMssqlUrl, toMssqlConfig } from '../../src/dialect/mssql/mssql-url.js';

function issuesOf(url: string): readonly string[] {
  try {
    parseMssqlUrl(url);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error(`expected ${url} to be rejected`);
}

describe('parseMssqlUrl — URL form', () => {
  it('parses user, password, host, port, database and options', () => {
    expect(parseMssqlUrl('mssql://sa:Secret1@db.example.com:1433/app?encrypt=true&trustServerCertificate=true')).toEqual({
      user: 'sa',
      password: 'Secret1',
      server: 'db.example.com',
      port: 1433,
      database: 'app',
      encrypt: true,
      trustServerCertificate: true,
    });
  });

  it('accepts sqlserver:// and percent-encoded credentials', () => {
    const s = parseMssqlUrl('sqlserver://app%5Cuser:p%40ss%2Fw%3Ad@localhost/db%20one');
    expect(s).toMatchObject({ user: 'app\\user', password: 'p@ss/w:d', server: 'localhost', database: 'db one' });
    expect(s.port).toBeUndefined();
  });

  it('reads timeouts (ms), instance name, app name and pool size', () => {
    expect(
      parseMssqlUrl('mssql://h/db?requestTimeout=60000&connectTimeout=5000&instanceName=SQLEXPRESS&appName=x&poolMax=4&Encrypt=false'),
    ).toMatchObject({ requestTimeoutMs: 60000, connectionTimeoutMs: 5000, instanceName: 'SQLEXPRESS', appName: 'x', poolMax: 4, encrypt: false });
  });

  it('takes a named instance from host\\instance', () => {
    expect(parseMssqlUrl('mssql://u:p@host\\SQLEXPRESS/db')).toMatchObject({ server: 'host', instanceName: 'SQLEXPRESS' });
  });

  it('parses IPv6 hosts', () => {
    expect(parseMssqlUrl('mssql://[::1]:14330/db')).toMatchObject({ server: '::1', port: 14330 });
  });

  it('defaults to encrypt=true, trustServerCertificate=false', () => {
    expect(parseMssqlUrl('mssql://host')).toEqual({ server: 'host', encrypt: true, trustServerCertificate: false });
  });

  it('names every bad key', () => {
    const issues = issuesOf('mssql://h:99999/db?encrypt=maybe&requestTimeout=soon&colour=blue');
    expect(issues).toEqual([
      'url: host port: 99999 is not a TCP port',
      'url: encrypt: expected true or false, got "maybe"',
      'url: requestTimeout: expected a whole number, got "soon"',
      expect.stringMatching(/^url: colour: unknown parameter/),
    ]);
  });

  it('rejects a missing host', () => {
    expect(issuesOf('mssql://u:p@/db')).toEqual(['url: host: missing server name']);
  });
});

describe('parseMssqlUrl — ADO form', () => {
  it('parses the testcontainers / SqlClient style', () => {
    expect(
      parseMssqlUrl('Server=localhost,14331;Database=master;User Id=sa;Password=A_Str0ng;Encrypt=false;TrustServerCertificate=true'),
    ).toEqual({
      server: 'localhost',
      port: 14331,
      database: 'master',
      user: 'sa',
      password: 'A_Str0ng',
      encrypt: false,
      trustServerCertificate: true,
    });
  });

  it('accepts synonyms, tcp: prefix, instances, seconds timeouts and quoted values', () => {
    const s = parseMssqlUrl(
      'Data Source=tcp:sql01\\PROD;Initial Catalog=pmassist;uid=svc;pwd="a;b""c";Connection Timeout=30;Command Timeout=120;Application Name=tm;',
    );
    expect(s).toEqual({
      server: 'sql01',
      instanceName: 'PROD',
      database: 'pmassist',
      user: 'svc',
      password: 'a;b"c',
      connectionTimeoutMs: 30_000,
      requestTimeoutMs: 120_000,
      appName: 'tm',
      encrypt: true,
      trustServerCertificate: false,
    });
  });

  it('maps . and (local) to localhost', () => {
    expect(parseMssqlUrl('Server=(local);Database=d').server).toBe('localhost');
    expect(parseMssqlUrl('Server=.;Database=d').server).toBe('localhost');
  });

  it('names bad keys and values', () => {
    expect(issuesOf('Server=h;Encrypt=perhaps;Colour=blue;Connect Timeout=-1')).toEqual([
      'url: Encrypt: expected true or false, got "perhaps"',
      'url: Colour: unknown connection string key',
      'url: Connect Timeout: expected a whole number, got "-1"',
    ]);
    expect(issuesOf('Database=d;User Id=u')).toEqual(['url: server: missing (host or Server=…)']);
    expect(issuesOf('Server=np:\\\\.\\pipe\\sql')).toEqual([expect.stringMatching(/named pipes/)]);
  });
});

describe('toMssqlConfig', () => {
  it('builds the mssql package config', () => {
    const config = toMssqlConfig(parseMssqlUrl('mssql://sa:pw@h:1433/db?requestTimeout=1000&connectTimeout=2000'), { poolMax: 8 });
    expect(config).toEqual({
      server: 'h',
      port: 1433,
      database: 'db',
      user: 'sa',
      password: 'pw',
      requestTimeout: 1000,
      connectionTimeout: 2000,
      pool: { max: 8, min: 0, idleTimeoutMillis: 30_000 },
      validateConnection: 'socket',
      beforeConnect: expect.any(Function),
      options: { encrypt: true, trustServerCertificate: false, appName: 'tenant-migrate', useUTC: true },
    });
  });

  it("turns Nagle's algorithm off on each connection's socket once it is logged in", () => {
    const config = toMssqlConfig(parseMssqlUrl('mssql://h/db'));
    const calls: boolean[] = [];
    const connection = Object.assign(new EventEmitter(), { socket: { setNoDelay: (on: boolean) => calls.push(on) } });
    config.beforeConnect!(connection as never);
    expect(calls).toEqual([]);
    connection.emit('connect');
    connection.emit('connect');
    expect(calls).toEqual([true]);
  });

  it('drops the port for a named instance and lets the caller override the request timeout', () => {
    const config = toMssqlConfig(parseMssqlUrl('Server=h\\I,1500;Request Timeout=5'), { requestTimeoutMs: 9 });
    expect(config.port).toBeUndefined();
    expect(config.options?.instanceName).toBe('I');
    expect(config.requestTimeout).toBe(9);
  });
});

describe('helpers', () => {
  it('recognises SQL Server URLs', () => {
    expect(isMssqlUrl('mssql://h/db')).toBe(true);
    expect(isMssqlUrl('SQLSERVER://h')).toBe(true);
    expect(isMssqlUrl('Server=h;Database=d')).toBe(true);
    expect(isMssqlUrl('Data Source=h')).toBe(true);
    expect(isMssqlUrl('postgres://h/db')).toBe(false);
    expect(isMssqlUrl('pglite:memory')).toBe(false);
  });

  it('redacts passwords', () => {
    expect(redactMssqlUrl('mssql://sa:secret@h/db')).toBe('mssql://sa:***@h/db');
    expect(redactMssqlUrl('Server=h;Password="x;y";Database=d')).toBe('Server=h;Password=***;Database=d');
    expect(redactMssqlUrl('Server=h;pwd=secret')).toBe('Server=h;pwd=***');
  });
});
