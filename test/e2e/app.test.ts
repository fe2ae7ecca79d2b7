// The app in web mode, end to end: `xdplab serve` (the compiled command, in its own process, on a
// random port, with the real engine) driven by Debian's Chromium through playwright-core.
// Covers the token (403 without it, no WebSocket), malformed messages (an error, the connection
// stays usable), the renderer reaching nothing outside LabApi (CSP), the Lab page's doctor
// results, keyboard use, and, when the engine parts are there: a quick run watched live and its
// report, comparing two reports, and a QMP console session with a real VM.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import WebSocket from 'ws';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { missing } from '../helpers/requirements.js';
import { screenshot } from '../helpers/screenshot.js';
import { startServe, type Served } from '../helpers/serve.js';

const RENDERER = join(PROJECT_ROOT, 'dist', 'renderer', 'index.html');
const SERVE = join(PROJECT_ROOT, 'dist', 'benchmarks', 'cli', 'commands', 'serve.js');

/** Why the engine cannot run a bench here, or undefined when it can. */
function runEngineMissing(): string | undefined {
  if (!existsSync(join(PROJECT_ROOT, 'benchmarks', 'runs', 'run-manager.ts'))) return 'needs the run engine: benchmarks/runs/run-manager.ts (RunManager) is not written yet';
  if (!existsSync(join(PROJECT_ROOT, 'dist', 'benchmarks', 'runs', 'run-manager.js'))) return 'needs the run engine built: npm run build';
  return missing({ root: true });
}

/** Why a VM cannot start here, or undefined when it can. */
function vmMissing(): string | undefined {
  return missing({ tools: ['qemu-system-x86_64', 'apt-get', 'dpkg', 'depmod', 'xz'] });
}

/** describe(), or describe.skip() with the reason in the name (the summary lists it). */
function suiteIf(reason: string | undefined, name: string, fn: () => void): void {
  if (reason) describe.skip(`${name} [skipped: ${reason}]`, fn);
  else describe(name, fn);
}

function wsOpen(url: string): Promise<{ ws: WebSocket; next(): Promise<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const queue: Record<string, unknown>[] = [];
    const waiters: ((m: Record<string, unknown>) => void)[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Record<string, unknown>;
      if (m.type === 'event') return;
      const w = waiters.shift();
      if (w) w(m); else queue.push(m);
    });
    ws.once('open', () => resolve({ ws, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) }));
    ws.once('error', reject);
  });
}

const needsBuild = !existsSync(RENDERER) || !existsSync(SERVE) ? 'needs the build: npm run build (dist/renderer and dist/benchmarks)' : undefined;

suiteIf(missing({ tools: [CHROMIUM] }) ?? needsBuild, 'the app in web mode (xdplab serve + Chromium)', () => {
  let served: Served;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** CSP violations the page reported (console), outside the tests that provoke them. */
  const violations: string[] = [];

  beforeAll(async () => {
    served = await startServe();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => { if (/Content[- ]Security[- ]Policy/i.test(m.text())) violations.push(m.text()); });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await served?.stop();
    expect(served?.proc.exitCode ?? 0, `xdplab serve stderr: ${served?.stderr()}`).toBe(0);
  }, 60_000);

  it('refuses the page, its assets and the WebSocket without the token (HTTP 403)', async () => {
    const base = `http://127.0.0.1:${served.port}`;
    for (const path of ['/', '/index.html', '/?token=', `/?token=${served.token.slice(0, -1)}x`, '/assets/', '/api']) {
      const r = await fetch(base + path);
      expect(r.status, path).toBe(403);
      expect(r.headers.get('access-control-allow-origin'), path).toBeNull();
    }
    const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(readFileSync(RENDERER, 'utf8'))![1]!;
    expect((await fetch(`${base}/${asset}`)).status).toBe(403);
    // Another name for 127.0.0.1 (DNS rebinding) is refused even with the token.
    const rebound = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: served.port, path: `/?token=${served.token}`, headers: { Host: `evil.example:${served.port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end();
    });
    expect(rebound).toBe(403);
    for (const url of [`ws://127.0.0.1:${served.port}/api`, `ws://127.0.0.1:${served.port}/api?token=wrong`]) {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
        ws.on('open', () => { ws.close(); reject(new Error(`${url} opened`)); });
        ws.on('error', () => {});
      });
      expect(status, url).toBe(403);
    }
    // A page of another origin cannot open it either, token or not.
    const cross = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${served.port}/api?token=${served.token}`, { origin: 'http://evil.example' });
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
      ws.on('open', () => { resolve(101); ws.close(); });
      ws.on('error', () => {});
    });
    expect(cross).toBe(403);
  });

  it('serves the page with the token, with strict security headers', async () => {
    const r = await fetch(served.url);
    expect(r.status).toBe(200);
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(r.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await fetch(served.url, { method: 'POST' })).status).toBe(405);
  });

  it('answers a malformed message with an error and keeps the connection usable', async () => {
    const { ws, next } = await wsOpen(`ws://127.0.0.1:${served.port}/api?token=${served.token}`);
    try {
      ws.send('{"type":"request",');
      const bad = await next();
      expect(bad).toMatchObject({ type: 'response', id: -1, ok: false, error: { code: 'EBADJSON' } });
      ws.send(JSON.stringify({ type: 'request', id: 7, command: 'rm -rf', args: {} }));
      const unknown = await next() as { error: { message: string } };
      expect(unknown).toMatchObject({ id: 7, ok: false, error: { code: 'EUNKNOWNCOMMAND' } });
      expect(unknown.error.message).toContain('doctor, listInterfaces, startRun');
      ws.send(JSON.stringify({ type: 'request', id: 8, command: 'startVm', args: { backend: 'carrier-pigeon' } }));
      expect(await next()).toMatchObject({ id: 8, ok: false, error: { code: 'EINVALIDARGS', field: 'args.backend' } });
      ws.send(JSON.stringify({ type: 'request', id: 9, command: 'listVms', args: {}, extra: 1 }));
      expect(await next()).toMatchObject({ id: 9, ok: false, error: { code: 'EBADREQUEST' } });
      ws.send(Buffer.from([1, 2, 3]));
      expect(await next()).toMatchObject({ ok: false, error: { code: 'EBADREQUEST' } });
      // Still usable:
      ws.send(JSON.stringify({ type: 'request', id: 10, command: 'listVms', args: {} }));
      expect(await next()).toMatchObject({ id: 10, ok: true, result: [] });
      // Over the size limit: the server closes with 1009 and a reason; other clients are fine.
      const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
      ws.send('x'.repeat((1 << 20) + 1));
      expect((await closed).code).toBe(1009);
    } finally { ws.terminate(); }
    const again = await wsOpen(`ws://127.0.0.1:${served.port}/api?token=${served.token}`);
    again.ws.send(JSON.stringify({ type: 'request', id: 1, command: 'listInterfaces', args: {} }));
    expect(await again.next()).toMatchObject({ id: 1, ok: true });
    again.ws.close();
  });

  it('loads with the token and shows doctor results on the Lab page', async () => {
    await page.goto(served.url);
    await page.waitForSelector('[data-testid="connection"][data-state="open"]', { timeout: 15_000 });
    await page.waitForSelector('[data-testid="doctor-table"] tbody tr', { timeout: 60_000 });
    const rows = await page.locator('[data-testid="doctor-table"] tbody tr').count();
    expect(rows).toBeGreaterThanOrEqual(5);
    expect(await page.locator('[data-testid="doctor-table"]').innerText()).toMatch(/af-xdp/);
    await page.waitForSelector('[data-testid="interfaces-table"] tbody tr');
    expect(await page.locator('[data-testid="interfaces-table"]').innerText()).toMatch(/\blo\b/);
    await screenshot(browser, page, 'app-lab.png');
  });

  it('is usable from the keyboard: Tab reaches the pages, Enter opens one, focus is visible', async () => {
    await page.goto(served.url);
    await page.waitForSelector('[data-testid="connection"][data-state="open"]');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Lab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Runs');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.waitForSelector('main[data-page="runs"]');
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('MAIN');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('engine');
    await screenshot(browser, page, 'app-runs.png');
  });

  it('reads well in dark mode too', async () => {
    const dark = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    const p = await dark.newPage();
    await p.goto(`${served.url}#vms`);
    await p.waitForSelector('main[data-page="vms"]');
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(17, 24, 39)');
    await screenshot(browser, p, 'app-vms-dark.png');
    await dark.close();
  });

  it('lets the renderer reach nothing outside LabApi (CSP blocks other origins and inline scripts)', async () => {
    let hits = 0;
    const other: Server = createServer((_req, res) => { hits++; res.setHeader('Access-Control-Allow-Origin', '*'); res.end('reached'); });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const otherPort = (other.address() as AddressInfo).port;
    try {
      await page.goto(served.url);
      await page.waitForSelector('[data-testid="connection"][data-state="open"]');
      const seen = violations.length;
      const result = await page.evaluate(async (port) => {
        const blocked: string[] = [];
        document.addEventListener('securitypolicyviolation', (e) => blocked.push(e.effectiveDirective));
        const out: Record<string, string> = {};
        try { await fetch(`http://127.0.0.1:${port}/`); out.fetch = 'reached'; } catch { out.fetch = 'blocked'; }
        out.ws = await new Promise<string>((resolve) => {
          try {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
            ws.onopen = () => resolve('reached');
            ws.onerror = () => resolve('blocked');
          } catch { resolve('blocked'); }
        });
        const s = document.createElement('script');
        s.textContent = 'window.__inline = 1';
        document.body.append(s);
        out.inline = (window as unknown as { __inline?: number }).__inline === 1 ? 'ran' : 'blocked';
        const img = new Image();
        out.img = await new Promise<string>((resolve) => { img.onload = () => resolve('reached'); img.onerror = () => resolve('blocked'); img.src = `http://127.0.0.1:${port}/x.png`; });
        await new Promise((r) => setTimeout(r, 200));
        out.directives = [...new Set(blocked)].sort().join(',');
        return out;
      }, otherPort);
      expect(result).toMatchObject({ fetch: 'blocked', ws: 'blocked', inline: 'blocked', img: 'blocked' });
      expect(result.directives).toContain('connect-src');
      expect(result.directives).toMatch(/script-src/);
      expect(result.directives).toContain('img-src');
      expect(hits).toBe(0);
      // Only the violations provoked here: the app itself never trips the CSP.
      violations.splice(seen);
      expect(violations).toEqual([]);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  suiteIf(runEngineMissing(), 'runs', () => {
    it('starts a quick run on the default lab, the live chart gains points, and its report opens', async () => {
      await page.goto(`${served.url}#runs`);
      await page.waitForSelector('[data-testid="connection"][data-state="open"]');
      await page.getByRole('button', { name: 'Start run' }).click();
      const run = page.locator('[data-testid="run-progress"]').first();
      await run.waitFor({ timeout: 30_000 });
      const runId = await run.getAttribute('data-run-id');
      await page.getByRole('button', { name: 'Watch live' }).click();
      const chart = page.locator('[data-testid="live-mpps"]');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="live-mpps"]')?.getAttribute('data-points') ?? 0) >= 2, undefined, { timeout: 120_000 });
      const first = Number(await chart.getAttribute('data-points'));
      await page.waitForFunction((n) => Number(document.querySelector('[data-testid="live-mpps"]')?.getAttribute('data-points') ?? 0) > n, first, { timeout: 60_000 });
      await screenshot(browser, page, 'app-live.png');
      await page.getByRole('button', { name: 'Runs', exact: true }).click();
      await page.waitForSelector(`[data-testid="run-progress"][data-run-id="${runId}"]:not([data-state="running"])`, { timeout: 300_000 });
      expect(await page.locator(`[data-testid="run-progress"][data-run-id="${runId}"]`).getAttribute('data-state')).toBe('complete');
      await page.locator(`[data-testid="run-progress"][data-run-id="${runId}"]`).getByRole('button', { name: 'Open report' }).click();
      await page.waitForSelector('[data-testid="report-view"] [data-testid="report-rows"] tbody tr', { timeout: 30_000 });
      expect(await page.locator('[data-testid="report-status"]').innerText()).toBe('complete');
      await page.getByRole('button', { name: 'Export CSV' }).click();
      const download = page.waitForEvent('download');
      await page.locator('[data-testid="download-link"]').first().click();
      expect((await download).suggestedFilename()).toBe(`xdplab-${runId}.csv`);
      await page.getByRole('button', { name: 'Charts as PNG' }).click();
      expect(await page.locator('[data-testid="download-link"]').count()).toBeGreaterThanOrEqual(1);
      expect(await page.locator('[data-testid="download-link"]').first().getAttribute('href')).toMatch(/^data:image\/png;base64,/);
      await screenshot(browser, page, 'app-report.png');
    }, 600_000);

    it('compares two reports: deltas and beyond-noise flags', async () => {
      await page.goto(`${served.url}#runs`);
      await page.waitForSelector('[data-testid="connection"][data-state="open"]');
      const before = await page.locator('[data-testid="run-progress"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')));
      await page.getByRole('button', { name: 'Start run' }).click();
      // Wait for this run, not for one an earlier test left on the page.
      await page.waitForFunction((old) => [...document.querySelectorAll('[data-testid="run-progress"]')].some((e) => !old.includes(e.getAttribute('data-run-id'))), before, { timeout: 30_000 });
      const runId = await page.locator('[data-testid="run-progress"]').evaluateAll((els, old) => els.map((e) => e.getAttribute('data-run-id')).find((id) => !old.includes(id)), before);
      await page.waitForSelector(`[data-testid="run-progress"][data-run-id="${runId}"]:not([data-state="running"])`, { timeout: 300_000 });
      // The natural path: open Reports, pick A (the run before this one), pick B (this run),
      // compare; the comparison must be of exactly those two, with no waiting for the page's
      // run list to settle first.
      await page.getByRole('button', { name: 'Reports', exact: true }).click();
      await page.waitForSelector(`select[name="a"] option[value="${runId}"]`, { state: 'attached', timeout: 30_000 });
      const ids = await page.locator('select[name="a"] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
      const previous = ids[ids.indexOf(runId!) + 1];
      expect(previous, 'an earlier run to compare with (the quick-run test leaves one)').toBeDefined();
      await page.locator('select[name="a"]').selectOption(previous!);
      await page.locator('select[name="b"]').selectOption(runId!);
      await page.getByRole('button', { name: 'Compare', exact: true }).click();
      await page.waitForSelector('[data-testid="compare-view"]', { timeout: 30_000 });
      expect(await page.locator('#compare-title').innerText()).toBe(`${previous} → ${runId}`);
      expect(await page.locator('[data-testid="compare-summary"]').innerText()).toMatch(/\d+ comparisons?, \d+ beyond noise/);
      expect(await page.locator('[data-testid="compare-table"] tbody tr').count()).toBeGreaterThan(0);
      await screenshot(browser, page, 'app-compare.png');
    }, 600_000);
  });

  suiteIf(vmMissing(), 'VMs and QMP', () => {
    it('starts a VM, runs query-version and set_link in the QMP console, sees QMP events, stops it', async () => {
      await page.goto(`${served.url}#vms`);
      await page.waitForSelector('[data-testid="connection"][data-state="open"]');
      // The QEMU setting offers what the engine found, the one in use selected, with its version.
      const qemu = page.getByLabel('QEMU');
      await page.waitForFunction(() => /\(\d+\.\d+/.test(document.querySelector('select[name="qemu"] option:checked')?.textContent ?? ''), undefined, { timeout: 30_000 });
      expect(await qemu.inputValue()).toMatch(/qemu-system-x86_64$/);
      await page.getByLabel('Backend').selectOption('user');
      await page.getByRole('button', { name: 'Start VM' }).click();
      // The first start may build the guest image (minutes); later ones boot in seconds.
      await page.waitForSelector('[data-testid="vms-table"] tr[data-state="running"]', { timeout: 300_000 });
      const cmd = page.getByLabel('Command');
      await page.waitForFunction(() => /^[1-9]\d* commands/.test(document.querySelector('#qmp-help')?.textContent ?? ''), undefined, { timeout: 30_000 });
      await cmd.fill('query-vers');
      await cmd.press('Tab');
      expect(await cmd.inputValue()).toBe('query-version');
      await cmd.press('Enter');
      const transcript = page.locator('[data-testid="qmp-transcript"]');
      await transcript.locator('li').first().waitFor();
      expect(await transcript.innerText()).toMatch(/"major": \d+/);

      await cmd.fill('set_link');
      await page.getByLabel('Arguments (JSON object, optional)').fill('{"name": "n0", "up": false}');
      await page.getByRole('button', { name: 'Execute' }).click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="qmp-transcript"] li').length >= 2);
      expect(await transcript.locator('li').nth(1).innerText()).toMatch(/> set_link \{"name":"n0","up":false\}\s+\{\}/);

      await cmd.fill('human-monitor-command');
      await page.getByLabel('Arguments (JSON object, optional)').fill('{"command-line": "info network"}');
      await cmd.press('Enter');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="qmp-transcript"] li').length >= 3);
      expect(await transcript.locator('li').nth(2).innerText()).toMatch(/EREFUSED|refused/);

      // stop + cont raise STOP and RESUME events on the stream.
      await page.getByLabel('Arguments (JSON object, optional)').fill('');
      for (const c of ['stop', 'cont']) { await cmd.fill(c); await cmd.press('Enter'); }
      await page.waitForFunction(() => /RESUME/.test(document.querySelector('[data-testid="qmp-events"]')?.textContent ?? ''), undefined, { timeout: 15_000 });
      expect(await page.locator('[data-testid="qmp-events"]').innerText()).toMatch(/STOP[\s\S]*RESUME/);
      await screenshot(browser, page, 'app-qmp.png');

      await page.locator('[data-testid="vms-table"] tr[data-state="running"]').getByRole('button', { name: /^Stop/ }).click();
      await page.waitForSelector('[data-testid="vms-table"] tr[data-state="stopped"]', { timeout: 60_000 });
    }, 600_000);
  });
});
