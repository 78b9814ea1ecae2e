/**
 * `repair`: accept on purpose edits of applied migrations (a comment, whitespace) by storing the
 * files' current checksums, and rebuild applied-version summary rows (docs/fleet.md) that are
 * missing or differ from their meta tables. Without `apply` it only lists what it would change. Each change says
 * whether the SQL the template renders to for that schema is the same as what ran (`renderedSame`):
 * when it is not, the database was built from different SQL and a new migration is the safer fix.
 */
import { inTransaction } from '../dialect/contracts/driver.js';
import type { OperationContext } from '../operations/context.js';
import { checksumOf } from '../source/index.js';
import type { MigrationFile, MigrationScope, Tenant } from '../types.js';
import { MASTER_LOCK, contextFor, discoverTenants } from './release-context.js';

export interface RepairChange {
  readonly scope: MigrationScope;
  readonly schema: string;
  readonly workspaceId?: string;
  readonly migrationId: string;
  readonly file: string;
  readonly recordedChecksum: string;
  readonly fileChecksum: string;
  readonly recordedRenderedChecksum: string;
  readonly renderedChecksum: string;
  /** The SQL rendered now equals the SQL that ran: the edit is cosmetic for this schema. */
  readonly renderedSame: boolean;
}

export interface RepairResult {
  readonly applied: boolean;
  readonly changes: readonly RepairChange[];
  /** Tenant schemas whose summary row is missing or stale (rebuilt from the meta table with `apply`). */
  readonly summaries: { readonly missing: readonly string[]; readonly stale: readonly string[] };
}

/** Find (and with `apply`, store) checksum changes in master and every tenant, Archived included. */
export async function repair(ctx: OperationContext, options: { readonly apply?: boolean } = {}): Promise<RepairResult> {
  const dialect = await ctx.dialect();
  const files = await ctx.files();
  const engine = await ctx.templates();
  const { masterSchema } = ctx.config;
  const { masterApplied, tenants } = await dialect.withSession(async (s) => ({
    masterApplied: await dialect.meta.readApplied(s, masterSchema),
    tenants: (await discoverTenants(ctx, dialect.registry, s, true)).tenants,
  }));
  const { applied: tenantApplied, missing, stale } = await ctx.targets.verifySummaries(tenants, ctx.emit);
  const summaries = { missing, stale };

  const changes: RepairChange[] = [];
  const collect = (scope: MigrationScope, schema: string, rows: typeof masterApplied, tenant?: Tenant) => {
    const byId = new Map(files[scope].map((f) => [f.id, f]));
    for (const row of rows) {
      const file: MigrationFile | undefined = byId.get(row.id);
      if (!file || file.checksum === row.checksum) continue;
      const renderedChecksum = checksumOf(engine.render(file, contextFor(ctx.config, dialect.syntax, tenant)));
      changes.push({
        scope,
        schema,
        ...(tenant && { workspaceId: tenant.workspaceId }),
        migrationId: row.id,
        file: file.path,
        recordedChecksum: row.checksum,
        fileChecksum: file.checksum,
        recordedRenderedChecksum: row.renderedChecksum,
        renderedChecksum,
        renderedSame: renderedChecksum === row.renderedChecksum,
      });
    }
  };
  collect('master', masterSchema, masterApplied);
  for (const tenant of tenants) collect('tenant', tenant.schema, tenantApplied.get(tenant.schema) ?? [], tenant);
  if (!options.apply || changes.length + missing.length + stale.length === 0) return { applied: false, changes, summaries };

  const bySchema = new Map<string, RepairChange[]>();
  for (const c of changes) bySchema.set(c.schema, [...(bySchema.get(c.schema) ?? []), c]);
  for (const [schema, list] of bySchema) {
    const lockKey = list[0]!.scope === 'master' ? MASTER_LOCK : schema;
    await ctx.withLock(
      lockKey,
      (session) =>
        inTransaction(session, async () => {
          for (const c of list) await dialect.meta.updateChecksums(session, schema, c.migrationId, c.fileChecksum, c.renderedChecksum);
        }),
      { what: schema, target: list[0]!.scope === 'master' ? null : (tenants.find((t) => t.schema === schema)?.target ?? null) },
    );
  }
  // Summary rows: recomputed from the meta table under the tenant lock (a migration running now
  // writes its own row in its transaction; the lock keeps this recompute from racing it).
  const placed = new Map(tenants.map((t) => [t.schema, t.target ?? null]));
  const rebuild = [...missing, ...stale];
  const ensured = new Set<string | null>();
  for (const schema of rebuild) {
    const target = placed.get(schema) ?? null;
    const dialectOf = await ctx.targets.dialectOf(target);
    if (!ensured.has(target)) {
      await dialectOf.withSession((s) => dialectOf.meta.ensureSummary(s));
      ensured.add(target);
    }
    await ctx.withLock(schema, (session) => dialectOf.meta.refreshSummary(session, schema), { what: schema, target });
  }
  return { applied: true, changes, summaries };
}
