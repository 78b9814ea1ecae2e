/**
 * Open a report file in Debian's Chromium through playwright-core (never a downloaded browser):
 * collects console errors, page errors and every request the page makes, and runs axe-core
 * injected into the page. `.ci/run` installs `chromium` when it is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, type Page, chromium } from 'playwright-core';

export const CHROMIUM = process.env.TM_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here (undefined: they can). In CI a missing Chromium is an error, never a skip. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `${CHROMIUM} not found (apt-get install -y chromium; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${why}`);
  return why;
}

/** Where the screenshots go (git-ignored). */
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

export interface OpenedReport {
  readonly page: Page;
  /** console.error messages and uncaught page errors. */
  readonly errors: string[];
  /** Every URL the page requested (the file:// page itself included). */
  readonly requests: string[];
  close(): Promise<void>;
}

export interface BrowserSession {
  open(file: string, options?: { colorScheme?: 'light' | 'dark'; width?: number }): Promise<OpenedReport>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<BrowserSession> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'tm-chromium-'));
  // A persistent context on a fresh user-data dir; the flags keep Debian's build off the network.
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: { width: 1280, height: 900 },
  });
  return {
    async open(file, options = {}) {
      const page = await context.newPage();
      await page.setViewportSize({ width: options.width ?? 1280, height: 900 });
      await page.emulateMedia({ colorScheme: options.colorScheme ?? 'light' });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      await page.waitForFunction(() => 'tenantMigrateReport' in globalThis);
      return { page, errors, requests, close: () => page.close() };
    },
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[] }[];
}

/** Run axe-core (injected from the dev dependency) on the page. */
export async function axe(page: Page): Promise<AxeViolation[]> {
  const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: source });
  return page.evaluate(async () => {
    const g = globalThis as unknown as { axe: { run: (ctx: unknown) => Promise<{ violations: AxeViolation[] }> }; document: unknown };
    const result = await g.axe.run(g.document);
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

/** A screenshot of one element (or the page) under test-artifacts/. */
export async function screenshot(page: Page, name: string, selector?: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path: file });
  else await page.screenshot({ path: file, fullPage: true });
  return file;
}
