/**
 * PinnedConnection relies on parts of mssql that are not its documented API: `ConnectionPool#acquire`
 * / `#release`, and a `Request` asking its parent for a connection with `parent.acquire(request, cb)`
 * and giving it back with `parent.release(connection)` (what `Transaction` does). package.json pins
 * mssql to one exact version; this test fails when the installed version differs or when those
 * internals moved, so an upgrade is a deliberate change with this file read first.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import sql from 'mssql';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '../..');

describe('mssql internals used by PinnedConnection', () => {
  it('mssql is pinned to an exact version, and that version is installed', () => {
    const wanted = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.mssql;
    expect(wanted).toMatch(/^\d+\.\d+\.\d+$/);
    expect((require('mssql/package.json') as { version: string }).version).toBe(wanted);
  });

  it('ConnectionPool#acquire/#release exist and Request borrows from its parent through them', () => {
    const pool = sql.ConnectionPool.prototype as unknown as Record<string, unknown>;
    expect(typeof pool.acquire).toBe('function');
    expect(typeof pool.release).toBe('function');
    const request = readFileSync(require.resolve('mssql/lib/tedious/request.js'), 'utf8');
    expect(request).toContain('this.parent.acquire(this, (err, connection, config) =>');
    expect(request).toContain('this.parent.release(connection)');
  });

  it("tedious' Connection#reset (public API) exists for the between-tenants reset", () => {
    const tedious = require(require.resolve('tedious', { paths: [path.dirname(require.resolve('mssql/package.json'))] })) as {
      Connection: { prototype: Record<string, unknown> };
    };
    expect(typeof tedious.Connection.prototype.reset).toBe('function');
  });

  it("mssql's pool makes and ends its connections with _poolCreate, _poolDestroy and _close (ReusingConnectionPool keeps the test connection)", () => {
    const proto = sql.ConnectionPool.prototype as unknown as Record<string, unknown>;
    for (const name of ['_poolCreate', '_poolDestroy', '_close']) expect(typeof proto[name], name).toBe('function');
    const base = readFileSync(require.resolve('mssql/lib/base/connection-pool.js'), 'utf8');
    // connect() tests the settings with one connection and ends it before making the pool.
    expect(base).toMatch(/this\._poolCreate\(\)\.then\(\(connection\) => \{[\s\S]*?return this\._poolDestroy\(connection\)/);
  });

  it("tedious keeps its TCP socket in Connection#socket, where toMssqlConfig turns Nagle's algorithm off", () => {
    const connection = readFileSync(require.resolve('tedious/lib/connection.js', { paths: [path.dirname(require.resolve('mssql/package.json'))] }), 'utf8');
    expect(connection).toContain('this.socket = socket;');
  });
});
