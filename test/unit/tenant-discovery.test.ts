import { describe, expect, it } from 'vitest';
import { dialectFromUrl, redactUrl } from '../../src/dialect/create-adapter.js';
import { deriveSchemaName, normalizeGuid, validateTenants } from '../../src/registry/tenant-discovery.js';
import type { TenantRow } from '../../src/types.js';

const row = (workspaceId: string, dbSchemaName: string | null): TenantRow => ({
  workspaceId,
  name: null,
  dbSchemaName,
  status: 'Active',
  lastSeenUtc: null,
  createdUtc: null,
});
const PATTERN = /^ws_[0-9a-f]{32}$/;

describe('tenant discovery', () => {
  it('derives ws_<guid without hyphens, lower case>', () => {
    expect(deriveSchemaName('123E4567-E89B-12D3-A456-426614174000')).toBe('ws_123e4567e89b12d3a456426614174000');
    expect(deriveSchemaName('{123e4567-e89b-12d3-a456-426614174000}')).toBe('ws_123e4567e89b12d3a456426614174000');
    expect(deriveSchemaName('not-a-guid')).toBeUndefined();
    expect(normalizeGuid('123e4567e89b12d3a456426614174000')).toBe('123e4567-e89b-12d3-a456-426614174000');
  });

  it('keeps a known db_target and rejects an unknown or malformed one (never guessed)', () => {
    const a = '123e4567-e89b-12d3-a456-426614174000';
    const b = '223e4567-e89b-12d3-a456-426614174000';
    const c = '323e4567-e89b-12d3-a456-426614174000';
    const d = '423e4567-e89b-12d3-a456-426614174000';
    const { tenants, invalid } = validateTenants(
      [{ ...row(a, null), target: 'eu1' }, { ...row(b, null), target: 'eu9' }, { ...row(c, null), target: "x'; --" }, row(d, null)],
      PATTERN,
      'ws_',
      new Set(['eu1', 'eu2']),
    );
    expect(tenants.map((t) => [t.workspaceId, t.target])).toEqual([[a, 'eu1'], [d, null]]);
    expect(invalid).toEqual([
      expect.objectContaining({ workspaceId: b, target: 'eu9', reason: 'db_target "eu9" is not a name in config targets' }),
      expect.objectContaining({ workspaceId: c, reason: expect.stringContaining('not a valid target name') }),
    ]);
  });

  it('validates stored names, derives missing ones and rejects injection and duplicates', () => {
    const good = '123e4567-e89b-12d3-a456-426614174000';
    const other = '223e4567-e89b-12d3-a456-426614174000';
    const { tenants, invalid } = validateTenants(
      [
        row(good, null),
        row(other, 'ws_x; DROP TABLE "Workspace"; --'),
        row('323e4567-e89b-12d3-a456-426614174000', 'ws_123e4567e89b12d3a456426614174000'),
        row('oops', null),
        row('423e4567-e89b-12d3-a456-426614174000', 'WS_423E4567E89B12D3A456426614174000'),
      ],
      PATTERN,
      'ws_',
    );
    expect(tenants).toEqual([expect.objectContaining({ workspaceId: good, schema: 'ws_123e4567e89b12d3a456426614174000', needsBackfill: true })]);
    expect(invalid.map((i) => i.reason)).toEqual([
      expect.stringContaining('does not match'),
      expect.stringContaining('also used by workspace'),
      expect.stringContaining('not a GUID'),
      expect.stringContaining('does not match'),
    ]);
  });
});

describe('dialect URLs (contract)', () => {
  it.each([
    ['mssql://sa:pw@host:1433/db?encrypt=true', 'mssql'],
    ['sqlserver://host/db', 'mssql'],
    ['Server=host,1433;Database=db;User Id=sa;Password=x', 'mssql'],
    ['postgres://postgres@127.0.0.1:5432/test', 'postgres'],
    ['postgresql://u@h/db', 'postgres'],
    ['pglite:memory', 'pglite'],
    ['pglite:./data', 'pglite'],
  ])('%s → %s', (url, dialect) => expect(dialectFromUrl(url)).toBe(dialect));
  it('rejects unknown schemes and redacts passwords', () => {
    expect(() => dialectFromUrl('mysql://root:secret@x/db')).toThrow(/root:\*\*\*@/);
    expect(redactUrl('Server=h;Password=secret;User Id=sa')).toBe('Server=h;Password=***;User Id=sa');
  });
});
