// The Runs page's peer-host box, end to end: `xdplab serve` (the real engine, in its own
// process) in Chromium, the peer on an OpenSSH server in a namespace of the test's own
// (test/helpers/ssh-peer.ts), the engine's ssh command line from XDPLAB_SSH as a user's comes
// from ~/.ssh/config (the app sends none). The form starts txonly across the peer host; the run
// completes and the app's report shows both hosts. A host that does not answer: the form shows
// the error naming the host, and no run starts.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Report } from '../../benchmarks/contracts/report.js';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { suite } from '../helpers/requirements.js';
import { startServe, type Served } from '../helpers/serve.js';
import { SSHD, startSshPeer, until, type SshPeer } from '../helpers/ssh-peer.js';

suite('the Runs page with the peer on another host (sshd in a namespace, Chromium)', { root: true, tools: [SSHD, 'ssh', 'ssh-keygen', 'nsenter', CHROMIUM] }, () => {
  let peer: SshPeer;
  let dut: string, far: string;
  let dir: string;
  let served: Served;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const runCards = () => page.locator('[data-testid="run-progress"]');
  /** The form for a quick txonly run, native mode, across `host`. */
  async function fillForm(host: string): Promise<void> {
    await page.goto(`${served.url}#runs`);
    await page.waitForSelector('[data-testid="connection"][data-state="open"]');
    const form = page.getByRole('form', { name: 'Run matrix' });
    for (const box of await form.locator('input[name="engine"]').all()) await box.setChecked((await box.getAttribute('value')) === 'txonly');
    for (const box of await form.locator('input[name="mode"]').all()) await box.setChecked((await box.getAttribute('value')) === 'native');
    await form.locator('input[name="quick"]').setChecked(true);
    await form.locator('input[name="peer-host"]').fill(host);
    await form.locator('input[name="ifname"]').fill(dut);
    await form.locator('input[name="netns"]').fill(peer.localNs);
    await form.locator('input[name="peer"]').fill(far);
  }

  beforeAll(async () => {
    for (const f of ['dist/renderer/index.html', 'dist/benchmarks/cli/main.js']) {
      if (!existsSync(join(PROJECT_ROOT, f))) throw new Error(`build first: npm run build (${f} is missing)`);
    }
    peer = await startSshPeer();
    // The data link, as in bench-peer-host.test.ts: the DUT's end here, the peer's end there.
    [dut, far] = peer.lab.addVethPair({ netns: peer.localNs, suffix: 'dd' }, { netns: peer.remoteNs, suffix: 'dp' });
    dir = mkdtempSync(join(tmpdir(), 'xdplab-app-peer-'));
    served = await startServe({ XDPLAB_SSH: peer.ssh, XDPLAB_REMOTE_COMMAND: peer.remoteCommand, XDPLAB_REPORTS_DIR: dir });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await served?.stop();
    await peer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('starts txonly across the peer host from the form; the run completes, its report shows both hosts, nothing is left there', async () => {
    await fillForm(peer.host);
    await page.getByRole('button', { name: 'Start run' }).click();
    const card = runCards().first();
    await card.waitFor({ timeout: 30_000 });
    const runId = (await card.getAttribute('data-run-id'))!;
    const mine = page.locator(`[data-testid="run-progress"][data-run-id="${runId}"]`);
    await page.waitForSelector(`[data-testid="run-progress"][data-run-id="${runId}"]:not([data-state="running"])`, { timeout: 180_000 });
    expect(await mine.getAttribute('data-state'), await mine.innerText()).toBe('complete');

    // The report on disk: the peer host, its interface, the row's command lines prefixed with it.
    const reportDir = readdirSync(dir).map((d) => join(dir, d)).find((d) => d.endsWith(runId) && existsSync(join(d, 'report.json')))!;
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as Report;
    expect(report.peerHost).toMatchObject({ host: peer.host, interface: { name: far } });
    const tx = report.rows.find((r) => r.id === 'txonly-native-64B')!;
    expect(tx.status, tx.reason).toBe('ok');
    expect(tx.trials[0]!.metrics.peerReceivedPackets).toBeGreaterThan(1000);
    expect(tx.commandLines.some((c) => c.startsWith(`[${peer.host}] `))).toBe(true);

    // The app's report view: this host's environment, and the peer host's beside it.
    await mine.getByRole('button', { name: 'Open report' }).click();
    const peerTable = page.locator('[data-testid="report-view"] [data-testid="report-peer-host"]');
    await peerTable.waitFor({ timeout: 30_000 });
    const text = await peerTable.innerText();
    expect(text).toContain(peer.host);
    expect(text).toContain(far);
    expect(text).toContain(report.peerHost!.environment.kernel);
    expect(text).toContain('BatchMode=yes');
    expect(text).toMatch(/latency\s+round-trip/);
    expect(await page.locator('[data-testid="report-view"] [data-testid="report-environment"]').innerText()).toContain(report.environment.hostname);

    await until('no agent or worker is left on the remote host', () => peer.remotePids().length === 0);
  }, 300_000);

  it('a host that does not answer: the form shows the error naming the host, and no run starts', async () => {
    await fillForm(`root@${peer.silentAddress}`);
    const before = await runCards().count();
    await page.getByRole('button', { name: 'Start run' }).click();
    const alert = page.locator('[role="alert"]').filter({ hasText: peer.silentAddress });
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.innerText()).toMatch(/ssh|timed out|connect/i);
    expect(await runCards().count()).toBe(before);
    expect(readdirSync(dir).filter((d) => existsSync(join(dir, d, 'report.json')))).toHaveLength(1);
  }, 120_000);
});
