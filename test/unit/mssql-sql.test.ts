import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lockResource, mssqlIdent, mssqlSql, rewritePlaceholders } from '../../src/dialect/mssql/mssql-sql.js';
import { splitGoBatches } from '../../src/dialect/mssql/go-splitter.js';
import { mssqlLedgerSql, mssqlWorkspaceSql, valuesPlaceholders } from '../../src/dialect/mssql/mssql-ledger-sql.js';

/**
 * Golden T-SQL of the adapter's own statements (meta table, schema creation, batched reads,
 * locks, registry). `UPDATE_GOLDEN=1 npx vitest run --project unit mssql-sql` rewrites the files
 * in test/fixtures/golden/mssql-internal/; review the diff before committing.
 */
const dir = fileURLToPath(new URL('../fixtures/golden/mssql-internal/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';

const names = {
  masterSchema: 'pmassist_master',
  metaTable: '__schema_migrations',
  registryTable: 'Workspace',
  ledgerPrefix: '__tm_',
};
const sql = mssqlSql(names);
const tenant = 'ws_123e4567e89b12d3a456426614174000';
const other = 'ws_00000000000000000000000000000001';

const ledger = mssqlLedgerSql(names.masterSchema, names.ledgerPrefix);
const ws = mssqlWorkspaceSql(names.masterSchema, names.registryTable);

const goldens: Record<string, string> = {
  'ledger-ddl.sql': ledger.createLedger.join('\n\n'),
  'ledger-claims.sql': [
    ledger.createRun,
    ledger.findResumableRun,
    ledger.reopenRun,
    ledger.addRunTenants(2),
    ledger.requeueRunTenants,
    ledger.claimTenants,
    ledger.renewLease,
    ledger.completeTenants(2),
    ledger.releaseTenants(2),
    ledger.countRunTenants,
    ledger.finishRun,
    ledger.listRunTenants,
  ].join('\n\n'),
  'workspace-provisioning.sql': [ws.insertWorkspace(false), ws.insertWorkspace(true), ws.countPlaced, ws.transitionStatus, ws.deleteWorkspace, ws.addMember('WorkspaceMember'), ws.dropSchema].join('\n\n'),
  'create-schema.sql': sql.createSchema(tenant),
  'meta-table.sql': sql.createMetaTable(tenant),
  'meta-table-master.sql': sql.createMetaTable(names.masterSchema),
  'read-applied-many.sql': `${sql.schemasWithMeta}\n\n${sql.selectAppliedMany([tenant, other])}`,
  'meta-rows.sql': [sql.selectApplied(tenant), sql.insertApplied(tenant), sql.deleteApplied(tenant), sql.updateChecksums(tenant)].join('\n\n'),
  'locks.sql': `${sql.getAppLock}\n\n${sql.releaseAppLock}`,
  'transactions.sql': [sql.begin, sql.commit, sql.rollback].join('\n'),
  'registry.sql': [
    sql.registryReady,
    sql.listTenants(false),
    sql.listTenants(true),
    sql.getTenant(),
    sql.setSchemaName,
    sql.upsertWorkspace,
    sql.setStatus,
    sql.touch,
  ].join('\n\n'),
};

describe('golden T-SQL of the adapter', () => {
  it.each(Object.keys(goldens))('%s', (file) => {
    const actual = `${goldens[file]}\n`;
    const path = join(dir, file);
    if (update || !existsSync(path)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, actual);
      if (!update) throw new Error(`wrote missing golden ${path}; review and re-run`);
      return;
    }
    expect(actual).toBe(readFileSync(path, 'utf8'));
  });

  it('every statement is one batch (no GO inside the adapter SQL)', () => {
    for (const text of Object.values(goldens)) {
      expect(splitGoBatches(text).length).toBeLessThanOrEqual(1);
    }
  });
});

describe('quoting and validation', () => {
  it('escapes ] in identifiers and quotes inside EXEC strings', () => {
    const weird = mssqlSql({ ...names, masterSchema: "o'neil]x" });
    expect(weird.createSchema("o'neil]x")).toBe("IF SCHEMA_ID(N'o''neil]x') IS NULL EXEC(N'CREATE SCHEMA [o''neil]]x]');");
    expect(weird.listTenants(true)).toContain("[o'neil]]x].[Workspace]");
  });

  it('refuses empty, over-long and control-character names', () => {
    expect(() => mssqlIdent('')).toThrow(/refusing/);
    expect(() => mssqlIdent('x'.repeat(129))).toThrow(/refusing/);
    expect(() => mssqlIdent('a\u0000b')).toThrow(/refusing/);
    expect(() => sql.createMetaTable('bad\nname')).toThrow(/refusing/);
    expect(mssqlIdent('x'.repeat(128))).toHaveLength(130);
  });

  it('builds lock resources within sp_getapplock limits', () => {
    expect(lockResource(tenant)).toBe(`tenant-migrate:${tenant}`);
    expect(() => lockResource('x'.repeat(250))).toThrow(/too long/);
  });

  it('one UNION ALL query per chunk names each schema once', () => {
    const text = sql.selectAppliedMany([tenant, other]);
    expect(text.match(/UNION ALL/g)).toHaveLength(1);
    expect(text).toContain(`FROM [${other}].[__schema_migrations] WITH (READPAST)`);
  });
});

describe('ledger SQL', () => {
  it('claims with UPDLOCK, READPAST, ROWLOCK in seq order', () => {
    expect(ledger.claimTenants).toContain('WITH (UPDLOCK, READPAST, ROWLOCK)');
    expect(ledger.claimTenants).toMatch(/ORDER BY seq/);
  });

  it('numbers VALUES placeholders row by row', () => {
    expect(valuesPlaceholders(2, 3, 2)).toBe('($2, $3, $4), ($5, $6, $7)');
  });
});

describe('rewritePlaceholders', () => {
  it('rewrites $n outside strings, identifiers and comments', () => {
    expect(rewritePlaceholders("SELECT $1, '$2', N'it''s $3', [$4], \"$5\" -- $6\n, $10 /* $7 */")).toBe(
      "SELECT @p1, '$2', N'it''s $3', [$4], \"$5\" -- $6\n, @p10 /* $7 */",
    );
  });

  it('leaves SQL without placeholders unchanged', () => {
    expect(rewritePlaceholders(sql.upsertWorkspace.replace(/\$\d/g, 'x'))).not.toContain('@p');
  });
});
