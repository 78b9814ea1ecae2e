/**
 * Drift over a fleet spread across databases (config `targets`, docs/fleet.md): the master database
 * and two target databases on the local PostgreSQL server, through the real CLI. Each tenant is read
 * in its own database and compared with the expected schema built in a scratch schema on that same
 * database — shown by a migration that makes a different schema in target t2 (its tenants are not
 * drift) — and the report names the target of the one tenant altered by hand; `--target` limits it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestDatabase, type TestProject, runCli, runnableTargets } from './harness.js';
import { createTargetFleet, query, schemaOf } from './target-fleet.js';

const postgres = runnableTargets.find((t) => t.name === 'postgres');
const databaseOf = (url: string) => new URL(url).pathname.slice(1);

describe.skipIf(!postgres)('drift over several databases (PostgreSQL)', () => {
  let master: TestDatabase;
  let t1: TestDatabase;
  let t2: TestDatabase;
  let project: TestProject;
  let placement: Map<string, string | null>;
  const cli = (...args: string[]) => runCli(args, { cwd: project.root });

  beforeEach(async () => {
    ({ master, t1, t2, project, placement } = await createTargetFleet(postgres!));
    // A migration that makes another schema in target t2's database than elsewhere: only a
    // comparison with an expected schema built on t2 itself finds t2's tenants in line.
    project.write(
      'tenant-migrations/0002_t2_archive.sql.hbs',
      `DO $$ BEGIN IF current_database() = '${databaseOf(t2.url)}' THEN ALTER TABLE {{table "notes"}} ADD archived_at {{datetime2}} NULL; END IF; END $$;\n`,
    );
    const up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
  });

  afterEach(async () => {
    await Promise.all([master, t1, t2].map((d) => d?.drop()));
    project?.remove();
  });

  const idsOn = (target: string | null) => [...placement].filter(([, t]) => t === target).map(([id]) => id);

  it('compares each tenant in its own database and reports the altered one with its target', async () => {
    // The migration did differ per database.
    const t2Columns = await query<{ c: string }>(t2.url, `SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'notes' ORDER BY 1`, [schemaOf(idsOn('t2')[0]!)]);
    expect(t2Columns.map((r) => r.c)).toEqual(['archived_at', 'body', 'id']);

    const clean = await cli('drift', '--json');
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({
      drift: false,
      tenants: 8,
      targets: {
        '(master)': { tenants: 2, driftedTenants: 0, busyTenants: 0 },
        t1: { tenants: 3, driftedTenants: 0, busyTenants: 0 },
        t2: { tenants: 3, driftedTenants: 0, busyTenants: 0 },
      },
    });

    const altered = schemaOf(idsOn('t1')[1]!);
    await query(t1.url, `ALTER TABLE "${altered}".notes ADD COLUMN hand integer NULL`);
    const drifted = await cli('drift', '--json');
    expect(drifted.code, drifted.stderr).toBe(4);
    const report = JSON.parse(drifted.stdout);
    expect(report).toMatchObject({ drift: true, tenants: 8, driftedTenants: 1, targets: { t1: { tenants: 3, driftedTenants: 1 }, t2: { driftedTenants: 0 } } });
    const bad = report.groups.filter((g: { state: string }) => g.state === 'drifted');
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ target: 't1', tenantCount: 1, sampleTenants: [altered] });
    expect(bad[0].differences).toMatchObject([{ kind: 'column', table: 'notes', name: 'hand', change: 'extra' }]);
    // Every group says where its tenants live.
    expect(new Set(report.groups.map((g: { target: string }) => g.target))).toEqual(new Set(['(master)', 't1', 't2']));

    const text = await cli('drift');
    expect(text.code).toBe(4);
    expect(text.stdout).toContain('target t1: 1 of 3 tenants differ');
    expect(text.stdout).toContain('target t2: no drift in 3 tenants');
    expect(text.stdout).toContain(`  1 tenant at 0002_t2_archive, fingerprint`);
    const md = await cli('drift', '--format', 'markdown');
    expect(md.stdout).toContain('| `t1` | 3 | 1 | 0 |');
    expect(md.stdout).toContain('on target `t1`');

    // status --drift reads each tenant where it lives too: at 0002, 4 unaltered tenants of (master)
    // and t1 share one fingerprint; t2's 3 (with archived_at) and the altered one differ.
    const st = await cli('status', '--drift', '--json');
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).fingerprints).toMatchObject([{ version: '0002_t2_archive', tenants: 8, fingerprints: 3, common: { tenants: 4 }, outlierCount: 4 }]);

    const onlyT2 = await cli('drift', '--target', 't2', '--json');
    expect(onlyT2.code, onlyT2.stderr).toBe(0);
    expect(JSON.parse(onlyT2.stdout)).toMatchObject({ tenants: 3, driftedTenants: 0, targets: { t2: { tenants: 3 } } });
    expect(Object.keys(JSON.parse(onlyT2.stdout).targets)).toEqual(['t2']);
    const onlyMaster = await cli('drift', '--target', '(master)', '--json');
    expect(JSON.parse(onlyMaster.stdout)).toMatchObject({ tenants: 2, driftedTenants: 0 });
    const unknown = await cli('drift', '--target', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('not a name in config targets');

    // Nothing left behind by the replays, in any database.
    for (const db of [master, t1, t2]) {
      expect(await query(db.url, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'tm\\_scratch\\_%'")).toEqual([]);
    }
  });
});
