// Type-checked inside the consumer application with `tsc --noEmit` (skipLibCheck off): the public
// types as an application uses them, resolved through the package's "exports".
import {
  type Config,
  type ConfigInput,
  type Migrator,
  type MigratorEvent,
  type ProvisionResult,
  type StatusResult,
  type UpResult,
  ConfigError,
  TenantMigrateError,
  createMigrator,
  createWorkspaceService,
  defineConfig,
  deriveSchemaName,
  dialectFromUrl,
} from 'tenant-migrate';

export const config: ConfigInput = defineConfig({ url: 'pglite:memory', masterSchema: 'app_master', concurrency: 4 });
// @ts-expect-error an unknown key is a type error in defineConfig
defineConfig({ concurrencyy: 4 });

const migrator: Migrator = createMigrator({ ...config, rootDir: '.' });
const resolved: Config = migrator.config;
export const dialect: 'mssql' | 'postgres' | 'pglite' = dialectFromUrl(resolved.url);
export const schema: string | undefined = deriveSchemaName('123e4567-e89b-12d3-a456-426614174000');

migrator.on((event: MigratorEvent) => {
  if (event.type === 'tenant:done') console.log(event.result.schema, event.result.status);
});

export async function deploy(): Promise<{ up: UpResult; status: StatusResult; provisioned: ProvisionResult }> {
  const up = await migrator.up();
  const failed: number = up.tenants.failed;
  if (failed > 0) throw new Error(`${failed} failed`);
  const workspaces = createWorkspaceService(migrator, { cache: { ttlMs: 30_000 } });
  try {
    const provisioned = await workspaces.provisionWorkspace({ workspaceId: 'x', ownerUserId: 'u1' });
    return { up, status: await migrator.status(), provisioned };
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(err.issues.join('\n'));
    if (err instanceof TenantMigrateError) throw new Error(`${err.code}: ${err.message}`);
    throw err;
  } finally {
    await workspaces.close();
  }
}
