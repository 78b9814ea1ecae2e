/**
 * `npm run build` (after tsc): bundle the fleet report's page script (with Chart.js) and stylesheet
 * with esbuild into dist/report/assets/, so the published package inlines them into each report
 * without a bundler at run time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { bundleReportAssets } from '../src/report/report-assets.js';

const out = new URL('../dist/report/assets/', import.meta.url);
mkdirSync(out, { recursive: true });
const { js, css } = await bundleReportAssets();
writeFileSync(new URL('report.js', out), js);
writeFileSync(new URL('report.css', out), css);
process.stdout.write(`report assets: report.js ${(js.length / 1024).toFixed(0)} KB, report.css ${(css.length / 1024).toFixed(0)} KB\n`);
