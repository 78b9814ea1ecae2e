/**
 * `validate` (alias `lint`): offline checks of the migration folders, fast enough for a
 * pre-commit hook. Numbering, strict compile + render of every template for SQL Server and
 * PostgreSQL with the sample context, and risky statements. With a database (`checkApplied`),
 * also the fast-forward rule: no new file numbered below one already applied somewhere.
 */
import { SourceError, describeError } from '../errors.js';
import type { OperationContext } from '../operations/context.js';
import { discoverTenants } from './release-context.js';
import { loadMigrations } from '../source/index.js';
import { syntaxFor } from '../dialect/syntax-registry.js';
import type { DialectName } from '../dialect/dialect-syntax.js';
import { buildRenderContext, sampleRenderContext } from '../templating/render-context.js';
import type { AppliedMigration, MigrationFile, MigrationScope } from '../types.js';
import { lintMigration, type LintRule } from './lint-rules.js';

export type ValidateCheck =
  | 'source'
  | 'numbering'
  | 'template'
  | 'fast-forward'
  /** Top-level transaction control (error in a transactional file, a note in a no-transaction one) or a session option. */
  | 'transaction-control'
  /** A raw `{{{x}}}`: a value pasted into the SQL unquoted. */
  | 'raw-value'
  | LintRule;

export interface ValidateFinding {
  readonly severity: 'error' | 'warning';
  readonly check: ValidateCheck;
  /** `path` or `path:line`. */
  readonly where: string;
  readonly message: string;
}

export interface ValidateResult {
  readonly ok: boolean;
  readonly errors: number;
  readonly warnings: number;
  readonly files: number;
  readonly findings: readonly ValidateFinding[];
}

/** Dialect families every template must render for. */
const RENDER_DIALECTS: readonly DialectName[] = ['mssql', 'postgres'];

export interface ValidateOptions {
  /** Read the applied sets from the configured database for the fast-forward rule. */
  readonly checkApplied?: boolean;
}

export async function validateMigrations(ctx: OperationContext, options: ValidateOptions = {}): Promise<ValidateResult> {
  const findings: ValidateFinding[] = [];
  const { rootDir, masterSchema, vars } = ctx.config;
  const files: Record<MigrationScope, MigrationFile[]> = { master: [], tenant: [] };
  for (const scope of ['master', 'tenant'] as const) {
    const dir = scope === 'master' ? ctx.config.masterMigrationsDir : ctx.config.tenantMigrationsDir;
    try {
      files[scope] = await loadMigrations({ rootDir, dir, scope });
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      for (const issue of err.issues) findings.push({ severity: 'error', check: 'source', where: dir, message: issue });
    }
    findings.push(...numberingFindings(files[scope]));
  }

  const engine = await ctx.templates();
  // Transaction control is read in the SQL of the configured database's family: a T-SQL
  // `BEGIN … END` block read as PostgreSQL would be a `BEGIN`.
  const family = syntaxFor(ctx.dialectName).family;
  for (const scope of ['master', 'tenant'] as const) {
    for (const file of files[scope]) {
      for (const dialect of RENDER_DIALECTS) {
        const syntax = syntaxFor(dialect);
        const context = scope === 'tenant' ? sampleRenderContext(syntax, masterSchema, vars) : buildRenderContext({ syntax, masterSchema, vars });
        for (const part of file.down ? [file, file.down] : [file]) {
          try {
            if (syntax.family !== family) {
              engine.render({ ...part, directives: undefined }, context);
              continue;
            }
            for (const f of engine.transactionControl(part, context)) {
              const refused = f.severity === 'error' && !part.directives.noTransaction;
              findings.push({
                severity: refused ? 'error' : 'warning',
                check: 'transaction-control',
                where: `${part.path}:${f.line}`,
                message: refused
                  ? `MIGRATION_UNSAFE: ${f.message}`
                  : f.severity === 'error'
                    ? `${f.statement} in a no-transaction file: it manages its own transaction; a failure half-way leaves what it committed (the engine records the migration only when the whole file ran)`
                    : f.message,
              });
            }
          } catch (err) {
            findings.push({ severity: 'error', check: 'template', where: part.path, message: `${dialect}: ${describeError(err)}` });
          }
        }
      }
      for (const part of file.down ? [file, file.down] : [file]) {
        try {
          for (const raw of engine.rawValues(part)) {
            findings.push({
              severity: 'warning',
              check: 'raw-value',
              where: `${part.path}:${raw.line}`,
              message: `{{{${raw.expression}}}} pastes a value into the SQL unquoted: make sure it can never hold SQL (prefer {{literal …}} or {{ident …}})`,
            });
          }
        } catch {
          // A parse error is already reported by the render above.
        }
      }
      for (const f of lintMigration({ source: file.source, scope, isTemplate: file.isTemplate, noTransaction: file.directives.noTransaction })) {
        findings.push({ severity: f.severity, check: f.rule, where: `${file.path}:${f.line}`, message: f.message });
      }
    }
  }

  if (options.checkApplied) findings.push(...(await fastForwardFindings(ctx, files)));

  const errors = findings.filter((f) => f.severity === 'error').length;
  return {
    ok: errors === 0,
    errors,
    warnings: findings.length - errors,
    files: files.master.length + files.tenant.length,
    findings,
  };
}

/** Gaps in the numbering (duplicates are reported by the loader). Pure. */
export function numberingFindings(files: readonly Pick<MigrationFile, 'number' | 'path'>[]): ValidateFinding[] {
  const out: ValidateFinding[] = [];
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1]!;
    const file = files[i]!;
    if (file.number > prev.number + 1) {
      out.push({
        severity: 'warning',
        check: 'numbering',
        where: file.path,
        message: `numbering gap: ${prev.number} → ${file.number} (a merge may have renumbered a file)`,
      });
    }
  }
  return out;
}

/**
 * The fast-forward rule, pure: per schema, a file that is not applied but numbered below the
 * highest applied one would run out of order there (typically a branch merged after a later
 * migration was deployed).
 */
export function outOfOrderFiles(
  files: readonly MigrationFile[],
  appliedBySchema: ReadonlyMap<string, readonly Pick<AppliedMigration, 'id'>[]>,
): Map<string, string[]> {
  const numberOf = new Map(files.map((f) => [f.id, f.number]));
  const out = new Map<string, string[]>();
  for (const [schema, applied] of appliedBySchema) {
    const ids = new Set(applied.map((a) => a.id));
    const highest = Math.max(0, ...applied.map((a) => numberOf.get(a.id) ?? parseInt(a.id, 10)).filter(Number.isFinite));
    for (const file of files) {
      if (!ids.has(file.id) && file.number < highest) out.set(file.id, [...(out.get(file.id) ?? []), schema]);
    }
  }
  return out;
}

async function fastForwardFindings(ctx: OperationContext, files: Record<MigrationScope, MigrationFile[]>): Promise<ValidateFinding[]> {
  const dialect = await ctx.dialect();
  const { masterSchema } = ctx.config;
  const { masterApplied, tenants } = await dialect.withSession(async (s) => ({
    masterApplied: await dialect.meta.readApplied(s, masterSchema),
    tenants: (await discoverTenants(ctx, dialect.registry, s, true)).tenants,
  }));
  const { applied: tenantApplied } = await ctx.targets.readAppliedMany(tenants, ctx.emit);
  const findings: ValidateFinding[] = [];
  const report = (scope: MigrationScope, late: Map<string, string[]>) => {
    for (const [id, schemas] of late) {
      const file = files[scope].find((f) => f.id === id)!;
      findings.push({
        severity: 'error',
        check: 'fast-forward',
        where: file.path,
        message: `${id} is numbered below a migration already applied in ${schemas.length} ${scope === 'master' ? 'master schema' : 'tenant schema(s)'} (e.g. ${schemas[0]}); renumber it above the highest applied (${scope === 'tenant' ? 'create tenant' : 'create master'} gives the next number)`,
      });
    }
  };
  report('master', outOfOrderFiles(files.master, new Map([[masterSchema, masterApplied]])));
  report('tenant', outOfOrderFiles(files.tenant, tenantApplied));
  return findings;
}

export function formatValidate(result: ValidateResult): string {
  const lines = result.findings.map((f) => `${f.severity}: ${f.where}: [${f.check}] ${f.message}`);
  lines.push(`${result.files} migration file(s): ${result.errors} error(s), ${result.warnings} warning(s)`);
  return `${lines.join('\n')}\n`;
}
