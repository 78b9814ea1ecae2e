/**
 * The library entry of the HTML fleet report: collect (reads only) and render one self-contained
 * file. The CLI's `report` command and `demo` call this.
 */
import { writeFile } from 'node:fs/promises';
import { TenantMigrateError } from '../errors.js';
import type { Migrator } from '../migrator.js';
import { MigratorImpl } from '../migrator.js';
import { type ReportOptions, collectReport } from './collect-report.js';
import { loadReportAssets } from './report-assets.js';
import type { ReportData } from './report-data.js';
import { renderReportHtml } from './render-html.js';

export interface FleetReport {
  /** The aggregated data the page shows (also embedded in it as JSON). */
  readonly data: ReportData;
  /** The whole HTML file. */
  readonly html: string;
}

/**
 * Build the HTML fleet report: versions per target, the newest ledger runs (durations, throughput,
 * failures grouped with their tenants and template line), drift (`drift: true`) and the next
 * deploy (`plan: true`). Reads only. The page loads nothing: open it from disk, a CI artifact or
 * an e-mail.
 *
 * @example
 * const m = createMigrator({ url: 'postgres://postgres@127.0.0.1/app' });
 * const { html } = await fleetReport(m, { runs: 10, plan: true });
 * await writeFile('fleet-report.html', html);
 */
export async function fleetReport(migrator: Migrator, options: ReportOptions = {}): Promise<FleetReport> {
  if (!(migrator instanceof MigratorImpl)) {
    throw new TenantMigrateError('USAGE', 'fleetReport needs a migrator made by createMigrator or openMigrator');
  }
  if (options.runs !== undefined && (!Number.isInteger(options.runs) || options.runs < 0)) {
    throw new TenantMigrateError('USAGE', `runs must be a whole number ≥ 0, got ${options.runs}`, { key: 'runs' });
  }
  const [data, assets] = await Promise.all([collectReport(migrator.context, options), loadReportAssets()]);
  return { data, html: renderReportHtml(data, assets) };
}

/** {@link fleetReport}, written to `file`. Returns the report data. */
export async function writeFleetReport(migrator: Migrator, file: string, options: ReportOptions = {}): Promise<ReportData> {
  const { data, html } = await fleetReport(migrator, options);
  await writeFile(file, html);
  return data;
}

export type { ReportOptions } from './collect-report.js';
export type * from './report-data.js';
