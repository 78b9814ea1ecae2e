/**
 * The report's browser script (charts, search, tenant details) and stylesheet, inlined into every
 * report. `npm run build` bundles them with esbuild into `dist/report/assets/` (the published
 * package reads those files and needs no bundler); from a source checkout (tsx) they are bundled
 * on first use with the esbuild of the dev dependencies.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface ReportAssets {
  /** One IIFE: the page script with Chart.js. */
  readonly js: string;
  readonly css: string;
}

const BUILT_JS = new URL('./assets/report.js', import.meta.url);
const BUILT_CSS = new URL('./assets/report.css', import.meta.url);
const SOURCE_ENTRY = new URL('./browser/report-client.ts', import.meta.url);
const SOURCE_CSS = new URL('./browser/report.css', import.meta.url);

/** The esbuild options of both paths (build time and source checkout). */
export const BUNDLE_OPTIONS = {
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'inline',
  logLevel: 'silent',
} as const;

let cached: Promise<ReportAssets> | undefined;

export function loadReportAssets(): Promise<ReportAssets> {
  cached ??= load();
  return cached;
}

async function load(): Promise<ReportAssets> {
  try {
    const [js, css] = await Promise.all([readFile(BUILT_JS, 'utf8'), readFile(BUILT_CSS, 'utf8')]);
    return { js, css };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return bundleReportAssets();
}

/** Bundle the browser sources with esbuild (build time, or a source checkout). */
export async function bundleReportAssets(): Promise<ReportAssets> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error(
      `The report's browser bundle is missing (${fileURLToPath(BUILT_JS)}) and esbuild is not installed to build it: run \`npm run build\` in the tenant-migrate checkout`,
    );
  }
  const [js, css] = await Promise.all([
    esbuild.build({ ...BUNDLE_OPTIONS, target: [...BUNDLE_OPTIONS.target], entryPoints: [fileURLToPath(SOURCE_ENTRY)], write: false }),
    esbuild.build({ ...BUNDLE_OPTIONS, target: [...BUNDLE_OPTIONS.target], format: undefined, entryPoints: [fileURLToPath(SOURCE_CSS)], write: false }),
  ]);
  return { js: js.outputFiles[0]!.text, css: css.outputFiles[0]!.text };
}
