// The UI side of bench:ui: what `xdplab serve` builds around the RunManager (a LabService and the
// web server on 127.0.0.1 with its token) and Debian's Chromium, driven by playwright-core, on
// the Live page with the frame probe installed. Chromium is started through `taskset -c CPU`
// so that it and every process it forks (renderer, GPU, utility) stay off the DUT's CPU.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RunManagerApi } from '../runs/run-manager-api.js';
import { LabService } from '../server/lab-service.js';
import { VmManager } from '../server/vm-manager.js';
import { startWebServer, type WebServer } from '../server/web-server.js';
import { FRAME_COLLECT, FRAME_PROBE, type FrameRecording } from './ui-frames.js';

export const CHROMIUM = process.env.XDPLAB_CHROMIUM ?? '/usr/bin/chromium';

export interface AttachedUi {
  url: string;
  /** Points the Live page's Mpps chart has drawn (proof that it charted the run). */
  pointsDrawn(): Promise<number>;
  frames(): Promise<FrameRecording>;
  close(): Promise<void>;
}

/** A shell script that runs Chromium pinned: playwright-core spawns it with Chromium's arguments. */
function pinnedChromium(cpu: number): { path: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'xdplab-ui-bench-'));
  const path = join(dir, 'chromium');
  writeFileSync(path, `#!/bin/sh\nexec taskset -c ${cpu} ${CHROMIUM} "$@"\n`);
  chmodSync(path, 0o755);
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** probeFrames: install the frame probe (its rAF loop costs CPU of its own: only for frame times). */
export async function attachUi(runs: RunManagerApi, chromiumCpu: number, options: { probeFrames: boolean }): Promise<AttachedUi> {
  const service = new LabService({ runs, vms: new VmManager(), warn: (m) => process.stderr.write(`bench:ui: server: ${m}\n`) });
  let server: WebServer | undefined;
  let browser: Browser | undefined;
  const exe = pinnedChromium(chromiumCpu);
  const close = async () => {
    await browser?.close().catch(() => {});
    await server?.close().catch(() => {});
    await service.close().catch(() => {});
    exe.dispose();
  };
  try {
    server = await startWebServer({ service, port: 0 });
    browser = await chromium.launch({
      executablePath: exe.path,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page: Page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${server.url}#live`);
    await page.waitForSelector('[data-testid="connection"][data-state="open"]', { timeout: 30_000 });
    await page.waitForSelector('main[data-page="live"] [data-testid="live-mpps"]', { timeout: 30_000 });
    if (options.probeFrames) await page.evaluate(FRAME_PROBE);
    return {
      url: server.url,
      pointsDrawn: async () => Number(await page.locator('[data-testid="live-mpps"]').getAttribute('data-points')),
      frames: async () => JSON.parse(await page.evaluate(FRAME_COLLECT) as string) as FrameRecording,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
