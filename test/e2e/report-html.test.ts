// report.html opened from disk in a real Chromium, offline: the charts are drawn (schema 3's
// searches, latency and sweeps too), without a console error.
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ReportWriter } from '../../benchmarks/report/writer.js';
import { artifactPath, CHROMIUM, launchChromium } from '../helpers/browser.js';
import { suite } from '../helpers/requirements.js';
import { sampleReport, searchReport, vmReport } from '../helpers/sample-report.js';

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

  it('a VM run: median bars with min-max whiskers, both rows with their backend, the markers listed and drawn on the time chart', async () => {
    const report = vmReport('html-vm', ['user', 'tap'], (b, k) => (b === 'tap' ? 9e9 : 3e9) * (1 + 0.05 * (k % 3)));
    report.markers = [
      { row: 'tap/iperf3', trial: 0, tMs: 2000, kind: 'command', name: 'set_link', vm: 'vm0', source: 'console', ok: true, detail: '{"name":"n0","up":false}' },
      { row: 'tap/iperf3', trial: 0, tMs: 2500, kind: 'command', name: 'netdev_del', vm: 'vm0', source: 'timeline', ok: false, detail: "</script><b>Device 'n1' not found" },
      { row: 'tap/iperf3', trial: 0, tMs: 4000, kind: 'command', name: 'set_link', vm: 'vm0', source: 'console', ok: true },
    ];
    const w = new ReportWriter(dir, report);
    w.finish('complete');
    const context = await browser.newContext({ offline: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(pathToFileURL(join(w.dir, 'report.html')).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    expect(errors).toEqual([]);
    const charts = await page.evaluate(() => {
      const g = globalThis as unknown as { Chart: { getChart(c: HTMLCanvasElement): { config: { type: string }; data: { datasets: { data: unknown[] }[] } } | undefined } };
      return [...document.querySelectorAll('canvas')].map((c) => ({ id: c.id, type: g.Chart.getChart(c as HTMLCanvasElement)?.config.type, markers: (c as HTMLCanvasElement).dataset.markers }));
    });
    expect(charts.find((c) => c.id === 'chart-bps')?.type).toBe('barWithErrorBars');
    expect(charts.find((c) => c.id === 'chart-timeline')).toMatchObject({ type: 'line', markers: '3' });
    const bars = await page.evaluate(() => {
      const g = globalThis as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: { data: { y: number; yMin: number; yMax: number }[] }[] } } | undefined } };
      return g.Chart.getChart(document.getElementById('chart-bps') as HTMLCanvasElement)!.data.datasets[0]!.data;
    });
    for (const b of bars) { expect(b.yMin).toBeLessThan(b.y); expect(b.yMax).toBeGreaterThan(b.y); }
    const inked = await page.evaluate(() => [...document.querySelectorAll('canvas')].filter((c) => (c as HTMLCanvasElement).offsetParent).map((c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    }));
    for (const n of inked) expect(n).toBeGreaterThan(1000);
    const results = await page.locator('#results').innerText();
    expect(results).toMatch(/user \(iperf3 intervals\)/);
    expect(results).toMatch(/tap \(iperf3 intervals\)/);
    expect(await page.locator('#markers tbody tr').count()).toBe(3);
    expect(await page.locator('#markers tbody tr.failed').innerText()).toContain("</script><b>Device 'n1' not found");
    expect(requests).toEqual([]);
    await page.screenshot({ path: artifactPath('report-html-vm.png'), fullPage: true });
    await context.close();
  });
  it('a schema-3 report: loss per offered load with NDR and PDR lines, latency percentile curves overlaid, the frame-size sweep, their tables, no console error', async () => {
    const w = new ReportWriter(dir, searchReport('html-search'));
    w.finish('complete');
    expect(readdirSync(w.dir)).toContain('search-trials.csv');
    const context = await browser.newContext({ offline: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(pathToFileURL(join(w.dir, 'report.html')).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    expect(errors).toEqual([]);
    type Drawn = { id: string; type?: string; points: number[]; annotations: { type: string; value?: number; label?: { content: string[] } }[]; ink: number; ticks: string[] };
    const charts: Drawn[] = await page.evaluate(() => {
      type C = { config: { type: string }; data: { datasets: { data: unknown[] }[] }; options: { plugins: { annotation?: { annotations: Record<string, unknown> } } }; scales: Record<string, { ticks: { label: string }[] }> };
      const g = globalThis as unknown as { Chart: { getChart(c: HTMLCanvasElement): C | undefined } };
      return [...document.querySelectorAll('canvas')].map((c) => {
        const ch = g.Chart.getChart(c as HTMLCanvasElement);
        const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
        let ink = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) ink++;
        return { id: c.id, type: ch?.config.type, points: ch?.data.datasets.map((s) => s.data.length) ?? [], annotations: Object.values(ch?.options.plugins.annotation?.annotations ?? {}) as Drawn['annotations'], ink, ticks: (ch?.scales.x?.ticks ?? []).map((t) => t.label) };
      });
    });
    const searches = charts.filter((c) => c.id.startsWith('chart-search-'));
    expect(searches.length).toBe(4);
    const s64 = searches[0]!;
    expect(s64.points.reduce((a, b) => a + b, 0)).toBe(7);
    const lines = s64.annotations.filter((a) => a.type === 'line');
    expect(lines.map((a) => a.value)).toEqual([2, 2.4]);
    expect(lines[0]!.label!.content[0]).toMatch(/^NDR 2\.000 Mpps/);
    expect(s64.annotations.filter((a) => a.type === 'box').length).toBe(2);
    const latency = charts.filter((c) => c.id.startsWith('chart-latency-'));
    expect(latency.length).toBe(1);
    expect(latency[0]!.points.length).toBe(4);
    expect(latency[0]!.ticks.filter((t) => t)).toEqual(expect.arrayContaining(['0%', '90%', '99%', '99.9%', '99.99%']));
    const sweep = charts.find((c) => c.id === 'chart-sweep-0')!;
    expect(sweep).toMatchObject({ type: 'bar', points: [3, 3] });
    for (const c of [...searches, ...latency, sweep]) expect(c.ink, c.id).toBeGreaterThan(1000);
    expect(await page.locator('#searches tbody tr').count()).toBe(8);
    expect(await page.locator('#searches').innerText()).toMatch(/time cap reached after 42 s/);
    expect(await page.locator('p.note').allInnerTexts()).toEqual(expect.arrayContaining([expect.stringMatching(/^PDR did not converge/), expect.stringMatching(/^generator-bound/)]));
    const latencyRows = await page.locator('#latency tbody tr').allInnerTexts();
    expect(latencyRows.map((r) => r.split('\t')[1])).toEqual(['idle', '10% of PDR', '50% of PDR', '90% of PDR']);
    expect(requests).toEqual([]);
    await page.screenshot({ path: artifactPath('report-html-search.png'), fullPage: true });
    await context.close();
  });

  it('a v1 report draws as before: no search, latency or sweep sections', async () => {
    const w = new ReportWriter(dir, { ...sampleReport('html-v1', () => 1e6), schemaVersion: 1 });
    w.finish('complete');
    expect(readdirSync(w.dir)).not.toContain('search-trials.csv');
    const context = await browser.newContext({ offline: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(join(w.dir, 'report.html')).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    expect(errors).toEqual([]);
    expect(await page.locator('canvas').count()).toBe(3);
    expect(await page.locator('#searches, #latency').count()).toBe(0);
    await context.close();
  });
});
