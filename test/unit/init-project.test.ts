import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initProject } from '../../src/cli/init-project.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TenantMigrateError } from '../../src/errors.js';
import { loadMigrations } from '../../src/source/index.js';

const PACKAGE_ROOT = path.resolve(import.meta.dirname, '../..');
const tempDir = () => mkdtempSync(path.join(tmpdir(), 'tm-init-'));

describe('init', () => {
  it('scaffolds config, a first master and tenant migration, partials and an optional workflow', async () => {
    const dir = tempDir();
    const { files } = await initProject({ dir, ci: 'github', packageRoot: PACKAGE_ROOT });
    expect([...files].sort()).toEqual([
      '.github/workflows/tenant-migrate.yml',
      'master-migrations/0001_create_workspace_registry.down.sql.hbs',
      'master-migrations/0001_create_workspace_registry.sql.hbs',
      'templates/partials/audit_columns.hbs',
      'tenant-migrate.config.json',
      'tenant-migrations/0001_create_items.down.sql.hbs',
      'tenant-migrations/0001_create_items.sql.hbs',
    ]);
    const json = JSON.parse(readFileSync(path.join(dir, 'tenant-migrate.config.json'), 'utf8'));
    expect(json.$schema).toBe('./node_modules/tenant-migrate/schema/tenant-migrate.config.schema.json');
    const config = await loadConfig({ cwd: dir, env: {} });
    const master = await loadMigrations({ rootDir: dir, dir: config.masterMigrationsDir, scope: 'master' });
    const tenant = await loadMigrations({ rootDir: dir, dir: config.tenantMigrationsDir, scope: 'tenant' });
    expect(master.map((m) => m.id)).toEqual(['0001_create_workspace_registry']);
    expect(tenant.map((m) => m.id)).toEqual(['0001_create_items']);
  });

  it('writes nothing and names every existing file (usage error, exit 2)', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'tenant-migrate.config.ts'), 'export default {};');
    mkdirSync(path.join(dir, 'tenant-migrations'));
    writeFileSync(path.join(dir, 'tenant-migrations', '0001_mine.sql.hbs'), 'SELECT 1;');
    mkdirSync(path.join(dir, 'templates', 'partials'), { recursive: true });
    writeFileSync(path.join(dir, 'templates', 'partials', 'audit_columns.hbs'), 'x');
    const err = await initProject({ dir, packageRoot: PACKAGE_ROOT }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TenantMigrateError);
    expect((err as TenantMigrateError).code).toBe('USAGE');
    const message = (err as Error).message;
    expect(message).toContain('templates/partials/audit_columns.hbs');
    expect(message).toContain('tenant-migrate.config.ts');
    expect(message).toContain('tenant-migrations/ (not empty)');
    expect(() => readFileSync(path.join(dir, 'tenant-migrate.config.json'))).toThrow();
  });
});
