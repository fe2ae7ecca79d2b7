// The desktop app under Electron, driven by playwright-core: one locked-down window that shows
// the renderer from the app's own protocol, window.xdplab exposing LabApi and nothing else, the
// same validation as the web server over IPC, no Node in the page, no navigation, no new
// windows, nothing remote; the lab engine in a utility process of its own (the main process only
// forwards, test/unit/electron-no-ffi.test.ts shows it loads no FFI). Needs Electron's binary (downloaded by the electron package on a
// machine with internet); skipped with that reason where it is missing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { artifactPath } from '../helpers/browser.js';

function electronBinary(): { bin?: string; why?: string } {
  const pkg = join(PROJECT_ROOT, 'node_modules', 'electron');
  const pathTxt = join(pkg, 'path.txt');
  const bin = existsSync(pathTxt) ? join(pkg, 'dist', readFileSync(pathTxt, 'utf8').trim()) : undefined;
  if (!bin || !existsSync(bin)) return { why: 'needs the Electron binary: node_modules/electron/dist is missing (the electron package downloads it on install, which needs internet; npm start falls back to web mode)' };
  if (!existsSync(join(PROJECT_ROOT, 'dist', 'electron', 'main.js')) || !existsSync(join(PROJECT_ROOT, 'dist', 'renderer', 'index.html'))) return { why: 'needs the build: npm run build' };
  return { bin };
}

const { bin, why } = electronBinary();

(why ? describe.skip : describe)(`the desktop app (Electron)${why ? ` [skipped: ${why}]` : ''}`, () => {
  let app: ElectronApplication;
  let page: Page;

  beforeAll(async () => {
    app = await _electron.launch({
      executablePath: bin!,
      // Chromium refuses to start as root with its sandbox: the app says so on stderr.
      args: [PROJECT_ROOT, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      cwd: PROJECT_ROOT,
    });
    page = await app.firstWindow();
    await page.waitForSelector('[data-testid="connection"][data-state="open"]');
  }, 60_000);

  afterAll(async () => { await app?.close(); }, 60_000);

  it('opens one window with the page from the app protocol, locked down', async () => {
    expect(app.windows()).toHaveLength(1);
    expect(page.url()).toMatch(/^xdplab:\/\/app\/index\.html/);
    const prefs = await app.evaluate(({ BrowserWindow }) => {
      // An internal of Electron's (not in electron.d.ts), the preferences the page runs with.
      const wc = BrowserWindow.getAllWindows()[0]!.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> };
      const p = wc.getLastWebPreferences();
      return { contextIsolation: p.contextIsolation, sandbox: p.sandbox, nodeIntegration: p.nodeIntegration, webSecurity: p.webSecurity };
    });
    expect(prefs).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
  });

  it('exposes LabApi (call and on) and nothing of Node', async () => {
    const shape = await page.evaluate(() => ({
      keys: Object.keys((window as unknown as { xdplab: object }).xdplab).sort(),
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (globalThis as unknown as { process?: unknown }).process,
      buffer: typeof (globalThis as unknown as { Buffer?: unknown }).Buffer,
    }));
    expect(shape).toEqual({ keys: ['call', 'on'], require: 'undefined', process: 'undefined', buffer: 'undefined' });
  });

  it('runs the engine in a utility process, not in the main process', async () => {
    const names = await app.evaluate(({ app: a }) => a.getAppMetrics().filter((m) => m.type === 'Utility').map((m) => m.name ?? ''));
    expect(names).toContain('xdplab engine');
  });

  it('validates every IPC request like the web server (in the engine process)', async () => {
    const r = await page.evaluate(async () => {
      const x = (window as unknown as { xdplab: { call(c: string, a: unknown): Promise<unknown> } }).xdplab;
      const out: unknown[] = [];
      for (const [c, a] of [['nope', {}], ['startVm', { backend: 'carrier-pigeon' }], ['listVms', {}]] as const) {
        try { out.push({ ok: await x.call(c, a) }); } catch (e) { out.push({ error: e }); }
      }
      return out;
    });
    expect(r[0]).toMatchObject({ error: { code: 'EUNKNOWNCOMMAND' } });
    expect(r[1]).toMatchObject({ error: { code: 'EINVALIDARGS', field: 'args.backend' } });
    expect(r[2]).toEqual({ ok: [] });
  });

  it('blocks navigation, new windows, remote requests and inline scripts', async () => {
    const before = page.url();
    const r = await page.evaluate(async () => {
      const out: Record<string, string> = {};
      out.open = window.open('https://example.com') === null ? 'denied' : 'opened';
      try { await fetch('http://127.0.0.1:9/'); out.fetch = 'reached'; } catch { out.fetch = 'blocked'; }
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      out.inline = (window as unknown as { __inline?: number }).__inline === 1 ? 'ran' : 'blocked';
      location.href = 'https://example.com/';
      await new Promise((res) => setTimeout(res, 500));
      return out;
    });
    expect(r).toEqual({ open: 'denied', fetch: 'blocked', inline: 'blocked' });
    expect(page.url()).toBe(before);
    expect(app.windows()).toHaveLength(1);
  });

  it('shows doctor results on the Lab page', async () => {
    await page.waitForSelector('[data-testid="doctor-table"] tbody tr', { timeout: 60_000 });
    await page.screenshot({ path: artifactPath('electron-lab.png') });
  });
});
