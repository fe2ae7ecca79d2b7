// xdplab vm bench's pure parts: backend names and aliases, flag checks (exit 2 material), and
// which rows are unavailable and why, from given capabilities and host facts.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../benchmarks/cli/io.js';
import { parseVmBenchArgs } from '../../benchmarks/cli/commands/vm-bench.js';
import { driverAvailability, type QemuCapabilities } from '../../benchmarks/qemu/capabilities.js';
import { VM_BACKEND_NAMES, expandBackends } from '../../benchmarks/qemu/backends.js';
import { planVmRows } from '../../benchmarks/vmbench/plan.js';
import type { HostFacts } from '../../benchmarks/vmbench/prerequisites.js';

const HELP = ['socket', 'stream', 'dgram', 'hubport', 'tap', 'user', 'l2tpv3', 'vde', 'bridge', 'vhost-user', 'vhost-vdpa'];

function caps(netdevHelp: string[], afXdp: boolean): QemuCapabilities {
  const facts = { version: '10.0.2', versionText: 'QEMU emulator version 10.0.2', netdevHelp, accelerators: ['tcg'] };
  return {
    ...facts, drivers: driverAvailability(facts),
    afXdp: afXdp ? { present: true, members: ['ifname'] } : { present: false, reason: 'this QEMU lacks af-xdp' },
    binary: { asked: 'q', path: '/usr/bin/qemu-system-x86_64', realPath: '/usr/bin/qemu-system-x86_64', system: true, source: 'default', mtimeMs: 0, size: 0 },
    dataDirs: [], kvm: { usable: false, detail: 'no' }, fromCache: true, cacheFile: '',
  };
}

const HOST: HostFacts = {
  root: true, tun: true, vhostNet: false, vhostVdpa: [], vdeSwitch: true, iperf3: true,
  bridgeHelper: '/usr/lib/qemu/qemu-bridge-helper', bridgeAcl: { path: '/etc/qemu/bridge.conf', exists: false, allowAll: false },
};

describe('vm bench backends and flags', () => {
  it('expands short names in order, without duplicates; unknown names list what is allowed', () => {
    expect(expandBackends(['user', 'stream', 'stream-unix', 'dgram'])).toEqual(['user', 'stream-unix', 'stream-inet', 'dgram-unix', 'dgram-inet']);
    expect(expandBackends(['all'])).toEqual(VM_BACKEND_NAMES);
    expect(() => expandBackends(['warp'])).toThrow(/backends: unknown backend 'warp'; allowed: user, tap, .*af-xdp.*, stream, dgram, all/);
  });

  it('bad flag values are usage errors naming the flag', () => {
    expect(() => parseVmBenchArgs(['--backends', 'user,warp'])).toThrow(UsageError);
    expect(() => parseVmBenchArgs(['--tests', 'ping'])).toThrow(/--tests: unknown test 'ping'; allowed: iperf3, txonly, rxonly/);
    expect(() => parseVmBenchArgs(['--nic', 'rtl8139'])).toThrow(/--nic: unknown NIC model 'rtl8139'; allowed: virtio-net-pci, e1000/);
    expect(() => parseVmBenchArgs(['--trials', '0'])).toThrow(/--trials: expected an integer from 1 to 100, got 0/);
    expect(() => parseVmBenchArgs(['--duration', '0.2'])).toThrow(/--duration: expected 1 to 600 seconds/);
    expect(() => parseVmBenchArgs(['--fault', 'meteor'])).toThrow(/--fault: unknown fault 'meteor'; allowed: kill-qemu, link-down/);
    expect(() => parseVmBenchArgs(['--bogus'])).toThrow(UsageError);
    expect(() => parseVmBenchArgs(['--parallel', 'two'])).toThrow(/--parallel: expected a whole number, got 'two'/);
    expect(() => parseVmBenchArgs(['--parallel', '0'])).toThrow(/--parallel: expected an integer from 1 to 128, got 0/);
    expect(parseVmBenchArgs(['--parallel', '4']).options.parallel).toBe(4);
    expect(parseVmBenchArgs([]).options.parallel).toBeUndefined();
    const q = parseVmBenchArgs(['--quick', '--backends', 'stream', '--fault', 'kill-qemu']).options;
    expect(q).toMatchObject({ durationMs: 1000, trials: 1, backends: ['stream'], faults: [{ kind: 'kill-qemu', row: 'stream-unix/iperf3' }] });
  });

  it('plans rows: unavailable with the reason where this QEMU or host lacks a piece, packet tests where they cannot run', () => {
    const rows = planVmRows(expandBackends(['user', 'tap', 'tap-vhost', 'bridge', 'af-xdp', 'netmap']), ['iperf3', 'txonly'], caps(HELP, false), HOST);
    const by = Object.fromEntries(rows.map((r) => [r.id, r.unavailable]));
    expect(by['user/iperf3']).toBeUndefined();
    expect(by['tap/iperf3']).toBeUndefined();
    expect(by['user/txonly']).toMatch(/user cannot carry packet tests: there is no host interface for an AF_XDP peer/);
    expect(by['tap/txonly']).toBeUndefined();
    expect(by['tap-vhost/iperf3']).toMatch(/\/dev\/vhost-net is absent/);
    expect(by['bridge/iperf3']).toMatch(/bridge\.conf does not exist/);
    expect(by['af-xdp/iperf3']).toMatch(/lacks af-xdp: it needs QEMU >= 8\.2 built with libxdp >= 1\.4.*validates: af-xdp,id=n0/);
    expect(by['af-xdp/txonly']).toMatch(/lacks af-xdp/);
    expect(by['netmap/iperf3']).toMatch(/lacks netmap/);
    // Where the pieces exist, the rows run.
    const all = planVmRows(expandBackends(['tap-vhost', 'af-xdp']), ['iperf3'], caps([...HELP, 'af-xdp'], true), { ...HOST, vhostNet: true });
    expect(all.map((r) => r.unavailable)).toEqual([undefined, undefined]);
    expect(planVmRows(['tap'], ['iperf3'], caps(HELP, false), { ...HOST, root: false })[0]!.unavailable).toMatch(/needs root/);
  });

  it('vhost-user rows: xdplab\'s back end needs root; the testpmd reference needs dpdk-testpmd with the vhost and AF_XDP PMDs', () => {
    const pmds = ['librte_net_vhost', 'librte_net_af_xdp'];
    const plan = (host: HostFacts) => Object.fromEntries(planVmRows(['vhost-user', 'vhost-user-testpmd'], ['iperf3', 'txonly', 'rxonly'], caps(HELP, false), host).map((r) => [r.id, r.unavailable]));
    expect(Object.values(plan({ ...HOST, testpmd: true, dpdkPmds: pmds }))).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    const noVhostPmd = plan({ ...HOST, testpmd: true, dpdkPmds: ['librte_net_af_xdp'] });
    expect(noVhostPmd['vhost-user/iperf3']).toBeUndefined();
    expect(noVhostPmd['vhost-user-testpmd/iperf3']).toMatch(/vhost and AF_XDP PMDs: missing librte_net_vhost/);
    expect(plan({ ...HOST, testpmd: false, dpdkPmds: [] })['vhost-user-testpmd/txonly']).toMatch(/dpdk-testpmd not found/);
    expect(plan({ ...HOST, root: false, testpmd: true, dpdkPmds: pmds })['vhost-user/iperf3']).toMatch(/needs root: xdplab vhost serve/);
  });
});
