import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { loadConfig, parseConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';

function dirWith(config?: unknown, name = 'tenant-migrate.config.json'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tm-config-'));
  if (config !== undefined) writeFileSync(path.join(dir, name), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

describe('config', () => {
  it('defaults to embedded PGlite and the pmassist names', async () => {
    const config = await loadConfig({ cwd: dirWith(), env: {} });
    expect(config).toMatchObject({
      url: 'pglite:.tenant-migrate/pglite',
      masterSchema: 'pmassist_master',
      metaTable: '__schema_migrations',
      concurrency: 8,
      registry: { table: 'Workspace', schemaPattern: '^ws_[0-9a-f]{32}$' },
    });
  });

  it('precedence: flags > env > file > defaults', async () => {
    const cwd = dirWith({ url: 'postgres://file/db', concurrency: 3, masterSchema: 'from_file' });
    const fileOnly = await loadConfig({ cwd, env: {} });
    expect(fileOnly).toMatchObject({ url: 'postgres://file/db', concurrency: 3, masterSchema: 'from_file' });
    const env = { TM_DATABASE_URL: 'postgres://env/db', TM_CONCURRENCY: '5' };
    expect(await loadConfig({ cwd, env })).toMatchObject({ url: 'postgres://env/db', concurrency: 5, masterSchema: 'from_file' });
    const flags = await loadConfig({ cwd, env, overrides: { url: 'pglite:memory' } });
    expect(flags).toMatchObject({ url: 'pglite:memory', concurrency: 5 });
    expect(flags.rootDir).toBe(cwd);
  });

  it('lists every problem with its path', async () => {
    const cwd = dirWith({ concurrency: 0, masterSchema: 'x; DROP', registry: { schemaPattern: '(' }, bogus: 1 });
    const err = await loadConfig({ cwd, env: { TM_LOCK_TIMEOUT_MS: 'soon' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.join('\n');
    expect(issues).toContain('tenant-migrate.config.json.concurrency');
    expect(issues).toContain('tenant-migrate.config.json.masterSchema');
    expect(issues).toContain('tenant-migrate.config.json.registry.schemaPattern');
    expect(issues).toContain('bogus');
    expect(issues).toContain('TM_LOCK_TIMEOUT_MS');
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
  });

  it('reports invalid JSON and a missing --config file', async () => {
    const bad = await loadConfig({ cwd: dirWith('{ nope'), env: {} }).catch((e: ConfigError) => e);
    expect((bad as ConfigError).issues[0]).toMatch(/invalid JSON/);
    const missing = await loadConfig({ cwd: dirWith(), configFile: 'nope.json', env: {} }).catch((e: ConfigError) => e);
    expect((missing as ConfigError).issues[0]).toMatch(/file not found/);
  });

  it('reads a .js config', async () => {
    const cwd = dirWith('export default { concurrency: 2 };', 'tenant-migrate.config.mjs');
    expect((await loadConfig({ cwd, env: {} })).concurrency).toBe(2);
  });

  it('reads a .ts config through tsx, loaded only for it (defineConfig types it)', async () => {
    const defineConfig = pathToFileURL(path.resolve('src/config/define-config.ts')).href;
    const cwd = dirWith(
      `import { defineConfig } from ${JSON.stringify(defineConfig)};\n` +
        `const concurrency: number = 4;\nexport default defineConfig({ concurrency, masterSchema: 'ts_master' });\n`,
      'tenant-migrate.config.ts',
    );
    expect(await loadConfig({ cwd, env: {} })).toMatchObject({ concurrency: 4, masterSchema: 'ts_master' });
  });

  it('parseConfig validates library input the same way', () => {
    expect(() => parseConfig({ metaTable: 'a-b' })).toThrow(/metaTable/);
    expect(parseConfig({ url: 'pglite:memory' }).url).toBe('pglite:memory');
  });

  it('targets: identifier names, URLs of the dialect family of the master, fullTargets among them', () => {
    const pg = 'postgres://u@h/db';
    const config = parseConfig({ url: pg, targets: { eu1: 'postgres://u@h2/db', eu2: 'postgresql://u@h3/db' }, fullTargets: ['eu2'], targetConcurrency: 4 });
    expect(Object.keys(config.targets)).toEqual(['eu1', 'eu2']);
    expect(parseConfig({}).targets).toEqual({});
    expect(() => parseConfig({ url: pg, targets: { 'eu-1': pg } })).toThrow(/targets/);
    expect(() => parseConfig({ url: pg, targets: { eu1: 'Server=h;Database=d' } })).toThrow(/mixed dialect families/);
    expect(() => parseConfig({ targets: { eu1: pg } })).toThrow(/PGlite/);
    expect(() => parseConfig({ url: pg, targets: { eu1: pg }, fullTargets: ['eu3'] })).toThrow(/fullTargets/);
  });

  it('the committed JSON Schema is current (npm run schema rewrites it)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../schema/tenant-migrate.config.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });
});
