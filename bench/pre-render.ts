// What `up` pays before a run opens: every pending tenant file rendered (and read by the
// transaction-control rule) for 10,000 tenants, against the renders alone, and through the
// specializer that `up` uses (templates rendered once per file, the tenant's identity swapped in).
// Run: node --import tsx bench/pre-render.ts
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { syntaxFor } from '../src/dialect/syntax-registry.js';
import { contextFor } from '../src/operations/templates.js';
import { preRenderTenants } from '../src/release/pre-render.js';
import { loadMigrations } from '../src/source/index.js';
import { TemplateEngine } from '../src/templating/index.js';
import { TenantSpecializer, type WorkspaceWatch } from '../src/templating/specialize.js';
import type { MigrationFile, Tenant } from '../src/types.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = await loadMigrations({ rootDir: root, dir: 'tenant-migrations', scope: 'tenant' });
const N = 10_000;
const tenants: Tenant[] = Array.from({ length: N }, () => {
  const id = randomUUID();
  const schema = `ws_${id.replace(/-/g, '')}`;
  return { workspaceId: id, name: `Workspace ${id}`, dbSchemaName: schema, schema, status: 'Active', lastSeenUtc: null, createdUtc: null, needsBackfill: false, target: null };
});
for (const dialect of ['mssql', 'postgres'] as const) {
  const engine = await TemplateEngine.create({ partialsDir: 'templates/partials', rootDir: root });
  const syntax = syntaxFor(dialect);
  const config = { masterSchema: 'pmassist_master', vars: {} };
  const render = (f: MigrationFile, t: Tenant, watch?: WorkspaceWatch) => engine.render(f, contextFor(config, syntax, t, watch));
  const t0 = performance.now();
  preRenderTenants(render, files, tenants.map((tenant) => ({ tenant, pending: files.map((f) => f.id) })));
  const withRule = performance.now() - t0;
  const bare = files.map((f) => ({ ...f, directives: undefined }));
  const t1 = performance.now();
  for (const t of tenants) for (const f of bare) engine.render(f, contextFor(config, syntax, t));
  const alone = performance.now() - t1;
  // What `up` does: the same pre-render through the specializer (render once per file, swap the identity in).
  const specializer = new TenantSpecializer(render);
  const t2 = performance.now();
  preRenderTenants((f, t) => specializer.render(f, t), files, tenants.map((tenant) => ({ tenant, pending: files.map((f) => f.id) })));
  const once = performance.now() - t2;
  console.log(
    `${dialect}: ${N} tenants x ${files.length} files: pre-render ${withRule.toFixed(0)} ms, renders alone ${alone.toFixed(0)} ms (ratio ${(withRule / alone).toFixed(2)}); ` +
      `pre-render rendering once per file ${once.toFixed(0)} ms (${specializer.specialized} of ${files.length} files specialized; ${(withRule / once).toFixed(0)}x less)`,
  );
}
