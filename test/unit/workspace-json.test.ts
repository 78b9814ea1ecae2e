/** The JSON contract's builders (docs/workspace-api.md): exact shapes, and each code's exit code and HTTP status. */
import { describe, expect, it } from 'vitest';
import { TenantMigrateError } from '../../src/errors.js';
import { ServiceError, archiveJson, errorJson, errorResponse, provisionJson, workspaceJson } from '../../src/service/workspace-json.js';
import { ProvisionError } from '../../src/workspaces/workspace-types.js';

const id = '3f2b6c1e-5a4d-4e8f-9a0b-1c2d3e4f5a6b';
const schema = 'ws_3f2b6c1e5a4d4e8f9a0b1c2d3e4f5a6b';
const at = new Date('2026-12-04T22:09:59.191Z');

describe('workspace JSON documents', () => {
  it('add: target only when on a target; nothing else than the documented fields', () => {
    expect(provisionJson({ workspaceId: id, schema, outcome: 'created', applied: ['0001_a'], durationMs: 41 })).toEqual({
      ok: true,
      workspaceId: id,
      schema,
      outcome: 'created',
      applied: ['0001_a'],
      durationMs: 41,
    });
    expect(provisionJson({ workspaceId: id, schema, target: 'eu2', outcome: 'existing', applied: [], durationMs: 3 })).toMatchObject({ target: 'eu2', outcome: 'existing' });
  });

  it('show and archive: target null on the master database, times in ISO 8601 UTC', () => {
    const shown = workspaceJson({
      workspaceId: id,
      name: 'Acme',
      schema,
      status: 'Active',
      lastSeenUtc: null,
      createdUtc: at,
      schemaExists: true,
      applied: [{ id: '0001_a', checksum: 'x', appliedUtc: at, durationMs: 5, runId: null } as never],
      pending: ['0002_b'],
    });
    expect(shown).toEqual({
      ok: true,
      workspaceId: id,
      name: 'Acme',
      schema,
      target: null,
      status: 'Active',
      schemaExists: true,
      lastSeenUtc: null,
      createdUtc: '2026-12-04T22:09:59.191Z',
      applied: [{ id: '0001_a', appliedUtc: '2026-12-04T22:09:59.191Z', durationMs: 5, runId: null }],
      pending: ['0002_b'],
    });
    expect(archiveJson({ workspaceId: id, name: null, schema, status: 'Archived', lastSeenUtc: null, createdUtc: null, target: 't1' })).toEqual({
      ok: true,
      workspaceId: id,
      schema,
      target: 't1',
      status: 'Archived',
    });
  });
});

describe('error answers', () => {
  const cases: [unknown, number, number, string][] = [
    [new TenantMigrateError('INVALID_WORKSPACE_ID', 'bad', { workspaceId: 'x' }), 400, 2, 'INVALID_WORKSPACE_ID'],
    [new TenantMigrateError('USAGE', 'bad'), 400, 2, 'USAGE'],
    [new TenantMigrateError('NOT_FOUND', 'none'), 404, 2, 'NOT_FOUND'],
    [new TenantMigrateError('WORKSPACE_NOT_ACTIVE', 'archived'), 409, 1, 'WORKSPACE_NOT_ACTIVE'],
    [new ProvisionError('failed', { workspaceId: id, cleanedUp: true }), 500, 1, 'PROVISION_FAILED'],
    [new TenantMigrateError('LOCK_TIMEOUT', 'busy'), 503, 3, 'LOCK_TIMEOUT'],
    [new TenantMigrateError('DATABASE_ERROR', 'gone'), 503, 1, 'DATABASE_ERROR'],
    [new Error('boom'), 500, 1, 'UNEXPECTED'],
    [new ServiceError('UNAUTHORIZED', 401, 'token'), 401, 2, 'UNAUTHORIZED'],
    [new ServiceError('SHUTTING_DOWN', 503, 'bye'), 503, 1, 'SHUTTING_DOWN'],
  ];
  it.each(cases)('%s → HTTP %i, exit %i, code %s', (err, status, exitCode, code) => {
    const answer = errorResponse(err);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ ok: false, exitCode, error: { code, message: expect.any(String) } });
  });

  it('carries the context beside name, code and message, never the cause', () => {
    const err = new ProvisionError('failed', { workspaceId: id, tenant: schema, cleanedUp: true, migrationId: '0003_x' }, undefined, new Error('secret cause'));
    expect(errorResponse(err).body.error).toEqual({ name: 'ProvisionError', code: 'PROVISION_FAILED', message: 'failed', workspaceId: id, tenant: schema, cleanedUp: true, migrationId: '0003_x' });
  });
});

describe('errors the database raised, outside the engine', () => {
  it('are DATABASE_ERROR with the SQLSTATE or error number, not UNEXPECTED', () => {
    const pgError = Object.assign(new Error('relation "x" does not exist'), { severity: 'ERROR', code: '42P01' });
    expect(errorJson(pgError).error).toMatchObject({ code: 'DATABASE_ERROR', sqlState: '42P01', message: 'relation "x" does not exist' });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(errorJson(reset).error).toMatchObject({ code: 'DATABASE_ERROR' });
    expect(errorJson(new Error('Connection terminated unexpectedly')).error).toMatchObject({ code: 'DATABASE_ERROR' });
    const mssqlRequest = Object.assign(new Error('Invalid object name'), { name: 'RequestError', number: 208 });
    expect(errorJson(mssqlRequest).error).toMatchObject({ code: 'DATABASE_ERROR', dbCode: 208 });
    const mssqlLost = Object.assign(new Error('Connection lost - read ECONNRESET'), { name: 'ConnectionError', code: 'ESOCKET' });
    expect(errorJson(mssqlLost).error).toMatchObject({ code: 'DATABASE_ERROR' });
    expect(errorJson(new TypeError('x is not a function')).error).toMatchObject({ code: 'UNEXPECTED' });
    expect(errorJson(Object.assign(new Error('no such file'), { code: 'ENOENT' })).error).toMatchObject({ code: 'UNEXPECTED' });
  });
});
