// The app's Reports page in Chromium, against the real web server and its CSP: a schema-3
// report's rate searches, latency and frame-size sweep drawn (the HDR histograms decoded in the
// page, with no eval and no CSP violation), and no console error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { LabService } from '../../benchmarks/server/lab-service.js';
import { startWebServer, type WebServer } from '../../benchmarks/server/web-server.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { FakeRunManager, noVms } from '../helpers/fake-run-manager.js';
import { missing } from '../helpers/requirements.js';
import { searchReport } from '../helpers/sample-report.js';
import { screenshot } from '../helpers/screenshot.js';

let built = true;
try { readFileSync(join(PROJECT_ROOT, 'dist', 'renderer', 'index.html')); } catch { built = false; }
const reason = missing({ tools: [CHROMIUM] }) ?? (built ? undefined : 'needs the renderer built: npm run build');

(reason ? describe.skip : describe)(`Reports page: rate searches, latency, sweeps${reason ? ` [skipped: ${reason}]` : ''}`, () => {
  let dir: string;
  let service: LabService;
  let server: WebServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const report = searchReport('v3search');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xdplab-search-page-'));
    service = new LabService({ runs: new FakeRunManager(dir), vms: noVms(), doctor: async () => [], listInterfaces: async () => [] });
    // One finished run: this report.
    service.handlers.listRuns = async () => [{ runId: report.id, createdAt: report.createdAt, status: report.status, command: report.command, rows: report.rows.length }];
    service.handlers.getReport = async () => report;
    server = await startWebServer({ service, port: 0 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Console errors but the browser's own ask for /favicon.ico (the app has none).
    page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`${r.status()} ${r.url()}`); });
    page.on('console', (m) => { if ((m.type() === 'error' && !/status of 404/.test(m.text())) || /Content[- ]Security[- ]Policy/i.test(m.text())) problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await service?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the NDR/PDR table, a loss chart per search, the latency chart and table, the sweep, all drawn', async () => {
    await page.goto(`${server.url}#reports`);
    await page.getByRole('button', { name: 'Reports', exact: true }).click();
    await page.locator('select[name="run"]').selectOption(report.id);
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    await page.waitForSelector('[data-testid="report-searches"] tbody tr');
    expect(await page.locator('[data-testid="report-searches"] tbody tr').count()).toBe(8);
    expect(await page.locator('[data-testid="chart-search"]').count()).toBe(4);
    expect(await page.locator('[data-testid="chart-search"]').first().getAttribute('data-goals')).toBe('ndr=2|pdr=2.4');
    expect(await page.locator('[data-testid="chart-latency"]').getAttribute('data-curves')).toBe('idle|10% of PDR|50% of PDR|90% of PDR');
    const latency = await page.locator('[data-testid="report-latency"] tbody tr').allInnerTexts();
    expect(latency.map((r) => r.split('\t')[1])).toEqual(['idle', '10% of PDR', '50% of PDR', '90% of PDR']);
    expect(await page.locator('[data-testid="chart-sweep"]').getAttribute('data-sizes')).toBe('64B|1518B|imix (mean 353B)');
    const ink = await page.evaluate(() => [...document.querySelectorAll('[data-testid^="chart-search"] canvas, [data-testid="chart-latency"] canvas, [data-testid="chart-sweep"] canvas')].map((c) => {
      const cv = c as HTMLCanvasElement;
      const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    }));
    expect(ink.length).toBe(6);
    for (const n of ink) expect(n).toBeGreaterThan(1000);
    expect(problems).toEqual([]);
    await screenshot(browser, page, 'pages-report-search.png');
  });
});
