import type { Argv, CommandModule } from 'yargs';
import type { RunStatusResult, StatusResult } from '../../migrator.js';
import { type GlobalArgs, command, migratorFromArgs, printJson } from '../cli-context.js';
import { EXIT } from '../exit-codes.js';
import { TenantMigrateError } from '../../errors.js';
import { MASTER_TARGET } from '../../operations/targets.js';
import { fingerprintSummary, formatFingerprintSummary } from '../../drift/fingerprint-summary.js';

interface StatusArgs extends GlobalArgs {
  includeArchived?: boolean;
  verbose?: boolean;
  run?: string;
  drift?: boolean;
  target?: string;
  verify?: boolean;
}

/** `status --run [id]`: a run's progress. */
export function formatRunStatus(r: RunStatusResult): string {
  const { run, counts: c } = r;
  const lines = [
    `run ${run.runId}: ${run.status}, target ${run.target}, started ${run.startedUtc.toISOString()} by ${run.startedBy}` +
      (run.finishedUtc ? `, finished ${run.finishedUtc.toISOString()}` : ''),
    `tenants: ${c.total} total, ${c.succeeded} succeeded, ${c.failed} failed, ${c.running} running, ${c.pending} pending, ${c.skipped} skipped`,
  ];
  for (const t of r.running) lines.push(`  running ${t.schema} on ${t.claimedBy} (lease until ${t.leaseUntil?.toISOString() ?? '?'})`);
  for (const t of r.failed) {
    const e = (t.error ?? {}) as { message?: string };
    lines.push(`  failed ${t.schema} after ${t.attempts} attempt(s): ${e.message ?? 'unknown error'}`);
  }
  return lines.join('\n');
}

/**
 * The status contract: `{"master":{"applied":[ids],"pending":[ids],"waiting":[ids],"waitingFor":n},"tenants":{"total",…}}`;
 * `waitingFor` is how many tenants the after-tenants migrations in `waiting` wait for.
 */
export function statusJson(status: StatusResult, verbose = false) {
  return {
    dialect: status.dialect,
    master: status.master,
    tenants: status.tenants,
    invalid: status.invalid,
    ...(status.targets ? { targets: status.targets } : {}),
    summary: status.summary,
    ...(verbose
      ? { schemas: status.plans.map((p) => ({ schema: p.schema, state: p.state, pending: p.pending, unknownApplied: p.unknownApplied })) }
      : {}),
  };
}

export function formatStatus(status: StatusResult): string {
  const { master, tenants } = status;
  const lines = [
    `dialect: ${status.dialect}`,
    `master: ${master.applied.length} applied, ${master.pending.length} pending${master.pending.length ? ` (${master.pending.join(', ')})` : ''}` +
      (master.waiting.length
        ? master.waitingFor > 0
          ? `; ${master.waiting.join(', ')} waiting for ${master.waitingFor} tenant(s)`
          : `; ${master.waiting.join(', ')} ready: every Active tenant is at target, the next \`up\` applies it`
        : ''),
    `tenants: ${tenants.upToDate}/${tenants.total} up to date, ${tenants.behind} behind${tenants.migratingNow ? ` (${tenants.migratingNow} of them in their first migration now)` : ''}, ${tenants.failed} failed, ${tenants.invalid} invalid`,
  ];
  for (const [id, n] of Object.entries(tenants.pendingCounts)) lines.push(`  ${id}: pending on ${n} tenant(s)`);
  for (const [name, t] of Object.entries(status.targets ?? {})) {
    lines.push(
      `  target ${name}: ` +
        (t.unreachable ? `UNREACHABLE (${t.unreachable}), ${t.total} tenant(s)` : `${t.upToDate}/${t.total} up to date, ${t.behind} behind, ${t.failed} failed`) +
        `, ${t.invalid} invalid`,
    );
  }
  for (const bad of status.invalid) lines.push(`  invalid ${bad.workspaceId}: ${bad.reason}`);
  const { summary } = status;
  if (summary.verified) {
    const stale = summary.stale ?? [];
    const missing = summary.missing ?? [];
    lines.push(
      stale.length + missing.length === 0
        ? `applied-version summary: matches every meta table (${summary.readFromMeta} read)`
        : `applied-version summary: ${stale.length} stale, ${missing.length} missing row(s); \`tenant-migrate repair --yes\` rebuilds them`,
    );
    for (const schema of stale.slice(0, 20)) lines.push(`  stale ${schema}`);
    if (stale.length > 20) lines.push(`  … and ${stale.length - 20} more`);
  }
  return lines.join('\n');
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status',
  describe: 'Show applied and pending migrations for master and all tenants (changes no migration state; fills in missing applied-version summary rows)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('include-archived', { type: 'boolean', describe: 'Count Archived workspaces too' })
      .option('verbose', { type: 'boolean', alias: 'v', describe: 'With --json: list every schema' })
      .option('run', { type: 'string', describe: 'Show a ledger run instead (the newest when no id is given)' })
      .option('target', { type: 'string', describe: 'Only the workspaces placed on this target database ("(master)": the master\'s own)' })
      .option('verify', { type: 'boolean', describe: 'Read every meta table and compare it with the applied-version summary (exit 4 when a row is stale)' })
      .option('drift', { type: 'boolean', describe: 'Also fingerprint every tenant schema: how many distinct schemas per version (read-only)' }) as Argv<StatusArgs>,
  handler: command<StatusArgs>(async (argv) => {
    const migrator = await migratorFromArgs(argv);
    try {
      if (argv.run !== undefined) {
        const r = await migrator.runStatus(argv.run === '' ? undefined : argv.run);
        if (!r) throw new TenantMigrateError('NOT_FOUND', argv.run ? `No run with id ${argv.run}` : 'No run in the ledger yet', { runId: argv.run });
        if (argv.json) printJson({ run: r.run, counts: r.counts, failed: r.failed, running: r.running });
        else process.stdout.write(`${formatRunStatus(r)}\n`);
        return EXIT.ok;
      }
      // A name that is not a target would list nothing and exit 0, as if that target were empty: refuse it like `up` and `drift`.
      if (argv.target !== undefined) {
        const named = Object.keys(migrator.config.targets);
        if (argv.target !== MASTER_TARGET && !named.includes(argv.target)) {
          throw new TenantMigrateError('USAGE', `--target ${argv.target}: not a name in config targets (${named.join(', ') || 'none configured'}) or ${MASTER_TARGET}`, { key: 'target' });
        }
      }
      const status = await migrator.status({
        includeArchived: argv.includeArchived ?? false,
        ...(argv.target ? { dbTarget: argv.target } : {}),
        ...(argv.verify ? { verify: true } : {}),
      });
      const fingerprints = argv.drift ? await fingerprintSummary(migrator.context) : undefined;
      if (argv.json) printJson({ ...statusJson(status, argv.verbose), ...(fingerprints ? { fingerprints } : {}) });
      else process.stdout.write(`${formatStatus(status)}\n${fingerprints ? `${formatFingerprintSummary(fingerprints)}\n` : ''}`);
      return (status.summary.stale?.length ?? 0) > 0 ? EXIT.drift : EXIT.ok;
    } finally {
      await migrator.close();
    }
  }),
};
