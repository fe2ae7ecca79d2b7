// The Runs, Live and Reports pages in Chromium against the real web server and LabService, with
// a stand-in run engine that streams a small report's samples (so these pages are tested on
// any machine, root or not; app.test.ts runs them on the real engine when it is there).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { LabService } from '../../benchmarks/server/lab-service.js';
import { startWebServer, type WebServer } from '../../benchmarks/server/web-server.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { FakeRunManager, noVms } from '../helpers/fake-run-manager.js';
import { missing } from '../helpers/requirements.js';
import { screenshot } from '../helpers/screenshot.js';

const RENDERER = join(PROJECT_ROOT, 'dist', 'renderer', 'index.html');
let built = true;
try { readFileSync(RENDERER); } catch { built = false; }
const reason = missing({ tools: [CHROMIUM] }) ?? (built ? undefined : 'needs the renderer built: npm run build');

/** Holds the server's listRuns answers until release() (each then lists the runs as they are). */
function holdListRuns(service: LabService): { waiting(): number; release(): void } {
  const listRuns = service.handlers.listRuns;
  let open!: () => void;
  const opened = new Promise<void>((r) => { open = r; });
  let waiting = 0;
  service.handlers.listRuns = async (args, raw) => { waiting++; await opened; return listRuns(args, raw); };
  return { waiting: () => waiting, release: () => { service.handlers.listRuns = listRuns; open(); } };
}

/** Non-blank pixels of every canvas in `selector` (a drawn chart has thousands). */
function canvasInk(page: Page, selector: string): Promise<number[]> {
  return page.evaluate((sel) => [...document.querySelectorAll(`${sel} canvas`)].map((c) => {
    const cv = c as HTMLCanvasElement;
    const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  }), selector);
}

(reason ? describe.skip : describe)(`Runs, Live and Reports pages with a stand-in run engine${reason ? ` [skipped: ${reason}]` : ''}`, () => {
  let dir: string;
  let runs: FakeRunManager;
  let service: LabService;
  let server: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const violations: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xdplab-pages-'));
    runs = new FakeRunManager(dir, { intervalMs: 120, speedup: 0.25 });
    service = new LabService({ runs, vms: noVms(), doctor: async () => [{ id: 'af-xdp', ok: true, detail: 'stand-in', severity: 'required' }], listInterfaces: async () => [] });
    server = await startWebServer({ service, port: 0 });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('console', (m) => { if (/Content[- ]Security[- ]Policy/i.test(m.text())) violations.push(m.text()); });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    runs?.close();
    await server?.close();
    await service?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts a run from the matrix, shows its progress, and the live chart gains points', async () => {
    await page.goto(`${server.url}#runs`);
    await page.waitForSelector('[data-testid="connection"][data-state="open"]');
    await page.getByLabel('skb').check();
    await page.getByRole('button', { name: 'Start run' }).click();
    const run = page.locator('[data-testid="run-progress"]').first();
    await run.waitFor();
    expect(runs.started.at(-1)).toEqual({ scenario: { tests: ['txonly', 'rxonly'], modes: ['native', 'skb'], frameBytes: [64] }, quick: true });
    await page.waitForFunction(() => Number((document.querySelector('[data-testid="run-progress"] progress') as HTMLProgressElement | null)?.value ?? 0) > 0);
    await page.getByRole('button', { name: 'Watch live' }).click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="live-mpps"]')?.getAttribute('data-points')) >= 3);
    const first = Number(await page.locator('[data-testid="live-mpps"]').getAttribute('data-points'));
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="live-mpps"]')?.getAttribute('data-points')) > n + 2, first);
    const ink = await canvasInk(page, '[data-testid="live-mpps"]');
    expect(ink[0]).toBeGreaterThan(1000);
    await screenshot(browser, page, 'pages-live.png');
    // The points stay when the user leaves the page and comes back.
    await page.getByRole('button', { name: 'Lab', exact: true }).click();
    await page.getByRole('button', { name: 'Live', exact: true }).click();
    expect(Number(await page.locator('[data-testid="live-mpps"]').getAttribute('data-points'))).toBeGreaterThan(first);
  });

  it('opens the finished run\'s report: table, charts, environment, and exports', async () => {
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    await page.waitForSelector('[data-testid="run-progress"][data-state="complete"]', { timeout: 30_000 });
    await page.locator('[data-testid="run-progress"]').first().getByRole('button', { name: 'Open report' }).click();
    await page.waitForSelector('[data-testid="report-rows"] tbody tr');
    expect(await page.locator('[data-testid="report-rows"] tbody tr').count()).toBe(3);
    expect(await page.locator('[data-testid="report-status"]').innerText()).toBe('complete');
    expect(await page.locator('[data-testid="report-environment"]').innerText()).toMatch(/kernel/);
    for (const ink of await canvasInk(page, '[data-testid="report-view"]')) expect(ink).toBeGreaterThan(1000);
    const runId = runs.list()[0]!.runId;
    await page.getByRole('button', { name: 'Export HTML' }).click();
    const link = page.locator('[data-testid="download-link"]').first();
    await link.waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('download-link');
    const download = page.waitForEvent('download');
    await link.click();
    const d = await download;
    expect(d.suggestedFilename()).toBe(`xdplab-${runId}.html`);
    expect(readFileSync((await d.path())!, 'utf8')).toContain('<h1>xdplab report</h1>');
    await page.getByRole('button', { name: 'Charts as PNG' }).click();
    const hrefs = await page.locator('[data-testid="download-link"]').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    expect(hrefs).toHaveLength(3);
    for (const h of hrefs) expect(h).toMatch(/^data:image\/png;base64,.{1000,}/);
    await screenshot(browser, page, 'pages-report.png');
  });

  it('compares two reports: the faster run is flagged beyond noise', async () => {
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="run-progress"][data-state="complete"]').length >= 2, undefined, { timeout: 30_000 });
    await page.getByRole('button', { name: 'Reports', exact: true }).click();
    // Untouched, B is the newest run and A the one before it.
    const [newest, older] = runs.list().map((r) => r.runId);
    await page.waitForSelector(`select[name="a"] option[value="${older}"]`, { state: 'attached' });
    expect(await page.locator('select[name="b"]').inputValue()).toBe(newest);
    expect(await page.locator('select[name="a"]').inputValue()).toBe(older);
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await page.waitForSelector('[data-testid="compare-table"] tbody tr');
    expect(await page.locator('#compare-title').innerText()).toBe(`${older} → ${newest}`);
    expect(await page.locator('[data-testid="compare-summary"]').innerText()).toBe('4 comparisons, 4 beyond noise');
    const text = await page.locator('[data-testid="compare-table"]').innerText();
    expect(text).toContain('+25.0%');
    expect(text).toContain('beyond noise (faster)');
    await screenshot(browser, page, 'pages-compare.png');
  });

  it('pick A, pick B, compare: the picks hold while a run starting elsewhere changes the list', async () => {
    await page.getByRole('button', { name: 'Reports', exact: true }).click();
    const [newest] = runs.list().map((r) => r.runId);
    await page.waitForSelector(`select[name="a"] option[value="${newest}"]`, { state: 'attached' });
    // A run starts (from the CLI, another window): the page hears runState and asks listRuns,
    // whose answer the server holds until the user has picked A.
    const held = holdListRuns(service);
    const next = await runs.start({});
    await expect.poll(() => held.waiting(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.locator('select[name="a"]').selectOption(newest!);
    held.release();
    // B, not picked yet, follows the list to the new run rather than staying where it was.
    await page.waitForSelector(`select[name="b"] option[value="${next.runId}"]`, { state: 'attached' });
    await page.waitForFunction((id) => (document.querySelector('select[name="b"]') as HTMLSelectElement).value === id, next.runId, { timeout: 10_000 });
    expect(await page.locator('select[name="a"]').inputValue()).toBe(newest);
    await next.done;
    await page.locator('select[name="b"]').selectOption(next.runId);
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await page.waitForFunction((t) => document.querySelector('#compare-title')?.textContent === t, `${newest} → ${next.runId}`, { timeout: 10_000 });
    expect(await page.locator('[data-testid="compare-summary"]').innerText()).toBe('4 comparisons, 4 beyond noise');
  });

  it('stops a running run', async () => {
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    await page.getByRole('button', { name: 'Start run' }).click();
    const newest = page.locator('[data-testid="run-progress"]').first();
    await newest.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="run-progress"]')?.getAttribute('data-state') === 'running');
    await newest.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="run-progress"]')?.getAttribute('data-state') === 'stopped');
    expect(violations).toEqual([]);
  });
});
