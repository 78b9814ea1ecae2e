/**
 * Adopting an existing schema the way a new user does, in-process: a project whose only tenant
 * migration is the user's own DDL (`{{schema}}`-qualified), a fleet of one tenant made by it, then
 * `pull` (the catalog reader + the model writer, as the command does), `diff --init`, `check`,
 * model edits → `diff` → `up` → `check` and `drift`.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { checkModels, formatCheck } from '../../src/declarative/check-model.js';
import { generateMigration } from '../../src/declarative/generate-migration.js';
import { catalogToModelSource } from '../../src/declarative/pull-model.js';
import { createCatalogReader } from '../../src/dialect/create-catalog-reader.js';
import { seedDemo } from '../../src/demo/seed-demo.js';
import { createMigrator } from '../../src/migrator.js';
import { REPO_ROOT, type TestProject, createProject } from './harness.js';
import { MASTER } from './sql-helpers.js';

export const BUILDERS = path.join(REPO_ROOT, 'src/schema-model/index.ts');

export interface Adoption {
  readonly project: TestProject;
  readonly root: string;
  readonly schema: string;
  readonly migrator: ReturnType<typeof createMigrator>;
  /** `pull`: the model source of the tenant schema as it is now. */
  pull(): Promise<string>;
  /** `pull` into schema/tenant.ts. */
  pullToFile(): Promise<string>;
  /** Edit the model: replace `from` (must occur) with `to`. */
  edit(from: string, to: string): void;
  /** `check` (PGlite replay, and on the server when asked; on SQL Server / Babelfish on the server only): throws with the report unless it passes. */
  check(): Promise<void>;
  /** `diff <name>` → `up` → `check` → `drift` shows no drifted tenant. Returns the up template. */
  change(name: string, allow?: readonly string[]): Promise<string>;
  /** Run SQL on the database (`{{schema}}` = the tenant schema); its rows. */
  exec(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function adopt(url: string, ddl: string, options: { readonly onServer?: boolean } = {}): Promise<Adoption> {
  const project = createProject({ url });
  const root = project.root;
  for (const f of readdirSync(path.join(root, 'tenant-migrations'))) rmSync(path.join(root, 'tenant-migrations', f));
  project.write('tenant-migrations/0001_existing_schema.sql.hbs', ddl);
  const migrator = createMigrator({ url, rootDir: root, concurrency: 1 });
  await migrator.up({ masterTo: '0001_initial_layout' });
  const adapter = await migrator.adapter();
  await seedDemo(adapter, MASTER, 1);
  await migrator.up();
  const schema = (await migrator.status()).plans[0]!.schema;
  const config = migrator.config;
  const modelFile = path.join(root, 'schema/tenant.ts');

  const pull = async () => {
    const reader = await createCatalogReader(adapter);
    const catalog = await adapter.withSession((s) => reader.readCatalog(s, schema));
    return catalogToModelSource(catalog, { scope: 'tenant', masterSchema: config.masterSchema, source: 'the test tenant', importFrom: BUILDERS });
  };
  // A T-SQL project's migrations do not run in the offline (PGlite) replay: it checks on the server only.
  const tsql = adapter.syntax.family === 'mssql';
  const check = async () => {
    if (!tsql) {
      const offline = await checkModels(config, { scope: 'tenant' });
      if (!offline.ok) throw new Error(`check failed:\n${formatCheck(offline)}`);
    }
    if (options.onServer || tsql) {
      const onServer = await checkModels(config, { scope: 'tenant', server: adapter });
      if (!onServer.ok) throw new Error(`check --on-server failed:\n${formatCheck(onServer)}`);
    }
  };
  return {
    project,
    root,
    schema,
    migrator,
    pull,
    async pullToFile() {
      const source = await pull();
      project.write('schema/tenant.ts', source);
      return source;
    },
    edit(from, to) {
      const text = readFileSync(modelFile, 'utf8');
      if (!text.includes(from)) throw new Error(`model edit: "${from}" not found in\n${text}`);
      writeFileSync(modelFile, text.replace(from, to));
    },
    check,
    async change(name, allow = []) {
      const r = await generateMigration(config, { scope: 'tenant', name, allow: [...allow] });
      if (r.status !== 'written') throw new Error(`diff ${name}: ${r.status} ${JSON.stringify(r.refused)}`);
      const result = await migrator.up();
      expect(result.tenants.failed, JSON.stringify(result.results.map((r) => r.error ?? r.status))).toBe(0);
      expect(result.tenants.succeeded).toBe(1);
      await check();
      const drift = await migrator.drift();
      expect(drift.driftedTenants, JSON.stringify(drift.groups, null, 1)).toBe(0);
      return readFileSync(path.join(root, 'tenant-migrations', `${r.id}.sql.hbs`), 'utf8');
    },
    async exec(sql) {
      return adapter.withSession((s) => s.query<Record<string, unknown>>(sql.replaceAll('{{schema}}', adapter.syntax.quoteIdent(schema))));
    },
    async close() {
      await migrator.close();
      project.remove();
    },
  };
}

/** Pull → diff --init → check → a second pull gives the same bytes. Returns the pulled source. */
export async function adoptAndCheck(a: Adoption): Promise<string> {
  mkdirSync(path.join(a.root, 'schema'), { recursive: true });
  const source = await a.pullToFile();
  const init = await generateMigration(a.migrator.config, { scope: 'tenant', init: true });
  expect(init.status).toBe('snapshot-written');
  await a.check();
  expect(await a.pull()).toBe(source);
  return source;
}
