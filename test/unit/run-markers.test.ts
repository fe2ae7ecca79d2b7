// A run's VM trial without QEMU: TrialVms (markers on the window's time axis, QMP events, the
// timeline's steps with their outcomes, the console's refusals, ENOVM), the plan-time timeline
// checks, and markers in report.json (kept by the recovery of an abandoned report).
import { EventEmitter } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Marker } from '../../benchmarks/contracts/report.js';
import { resolveScenario } from '../../benchmarks/contracts/scenario.js';
import type { GroupVm } from '../../benchmarks/qemu/vm-group.js';
import { finishAbandonedReport } from '../../benchmarks/report/abandoned.js';
import { ReportWriter } from '../../benchmarks/report/writer.js';
import { checkTimeline } from '../../benchmarks/rows/vm-cells.js';
import { TrialVms } from '../../benchmarks/runs/trial-vms.js';
import { sampleReport } from '../helpers/sample-report.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A VM whose QMP answers from `answer` and records what it was sent. */
function fakeVm(name: string, answer: (cmd: string, args?: Record<string, unknown>) => unknown = () => ({})) {
  const sent: Array<{ cmd: string; args?: Record<string, unknown> }> = [];
  const qmp = Object.assign(new EventEmitter(), {
    execute: async (cmd: string, args?: Record<string, unknown>) => {
      sent.push({ cmd, ...(args ? { args } : {}) });
      const r = answer(cmd, args);
      if (r instanceof Error) throw r;
      return r;
    },
  });
  const v = { spec: { name, nic: { netdev: 'tap,id=n0,ifname=xl-abcdef-tap,script=no,downscript=no', ip: '192.0.2.2/24', model: 'virtio-net-pci' }, extraNetdevs: [] }, vm: { name }, qmp } as unknown as GroupVm;
  return { v, sent, qmp };
}

describe('TrialVms', () => {
  it('stamps markers from the window origin (earlier ones negative), runs the timeline, records events, refusals and failures', async () => {
    const markers: Marker[] = [];
    const lists: string[][] = [];
    const a = fakeVm('xlvb-1-tap-a', (cmd) => (cmd === 'netdev_add' ? new Error('Duplicate ID') : cmd === 'query-commands' ? [{ name: 'set_link' }, { name: 'human-monitor-command' }, { name: 'announce-self' }] : {}));
    const t = new TrialVms({
      row: 'tap/iperf3', backend: 'tap', trial: 0,
      timeline: [
        { atMs: 30, action: { kind: 'set_link', up: false } },
        { atMs: 60, action: { kind: 'netdev_swap' } },
        { atMs: 90, vm: 'a', action: { kind: 'qmp', command: 'human-monitor-command', arguments: { 'command-line': 'info' } } },
      ],
      marker: (m) => markers.push(m),
      vmsChanged: (vms) => lists.push(vms.map((v) => v.vm.name)),
    });
    // Its QMP client connects before the guest is ready: events from boot on, subscribed once.
    t.onQmp('xlvb-1-tap-a', a.v.qmp);
    t.onVms([a.v]);
    expect(lists).toEqual([['xlvb-1-tap-a']]);
    expect(a.qmp.listenerCount('event')).toBe(1);
    const now = Date.now();
    a.qmp.emit('event', { event: 'NIC_RX_FILTER_CHANGED', data: { path: '/machine/peripheral-anon/device[0]/virtio-backend' }, timestamp: { seconds: Math.floor((now - 100) / 1000), microseconds: ((now - 100) % 1000) * 1000 } });
    await t.command('a', 'query-status', undefined, 'console');
    expect(markers).toEqual([]); // kept until the window begins
    t.onWindow(Date.now());
    expect(markers.map((m) => m.name)).toEqual(['NIC_RX_FILTER_CHANGED', 'query-status']);
    expect(markers[0]!.tMs).toBeLessThan(-50);
    expect(markers[0]).toMatchObject({ kind: 'event', source: 'qemu', vm: 'xlvb-1-tap-a', detail: expect.stringContaining('virtio-backend') });
    expect(markers[1]).toMatchObject({ kind: 'command', source: 'console', ok: true });
    await sleep(200);
    const steps = markers.filter((m) => m.source === 'timeline');
    expect(steps.map((m) => ({ name: m.name, ok: m.ok }))).toEqual([
      { name: 'set_link', ok: true }, { name: 'netdev_del', ok: true }, { name: 'netdev_add', ok: false }, { name: 'human-monitor-command', ok: false },
    ]);
    expect(steps[0]!.detail).toBe('{"name":"n0","up":false}');
    expect(steps[0]!.tMs).toBeGreaterThanOrEqual(25);
    expect(steps[1]!.detail).toBe('{"id":"n0"}');
    expect(steps[2]!.detail).toMatch(/Duplicate ID/);
    expect(steps[3]!.detail).toMatch(/refused/);
    // netdev_swap: netdev_del then netdev_add of the NIC's netdev with its own arguments.
    expect(a.sent.filter((s) => s.cmd.startsWith('netdev_'))).toEqual([
      { cmd: 'netdev_del', args: { id: 'n0' } },
      { cmd: 'netdev_add', args: { type: 'tap', id: 'n0', ifname: 'xl-abcdef-tap', script: 'no', downscript: 'no' } },
    ]);
    // The console: refusals throw EREFUSED; an unknown VM is ENOVM listing the VMs; completion has no refused command.
    await expect(t.command('xlvb-1-tap-a', 'migrate', { uri: 'exec:true' }, 'console')).rejects.toMatchObject({ code: 'EREFUSED', field: 'command' });
    await expect(t.command('b', 'query-status', undefined, 'console')).rejects.toMatchObject({ code: 'ENOVM', field: 'vm', message: expect.stringContaining('xlvb-1-tap-a') });
    expect(await t.commands('a')).toEqual(['announce-self', 'set_link']);
    t.close();
    expect(lists.at(-1)).toEqual([]);
    a.qmp.emit('event', { event: 'SHUTDOWN', timestamp: { seconds: 0, microseconds: 0 } });
    expect(markers.some((m) => m.name === 'SHUTDOWN')).toBe(false); // detached
  });

  it('step(): a timeline action now from the QMP panel (runStep), the same commands and markers as a timeline step, source console', async () => {
    const markers: Marker[] = [];
    let failAdd = false;
    const a = fakeVm('xlvb-3-tap-a', (cmd) => (cmd === 'netdev_add' && failAdd ? new Error("Duplicate ID 'n0' for netdev") : {}));
    const t = new TrialVms({ row: 'tap/iperf3', backend: 'tap', trial: 0, timeline: [], marker: (m) => markers.push(m), vmsChanged: () => {} });
    t.onVms([a.v]);
    t.onWindow(Date.now());
    const out = await t.step('a', { kind: 'netdev_swap' });
    expect(out).toEqual({
      vm: 'xlvb-3-tap-a', ok: true, commands: [
        { command: 'netdev_del', arguments: { id: 'n0' }, ok: true, result: {} },
        // xdplab's own arguments (script=no): not refused as a user's netdev_add with script would be.
        { command: 'netdev_add', arguments: { type: 'tap', id: 'n0', ifname: 'xl-abcdef-tap', script: 'no', downscript: 'no' }, ok: true, result: {} },
      ],
    });
    expect(markers.map((m) => ({ name: m.name, ok: m.ok, source: m.source, vm: m.vm }))).toEqual([
      { name: 'netdev_del', ok: true, source: 'console', vm: 'xlvb-3-tap-a' },
      { name: 'netdev_add', ok: true, source: 'console', vm: 'xlvb-3-tap-a' },
    ]);
    // A QMP failure is an outcome (and a failed marker), not a throw.
    failAdd = true;
    const failed = await t.step('xlvb-3-tap-a', { kind: 'netdev_swap' });
    expect(failed.ok).toBe(false);
    expect(failed.commands[1]).toMatchObject({ command: 'netdev_add', ok: false, error: expect.stringContaining('Duplicate ID') });
    expect(markers.at(-1)).toMatchObject({ name: 'netdev_add', ok: false, source: 'console' });
    // A user's qmp action keeps the console's refusals.
    const refused = await t.step('a', { kind: 'qmp', command: 'netdev_add', arguments: { type: 'tap', id: 'x', script: '/bin/evil' } });
    expect(refused).toMatchObject({ ok: false, commands: [{ command: 'netdev_add', ok: false, error: expect.stringContaining('refused') }] });
    await expect(t.step('b', { kind: 'set_link', up: false })).rejects.toMatchObject({ code: 'ENOVM', field: 'vm' });
    t.close();
    await expect(t.step('a', { kind: 'set_link', up: false })).rejects.toMatchObject({ code: 'ENOVM' });
  });

  it('netdev_swap on a VM with its NIC: device_del (until DEVICE_DELETED), netdev_del, netdev_add, device_add of the same NIC, the guest\'s address back', async () => {
    const markers: Marker[] = [];
    const mac = '52:54:00:ab:cd:00';
    const nicPath = '/machine/peripheral-anon/device[1]';
    const a = fakeVm('xlvb-4-tap-a', (cmd, args) => {
      if (cmd === 'qom-list') return [{ name: 'type', type: 'string' }, { name: 'device[0]', type: 'child<virtserialport>' }, { name: 'device[1]', type: 'child<virtio-net-pci>' }];
      if (cmd === 'qom-get') return args?.path === nicPath ? mac : undefined;
      if (cmd === 'device_del') setTimeout(() => a.qmp.emit('event', { event: 'DEVICE_DELETED', data: { path: nicPath } }), 20);
      return {};
    });
    const guest: string[][] = [];
    Object.assign(a.v.vm, {
      commandLine: ['qemu-system-x86_64', '-netdev', 'tap,id=n0,ifname=xl-abcdef-tap,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${mac},romfile=,mq=on,vectors=6`],
      exec: async (cmd: string, args: string[]) => {
        guest.push([cmd, ...args]);
        const script = args[1] ?? '';
        if (script.startsWith('n=$(')) return { exitCode: 0, stdout: '2: eth0    inet 192.0.2.2/24 scope global eth0\ndefault via 192.0.2.1\n', stderr: '' };
        if (script.startsWith('for d in')) return { exitCode: 0, stdout: 'eth0\n', stderr: '' };
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    });
    const t = new TrialVms({ row: 'tap/iperf3', backend: 'tap', trial: 0, timeline: [], marker: (m) => markers.push(m), vmsChanged: () => {} });
    t.onVms([a.v]);
    t.onWindow(Date.now());
    const out = await t.step('a', { kind: 'netdev_swap' });
    expect(out.commands.map((c) => [c.command, c.ok])).toEqual([['device_del', true], ['netdev_del', true], ['netdev_add', true], ['device_add', true], ['guest-ip', true]]);
    expect(out.ok).toBe(true);
    expect(markers.filter((m) => m.kind === 'command').map((m) => m.name)).toEqual(['device_del', 'netdev_del', 'netdev_add', 'device_add', 'guest-ip']);
    expect(markers.filter((m) => m.kind === 'event').map((m) => m.name)).toEqual(['DEVICE_DELETED']);
    expect(a.sent.filter((x) => x.cmd.startsWith('device_'))).toEqual([
      { cmd: 'device_del', args: { id: nicPath } },
      // The same NIC: its driver, netdev, MAC and properties, typed as QMP wants them.
      { cmd: 'device_add', args: { driver: 'virtio-net-pci', netdev: 'n0', mac, romfile: '', mq: true, vectors: 6 } },
    ]);
    expect(guest.at(-1)).toEqual(['sh', '-c', 'ip link set dev eth0 up && ip addr add 192.0.2.2/24 dev eth0 && ip route add default via 192.0.2.1 dev eth0']);
    t.close();
  });

  it('a trial whose window never began stamps its markers from when its VMs were ready; close cancels the timeline', async () => {
    const markers: Marker[] = [];
    const a = fakeVm('xlvb-2-user-a');
    const t = new TrialVms({ row: 'user/iperf3', backend: 'user', trial: 1, timeline: [{ atMs: 0, action: { kind: 'announce_self' } }], marker: (m) => markers.push(m), vmsChanged: () => {} });
    t.onVms([a.v]);
    await t.command('a', 'query-status', undefined, 'console');
    t.close();
    expect(markers).toHaveLength(1);
    expect(markers[0]).toMatchObject({ row: 'user/iperf3', trial: 1, name: 'query-status' });
    expect(markers[0]!.tMs).toBeGreaterThanOrEqual(0);
    t.onWindow(Date.now());
    await sleep(20);
    expect(a.sent.map((s) => s.cmd)).toEqual(['query-status']);
  });
});

describe('timeline checks at plan time', () => {
  const caps = { version: '10.0.2', qmpCommands: ['announce-self', 'query-status', 'set_link'] };
  const scenario = (timeline: unknown[]) => resolveScenario({ tests: [], vm: { backends: ['tap'] }, timeline });
  it('rows must be VM rows of the plan; a qmp command must be one this QEMU has', () => {
    expect(() => checkTimeline(scenario([{ atMs: 0, rows: ['tap/iperf3'], action: { kind: 'qmp', command: 'query-status' } }]), ['tap/iperf3'], caps)).not.toThrow();
    expect(() => checkTimeline(scenario([{ atMs: 0, action: { kind: 'announce_self' } }, { atMs: 1, rows: ['txonly-native-64B'], action: { kind: 'announce_self' } }]), ['tap/iperf3', 'tap/txonly'], caps))
      .toThrow(expect.objectContaining({ field: 'timeline[1].rows', message: expect.stringMatching(/'txonly-native-64B' is not a VM row of this plan; its VM rows: tap\/iperf3, tap\/txonly/) }));
    expect(() => checkTimeline(scenario([{ atMs: 0, action: { kind: 'qmp', command: 'warp' } }]), ['tap/iperf3'], caps))
      .toThrow(expect.objectContaining({ field: 'timeline[0].action.command', message: expect.stringMatching(/QEMU 10\.0\.2 has no QMP command 'warp'/) }));
  });
});

describe('markers in the report', () => {
  it('ReportWriter.marker rewrites report.json at once; an abandoned report keeps its markers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdplab-markers-'));
    try {
      const report = sampleReport('m1', () => 1e6);
      const samples = report.samples;
      report.samples = [];
      report.status = 'incomplete';
      delete report.finishedAt;
      const w = new ReportWriter(dir, report);
      for (const s of samples) w.sample(s);
      const m: Marker = { row: report.rows[0]!.id, trial: 0, tMs: 1200, kind: 'command', name: 'set_link', source: 'timeline', ok: true, detail: '{"name":"n0","up":false}' };
      w.marker(m);
      const [run] = readdirSync(dir);
      const file = join(dir, run!, 'report.json');
      expect(JSON.parse(readFileSync(file, 'utf8')).markers).toEqual([m]);
      // The engine dies here (no finish): recovery takes the samples from samples.jsonl, keeps the markers.
      expect(finishAbandonedReport(join(dir, run!), 'the engine died')).toBe(true);
      const recovered = JSON.parse(readFileSync(file, 'utf8'));
      expect(recovered.markers).toEqual([m]);
      expect(recovered.samples).toHaveLength(samples.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
