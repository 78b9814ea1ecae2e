import { describe, expect, it } from 'vitest';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
import { TenantMigrateError } from '../../src/errors.js';
import { contextFor } from '../../src/operations/templates.js';
import { preRenderMaster, preRenderTenants } from '../../src/release/pre-render.js';
import { TemplateEngine } from '../../src/templating/index.js';
import type { MigrationFile, Tenant } from '../../src/types.js';

const file = (id: string, source: string, noTransaction = false): MigrationFile => ({
  id,
  number: Number(id.slice(0, 4)),
  name: id.slice(5),
  scope: 'tenant',
  path: `tenant-migrations/${id}.sql.hbs`,
  absolutePath: `/x/tenant-migrations/${id}.sql.hbs`,
  source,
  isTemplate: true,
  checksum: id,
  directives: { noTransaction, afterTenants: false },
});
const tenant = (i: number, name = `w${i}`): Tenant => {
  const hex = i.toString(16).padStart(32, '0');
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { workspaceId: id, name, dbSchemaName: `ws_${hex}`, schema: `ws_${hex}`, status: 'Active', lastSeenUtc: null, createdUtc: null, needsBackfill: false };
};

describe('pre-render', async () => {
  const engine = await TemplateEngine.create();
  const config = { masterSchema: 'm', vars: {} };
  const render = (f: MigrationFile, t: Tenant) => engine.render(f, contextFor(config, syntaxFor('postgres'), t));
  const files = [file('0002_ok', 'SELECT 1;')];

  it('passes when every pending file renders for every tenant', () => {
    expect(() => preRenderTenants(render, files, [{ tenant: tenant(1), pending: ['0002_ok'] }])).not.toThrow();
  });

  it('names file, line and the first tenant, counts the tenants it fails for, and says nothing was applied', () => {
    const work = [1, 2, 3].map((i) => ({ tenant: tenant(i), pending: ['0002_ok', '0003_name'] }));
    let err: TenantMigrateError | undefined;
    try {
      preRenderTenants(render, [files[0]!, file('0003_name', "SELECT 1;\nSELECT '{{workspace.name}}';")], work);
    } catch (e) {
      err = e as TenantMigrateError;
    }
    expect(err?.code).toBe('TEMPLATE_ERROR');
    expect(err?.message).toMatch(/^tenant-migrations\/0003_name\.sql\.hbs:2: \{\{workspace\.name\}\} pastes/);
    expect(err?.message).toContain(`(tenant ${tenant(1).schema}); it fails for 3 tenants; nothing was applied to any tenant`);
    expect(err?.context).toMatchObject({ file: 'tenant-migrations/0003_name.sql.hbs', line: 2, migrationId: '0003_name', tenant: tenant(1).schema, tenants: 3 });
  });

  it('refuses transaction control as MIGRATION_UNSAFE before anything runs, and not in a no-transaction file', () => {
    const work = [{ tenant: tenant(1), pending: ['0004_tx'] }];
    expect(() => preRenderTenants(render, [file('0004_tx', 'SELECT 1;\nCOMMIT;')], work)).toThrow(expect.objectContaining({ code: 'MIGRATION_UNSAFE' }));
    expect(() => preRenderTenants(render, [file('0004_tx', 'BEGIN;\nCOMMIT;', true)], work)).not.toThrow();
  });

  it('renders pending master files once', () => {
    const master = { ...file('0009_m', 'SELECT {{vars.nope}};'), scope: 'master' as const };
    const renderMaster = (f: MigrationFile) => engine.render(f, contextFor(config, syntaxFor('mssql')));
    expect(() => preRenderMaster(renderMaster, [master], new Set())).not.toThrow();
    expect(() => preRenderMaster(renderMaster, [master], new Set(['0009_m']))).toThrow(/0009_m\.sql\.hbs:1: "vars\.nope" not defined.*; nothing was applied/);
  });
});
