import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
import { loadMigrations } from '../../src/source/index.js';
import {
  SAMPLE_SCHEMA_NAME,
  SAMPLE_WORKSPACE_ID,
  TemplateEngine,
  buildRenderContext,
  sampleRenderContext,
} from '../../src/templating/index.js';
import type { MigrationFile } from '../../src/types.js';

/**
 * The PostgreSQL renderings of the shipped migrations really run: an in-memory PGlite, no mocks.
 * (The engine's runner is tested in the integration suite; this only proves the SQL.)
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OTHER_WORKSPACE_ID = '00000000-0000-4000-8000-000000000001';

describe('shipped migrations on PGlite', { timeout: 30_000 }, () => {
  let db: PGlite;
  let engine: TemplateEngine;
  let master: MigrationFile[];
  let tenant: MigrationFile[];
  const syntax = syntaxFor('pglite');
  const masterContext = buildRenderContext({ syntax, masterSchema: 'pmassist_master' });
  const tenantContext = sampleRenderContext(syntax, 'pmassist_master');

  beforeAll(async () => {
    // Starting the WASM PostgreSQL takes seconds under a loaded test run: wait for it here, not in a test.
    db = new PGlite();
    await db.waitReady;
    engine = await TemplateEngine.create({ rootDir: ROOT, partialsDir: 'templates/partials' });
    master = await loadMigrations({ rootDir: ROOT, dir: 'master-migrations', scope: 'master' });
    tenant = await loadMigrations({ rootDir: ROOT, dir: 'tenant-migrations', scope: 'tenant' });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const run = async (file: MigrationFile, context: typeof masterContext): Promise<void> => {
    // One transaction per migration, as the runner does.
    await db.transaction(async (tx) => {
      await tx.exec(engine.render(file, context));
    });
  };

  it('applies master 0001, then 0002 over existing rows', async () => {
    await db.exec('CREATE SCHEMA pmassist_master');
    await run(master[0]!, masterContext);
    // Rows that exist before the two-level change: the workspace of the sample tenant and another one.
    await db.query(`INSERT INTO pmassist_master."Workspace" (workspace_id, name) VALUES ($1, 'Sample'), ($2, 'Other')`, [
      SAMPLE_WORKSPACE_ID,
      OTHER_WORKSPACE_ID,
    ]);
    await db.query(
      `INSERT INTO pmassist_master."WorkspaceExternalLink" (workspace_id, provider, external_id, display_name, url)
       VALUES ($1, 'github', 'acme/app', 'App repo', 'https://github.com/acme/app'),
              ($1, 'jira', 'APP', 'App board', NULL),
              ($2, 'github', 'other/repo', 'Not ours', NULL)`,
      [SAMPLE_WORKSPACE_ID, OTHER_WORKSPACE_ID],
    );
    for (const file of master.slice(1)) await run(file, masterContext);

    const rows = await db.query<{ status: string; db_schema_name: string | null }>(
      `SELECT status, db_schema_name FROM pmassist_master."Workspace" ORDER BY name`,
    );
    expect(rows.rows).toEqual([
      { status: 'Active', db_schema_name: null },
      { status: 'Active', db_schema_name: null },
    ]);
  });

  it('enforces the Workspace constraints added by 0002', async () => {
    await db.query(`UPDATE pmassist_master."Workspace" SET db_schema_name = $1 WHERE workspace_id = $2`, [
      SAMPLE_SCHEMA_NAME,
      SAMPLE_WORKSPACE_ID,
    ]);
    await expect(
      db.query(`UPDATE pmassist_master."Workspace" SET db_schema_name = 'ws_NOTHEX' WHERE workspace_id = $1`, [
        OTHER_WORKSPACE_ID,
      ]),
    ).rejects.toThrow(/ck_workspace_db_schema_name/);
    await expect(
      db.query(`UPDATE pmassist_master."Workspace" SET db_schema_name = $1 WHERE workspace_id = $2`, [
        SAMPLE_SCHEMA_NAME,
        OTHER_WORKSPACE_ID,
      ]),
    ).rejects.toThrow(/ux_workspace_db_schema_name/);
    await expect(
      db.query(`UPDATE pmassist_master."Workspace" SET status = 'Deleted' WHERE workspace_id = $1`, [OTHER_WORKSPACE_ID]),
    ).rejects.toThrow(/ck_workspace_status/);
  });

  it('applies tenant 0001 and 0002 in the sample schema; the links of this workspace land', async () => {
    await db.exec(`CREATE SCHEMA ${SAMPLE_SCHEMA_NAME}`);
    for (const file of tenant) await run(file, tenantContext);

    const copied = await db.query<{ integration_id: string; provider: string; external_id: string; url: string | null }>(
      `SELECT i.integration_id, i.provider, i.external_id, i.url
       FROM ${SAMPLE_SCHEMA_NAME}.workspace_integrations i ORDER BY provider`,
    );
    expect(copied.rows.map((r) => [r.provider, r.external_id, r.url])).toEqual([
      ['github', 'acme/app', 'https://github.com/acme/app'],
      ['jira', 'APP', null],
    ]);
    const ids = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${SAMPLE_SCHEMA_NAME}.workspace_integrations i
       JOIN pmassist_master."WorkspaceExternalLink" l ON l.link_id = i.integration_id`,
    );
    expect(ids.rows[0]?.n).toBe(2);
  });

  it('tenant 0002 is idempotent (a re-copy inserts nothing)', async () => {
    await run(tenant.find((f) => f.id === '0002_copy_workspace_external_links')!, tenantContext);
    const n = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${SAMPLE_SCHEMA_NAME}.workspace_integrations`);
    expect(n.rows[0]?.n).toBe(2);
  });

  it('the tenant tables work together: defaults, cascades and SET NULL', async () => {
    const s = SAMPLE_SCHEMA_NAME;
    await db.exec(`
      INSERT INTO ${s}.workspace_agents (agent_id, name, kind) VALUES ('11111111-1111-4111-8111-111111111111', 'bot', 'llm');
      INSERT INTO ${s}.automation_jobs (job_id, agent_id, name) VALUES ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111', 'nightly');
      INSERT INTO ${s}.automation_job_runs (run_id, job_id) VALUES ('33333333-3333-4333-8333-333333333333', '22222222-2222-4222-8222-222222222222');
      INSERT INTO ${s}.file_artifacts (job_run_id, file_name, content_type, size_bytes, storage_uri, sha256)
        VALUES ('33333333-3333-4333-8333-333333333333', 'out.csv', 'text/csv', 10, 's3://b/out.csv', repeat('a', 64));
    `);
    const agent = await db.query<{ is_enabled: boolean }>(`SELECT is_enabled FROM ${s}.workspace_agents`);
    expect(agent.rows[0]?.is_enabled).toBe(true);
    const run0 = await db.query<{ status: string; attempt: number }>(`SELECT status, attempt FROM ${s}.automation_job_runs`);
    expect(run0.rows[0]).toEqual({ status: 'queued', attempt: 1 });

    await db.exec(`DELETE FROM ${s}.workspace_agents`);
    const job = await db.query<{ agent_id: string | null }>(`SELECT agent_id FROM ${s}.automation_jobs`);
    expect(job.rows[0]?.agent_id).toBeNull();

    await db.exec(`DELETE FROM ${s}.automation_jobs`);
    const runs = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.automation_job_runs`);
    expect(runs.rows[0]?.n).toBe(0);
    const artifact = await db.query<{ job_run_id: string | null }>(`SELECT job_run_id FROM ${s}.file_artifacts`);
    expect(artifact.rows).toEqual([{ job_run_id: null }]);
  });

});

describe('down migrations of 0001-0002 on PGlite', { timeout: 30_000 }, () => {
  // Own instance: later migrations (by number) may lack a down and must not stand in the way.
  let db: PGlite;
  beforeAll(async () => {
    db = new PGlite();
    await db.waitReady;
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('undo everything, and the ups apply again', async () => {
    const syntax = syntaxFor('pglite');
    const masterContext = buildRenderContext({ syntax, masterSchema: 'pmassist_master' });
    const tenantContext = sampleRenderContext(syntax, 'pmassist_master');
    const engine = await TemplateEngine.create({ rootDir: ROOT, partialsDir: 'templates/partials' });
    const upTo2 = (files: MigrationFile[]): MigrationFile[] => files.filter((f) => f.number <= 2);
    const master = upTo2(await loadMigrations({ rootDir: ROOT, dir: 'master-migrations', scope: 'master' }));
    const tenant = upTo2(await loadMigrations({ rootDir: ROOT, dir: 'tenant-migrations', scope: 'tenant' }));
    const exec = async (sql: string): Promise<void> => {
      await db.transaction(async (tx) => {
        await tx.exec(sql);
      });
    };
    const upAll = async (): Promise<void> => {
      for (const f of master) await exec(engine.render(f, masterContext));
      for (const f of tenant) await exec(engine.render(f, tenantContext));
    };

    await db.exec(`CREATE SCHEMA pmassist_master; CREATE SCHEMA ${SAMPLE_SCHEMA_NAME};`);
    await upAll();
    for (const f of [...tenant].reverse()) {
      expect(f.down, `${f.path} has a down migration`).toBeDefined();
      await exec(engine.render(f.down!, tenantContext));
    }
    for (const f of [...master].reverse()) {
      expect(f.down, `${f.path} has a down migration`).toBeDefined();
      await exec(engine.render(f.down!, masterContext));
    }
    const left = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname IN ('pmassist_master', $1)`,
      [SAMPLE_SCHEMA_NAME],
    );
    expect(left.rows[0]?.n).toBe(0);
    await upAll();
  });
});
