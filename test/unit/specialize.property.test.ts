/**
 * Render once, specialize per tenant: for any template built from the helpers, partials and context
 * values templates use, and any sequence of tenants, the specialized text is byte for byte the full
 * render's — whether the template reads only the tenant's identity (rendered once, swapped in) or
 * more of it (rendered per tenant). Property-based (fast-check); TM_PROPERTY_RUNS raises the runs.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
import { contextFor } from '../../src/operations/templates.js';
import { TemplateEngine } from '../../src/templating/index.js';
import { TenantSpecializer, type WorkspaceWatch, identityOf } from '../../src/templating/specialize.js';
import { checksumOf } from '../../src/source/index.js';
import type { MigrationFile, Tenant } from '../../src/types.js';

const RUNS = Number(process.env.TM_PROPERTY_RUNS ?? 200);

let engine: TemplateEngine;
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'tm-specialize-'));
  await mkdir(path.join(tmp, 'templates/partials'), { recursive: true });
  await writeFile(path.join(tmp, 'templates/partials/audit.hbs'), 'created_utc {{datetime2}} DEFAULT {{utcnow}} -- {{schemaName}}');
  await writeFile(path.join(tmp, 'templates/partials/owner.hbs'), "INSERT INTO {{schema}}.log (w) VALUES ({{literal workspaceId}});");
  await writeFile(path.join(tmp, 'templates/partials/seen.hbs'), '{{#if workspace.last_seen_utc}}UPDATE {{schema}}.t SET seen = 1;{{/if}}');
  engine = await TemplateEngine.create({ rootDir: tmp, partialsDir: 'templates/partials' });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Pieces of templates: identity-only ones, and ones that read more of the tenant. */
const identityPieces = [
  '{{schema}}',
  '{{schemaName}}',
  '{{workspaceId}}',
  '{{ident schemaName}}',
  '{{literal workspaceId}}',
  '{{literal schemaName}}',
  '{{master}}',
  '{{uuid}}',
  '{{nvarchar 128}}',
  '{{#if isMssql}}N{{else}}P{{/if}}',
  '{{> audit}}',
  '{{> owner}}',
  '{{table "jobs"}}',
];
// Reading more of the tenant, including in ways two made-up rows could not tell apart: a branch on a
// field that may be NULL, on a status other than the two the proof uses, through a partial, or over
// the row's keys.
const tenantPieces = [
  '{{literal workspace.name}}',
  '{{literal workspace.status}}',
  '{{#if (literal workspace.name)}}x{{/if}}',
  '{{#if workspace.last_seen_utc}}UPDATE {{schema}}.t SET active = 1;{{else}}-- nothing{{/if}}',
  '{{#unless workspace.created_utc}}-- new{{/unless}}',
  '{{#if workspace.name}}named{{/if}}',
  '{{> seen}}',
  '{{#each workspace}}{{@key}} {{/each}}',
  '{{#with workspace}}{{literal db_schema_name}}{{/with}}',
  '{{literal workspace.db_schema_name}}',
];
const text = fc.stringMatching(/^[a-z0-9_ (),;.\n-]{0,12}$/);

const template = (pieces: readonly string[]) =>
  fc.array(fc.oneof(text, fc.constantFrom(...pieces)), { minLength: 1, maxLength: 12 }).map((parts) => parts.join(' '));

const dateArb = fc.option(fc.date({ min: new Date(Date.UTC(2000, 0, 1)), max: new Date(Date.UTC(2030, 0, 1)), noInvalidDate: true }), { nil: null });
const tenantArb = fc.record({
  id: fc.uuid({ version: 4 }),
  name: fc.option(fc.stringMatching(/^[A-Za-z0-9 ']{0,16}$/), { nil: null }),
  status: fc.constantFrom('Active', 'Archived', 'Provisioning'),
  lastSeenUtc: dateArb,
  createdUtc: dateArb,
});

function tenantOf(
  t: { id: string; name: string | null; status: string; lastSeenUtc?: Date | null; createdUtc?: Date | null },
  target: string | null = null,
): Tenant {
  const schema = `ws_${t.id.replace(/-/g, '')}`;
  return { workspaceId: t.id, name: t.name, dbSchemaName: schema, schema, status: t.status, lastSeenUtc: t.lastSeenUtc ?? null, createdUtc: t.createdUtc ?? null, target, needsBackfill: false };
}

function fileOf(source: string): MigrationFile {
  return {
    id: '0009_generated',
    number: 9,
    name: 'generated',
    scope: 'tenant',
    path: 'tenant-migrations/0009_generated.sql.hbs',
    absolutePath: '/nowhere/0009_generated.sql.hbs',
    source,
    isTemplate: true,
    checksum: checksumOf(source),
    directives: { noTransaction: false, afterTenants: false },
  };
}

const full = (dialect: 'mssql' | 'postgres') => (file: MigrationFile, tenant: Tenant, watch?: WorkspaceWatch) =>
  engine.render(file, contextFor({ masterSchema: 'pmassist_master', vars: {} }, syntaxFor(dialect), tenant, watch));

/** What a renderer gives for each tenant: its text, or the error's message. */
const outcome = (render: (f: MigrationFile, t: Tenant) => string, file: MigrationFile, tenant: Tenant) => {
  try {
    return render(file, tenant);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
};

describe('render once, specialize per tenant', () => {
  it.each(['mssql', 'postgres'] as const)('equals a full render for every tenant (%s)', (dialect) => {
    fc.assert(
      fc.property(fc.oneof(template(identityPieces), template([...identityPieces, ...tenantPieces])), fc.array(tenantArb, { minLength: 1, maxLength: 6 }), (source, tenants) => {
        const file = fileOf(source);
        const render = full(dialect);
        const specializer = new TenantSpecializer(render);
        for (const t of tenants) {
          const tenant = tenantOf(t);
          expect(outcome((f, x) => specializer.render(f, x), file, tenant)).toBe(outcome((f, x) => render(f, x), file, tenant));
        }
      }),
      { numRuns: RUNS, seed: 20261204 },
    );
  });

  it('renders an identity-only template once and swaps the identity in; a template reading more renders per tenant', () => {
    let renders = 0;
    const counting = (f: MigrationFile, t: Tenant, w?: WorkspaceWatch) => (renders++, full('postgres')(f, t, w));
    const specializer = new TenantSpecializer(counting);
    const identityOnly = fileOf('CREATE TABLE {{schema}}.t (id {{uuid}}); INSERT INTO {{schema}}.t VALUES ({{literal workspaceId}});');
    for (let i = 0; i < 50; i++) specializer.render(identityOnly, tenantOf({ id: randomUUID(), name: `n${i}`, status: 'Active' }));
    // One full render for the first tenant, two to prove the shape, none after.
    expect(renders).toBe(3);
    expect(specializer.specialized).toBe(1);

    renders = 0;
    const byName = fileOf('INSERT INTO {{schema}}.t VALUES ({{literal workspace.name}});');
    for (let i = 0; i < 10; i++) specializer.render(byName, tenantOf({ id: randomUUID(), name: `n${i}`, status: 'Active' }));
    expect(renders).toBe(1 + 2 + 9);

    // A branch on a field two made-up rows both have set: still rendered per tenant.
    renders = 0;
    const bySeen = fileOf('{{#if workspace.last_seen_utc}}UPDATE {{schema}}.t SET active = 1;{{else}}-- nothing{{/if}}');
    const never = (i: number) => tenantOf({ id: randomUUID(), name: `n${i}`, status: 'Active', lastSeenUtc: null });
    for (let i = 0; i < 10; i++) expect(specializer.render(bySeen, never(i))).toBe('-- nothing');
    expect(renders).toBe(1 + 2 + 9);
  });

  it('a schema not named ws_<workspace id> always renders in full', () => {
    const tenant: Tenant = { ...tenantOf({ id: randomUUID(), name: 'x', status: 'Active' }), schema: 'ws_custom_name' };
    expect(identityOf(tenant)).toBeUndefined();
    const specializer = new TenantSpecializer(full('postgres'));
    const file = fileOf('SELECT 1 FROM {{schema}}.t;');
    expect(specializer.render(file, tenant)).toBe(full('postgres')(file, tenant));
    expect(specializer.render(file, tenant)).toBe('SELECT 1 FROM "ws_custom_name".t;');
  });
});
