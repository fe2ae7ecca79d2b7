// Comparing VM backends in the app, in Chromium against the real web server and LabService, with
// the stand-in run engine's VM rows (user and tap iperf3 rows, samples at 2 Hz, runVms, markers
// from a timeline and from the QMP panel): the Runs page's VM backends and plan, the Live page's
// rows on one axis with the markers, its QMP panel, presenter view and replay, and the report's
// whisker charts and markers.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { LabService } from '../../benchmarks/server/lab-service.js';
import { startWebServer, type WebServer } from '../../benchmarks/server/web-server.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { FAKE_VM_BACKENDS, FakeRunManager, noVms } from '../helpers/fake-run-manager.js';
import { missing } from '../helpers/requirements.js';
import { screenshot } from '../helpers/screenshot.js';

const RENDERER = join(PROJECT_ROOT, 'dist', 'renderer', 'index.html');
let built = true;
try { readFileSync(RENDERER); } catch { built = false; }
const reason = missing({ tools: [CHROMIUM] }) ?? (built ? undefined : 'needs the renderer built: npm run build');

function canvasInk(page: Page, selector: string): Promise<number[]> {
  return page.evaluate((sel) => [...document.querySelectorAll(`${sel} canvas`)].map((c) => {
    const cv = c as HTMLCanvasElement;
    const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  }), selector);
}

const attr = (page: Page, testId: string, name: string) => page.locator(`[data-testid="${testId}"]`).first().getAttribute(name);

(reason ? describe.skip : describe)(`VM backends in the app with a stand-in run engine${reason ? ` [skipped: ${reason}]` : ''}`, () => {
  let dir: string;
  let runs: FakeRunManager;
  let service: LabService;
  let server: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let runId = '';
  const violations: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xdplab-vm-pages-'));
    runs = new FakeRunManager(dir, { intervalMs: 400 });
    service = new LabService({ runs, vms: noVms(FAKE_VM_BACKENDS), doctor: async () => [], listInterfaces: async () => [] });
    server = await startWebServer({ service, port: 0 });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
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

  it('Runs page: every VM backend listed, the one that cannot run disabled with its reason; the plan; start sends the VM scenario', async () => {
    await page.goto(`${server.url}#runs`);
    await page.waitForSelector('[data-testid="connection"][data-state="open"]');
    await page.waitForSelector('[data-testid="vm-backends"] li[data-backend="af-xdp"]');
    expect(await page.locator('input[name="backend"][value="af-xdp"]').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid="vm-backends"] li[data-backend="af-xdp"]').innerText()).toMatch(/cannot run here: this QEMU has no af-xdp netdev: install/);
    await page.locator('input[name="engine"][value="txonly"]').uncheck();
    await page.locator('input[name="engine"][value="rxonly"]').uncheck();
    await page.locator('input[name="backend"][value="user"]').check();
    await page.locator('input[name="backend"][value="tap"]').check();
    await page.waitForFunction(() => /2 rows.*2 VM boots/s.test(document.querySelector('[data-testid="plan-summary"]')?.textContent ?? ''));
    expect(await page.locator('[data-testid="plan-summary"]').innerText()).toMatch(/assumed: not measured here yet/);
    expect(await page.locator('[data-testid="plan-rows"] tbody tr').count()).toBe(2);
    await screenshot(browser, page, 'pages-runs-vm.png');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.locator('[data-testid="run-progress"]').first().waitFor();
    expect(runs.started.at(-1)).toEqual({ scenario: { tests: [], vm: { backends: ['user', 'tap'], tests: ['iperf3'], pvp: false, nicModel: 'virtio-net-pci' } }, quick: true });
    runId = runs.list()[0]!.runId;
  });

  it('Live page: both rows on one axis with their backends in the legend, the markers, the QMP panel\'s set_link off becomes a marker', async () => {
    await page.getByRole('button', { name: 'Watch live' }).click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="live-run"]')?.getAttribute('data-markers')) >= 2, undefined, { timeout: 15_000 });
    await page.waitForSelector('[data-testid="run-qmp"][data-vm="vm0"]');
    await page.waitForFunction(() => /vm0 \(tap\)/.test(document.querySelector('[data-testid="live-qmp"]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const legend = (await attr(page, 'live-run', 'data-legend'))!;
    expect(legend).toContain('user — iperf3 Gbps');
    expect(legend).toContain('tap — iperf3 Gbps');
    // Past the tap row's timeline (set_link off at 1 s, on at 2 s, a refused netdev_del at 2.5 s).
    await page.waitForSelector('[data-testid="live-markers"] li.bad', { timeout: 15_000 });
    const before = Number(await attr(page, 'live-run', 'data-markers'));
    await page.getByRole('button', { name: 'set_link off on vm0' }).click();
    await page.waitForFunction(() => /> set_link \{"name":"n0","up":false\}/.test(document.querySelector('[data-testid="qmp-transcript"]')?.textContent ?? ''));
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="live-run"]')?.getAttribute('data-markers')) > n, before);
    expect(await page.locator('[data-testid="live-markers"]').innerText()).toMatch(/tap\/iperf3: set_link .*console/);
    expect(await page.locator('[data-testid="live-markers"] li.bad').innerText()).toMatch(/netdev_del \(vm0\) ✗/);
    // The tap line falls to ~0 within 2 s.
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="live-current"] tbody tr')].some((tr) => /tap/.test(tr.textContent ?? '') && tr.querySelectorAll('td')[0]?.textContent === '0.00'), undefined, { timeout: 2000 });
    for (const ink of await canvasInk(page, '[data-testid="live-run"]')) expect(ink).toBeGreaterThan(1000);
    await screenshot(browser, page, 'pages-live-vm.png');
    await page.getByRole('button', { name: 'set_link on on vm0' }).click();
    await page.waitForFunction(() => (document.querySelector('[data-testid="qmp-transcript"]')?.querySelectorAll('li').length ?? 0) >= 2);
    expect(await page.locator('[data-testid="qmp-transcript"] li.failed').count()).toBe(0);
    // And recovers.
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="live-current"] tbody tr')].some((tr) => /tap/.test(tr.textContent ?? '') && Number(tr.querySelectorAll('td')[0]?.textContent) > 1), undefined, { timeout: 2000 });
    // The hot swap: one button, the engine's netdev_swap (runStep), two console markers.
    const beforeSwap = Number(await attr(page, 'live-run', 'data-markers'));
    await page.getByRole('button', { name: 'netdev_del + netdev_add on vm0' }).click();
    await page.waitForFunction(() => /> netdev_del \+ netdev_add/.test(document.querySelector('[data-testid="qmp-transcript"]')?.textContent ?? ''));
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="live-run"]')?.getAttribute('data-markers')) >= n + 5, beforeSwap);
    expect(await page.locator('[data-testid="qmp-transcript"] li.failed').count()).toBe(0);
    const markersText = await page.locator('[data-testid="live-markers"]').innerText();
    expect(markersText).toMatch(/tap\/iperf3: netdev_del .*console/);
    expect(markersText).toMatch(/tap\/iperf3: netdev_add .*console/);
  });

  it('presenter view: full window with large type, Escape leaves it', async () => {
    await page.getByRole('button', { name: 'Presenter view' }).click();
    await page.waitForSelector('[data-testid="live-main"][data-presenter="true"]');
    const box = await page.locator('[data-testid="live-main"]').boundingBox();
    expect(box!.width).toBeGreaterThan(1300);
    expect(box!.height).toBeGreaterThan(850);
    await screenshot(browser, page, 'pages-live-presenter.png');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid="live-main"][data-presenter="false"]');
  });

  it('report page: whisker charts, both rows with their backend, the markers listed and drawn', async () => {
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    await page.waitForSelector('[data-testid="run-progress"][data-state="complete"]', { timeout: 30_000 });
    await page.locator('[data-testid="run-progress"]').first().getByRole('button', { name: 'Open report' }).click();
    await page.waitForSelector('[data-testid="report-rows"] tbody tr');
    const rowsText = await page.locator('[data-testid="report-rows"]').innerText();
    expect(rowsText).toMatch(/user \(iperf3 intervals\)/);
    expect(rowsText).toMatch(/tap \(iperf3 intervals\)/);
    expect(await attr(page, 'chart-medians-gbps', 'data-interval')).toBe('min–max over trials');
    expect(await attr(page, 'chart-medians-gbps', 'data-bars')).toBe('2');
    const markers = runs.report(runId).markers;
    // set_link off and on, and the hot swap's NIC unplug, netdev_del, netdev_add, NIC plug and the guest's address.
    expect(markers.filter((m) => m.source === 'console').map((m) => m.name)).toEqual(['set_link', 'set_link', 'device_del', 'netdev_del', 'netdev_add', 'device_add', 'guest-ip']);
    expect(await page.locator('[data-testid="report-markers"] tbody tr').count()).toBe(markers.length);
    expect(await page.locator('[data-testid="report-markers"] tbody tr.failed').innerText()).toMatch(/netdev_del/);
    expect(Number(await attr(page, 'chart-timeline', 'data-markers'))).toBe(markers.length);
    for (const ink of await canvasInk(page, '[data-testid="report-view"]')) expect(ink).toBeGreaterThan(1000);
    await screenshot(browser, page, 'pages-report-vm.png');
  });

  it('replays the saved run at 16x with its markers, and stops', async () => {
    await page.getByRole('button', { name: 'Live', exact: true }).click();
    await page.locator('select[name="replay-run"]').focus();
    await page.waitForSelector(`select[name="replay-run"] option[value="${runId}"]`, { state: 'attached' });
    await page.locator('select[name="replay-run"]').selectOption(runId);
    await page.locator('select[name="replay-speed"]').selectOption('16');
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.waitForSelector('[data-testid="live-source"]:text("replaying")');
    const t0 = Date.now();
    await page.waitForSelector('[data-testid="live-source"]:text("replay finished")', { timeout: 10_000 });
    // The 8 s trials of two rows side by side: about 0.5 s at 16x.
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(Number(await attr(page, 'live-run', 'data-markers'))).toBe(runs.report(runId).markers.length);
    await page.locator('select[name="replay-speed"]').selectOption('1');
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.waitForSelector('[data-testid="live-source"]:text("replaying")');
    await page.getByRole('button', { name: 'Stop replay' }).click();
    await page.waitForSelector('[data-testid="live-source"]:text("replay finished")');
    expect(Number(await attr(page, 'live-run', 'data-points'))).toBeLessThan(32);
    expect(violations).toEqual([]);
  });

  it('compares two VM runs row by row (rows keyed with their backend)', async () => {
    const next = await runs.start({ vm: { backends: ['user', 'tap'], tests: ['iperf3'] } }, { quick: true });
    await next.done;
    await page.getByRole('button', { name: 'Reports', exact: true }).click();
    await page.waitForSelector(`select[name="b"] option[value="${next.runId}"]`, { state: 'attached' });
    await page.locator('select[name="a"]').selectOption(runId);
    await page.locator('select[name="b"]').selectOption(next.runId);
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await page.waitForSelector('[data-testid="compare-table"] tbody tr');
    expect(await page.locator('[data-testid="compare-summary"]').innerText()).toMatch(/^2 comparisons/);
    const keys = await page.locator('[data-testid="compare-table"] tbody th').allInnerTexts();
    expect(keys.sort()).toEqual(['iperf3/iperf3/tcp/tap', 'iperf3/iperf3/tcp/user']);
  });
  it('opens a scenario file on the Runs page: its title, the engine\'s plan, and runs it as the file says', async () => {
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    const file = join(PROJECT_ROOT, 'benchmarks', 'scenarios', 'link-flap.json');
    const content = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    await page.locator('input[name="scenario-file"]').setInputFiles(file);
    await page.waitForSelector('[data-testid="scenario-title"]');
    expect(await page.locator('[data-testid="scenario-title"]').innerText()).toBe(content.title);
    expect(await page.locator('[data-testid="scenario-plan"] li').allInnerTexts()).toEqual(['tap/iperf3 (tap): runs', 'user/iperf3 (user): runs']);
    const before = runs.started.length;
    await page.getByRole('button', { name: 'Run this scenario' }).click();
    await expect.poll(() => runs.started.length).toBe(before + 1);
    // The scenario as the file has it (the wire fills in nested defaults), without the file's own members.
    const { title: _t, description: _d, $schema: _s, ...scenario } = content;
    expect(runs.started.at(-1)!.scenario).toMatchObject(scenario);
    // A file that is not a scenario: the engine's error, naming the field.
    await page.locator('input[name="scenario-file"]').setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify({ title: 'x', modes: ['drv'] })) });
    await page.waitForSelector('[data-testid="scenario-file"] [role="alert"]');
    expect(await page.locator('[data-testid="scenario-file"] [role="alert"]').innerText()).toMatch(/modes/);
  });
});
