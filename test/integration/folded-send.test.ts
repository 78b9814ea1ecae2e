/**
 * The folded send (one round trip per migration: transaction lock + check + prelude + script + meta
 * row + summary row + COMMIT) on every dialect that has it: what it applies, and the cases where it
 * must apply nothing and hand the tenant to the careful path — the tenant locked by another session
 * (busy), the meta table not what the plan read (stale), a failing statement (its script line), and
 * on SQL Server the batches that cannot be joined (GO, CREATE VIEW), a top-level RETURN and a
 * nested BEGIN TRANSACTION.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/dialect/create-adapter.js';
import { ScriptExecutionError } from '../../src/dialect/contracts/driver.js';
import type { Dialect } from '../../src/dialect/dialect.js';
import { runnableTargets, useProjectFixture } from './harness.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const row = (id: string) => ({ id, checksum: 'a'.repeat(64), renderedChecksum: 'b'.repeat(64), runId: 'run-1' });
const ref = (id: string) => ({ id, checksum: 'a'.repeat(64) });

describe.each(runnableTargets)('folded send on $name ($engine)', (target) => {
  const fx = useProjectFixture(target);
  const mssql = target.name === 'mssql';
  const schema = 'ws_00000000000000000000000000000f01';
  const t = (name: string) => (mssql ? `[${schema}].[${name}]` : `"${schema}".${name}`);
  let dialect: Dialect;

  beforeEach(async () => {
    dialect = await createAdapter({ url: fx.db.url, rootDir: fx.project.root, maxConnections: 3, names });
  });
  afterEach(async () => {
    await dialect.close();
  });

  const folded = () => dialect.folded!;
  const applied = () => dialect.withSession((s) => dialect.meta.readApplied(s, schema)).then((rows) => rows.map((r) => r.id));
  const tableExists = (name: string) =>
    dialect.withSession(async (s) => {
      const [r] = await s.query<{ found: number | string }>(
        mssql ? `SELECT CASE WHEN OBJECT_ID(N'${t(name)}', N'U') IS NULL THEN 0 ELSE 1 END AS found` : `SELECT CASE WHEN to_regclass('${t(name)}') IS NULL THEN 0 ELSE 1 END AS found`,
      );
      return Number(r!.found) === 1;
    });
  /** A fresh tenant's first migration: the prelude creates the schema and the meta table. */
  async function fresh(script = `CREATE TABLE ${t('a')} (id INT);`) {
    const rec = folded().recorder();
    await dialect.meta.ensureSchema(rec.session, schema);
    await dialect.meta.ensureMetaTable(rec.session, schema);
    return dialect.withSession((s) => folded().apply(s, { schema, expected: [], prelude: rec.statements, script, row: row('0001_a') }));
  }
  const next = (script: string, id = '0002_b', expected = [ref('0001_a')]) =>
    dialect.withSession((s) => folded().apply(s, { schema, expected, prelude: [], script, row: row(id) }));

  it('applies a fresh tenant and then a next migration, one send each, with their meta rows', async () => {
    expect(dialect.folded).toBeDefined();
    expect(await fresh()).toBe('applied');
    expect(await next(`ALTER TABLE ${t('a')} ADD b INT;`)).toBe('applied');
    expect(await applied()).toEqual(['0001_a', '0002_b']);
    const [meta] = await dialect.withSession((s) => dialect.meta.readApplied(s, schema));
    expect(meta).toMatchObject({ id: '0001_a', runId: 'run-1', renderedChecksum: 'b'.repeat(64) });
    expect(meta!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('is stale, applying nothing, when the meta table is not what the plan read', async () => {
    expect(await fresh()).toBe('applied');
    expect(await next(`CREATE TABLE ${t('stale1')} (id INT);`, '0002_b', [])).toBe('stale');
    expect(await next(`CREATE TABLE ${t('stale2')} (id INT);`, '0002_b', [{ id: '0001_a', checksum: 'c'.repeat(64) }])).toBe('stale');
    expect(await next(`CREATE TABLE ${t('stale3')} (id INT);`, '0003_c', [ref('0001_a'), ref('0002_b')])).toBe('stale');
    for (const name of ['stale1', 'stale2', 'stale3']) expect(await tableExists(name)).toBe(false);
    expect(await applied()).toEqual(['0001_a']);
  });

  // PGlite has one session: no other session can hold the lock while the send runs.
  if (target.name !== 'pglite') it('is busy, applying nothing, while another session holds the tenant lock', async () => {
    expect(await fresh()).toBe('applied');
    await dialect.withSession(async (holder) => {
      expect(await dialect.locks.acquireLock(holder, schema, 1000)).toBe(true);
      try {
        expect(await next(`CREATE TABLE ${t('busy')} (id INT);`)).toBe('busy');
      } finally {
        await dialect.locks.releaseLock(holder, schema);
      }
    });
    expect(await tableExists('busy')).toBe(false);
    expect(await next(`CREATE TABLE ${t('busy')} (id INT);`)).toBe('applied');
  });

  it('reports a failing statement with its line in the script, and commits nothing of it', async () => {
    expect(await fresh()).toBe('applied');
    const err = await next(`CREATE TABLE ${t('v')} (id INT);\n\nINSERT INTO ${t('missing')} VALUES (1);\n`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScriptExecutionError);
    expect((err as ScriptExecutionError).line).toBe(3);
    expect(await tableExists('v')).toBe(false);
    expect(await applied()).toEqual(['0001_a']);
    // The session is usable afterwards and the tenant is not left locked.
    expect(await next(`CREATE TABLE ${t('v')} (id INT);`)).toBe('applied');
  });

  // T-SQL only: GO batches, procedures and views that must stand alone, RETURN, BEGIN TRANSACTION.
  if (mssql) describe('T-SQL batches', () => {
    it('sends GO batches and a CREATE VIEW (which must stand alone) in one transaction', async () => {
      expect(await fresh()).toBe('applied');
      const script = [
        `ALTER TABLE ${t('a')} ADD b INT;`,
        'GO',
        `CREATE VIEW ${t('a_view')} AS SELECT id, b FROM ${t('a')};`,
        'GO',
        `INSERT INTO ${t('a')} (id, b) VALUES (1, 2);`,
      ].join('\n');
      expect(await next(script)).toBe('applied');
      const rows = await dialect.withSession((s) => s.query<{ b: number }>(`SELECT b FROM ${t('a_view')}`));
      expect(rows.map((r) => Number(r.b))).toEqual([2]);
      // A view as the last batch: the meta row travels in a batch of its own.
      expect(await next(`CREATE VIEW ${t('b_view')} AS SELECT id FROM ${t('a')};`, '0003_c', [ref('0001_a'), ref('0002_b')])).toBe('applied');
      expect(await applied()).toEqual(['0001_a', '0002_b', '0003_c']);
    });

    it('a failure in a later GO batch rolls back the earlier ones and names its script line', async () => {
      expect(await fresh()).toBe('applied');
      const err = await next(`CREATE TABLE ${t('g1')} (id INT);\nGO\nCREATE TABLE ${t('g2')} (id INT);\nINSERT INTO ${t('nope')} VALUES (1);\n`).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ScriptExecutionError);
      expect((err as ScriptExecutionError).line).toBe(4);
      expect((err as ScriptExecutionError).batchIndex).toBe(1);
      expect(await tableExists('g1')).toBe(false);
      expect(await applied()).toEqual(['0001_a']);
    });

    it('a top-level RETURN ends the batch before the meta row: nothing is committed and the send says unfoldable', async () => {
      expect(await fresh()).toBe('applied');
      expect(await next(`CREATE TABLE ${t('r')} (id INT);\nRETURN;\n`)).toBe('unfoldable');
      expect(await tableExists('r')).toBe(false);
      expect(await applied()).toEqual(['0001_a']);
    });

    it('a nested BEGIN TRANSACTION fails the send with nothing committed', async () => {
      expect(await fresh()).toBe('applied');
      await expect(next(`BEGIN TRANSACTION;\nCREATE TABLE ${t('n')} (id INT);\n`)).rejects.toThrow(/nested transaction\(s\) open .*nothing was committed/);
      expect(await tableExists('n')).toBe(false);
      expect(await applied()).toEqual(['0001_a']);
    });
  });
});
