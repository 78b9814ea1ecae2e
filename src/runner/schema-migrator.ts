import type { UmzugStorage } from 'umzug';
import type { SqlSession } from '../dialect/contracts/driver.js';
import type { Dialect } from '../dialect/dialect.js';
import { ScriptExecutionError } from '../dialect/contracts/driver.js';
import type { FoldedOutcome } from '../dialect/contracts/folded-apply.js';
import { MigrationError, TenantMigrateError } from '../errors.js';
import { checksumOf } from '../source/index.js';
import type { AppliedMigration, MigrationFile } from '../types.js';

export interface SchemaMigrationRequest {
  readonly dialect: Dialect;
  readonly session: SqlSession;
  readonly schema: string;
  readonly files: readonly MigrationFile[];
  /** Render one file for this schema (throws TemplateError). */
  readonly render: (file: MigrationFile) => string;
  readonly runId: string | null;
  /** Apply up to and including this id. */
  readonly to?: string;
  /** Only these ids (e.g. master migrations that are not after-tenants yet). */
  readonly only?: ReadonlySet<string>;
  readonly onMigrated?: (id: string, durationMs: number) => void;
  /**
   * Runs once, inside the first applied migration's transaction, before its statements: creating
   * the schema and meta table there makes them commit (or roll back) with the first migration, so a
   * failed first migration leaves no empty schema behind and a fresh tenant costs one commit less.
   */
  readonly prepare?: (session: SqlSession) => Promise<void>;
  /**
   * Fold: the meta rows the plan read (and no session lock is held). Each pending migration goes
   * to the dialect's folded send (one round trip: transaction lock + check + statements + meta row
   * + COMMIT), without umzug. Every pending migration must be transactional and the dialect must
   * have `folded`. When the lock is busy or the check fails, migrateSchema stops and says so in
   * `fellBack`; the caller continues on the careful path.
   */
  readonly known?: readonly Pick<AppliedMigration, 'id' | 'checksum'>[];
}

export interface SchemaMigrationResult {
  readonly applied: string[];
  /** Set when a folded run stopped because the tenant was locked or its meta table changed. */
  readonly fellBack?: FoldedOutcome;
}

/**
 * umzug storage over a schema's meta table. The meta row is written on the migration's own
 * session, inside the transaction the `migrating` event opened; `migrated` commits both.
 */
class MetaTableStorage implements UmzugStorage {
  readonly rendered = new Map<string, string>();
  readonly started = new Map<string, number>();

  constructor(
    private readonly req: SchemaMigrationRequest,
    private readonly byId: ReadonlyMap<string, MigrationFile>,
  ) {}

  async executed(): Promise<string[]> {
    const { dialect, session, schema } = this.req;
    const applied = await dialect.meta.readApplied(session, schema);
    assertChecksums(schema, applied, this.byId);
    return applied.map((a) => a.id);
  }

  async logMigration({ name }: { name: string }): Promise<void> {
    const file = this.byId.get(name)!;
    const row: AppliedMigration = {
      id: name,
      checksum: file.checksum,
      renderedChecksum: checksumOf(this.rendered.get(name) ?? ''),
      appliedUtc: new Date(),
      durationMs: Date.now() - (this.started.get(name) ?? Date.now()),
      runId: this.req.runId,
    };
    await this.req.dialect.meta.insertApplied(this.req.session, this.req.schema, row);
  }

  async unlogMigration({ name }: { name: string }): Promise<void> {
    await this.req.dialect.meta.deleteApplied(this.req.session, this.req.schema, name);
  }
}

/** Refuse to build on an applied migration whose file changed since. */
export function assertChecksums(
  schema: string,
  applied: readonly Pick<AppliedMigration, 'id' | 'checksum'>[],
  byId: ReadonlyMap<string, MigrationFile>,
): void {
  for (const row of applied) {
    const file = byId.get(row.id);
    if (file && file.checksum !== row.checksum) {
      throw new TenantMigrateError(
        'CHECKSUM_MISMATCH',
        `${file.path} was changed after it was applied to ${schema} (recorded checksum ${row.checksum.slice(0, 12)}…, file ${file.checksum.slice(0, 12)}…). Revert the edit, add a new migration, or run \`tenant-migrate repair\` if the change is cosmetic.`,
        { tenant: schema, migrationId: row.id, file: file.path },
      );
    }
  }
}

/**
 * Apply the pending migrations of one schema with umzug. The caller holds the schema's lock and
 * has created the schema and its meta table. Each migration's statements and its meta row commit
 * in one transaction (unless the file says `no-transaction`).
 */
export async function migrateSchema(req: SchemaMigrationRequest): Promise<SchemaMigrationResult> {
  const byId = new Map(req.files.map((f) => [f.id, f]));
  // `to` and `only` narrow the migrations umzug sees (umzug's own `to` rejects an applied target).
  const toIndex = req.to ? req.files.findIndex((f) => f.id === req.to) : req.files.length - 1;
  if (toIndex < 0) {
    throw new TenantMigrateError('NOT_FOUND', `No migration with id "${req.to}" to migrate to`, { migrationId: req.to, tenant: req.schema });
  }
  const files = req.files.filter((f, i) => i <= toIndex && (!req.only || req.only.has(f.id)));
  if (req.known) return migrateFolded(req, req.known, files, byId);
  const storage = new MetaTableStorage(req, byId);
  // Imported here, not at the top: umzug pulls in its own CLI's dependencies (0.3-0.5 s of module
  // loading on a busy machine), which `status`, `plan` and a no-op `up` never need.
  const { Umzug } = await import('umzug');
  const umzug = new Umzug({
    migrations: files.map((file) => ({
      name: file.id,
      path: file.path,
      up: async () => {
        const sql = req.render(file);
        storage.rendered.set(file.id, sql);
        await req.session.runScript(sql);
      },
    })),
    storage,
    logger: undefined,
    context: {},
  });
  const applied: string[] = [];
  let prepared = false;
  umzug.on('migrating', async ({ name }) => {
    storage.started.set(name, Date.now());
    if (!byId.get(name)!.directives.noTransaction) await req.session.begin();
    if (!prepared && req.prepare) {
      prepared = true;
      await req.prepare(req.session);
    }
  });
  umzug.on('migrated', async ({ name }) => {
    if (req.session.inTransaction) await req.session.commit();
    applied.push(name);
    req.onMigrated?.(name, Date.now() - (storage.started.get(name) ?? Date.now()));
  });
  try {
    await umzug.up();
    return { applied };
  } catch (err) {
    await req.session.rollback().catch(() => undefined);
    const migrationName = (err as { migration?: { name?: string } }).migration?.name;
    throw toMigrationError(migrationName && err instanceof Error && err.cause ? err.cause : err, migrationName, req, byId, storage.rendered);
  }
}

/**
 * The fast path: each pending migration (in file order, after what the plan read) as one folded
 * send. No umzug here: the plan already decided what is pending, and the send itself is the
 * storage — there is nothing for umzug's bookkeeping, events or re-read to do, and not loading
 * it keeps ~0.1 s of module loading and its per-tenant set-up off the everyday deploy. Stops at
 * the first send that finds the tenant busy or changed (`fellBack`); what it applied is committed.
 */
async function migrateFolded(
  req: SchemaMigrationRequest,
  plannedKnown: readonly Pick<AppliedMigration, 'id' | 'checksum'>[],
  files: readonly MigrationFile[],
  byId: ReadonlyMap<string, MigrationFile>,
): Promise<SchemaMigrationResult> {
  assertChecksums(req.schema, plannedKnown, byId);
  const known = [...plannedKnown];
  const done = new Set(known.map((a) => a.id));
  const applied: string[] = [];
  const rendered = new Map<string, string>();
  let prelude: string[] = [];
  for (const file of files) {
    if (done.has(file.id)) continue;
    const started = Date.now();
    try {
      if (file.directives.noTransaction) throw new Error(`${file.id} is no-transaction: it cannot be folded`);
      // prepare's statements are recorded and sent with the first migration.
      if (applied.length === 0 && req.prepare) {
        const recorder = req.dialect.folded!.recorder();
        await req.prepare(recorder.session);
        prelude = [...recorder.statements];
      }
      const sql = req.render(file);
      rendered.set(file.id, sql);
      const row = { id: file.id, checksum: file.checksum, renderedChecksum: checksumOf(sql), runId: req.runId };
      const outcome = await req.dialect.folded!.apply(req.session, { schema: req.schema, expected: known, prelude, script: sql, row });
      if (outcome !== 'applied') return { applied, fellBack: outcome };
      prelude = [];
      known.push(row);
    } catch (err) {
      throw toMigrationError(err, file.id, req, byId, rendered);
    }
    applied.push(file.id);
    req.onMigrated?.(file.id, Date.now() - started);
  }
  return { applied };
}

/** Give a migration's error its coordinates: schema, migration, batch, template line. */
function toMigrationError(
  inner: unknown,
  migrationName: string | undefined,
  req: SchemaMigrationRequest,
  byId: ReadonlyMap<string, MigrationFile>,
  rendered: ReadonlyMap<string, string>,
): TenantMigrateError {
  if (inner instanceof TenantMigrateError) {
    return new TenantMigrateError(inner.code, inner.message, { tenant: req.schema, migrationId: migrationName, ...inner.context }, { cause: inner.cause ?? inner });
  }
  const file = migrationName ? byId.get(migrationName) : undefined;
  const classification = req.dialect.driver.classifyError(inner instanceof ScriptExecutionError ? inner.cause : inner);
  if (inner instanceof ScriptExecutionError && file) {
    const line = templateLine(file, rendered.get(file.id), inner.line);
    const where = `${file.path}${line ? `:${line}` : ''}`;
    return new MigrationError(
      `${where}: ${inner.message} (schema ${req.schema}, batch ${inner.batchIndex + 1})`,
      {
        tenant: req.schema,
        migrationId: file.id,
        file: file.path,
        ...(line ? { line } : {}),
        statementIndex: inner.batchIndex,
        ...(classification.code !== undefined ? { dbCode: classification.code } : {}),
        transient: classification.transient,
      },
      { cause: inner.cause },
    );
  }
  const message = inner instanceof Error ? inner.message : String(inner);
  return new MigrationError(
    `${file ? `${file.path}: ` : ''}${message} (schema ${req.schema})`,
    {
      tenant: req.schema,
      ...(file ? { migrationId: file.id, file: file.path } : {}),
      ...(classification.code !== undefined ? { dbCode: classification.code } : {}),
      transient: classification.transient,
    },
    { cause: inner },
  );
}

/**
 * Map a line of the rendered SQL back to the template. When rendering kept the line count
 * (the usual case: helpers are inline), lines correspond one to one; otherwise the rendered
 * line's text is searched for in the template, falling back to the rendered line number.
 */
export function templateLine(file: MigrationFile, renderedSql: string | undefined, line: number | undefined) {
  if (!line || !renderedSql) return line;
  const src = file.source.replace(/\r\n/g, '\n').split('\n');
  const out = renderedSql.split('\n');
  if (src.length === out.length) return line;
  const text = out[line - 1]?.trim();
  if (text) {
    const exact = src.findIndex((l) => l.trim() === text);
    if (exact >= 0) return exact + 1;
  }
  return line;
}
