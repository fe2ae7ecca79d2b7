// A VM run as the app sees it, under real QEMU (TCG) with real iperf3, through RunManager: live
// samples at >= 2 Hz, a timeline that sets the link down then up (the samples fall to zero and
// recover, the steps are command markers at their times), the running trial's VMs over runVms and
// runQmp (console markers, the console's refusals, ENOVM), QMP events as markers, plan-time
// timeline errors, and nothing left behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { ReportSchema, type Marker, type Report } from '../../benchmarks/contracts/report.js';
import { labStateDir } from '../../benchmarks/lab/state.js';
import { ensureGuestImage } from '../../benchmarks/qemu/guest-image.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { suite } from '../helpers/requirements.js';

const QEMU = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** xl- namespaces no live lab of another process owns (other work may share the machine). */
function strayNamespaces(before: Set<string>): string[] {
  const owned = new Set<string>();
  const dir = labStateDir();
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)) {
      try {
        const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number; resources: { kind: string; name?: string }[] };
        if (s.pid !== process.pid) for (const r of s.resources) if (r.kind === 'netns' && r.name) owned.add(r.name);
      } catch { /* being written */ }
    }
  }
  return namespaces().filter((n) => n.startsWith('xl-') && !before.has(n) && !owned.has(n));
}

/** QEMU processes, temp dirs and socket dirs of VM rows (their names start with xlvb-). */
function leftovers(): { processes: string[]; dirs: string[] } {
  let processes: string[] = [];
  try { processes = execFileSync('pgrep', ['-a', '-f', 'qemu-system.*-name xlvb-'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { /* none */ }
  const dirs = [...new Set([tmpdir(), '/tmp'])].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('xdplab-xlvb-') || /^xlvb-.*-[A-Za-z0-9]{6}$/.test(n)).map((n) => join(d, n)));
  return { processes, dirs };
}

function strayLinks(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '').filter((n) => /^xl-[0-9a-f]{6}-(tap|br)$/.test(n));
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };

suite('VM runs live (RunManager: samples, timeline, markers, QMP on the running trial)', { root: true, tools: [QEMU, 'iperf3', 'ip', 'pgrep'] }, () => {
  let nsBefore: Set<string>;
  const outDir = mkdtempSync(join(tmpdir(), 'xl-vmlive-test-'));

  beforeAll(async () => {
    await ensureGuestImage({});
    nsBefore = new Set(namespaces());
  }, 300_000);

  afterEach(async () => {
    for (let i = 0; i < 40 && leftovers().processes.length; i++) await sleep(100);
    const left = leftovers();
    for (const d of left.dirs) rmSync(d, { recursive: true, force: true });
    expect({ ...left, namespaces: strayNamespaces(nsBefore), links: strayLinks() }).toEqual({ processes: [], dirs: [], namespaces: [], links: [] });
  });

  afterAll(() => { if (!process.env.XDPLAB_KEEP_TEST_REPORTS) rmSync(outDir, { recursive: true, force: true }); });

  describe('tap and user rows with a link-down timeline', () => {
    const ROWS = ['tap/iperf3', 'user/iperf3'];
    let report: Report;
    const events: Marker[] = [];
    const vmEvents: Array<{ row: string; vms: string[] }> = [];
    const qmp: { ok?: unknown; commands?: string[]; refused?: unknown; unknown?: unknown; vms?: string[]; afterRun?: unknown } = {};

    beforeAll(async () => {
      const rm = new RunManager(join(outDir, 'live'));
      rm.on('marker', (e) => { events.push(e.marker); });
      let runId = '';
      let asked: Promise<void> | undefined;
      rm.on('runVms', (e) => {
        vmEvents.push({ row: e.row, vms: e.vms.map((v) => v.name) });
        if (!e.vms.length || asked) return;
        // The QMP panel on the running trial's VM, as the app does it.
        asked = (async () => {
          qmp.vms = rm.runVms(runId).vms.map((v) => v.name);
          const vm = e.vms[0]!.name;
          qmp.ok = await rm.runQmp(runId, vm, 'query-status');
          qmp.commands = await rm.runQmpCommands(runId, vm);
          qmp.refused = await rm.runQmp(runId, vm, 'human-monitor-command', { 'command-line': 'info network' }).catch((err: unknown) => err);
          qmp.unknown = await rm.runQmp(runId, 'no-such-vm', 'query-status').catch((err: unknown) => err);
        })();
      });
      const h = await rm.start({
        // 3 s before the link goes down: under load slirp's TCP can take a second or two to get
        // going after iperf3's first packets (seen in CI: nothing before 2 s over user).
        tests: [], durationMs: 7000, warmupMs: 0, trials: 1,
        vm: { backends: ['tap', 'user'], tests: ['iperf3'] },
        timeline: [{ atMs: 3000, action: { kind: 'set_link', up: false } }, { atMs: 4500, action: { kind: 'set_link', up: true } }],
      }, { command: ['test'] });
      runId = h.runId;
      report = await h.done;
      await asked;
      qmp.afterRun = rm.runVms(runId);
    }, 400_000);

    it.each(ROWS)('%s ran, with >= 2 samples per second on the guest NIC source', (id) => {
      expect(ReportSchema.safeParse(report).success).toBe(true);
      const row = report.rows.find((r) => r.id === id)!;
      expect({ status: row.status, reason: row.reason }).toEqual({ status: 'ok', reason: undefined });
      expect(row.liveSource).toMatch(/^guest-nic/);
      const fwd = report.samples.filter((s) => s.row === id && s.metrics.bitsPerSecond !== undefined && s.tMs >= 0 && s.tMs < 7000);
      expect(fwd.length).toBeGreaterThanOrEqual(13);
      for (const s of fwd) expect(s.metrics.packetsPerSecond).toBeGreaterThanOrEqual(0);
      const rev = report.samples.filter((s) => s.row === id && s.metrics.reverseBitsPerSecond !== undefined);
      expect(rev.length).toBeGreaterThanOrEqual(10);
      // The final metrics are iperf3's, as before.
      expect(row.trials[0]!.metrics.bitsPerSecond).toBeGreaterThan(0);
      expect(row.trials[0]!.metrics.reverseBitsPerSecond).toBeGreaterThan(0);
    });

    it.each(ROWS)('%s: the link-down steps are command markers at ~3000 and ~4500 ms; the traffic falls to ~0 between and recovers', (id) => {
      const steps = report.markers.filter((m) => m.row === id && m.source === 'timeline');
      expect(steps.map((m) => ({ name: m.name, ok: m.ok, detail: m.detail }))).toEqual([
        { name: 'set_link', ok: true, detail: '{"name":"n0","up":false}' },
        { name: 'set_link', ok: true, detail: '{"name":"n0","up":true}' },
      ]);
      // Timers on a shared, loaded 2-core machine: within half a second.
      expect(Math.abs(steps[0]!.tMs - 3000)).toBeLessThan(500);
      expect(Math.abs(steps[1]!.tMs - 4500)).toBeLessThan(500);
      const fwd = report.samples.filter((s) => s.row === id && s.metrics.bitsPerSecond !== undefined);
      const before = median(fwd.filter((s) => s.tMs >= 0 && s.tMs + s.intervalMs <= steps[0]!.tMs).map((s) => s.metrics.bitsPerSecond!));
      expect(before).toBeGreaterThan(1e6);
      // Samples wholly between the link going down and coming back up (as the markers say).
      const down = fwd.filter((s) => s.tMs >= steps[0]!.tMs + 200 && s.tMs + s.intervalMs <= steps[1]!.tMs);
      expect(down.length).toBeGreaterThanOrEqual(1);
      for (const s of down) expect(s.metrics.bitsPerSecond!).toBeLessThan(before * 0.05);
      // TCP backs off while the link is down (and the shared machine is slow): over tap traffic
      // flows again by the end of the window, not necessarily at its earlier rate. Over user
      // (slirp, whose own TCP stack holds the host side of the connection) the retransmission
      // backoff can outlast the 2.5 s left in the window (seen in CI): there only the fall is
      // asserted; xdplab run link-flap.json (test/integration/run-scenario-file.test.ts) checks a
      // longer recovery over tap.
      const after = fwd.filter((s) => s.tMs >= steps[1]!.tMs + 500).map((s) => s.metrics.bitsPerSecond!);
      if (id === 'tap/iperf3') expect(Math.max(...after)).toBeGreaterThan(before * 0.1);
      else expect(after.length).toBeGreaterThan(0);
    });

    it('report.markers is what the marker events said; QMP events of the VM are event markers', () => {
      expect(report.markers).toEqual(events);
      expect(report.markers.every((m) => ROWS.includes(m.row) && m.trial === 0)).toBe(true);
      // QEMU says SHUTDOWN when each row's VM is powered off.
      for (const id of ROWS) expect(report.markers.filter((m) => m.row === id && m.kind === 'event').map((m) => m.name)).toContain('SHUTDOWN');
      for (const m of report.markers.filter((x) => x.kind === 'event')) expect(m.source).toBe('qemu');
    });

    it('runVms, runQmp and runQmpCommands on the running trial; a console marker; refusals; ENOVM', () => {
      expect(vmEvents.map((e) => ({ row: e.row, vms: e.vms.length }))).toEqual([{ row: 'tap/iperf3', vms: 1 }, { row: 'tap/iperf3', vms: 0 }, { row: 'user/iperf3', vms: 1 }, { row: 'user/iperf3', vms: 0 }]);
      expect(qmp.vms).toEqual(vmEvents[0]!.vms);
      expect(qmp.ok).toMatchObject({ running: true, status: 'running' });
      expect(qmp.commands).toContain('set_link');
      expect(qmp.commands).not.toContain('human-monitor-command');
      expect(qmp.commands).toEqual([...qmp.commands!].sort());
      expect(qmp.refused).toBeInstanceOf(LabError);
      expect(qmp.refused).toMatchObject({ code: 'EREFUSED', message: expect.stringMatching(/human-monitor-command is refused.*HMP/) });
      expect(qmp.unknown).toMatchObject({ code: 'ENOVM', field: 'vm', message: expect.stringContaining(vmEvents[0]!.vms[0]!) });
      const console = report.markers.filter((m) => m.source === 'console');
      expect(console.map((m) => ({ name: m.name, ok: m.ok, vm: m.vm }))).toEqual([
        { name: 'query-status', ok: true, vm: vmEvents[0]!.vms[0] },
        { name: 'human-monitor-command', ok: false, vm: vmEvents[0]!.vms[0] },
      ]);
      expect(qmp.afterRun).toEqual({ vms: [] });
    });
  });

  describe('the QMP panel\'s hot swap (runStep netdev_swap) mid-transfer', () => {
    // QEMU keeps a netdev its NIC holds (netdev_del alone only takes the NIC's link down, and a
    // netdev_add of the same backend then fails: tap EBUSY, user's hostfwd port still bound), so
    // the swap unplugs the NIC (device_del, DEVICE_DELETED), deletes and adds the netdev, plugs
    // the NIC again with the same MAC, and the guest gives it back its address (guest-ip).
    // Over tap the same TCP connection carries on (seen: 0 for one sample, then back within
    // 0.5 s). Not asserted over user: a new slirp has none of the old one's connections (it is
    // the host end of them), so iperf3's control connection closes and the trial fails.
    it.each(['tap'])('%s: device_del, netdev_del, netdev_add, device_add, guest-ip are console markers, all ok; the NIC\'s traffic recovers', async (backend) => {
      const id = `${backend}/iperf3`;
      const rm = new RunManager(join(outDir, `swap-${backend}`));
      let runId = '';
      let swapped: Promise<unknown> | undefined;
      rm.on('sample', (e) => {
        // The panel's button, ~2 s into the forward window.
        if (swapped || e.sample.row !== id || e.sample.metrics.bitsPerSecond === undefined || e.sample.tMs < 2000) return;
        swapped = rm.runStep(runId, rm.runVms(runId).vms[0]!.name, { kind: 'netdev_swap' });
      });
      const h = await rm.start({ tests: [], durationMs: 8000, warmupMs: 0, trials: 1, vm: { backends: [backend], tests: ['iperf3'] } }, { command: ['test'] });
      runId = h.runId;
      const report = await h.done;
      const outcome = await swapped as { ok: boolean; commands: { command: string; ok: boolean; error?: string }[] };
      const marks = report.markers.filter((m) => m.row === id && m.source === 'console');
      const swapAt = marks[0]?.tMs ?? 0;
      const done = marks.at(-1)?.tMs ?? 0;
      const fwd = report.samples.filter((s) => s.row === id && s.metrics.bitsPerSecond !== undefined && s.tMs < 8000);
      const before = median(fwd.filter((s) => s.tMs >= 0 && s.tMs + s.intervalMs <= swapAt).map((s) => s.metrics.bitsPerSecond!));
      const after = fwd.filter((s) => s.tMs >= swapAt).map((s) => `${(s.tMs / 1000).toFixed(1)}s:${(s.metrics.bitsPerSecond! / 1e6).toFixed(1)}`);
      const row = report.rows[0]!;
      console.log(`hot swap over ${backend}: ${marks.map((m) => `${m.name}@${m.tMs} ${m.ok ? 'ok' : `failed (${m.detail})`}`).join(', ')}; before ${(before / 1e6).toFixed(1)} Mbit/s; after (Mbit/s) ${after.join(' ')}; row ${row.status}${row.reason ? ` (${row.reason.slice(0, 200)})` : ''}`);
      expect(outcome.commands.map((c) => [c.command, c.ok])).toEqual([['device_del', true], ['netdev_del', true], ['netdev_add', true], ['device_add', true], ['guest-ip', true]]);
      expect(marks.map((m) => ({ name: m.name, ok: m.ok }))).toEqual(outcome.commands.map((c) => ({ name: c.command, ok: c.ok })));
      expect(before).toBeGreaterThan(1e6);
      // Traffic flows again once the guest has its address back (TCP's backoff may take a while).
      const recovered = fwd.filter((s) => s.tMs >= done + 200).map((s) => s.metrics.bitsPerSecond!);
      expect(Math.max(...recovered)).toBeGreaterThan(before * 0.1);
      expect({ status: row.status, reason: row.reason }).toEqual({ status: 'ok', reason: undefined });
    }, 240_000);
  });

  describe('--parallel for VM iperf3 rows', () => {
    it('user/iperf3 with parallel 2: iperf3 -P 2 in its command lines, live samples (the streams\' sum at the guest NIC), a trial with 2 streams each way', async () => {
      const rm = new RunManager(join(outDir, 'parallel'));
      const h = await rm.start({ tests: [], durationMs: 3000, warmupMs: 0, trials: 1, parallel: 2, vm: { backends: ['user'], tests: ['iperf3'] } }, { command: ['test'] });
      const report = await h.done;
      const row = report.rows[0]!;
      expect({ status: row.status, reason: row.reason }).toEqual({ status: 'ok', reason: undefined });
      expect(row.commandLines.filter((c) => /iperf3 -c /.test(c)).every((c) => / -P 2( |$)/.test(c))).toBe(true);
      expect(row.commandLines.filter((c) => /iperf3 -c /.test(c))).toHaveLength(2);
      const fwd = report.samples.filter((s) => s.row === row.id && s.metrics.bitsPerSecond !== undefined && s.tMs >= 0 && s.tMs < 3000);
      expect(fwd.length).toBeGreaterThanOrEqual(5);
      expect(Math.max(...fwd.map((s) => s.metrics.bitsPerSecond!))).toBeGreaterThan(1e6);
      const m = row.trials[0]!.metrics;
      expect({ streams: m.streams, reverseStreams: m.reverseStreams }).toEqual({ streams: 2, reverseStreams: 2 });
      expect(m.bitsPerSecond).toBeGreaterThan(0);
      expect(m.reverseBitsPerSecond).toBeGreaterThan(0);
      console.log(`parallel 2 over user: forward ${(m.bitsPerSecond! / 1e6).toFixed(1)} Mbit/s, reverse ${(m.reverseBitsPerSecond! / 1e6).toFixed(1)} Mbit/s`);
    }, 180_000);
  });

  describe('a packet row and a fault', () => {
    it('txonly samples packets at >= 2 Hz with its timeline marker; QEMU killed mid-row fails that row with the cause, its earlier samples kept', async () => {
      const rm = new RunManager(join(outDir, 'fault'));
      const events: Marker[] = [];
      rm.on('marker', (e) => { events.push(e.marker); });
      // QEMU of user/iperf3 killed once it has streamed two samples (its VM from runVms).
      let runId = '';
      let userSamples = 0;
      let killed = '';
      rm.on('sample', (e) => {
        if (e.sample.row !== 'user/iperf3' || ++userSamples !== 2) return;
        const name = rm.runVms(runId).vms[0]!.name;
        const pid = execFileSync('pgrep', ['-f', `qemu-system.*-name ${name}`], { encoding: 'utf8' }).trim().split('\n')[0]!;
        process.kill(Number(pid), 'SIGKILL');
        killed = name;
      });
      const h = await rm.start({
        tests: [], durationMs: 3000, warmupMs: 0, trials: 1,
        vm: { backends: ['tap', 'user'], tests: ['iperf3', 'txonly'] },
        timeline: [
          { atMs: 500, rows: ['tap/txonly'], action: { kind: 'announce_self' } },
          { atMs: 800, rows: ['user/iperf3'], action: { kind: 'qmp', command: 'query-status' } },
          // A step QEMU refuses: a marker with ok false, and the row goes on.
          { atMs: 1000, rows: ['tap/txonly'], action: { kind: 'set_link', up: true }, vm: 'no-such-vm' },
        ],
      }, { command: ['test'] });
      runId = h.runId;
      const report = await h.done;
      expect(ReportSchema.safeParse(report).success).toBe(true);
      expect(report.markers).toEqual(events);
      expect(killed).toMatch(/^xlvb-/);
      const row = (id: string) => report.rows.find((r) => r.id === id)!;
      const tx = row('tap/txonly');
      expect({ status: tx.status, reason: tx.reason }).toEqual({ status: 'ok', reason: undefined });
      expect(tx.liveSource).toMatch(/^host-tap/);
      const txSamples = report.samples.filter((s) => s.row === 'tap/txonly');
      expect(txSamples.length).toBeGreaterThanOrEqual(5);
      for (const s of txSamples) expect(s.intervalMs).toBeLessThanOrEqual(650);
      expect(Math.max(...txSamples.map((s) => s.metrics.packetsPerSecond!))).toBeGreaterThan(0);
      const txMarkers = report.markers.filter((m) => m.row === 'tap/txonly' && m.source === 'timeline');
      expect(txMarkers.map((m) => ({ name: m.name, ok: m.ok }))).toEqual([{ name: 'announce-self', ok: true }, { name: 'set_link', ok: false }]);
      expect(txMarkers[1]!.detail).toMatch(/no VM 'no-such-vm'/);
      expect(Math.abs(txMarkers[0]!.tMs - 500)).toBeLessThan(300);

      const user = row('user/iperf3');
      expect(user.status).toBe('failed');
      // The cause, from whichever noticed first: the iperf3 run, or a guest command (the live
      // counters' read) that was under way when QEMU died.
      expect(user.reason).toMatch(new RegExp(`QEMU of ${killed} was killed by SIGKILL during the iperf3 run|${killed}: QEMU exited while a guest command ran \\(signal SIGKILL\\)`));
      expect(report.samples.filter((s) => s.row === 'user/iperf3').length).toBeGreaterThanOrEqual(2);
      expect(report.markers.filter((m) => m.row === 'user/iperf3' && m.source === 'timeline').map((m) => ({ name: m.name, ok: m.ok }))).toEqual([{ name: 'query-status', ok: true }]);
      expect(row('tap/iperf3').status).toBe('ok');
      // report.json on disk has them too.
      expect(rm.report(h.runId).markers).toEqual(events);
    }, 300_000);
  });

  describe('a run stopped mid-trial', () => {
    it('stops: its VMs are gone from runVms, the report says stopped, nothing is left (checked after each test)', async () => {
      const rm = new RunManager(join(outDir, 'stop'));
      let runId = '';
      let stopping: Promise<boolean> | undefined;
      const vmLists: string[][] = [];
      rm.on('runVms', (e) => { vmLists.push(e.vms.map((v) => v.name)); });
      rm.on('sample', () => { stopping ??= rm.stop(runId); });
      const h = await rm.start({ tests: [], durationMs: 4000, warmupMs: 0, trials: 2, vm: { backends: ['tap'], tests: ['iperf3'] } }, { command: ['test'] });
      runId = h.runId;
      const report = await h.done;
      expect(await stopping).toBe(true);
      expect(report.status).toBe('incomplete');
      expect(report.rows[0]!.trials.length).toBeLessThanOrEqual(1);
      expect(vmLists.at(-1)).toEqual([]);
      expect(rm.runVms(runId)).toEqual({ vms: [] });
      await expect(rm.runQmp(runId, vmLists[0]![0]!, 'query-status')).rejects.toMatchObject({ code: 'ENOVM', message: expect.stringContaining('not running') });
    }, 180_000);
  });

  describe('timeline errors at plan time', () => {
    it('a timeline naming a non-VM row, or a QMP command this QEMU lacks, is refused before anything starts', async () => {
      const rm = new RunManager(join(outDir, 'plan'));
      const base = { tests: [], durationMs: 1000, trials: 1, vm: { backends: ['tap', 'user'], tests: ['iperf3'] } };
      const row = await rm.plan({ ...base, timeline: [{ atMs: 0, rows: ['nope/iperf3'], action: { kind: 'announce_self' } }] }).catch((e: unknown) => e);
      expect(row).toMatchObject({ code: 'EINVALIDOPTION', field: 'timeline[0].rows', message: expect.stringMatching(/'nope\/iperf3' is not a VM row.*tap\/iperf3, user\/iperf3/) });
      // A host row of the plan is not a VM row either.
      const hostPlan = await rm.plan({ ...base, tests: ['txonly'], modes: ['skb'] });
      const hostRow = hostPlan.rows.find((r) => !r.backend)!.id;
      const host = await rm.plan({ ...base, tests: ['txonly'], modes: ['skb'], timeline: [{ atMs: 0, rows: ['tap/iperf3', hostRow], action: { kind: 'set_link', up: false } }] }).catch((e: unknown) => e);
      expect(host).toMatchObject({ code: 'EINVALIDOPTION', field: 'timeline[0].rows', message: expect.stringContaining(`'${hostRow}' is not a VM row`) });
      const cmd = await rm.start({ ...base, timeline: [{ atMs: 0, action: { kind: 'set_link', up: true } }, { atMs: 10, action: { kind: 'qmp', command: 'warp-drive' } }] }).catch((e: unknown) => e);
      expect(cmd).toMatchObject({ code: 'EINVALIDOPTION', field: 'timeline[1].action.command', message: expect.stringMatching(/no QMP command 'warp-drive'/) });
      // Nothing was started: no report directory.
      expect(existsSync(join(outDir, 'plan')) ? readdirSync(join(outDir, 'plan')) : []).toEqual([]);
      // A known command plans.
      const ok = await rm.plan({ ...base, timeline: [{ atMs: 0, rows: ['user/iperf3'], action: { kind: 'qmp', command: 'query-status' } }] });
      expect(ok.rows.map((r) => r.id)).toEqual(['tap/iperf3', 'user/iperf3']);
    }, 60_000);
  });
});
