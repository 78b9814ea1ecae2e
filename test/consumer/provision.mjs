// Runs inside the consumer application (copied there by scripts/consumer-test.mjs): the library as
// an application imports it, provisioning a workspace with the migrations `tenant-migrate init` wrote.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openMigrator, createWorkspaceService, TenantMigrateError } from 'tenant-migrate';

assert.equal(typeof TenantMigrateError, 'function');
// The project's tenant-migrate.config.json (from init), on a throw-away embedded database.
const migrator = await openMigrator({ overrides: { url: 'pglite:memory' } });
try {
  const up = await migrator.up();
  assert.deepEqual(up.master.applied, ['0001_create_workspace_registry']);
  const workspaces = createWorkspaceService(migrator);
  const workspaceId = randomUUID();
  const provisioned = await workspaces.provisionWorkspace({ workspaceId, name: 'Acme', ownerUserId: 'user-1' });
  assert.equal(provisioned.outcome, 'created');
  assert.equal(provisioned.schema, `ws_${workspaceId.replaceAll('-', '')}`);
  assert.deepEqual(provisioned.applied, ['0001_create_items']);
  assert.equal(await workspaces.getWorkspaceSchemaName(workspaceId), provisioned.schema);
  const status = await migrator.status();
  assert.equal(status.tenants.upToDate, 1);
  await workspaces.close();
  console.log(JSON.stringify({ ok: true, schema: provisioned.schema, applied: provisioned.applied }));
} finally {
  await migrator.close();
}
