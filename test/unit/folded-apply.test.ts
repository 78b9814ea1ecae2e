import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptExecutionError } from '../../src/dialect/contracts/driver.js';
import { PgliteAdapter } from '../../src/dialect/pglite/pglite-adapter.js';
import { inlineParams } from '../../src/dialect/postgres/postgres-folded-apply.js';

/** The folded send on an in-memory PGlite: applied, stale (nothing applied), and error lines. */
describe('PostgreSQL folded send', { timeout: 60_000 }, () => {
  const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
  const schema = 'ws_00000000000000000000000000000001';
  let dialect: PgliteAdapter;
  const row = (id: string) => ({ id, checksum: 'a'.repeat(64), renderedChecksum: 'b'.repeat(64), runId: 'run-1' });

  beforeAll(async () => {
    dialect = new PgliteAdapter({ dataDir: undefined, names });
    await dialect.withSession((s) => s.query('SELECT 1'));
  }, 60_000);
  afterAll(() => dialect.close());

  it('inlines parameters as quoted literals', () => {
    expect(inlineParams('UPDATE t SET a = $2 WHERE id = $1::uuid AND b = $3', ["x'y", 5, null])).toBe(
      "UPDATE t SET a = 5 WHERE id = 'x''y'::uuid AND b = NULL",
    );
  });

  it('applies a fresh tenant in one send: schema, meta table, script and meta row', async () => {
    const rec = dialect.folded.recorder();
    await dialect.meta.ensureSchema(rec.session, schema);
    await dialect.meta.ensureMetaTable(rec.session, schema);
    const outcome = await dialect.withSession((s) =>
      dialect.folded.apply(s, { schema, expected: [], prelude: rec.statements, script: `CREATE TABLE "${schema}".t (id int)`, row: row('0001_a') }),
    );
    expect(outcome).toBe('applied');
    const applied = await dialect.withSession((s) => dialect.meta.readApplied(s, schema));
    expect(applied.map((a) => [a.id, a.runId])).toEqual([['0001_a', 'run-1']]);
  });

  it('is stale, and applies nothing, when the meta table is not what the plan read', async () => {
    const outcome = await dialect.withSession((s) =>
      dialect.folded.apply(s, { schema, expected: [], prelude: [], script: `CREATE TABLE "${schema}".u (id int)`, row: row('0002_b') }),
    );
    expect(outcome).toBe('stale');
    const exists = await dialect.withSession((s) => s.query(`SELECT to_regclass('"${schema}".u') AS r`));
    expect(exists[0]!.r).toBeNull();
  });

  it('reports a failing statement with its line in the script and rolls back', async () => {
    const script = `CREATE TABLE "${schema}".v (id int);\n\nSELEC broken;\n`;
    const err = await dialect
      .withSession((s) => dialect.folded.apply(s, { schema, expected: [{ id: '0001_a', checksum: 'a'.repeat(64) }], prelude: [], script, row: row('0002_b') }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScriptExecutionError);
    expect((err as ScriptExecutionError).line).toBe(3);
    const applied = await dialect.withSession((s) => dialect.meta.readApplied(s, schema));
    expect(applied.map((a) => a.id)).toEqual(['0001_a']);
    const exists = await dialect.withSession((s) => s.query(`SELECT to_regclass('"${schema}".v') AS r`));
    expect(exists[0]!.r).toBeNull();
  });
});
