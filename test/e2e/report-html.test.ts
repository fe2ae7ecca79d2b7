// report.html opened from disk in a real Chromium, offline: the charts are drawn.
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ReportWriter } from '../../benchmarks/report/writer.js';
import { artifactPath, CHROMIUM, launchChromium } from '../helpers/browser.js';
import { suite } from '../helpers/requirements.js';
import { sampleReport } from '../helpers/sample-report.js';

suite('report.html in Chromium', { tools: [CHROMIUM] }, () => {
  let browser: Browser;
  let dir: string;
  beforeAll(async () => {
    browser = await launchChromium();
    dir = mkdtempSync(join(tmpdir(), 'xdplab-html-'));
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('opens offline from disk with its charts drawn and every row in the table', async () => {
    const w = new ReportWriter(dir, sampleReport('html', (r, t, k) => 1e6 * (1 + r) * (1 + 0.05 * k)));
    w.finish('complete');
    const file = join(w.dir, 'report.html');
    expect(readdirSync(w.dir)).toContain('report.html');
    const context = await browser.newContext({ offline: true });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    // Count non-transparent pixels on each chart: a blank canvas has none.
    const inked = await page.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    }));
    expect(inked.length).toBe(3);
    for (const n of inked) expect(n).toBeGreaterThan(1000);
    expect(await page.locator('#results tbody tr').count()).toBe(3);
    expect(requests).toEqual([]);
    await page.screenshot({ path: artifactPath('report-html.png'), fullPage: true });
    await context.close();
  });
});
