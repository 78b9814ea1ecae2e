/*
 * Why one file past ~300 lines: the two connection-string forms SQL Server users bring (URL and
 * ADO-style) share one table of keys, synonyms and validations, and map to one mssql config.
 */
import type { config as MssqlConfig } from 'mssql';
import { ConfigError } from '../../errors.js';
import { redactUrl } from '../../config/redact-url.js';

/**
 * Connection settings for SQL Server, parsed from either form the tool accepts:
 *
 * - URL: `mssql://user:pass@host:1433/db?encrypt=true&trustServerCertificate=true`
 *   (`sqlserver://` too; `host\instance` for a named instance; user and password percent-encoded).
 *   Query keys (case-insensitive): `encrypt`, `trustServerCertificate`, `instanceName`,
 *   `requestTimeout` (ms), `connectTimeout` / `connectionTimeout` (ms), `appName`, `poolMax`.
 * - ADO-style: `Server=tcp:host,1433;Database=db;User Id=sa;Password=...;Encrypt=true;TrustServerCertificate=true`
 *   with the usual synonyms (`Data Source`, `Address`, `Initial Catalog`, `UID`, `PWD`), `host\instance`,
 *   `Connection Timeout` / `Connect Timeout` (seconds, as in SqlClient), `Command Timeout` (seconds),
 *   `Request Timeout` (ms, as in the `mssql` package), `Application Name`, `Max Pool Size`.
 *
 * Defaults: port 1433, `encrypt=true` (what the `mssql` package defaults to and what Azure SQL
 * requires), `trustServerCertificate=false`. Every problem is reported with the key it is about.
 *
 * @example
 * parseMssqlUrl('mssql://sa:p%40ss@db.local:1433/app?encrypt=false').server // 'db.local'
 */
export interface MssqlConnectionSettings {
  readonly server: string;
  readonly port?: number;
  readonly instanceName?: string;
  readonly database?: string;
  readonly user?: string;
  readonly password?: string;
  readonly encrypt: boolean;
  readonly trustServerCertificate: boolean;
  readonly requestTimeoutMs?: number;
  readonly connectionTimeoutMs?: number;
  readonly appName?: string;
  readonly poolMax?: number;
}

export function isMssqlUrl(url: string): boolean {
  return /^(mssql|sqlserver):\/\//i.test(url) || looksLikeAdo(url);
}

function looksLikeAdo(url: string): boolean {
  return /^\s*(server|data source|address|addr|network address)\s*=/i.test(url) || /;\s*(server|data source)\s*=/i.test(url);
}

export function parseMssqlUrl(url: string): MssqlConnectionSettings {
  if (/^(mssql|sqlserver):\/\//i.test(url)) return parseUrlForm(url);
  if (url.includes('=')) return parseAdoForm(url);
  throw new ConfigError([`url: not a SQL Server URL (expected mssql://… or Server=…;Database=…): ${redact(url)}`]);
}

/**
 * The `mssql` package config for these settings. Timeouts go to the top-level
 * `connectionTimeout`/`requestTimeout` keys, which the package maps to tedious'
 * `connectTimeout`/`requestTimeout` (https://github.com/tediousjs/node-mssql#general-same-for-all-drivers).
 */
export function toMssqlConfig(settings: MssqlConnectionSettings, overrides: { poolMax?: number; requestTimeoutMs?: number } = {}): MssqlConfig {
  const options: NonNullable<MssqlConfig['options']> = {
    encrypt: settings.encrypt,
    trustServerCertificate: settings.trustServerCertificate,
    appName: settings.appName ?? 'tenant-migrate',
    // DATETIME2 values are UTC in our tables; read and write them as such.
    useUTC: true,
  };
  if (settings.instanceName !== undefined) options.instanceName = settings.instanceName;
  const config: MssqlConfig = {
    server: settings.server,
    options,
    pool: { max: overrides.poolMax ?? settings.poolMax ?? 10, min: 0, idleTimeoutMillis: 30_000 },
    // mssql validates a pooled connection on every checkout with a `SELECT 1` round trip by default;
    // a session is taken per tenant, so that was one more round trip per tenant (and per ledger
    // call). 'socket' checks the login state and the socket instead; a connection that died anyway
    // fails its first request with a transient error, which the tenant's retry covers.
    validateConnection: 'socket',
    beforeConnect: noDelayOnConnect,
  };
  // tedious ignores the port for a named instance (the SQL Browser service resolves it)
  if (settings.port !== undefined && settings.instanceName === undefined) config.port = settings.port;
  if (settings.database !== undefined) config.database = settings.database;
  if (settings.user !== undefined) config.user = settings.user;
  if (settings.password !== undefined) config.password = settings.password;
  const requestTimeout = overrides.requestTimeoutMs ?? settings.requestTimeoutMs;
  if (requestTimeout !== undefined) config.requestTimeout = requestTimeout;
  if (settings.connectionTimeoutMs !== undefined) config.connectionTimeout = settings.connectionTimeoutMs;
  return config;
}

/**
 * Nagle's algorithm off on every connection (TCP_NODELAY), from login on, as drivers for SQL Server
 * do as a rule (Microsoft.Data.SqlClient, JDBC) and pg does for PostgreSQL. tedious leaves it on and
 * has no option for it, so the socket is reached through its internal `socket` field (a unit test
 * checks the field exists in the pinned version). With Nagle on, a request longer than one TDS
 * packet (4,096 bytes: ~2,000 characters of T-SQL, UTF-16 on the wire) goes out as several TCP
 * segments and the last waits for the server to acknowledge the first, which a delayed-ACK server
 * does after its timer (40 ms on Linux, 200 ms by default on Windows). Measured on Babelfish: a
 * 2,100-character batch 44 ms, 1 ms with it off. Set here, every pool gets it: the sessions the
 * engine pins, the admin pool, and any request outside a session.
 */
function noDelayOnConnect(connection: unknown): void {
  const c = connection as { once?: (event: string, listener: () => void) => void; socket?: { setNoDelay?: (on: boolean) => void } };
  c.once?.('connect', () => c.socket?.setNoDelay?.(true));
}

/** The URL with its password replaced, for messages and logs. */
export function redactMssqlUrl(url: string): string {
  return redact(url);
}

const redact = redactUrl;

// — URL form —

type Mutable = { -readonly [K in keyof MssqlConnectionSettings]: MssqlConnectionSettings[K] };

function parseUrlForm(url: string): MssqlConnectionSettings {
  const issues: string[] = [];
  const withoutScheme = url.replace(/^(mssql|sqlserver):\/\//i, '');
  const hashFree = withoutScheme.split('#')[0]!;
  const q = hashFree.indexOf('?');
  const beforeQuery = q >= 0 ? hashFree.slice(0, q) : hashFree;
  const query = q >= 0 ? hashFree.slice(q + 1) : '';
  const at = beforeQuery.lastIndexOf('@');
  const userInfo = at >= 0 ? beforeQuery.slice(0, at) : undefined;
  const hostAndPath = at >= 0 ? beforeQuery.slice(at + 1) : beforeQuery;
  const slash = hostAndPath.indexOf('/');
  const hostPart = slash >= 0 ? hostAndPath.slice(0, slash) : hostAndPath;
  const pathPart = slash >= 0 ? hostAndPath.slice(slash + 1) : '';

  const s: Partial<Mutable> = { encrypt: true, trustServerCertificate: false };
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    const user = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo, 'user', issues);
    if (user) s.user = user;
    if (colon >= 0) s.password = decode(userInfo.slice(colon + 1), 'password', issues);
  }
  parseHost(decode(hostPart, 'host', issues) ?? '', ':', s, issues);
  const database = decode(pathPart.replace(/\/+$/, ''), 'database', issues);
  if (database) {
    if (database.includes('/')) issues.push(`database: "${database}" contains "/"`);
    s.database = database;
  }

  for (const pair of query.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const rawKey = eq >= 0 ? pair.slice(0, eq) : pair;
    const value = decode(eq >= 0 ? pair.slice(eq + 1) : '', rawKey, issues) ?? '';
    applyUrlParam(rawKey, value, s, issues);
  }
  return finish(s, issues, url);
}

function applyUrlParam(key: string, value: string, s: Partial<Mutable>, issues: string[]): void {
  switch (key.toLowerCase()) {
    case 'encrypt':
      s.encrypt = bool(key, value, issues);
      return;
    case 'trustservercertificate':
      s.trustServerCertificate = bool(key, value, issues);
      return;
    case 'instancename':
      if (value) s.instanceName = value;
      else issues.push(`${key}: must not be empty`);
      return;
    case 'requesttimeout':
      s.requestTimeoutMs = int(key, value, issues, 0);
      return;
    case 'connecttimeout':
    case 'connectiontimeout':
      s.connectionTimeoutMs = int(key, value, issues, 1);
      return;
    case 'appname':
    case 'applicationname':
      s.appName = value;
      return;
    case 'poolmax':
      s.poolMax = int(key, value, issues, 1);
      return;
    default:
      issues.push(`${key}: unknown parameter (known: encrypt, trustServerCertificate, instanceName, requestTimeout, connectTimeout, appName, poolMax)`);
  }
}

// — ADO form —

function parseAdoForm(text: string): MssqlConnectionSettings {
  const issues: string[] = [];
  const s: Partial<Mutable> = { encrypt: true, trustServerCertificate: false };
  for (const [rawKey, value] of splitAdo(text, issues)) {
    const key = rawKey.toLowerCase().replace(/\s+/g, ' ');
    switch (key) {
      case 'server':
      case 'data source':
      case 'address':
      case 'addr':
      case 'network address':
        parseHost(value, ',', s, issues, rawKey);
        break;
      case 'database':
      case 'initial catalog':
        s.database = value;
        break;
      case 'user id':
      case 'userid':
      case 'uid':
      case 'user':
        s.user = value;
        break;
      case 'password':
      case 'pwd':
        s.password = value;
        break;
      case 'encrypt':
        // SqlClient 5 also accepts Mandatory/Optional/Strict
        s.encrypt = /^(mandatory|strict)$/i.test(value) ? true : /^optional$/i.test(value) ? false : bool(rawKey, value, issues);
        break;
      case 'trustservercertificate':
      case 'trust server certificate':
        s.trustServerCertificate = bool(rawKey, value, issues);
        break;
      case 'connection timeout':
      case 'connect timeout':
      case 'timeout': {
        const seconds = int(rawKey, value, issues, 0);
        if (seconds !== undefined) s.connectionTimeoutMs = seconds * 1000;
        break;
      }
      case 'command timeout': {
        const seconds = int(rawKey, value, issues, 0);
        if (seconds !== undefined) s.requestTimeoutMs = seconds * 1000;
        break;
      }
      case 'request timeout':
        s.requestTimeoutMs = int(rawKey, value, issues, 0);
        break;
      case 'application name':
      case 'app':
        s.appName = value;
        break;
      case 'max pool size':
        s.poolMax = int(rawKey, value, issues, 1);
        break;
      // accepted and meaningless for this driver
      case 'persist security info':
      case 'multipleactiveresultsets':
      case 'pooling':
      case 'min pool size':
        break;
      default:
        issues.push(`${rawKey}: unknown connection string key`);
    }
  }
  return finish(s, issues, text);
}

/** `key=value` pairs separated by `;`; a value may be quoted with "…" or '…' (doubled to escape). */
function splitAdo(text: string, issues: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ';' || /\s/.test(text[i]!))) i++;
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    const semi = text.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      const part = text.slice(i, semi >= 0 ? semi : undefined).trim();
      issues.push(`${part}: expected key=value`);
      i = semi >= 0 ? semi + 1 : text.length;
      continue;
    }
    const key = text.slice(i, eq).trim();
    i = eq + 1;
    while (i < text.length && /[ \t]/.test(text[i]!)) i++;
    let value = '';
    const quote = text[i];
    if (quote === '"' || quote === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        if (text[i] === quote) {
          if (text[i + 1] === quote) {
            value += quote;
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        value += text[i];
        i++;
      }
      if (!closed) issues.push(`${key}: unterminated quoted value`);
      const rest = text.indexOf(';', i);
      if (text.slice(i, rest >= 0 ? rest : undefined).trim() !== '') issues.push(`${key}: unexpected text after quoted value`);
      i = rest >= 0 ? rest + 1 : text.length;
    } else {
      const end = text.indexOf(';', i);
      value = text.slice(i, end >= 0 ? end : undefined).trim();
      i = end >= 0 ? end + 1 : text.length;
    }
    if (!key) issues.push(`empty key before "=${value}"`);
    else pairs.push([key, value]);
  }
  return pairs;
}

// — shared —

/**
 * `host`, `host:port` / `host,port`, `tcp:host`, `host\instance`, `[::1]:1433`, `.`/`(local)`.
 * `portSeparator` is `:` in URLs and `,` in ADO strings.
 */
function parseHost(text: string, portSeparator: ':' | ',', s: Partial<Mutable>, issues: string[], key = 'host'): void {
  let host = text.trim().replace(/^tcp:/i, '');
  if (/^np:|^lpc:/i.test(host)) {
    issues.push(`${key}: named pipes and shared memory are not supported by tedious; use TCP`);
    return;
  }
  let portText: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    const after = host.slice(close + 1);
    if (close < 0 || (after !== '' && !after.startsWith(portSeparator))) {
      issues.push(`${key}: malformed IPv6 address "${text}"`);
      return;
    }
    portText = after ? after.slice(1) : undefined;
    host = host.slice(1, close);
  } else {
    const sep = host.lastIndexOf(portSeparator);
    if (sep >= 0) {
      portText = host.slice(sep + 1);
      host = host.slice(0, sep);
    }
  }
  const backslash = host.indexOf('\\');
  if (backslash >= 0) {
    const instance = host.slice(backslash + 1).trim();
    host = host.slice(0, backslash);
    if (!instance) issues.push(`${key}: empty instance name after "\\"`);
    else s.instanceName = instance;
  }
  host = host.trim();
  if (host === '.' || /^\((local|localdb|\.)\)$/i.test(host)) host = 'localhost';
  if (!host) issues.push(`${key}: missing server name`);
  else s.server = host;
  if (portText !== undefined) {
    const port = int(`${key} port`, portText.trim(), issues, 1);
    if (port !== undefined && port > 65535) issues.push(`${key} port: ${port} is not a TCP port`);
    else if (port !== undefined) s.port = port;
  }
}

function finish(s: Partial<Mutable>, issues: string[], original: string): MssqlConnectionSettings {
  if (s.server === undefined && issues.length === 0) issues.push('server: missing (host or Server=…)');
  if (issues.length > 0) {
    throw new ConfigError(issues.map((i) => `url: ${i}`), { key: 'url', url: redact(original) });
  }
  return s as MssqlConnectionSettings;
}

function decode(text: string, key: string, issues: string[]): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    issues.push(`${key}: invalid percent-encoding`);
    return undefined;
  }
}

function bool(key: string, value: string, issues: string[]): boolean | undefined {
  if (/^(true|yes|1|on)$/i.test(value)) return true;
  if (/^(false|no|0|off)$/i.test(value)) return false;
  issues.push(`${key}: expected true or false, got "${value}"`);
  return undefined;
}

function int(key: string, value: string, issues: string[], min: number): number | undefined {
  if (!/^\d+$/.test(value)) {
    issues.push(`${key}: expected a whole number, got "${value}"`);
    return undefined;
  }
  const n = Number(value);
  if (n < min) {
    issues.push(`${key}: must be at least ${min}, got ${n}`);
    return undefined;
  }
  return n;
}
