/**
 * Property test of the summary row's trust rule against real databases (PostgreSQL family): random
 * schedules of deploys (`up --to`) and restores of a tenant's meta table from an older snapshot
 * (a new table with older rows put in place of the live one, as a restore from a dump does) —
 * after every step, `status` must report each tenant's applied migrations exactly as its meta table
 * holds them. A summary row that does not prove it describes the same meta table (D6: its identity)
 * must never make a restored tenant look up to date.
 * PostgreSQL family only: the restore is written in PostgreSQL (CREATE TABLE … (LIKE …), RENAME).
 */
import fc from 'fast-check';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Migrator, createMigrator } from '../../src/index.js';
import { type TestDatabase, type TestProject, createProject, guid, runnableTargets } from './harness.js';
import { type SqlHelpers, sqlHelpers } from './sql-helpers.js';

const IDS = ['0001_a', '0002_b', '0003_c', '0004_d'];
const TENANTS = 3;
const targets = runnableTargets.filter((t) => t.name !== 'mssql');
// The restore is written in PostgreSQL: on a run without that family, a named skip says so (a file
// without a suite fails).
if (targets.length === 0) {
  describe('summary trust (property)', () => {
    it.skip('SKIPPED: runs on PGlite and PostgreSQL only (the restore step is PostgreSQL SQL), and neither is selected here (TM_TEST_DIALECTS)', () => undefined);
  });
}

type Step = { readonly t: 'up'; readonly to: number } | { readonly t: 'snapshot'; readonly tenant: number } | { readonly t: 'restore'; readonly tenant: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('up' as const), to: fc.integer({ min: 0, max: IDS.length - 1 }) }),
  fc.record({ t: fc.constant('snapshot' as const), tenant: fc.integer({ min: 0, max: TENANTS - 1 }) }),
  fc.record({ t: fc.constant('restore' as const), tenant: fc.integer({ min: 0, max: TENANTS - 1 }) }),
);

describe.each(targets)('summary trust on $name (property)', (target) => {
  let db: TestDatabase;
  let project: TestProject;
  let m: Migrator;
  let h: SqlHelpers;
  let schemas: string[];

  beforeAll(async () => {
    db = await target.createDatabase();
    project = createProject({ url: db.url });
    rmSync(path.join(project.root, 'tenant-migrations'), { recursive: true, force: true });
    mkdirSync(path.join(project.root, 'tenant-migrations'));
    // Idempotent on purpose: after a restore the engine re-applies what the old meta table lacks.
    for (const id of IDS) project.write(`tenant-migrations/${id}.sql.hbs`, `CREATE TABLE IF NOT EXISTS {{schema}}.t_${id.slice(5)} (id integer);\n`);
    m = createMigrator({ url: db.url, rootDir: project.root, concurrency: 2 });
    const last = ['0001_initial_layout', '0002_two_level_tenancy', '0003_workspace_provisioning_state', '0004_workspace_target'].at(-1)!;
    await m.up({ masterTo: last });
    const d = await m.adapter();
    h = sqlHelpers(d.name, (sql, params = []) => d.withSession((s) => s.query(sql, params)), target.engine);
    for (let i = 0; i < TENANTS; i++) await h.insertWorkspace({ workspaceId: guid(), name: `w${i}` });
    await m.up({ to: IDS[0] });
    schemas = await h.tenantSchemas();
  });
  afterAll(async () => {
    await m?.close();
    await db?.drop();
    project?.remove();
  });

  const truth = async (schema: string) => (await h.query<{ id: string }>(`SELECT id FROM ${h.table(schema, '__schema_migrations')} ORDER BY id`)).map((r) => r.id);

  it('status reports every tenant exactly as its meta table holds it, whatever deploys and restores happened', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 5 }), async (steps) => {
        const snapshots = new Map<string, string[]>();
        for (const s of steps) {
          if (s.t === 'up') {
            const r = await m.up({ to: IDS[s.to] });
            expect(r.results.filter((x) => x.status === 'failed').map((x) => x.error?.message)).toEqual([]);
          } else if (s.t === 'snapshot') {
            snapshots.set(schemas[s.tenant]!, await truth(schemas[s.tenant]!));
          } else {
            const schema = schemas[s.tenant]!;
            const keep = snapshots.get(schema) ?? [];
            const meta = h.table(schema, '__schema_migrations');
            const restored = h.table(schema, '__restored');
            // A restore: a new table (new identity) with the older rows, in place of the live one.
            await h.exec(`CREATE TABLE ${restored} (LIKE ${meta} INCLUDING ALL)`);
            if (keep.length > 0) await h.exec(`INSERT INTO ${restored} SELECT * FROM ${meta} WHERE id IN (${keep.map((id) => `'${id}'`).join(', ')})`);
            await h.exec(`DROP TABLE ${meta}`);
            await h.exec(`ALTER TABLE ${restored} RENAME TO ${h.ident('__schema_migrations')}`);
          }
          const status = await m.status();
          for (const schema of schemas) {
            const plan = status.plans.find((p) => p.schema === schema);
            expect(plan?.applied, `${schema} after ${JSON.stringify(s)}`).toEqual(await truth(schema));
          }
        }
      }),
      { numRuns: target.name === 'pglite' ? 6 : 10 },
    );
  });
});
