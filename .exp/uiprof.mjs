import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { RunManager } from '/work/main/dist/benchmarks/runs/run-manager.js';
import { resolveScenario } from '/work/main/dist/benchmarks/runs/scenario.js';
import { LabService } from '/work/main/dist/benchmarks/server/lab-service.js';
import { VmManager } from '/work/main/dist/benchmarks/server/vm-manager.js';
import { startWebServer } from '/work/main/dist/benchmarks/server/web-server.js';
import { descendantCpuSeconds } from '/work/main/dist/benchmarks/bench/ui-pinning.js';
const page_ = process.argv[2] ?? 'live';
import { EventEmitter } from 'node:events';
const synthetic = process.argv[3] === 'synthetic';
const em = new EventEmitter();
const runs = synthetic ? {
  start() { const runId = 'syn1'; let k = 0; const done = new Promise((res) => { const t = setInterval(() => { k++; em.emit('sample', { runId, sample: { row: 'txonly-skb-64B', trial: 0, tMs: k * 250, intervalMs: 250, metrics: { packetsPerSecond: 1.1e6 + (k % 7) * 1e4, bitsPerSecond: 5.6e8 + k * 1e5, droppedPackets: k % 3 } } }); if (k >= 40) { clearInterval(t); res({}); } }, 250); }); return { runId, dir: '/tmp', done }; },
  async stop() { return false; }, list() { return []; }, report() { throw new Error('no'); }, directory() { return '/tmp'; },
  on(e, l) { em.on(e, l); return () => em.off(e, l); },
} : new RunManager(mkdtempSync(join(tmpdir(), 'uicpu-')));
const service = new LabService({ runs, vms: new VmManager(), warn: () => {} });
const server = await startWebServer({ service, port: 0 });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
await page.addInitScript(() => { window.__clears = 0; window.__samples = 0; const o = CanvasRenderingContext2D.prototype.clearRect; CanvasRenderingContext2D.prototype.clearRect = function (...a) { window.__clears++; return o.apply(this, a); }; });
await page.goto(`${server.url}#${page_}`);
await page.waitForSelector('[data-testid="connection"][data-state="open"]');
const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');
const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
const cpu = () => [...descendantCpuSeconds('chrom').values()].reduce((a, b) => a + b, 0);
await new Promise((r) => setTimeout(r, 2000));
await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 200 }); await cdp.send('Profiler.start');
const { readFileSync: rf, readdirSync: rd } = await import('node:fs');
const threads = () => { const out = new Map(); for (const pid of descendantCpuSeconds('chrom').keys()) { let tasks = []; try { tasks = rd(`/proc/${pid}/task`); } catch {} for (const tid of tasks) { try { const st = rf(`/proc/${pid}/task/${tid}/stat`, 'utf8'); const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); out.set(`${pid}/${tid} ${comm}`, (Number(f[11]) + Number(f[12])) / 100); } catch {} } } return out; };
const th0 = threads();
const per0 = descendantCpuSeconds('chrom');
const m0 = await metrics(); const c0 = cpu(); const t0 = performance.now();
await (synthetic ? runs.start() : runs.start(resolveScenario({ tests: ['txonly'], modes: ['skb'], durationMs: 8000, warmupMs: 1000, trials: 1, sampleIntervalMs: 250 }))).done;
const m1 = await metrics();
const { profile } = await cdp.send('Profiler.stop');
const self = new Map(); const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dt = profile.timeDeltas; const counts = new Map();
profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
for (const [id, us] of counts) { const n = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + us); }
console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, us]) => `${(us / 1000).toFixed(0)}ms ${k}`).join('\n')); const secs = (performance.now() - t0) / 1000;
const { readFileSync } = await import('node:fs');
for (const [pid, v] of descendantCpuSeconds('chrom')) { let t = 'browser'; try { t = (/--type=([a-z-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8')) ?? [0, 'browser'])[1]; } catch {} const d = v - (per0.get(pid) ?? 0); if (d > 0.05) console.log('  ', t, pid, d.toFixed(2)); }
for (const [k, v] of threads()) { const d = v - (th0.get(k) ?? 0); if (d >= 0.1) console.log('    thread', k, d.toFixed(2)); }
console.log('chromium CPUs', ((cpu() - c0) / secs).toFixed(3), 'secs', secs.toFixed(1));
for (const k of ['TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration', 'LayoutCount', 'RecalcStyleCount', 'Nodes', 'JSHeapUsedSize']) console.log(k, (m1[k] - m0[k]).toFixed(3), m1[k]);
console.log('clearRect calls', await page.evaluate(() => window.__clears), 'points', await page.locator('[data-testid="live-mpps"]').getAttribute('data-points'));
await browser.close(); await server.close(); await service.close();
