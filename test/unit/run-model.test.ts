// The run model without root: the contracts (scenario flags from metadata, errors naming the
// flag), the row kinds' plans and their order, the trial order, and the worker's one JSON spec.
import { describe, expect, it } from 'vitest';
import { BENCH_USAGE, parseBenchArgs } from '../../benchmarks/cli/commands/bench.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { resolveScenario, scenarioFlags } from '../../benchmarks/contracts/scenario.js';
import { parseWorkerSpec } from '../../benchmarks/engines/worker.js';
import { ROW_KINDS, planRows } from '../../benchmarks/rows/registry.js';
import { trialSteps } from '../../benchmarks/runs/trial-order.js';

const errorOf = (f: () => unknown): LabError => {
  try { f(); } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a LabError');
};

describe('the scenario contract', () => {
  it('names the CLI flag of a bad field, nested VM fields too', () => {
    expect(errorOf(() => resolveScenario({ modes: ['drv'] })).message).toBe('--modes: expected one of native, skb, got "drv"');
    expect(errorOf(() => resolveScenario({ burst: 513 })).field).toBe('--burst');
    expect(errorOf(() => resolveScenario({ vm: { backends: ['tap'], nicModel: 'rtl8139' } })).field).toBe('--nic');
    expect(errorOf(() => resolveScenario({ vm: { backends: ['tap'], tests: ['pingpong'] } })).field).toBe('--tests');
    expect(errorOf(() => resolveScenario({ tests: [] })).message).toMatch(/--engines: choose at least one of txonly, rxonly, io, macswap, iperf3, or VM rows/);
    expect(errorOf(() => resolveScenario({ timeline: [{ atMs: 1000, action: { kind: 'set_link' } }] })).field).toMatch(/^--timeline/);
    expect(resolveScenario({ tests: [], vm: { backends: ['user'] } }).vm).toEqual({ backends: ['user'], tests: ['iperf3'], pvp: false, nicModel: 'virtio-net-pci' });
  });

  it("xdplab bench's flags, help and defaults come from the schema's metadata", () => {
    const flags = scenarioFlags();
    expect(flags.map((f) => f.flag)).toEqual(expect.arrayContaining(['--engines', '--modes', '--copy', '--frame-bytes', '--duration', '--interleave']));
    for (const f of flags) expect(BENCH_USAGE).toContain(f.flag);
    expect(BENCH_USAGE).toMatch(/--modes LIST +AF_XDP attach modes: native,skb \(default native,skb\)/);
    expect(BENCH_USAGE).toMatch(/--duration S +measured window per trial \(default 3\)/);
    const a = parseBenchArgs(['--engines', 'txonly,io', '--frame-bytes', '64,1518', '--duration', '1.5', '--copy', '--trials', '2'], {});
    expect(a.scenario).toEqual({ tests: ['txonly', 'io'], frameBytes: [64, 1518], durationMs: 1500, copy: true, trials: 2 });
    // Text becomes numbers and lists; the schema judges the values (RunManager.start).
    expect(parseBenchArgs(['--modes', 'drv'], {}).scenario).toEqual({ modes: ['drv'] });
    expect(() => parseBenchArgs(['--duration', 'soon'], {})).toThrow(/--duration: expected a number, got 'soon'/);
  });
});

describe('row kinds', () => {
  it('every kind is in the one registry, with a name of its own', () => {
    const kinds = ROW_KINDS.map((k) => k.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
    expect(kinds).toEqual(['engine', 'testpmd', 'ceiling', 'search-rx', 'search-fwd', 'latency-rx', 'latency-fwd', 'iperf3-xdplab', 'iperf3-bridge', 'iperf3-testpmd', 'iperf3-peer', 'rtt-peer', 'vm-iperf3', 'vm-packet', 'vm-search', 'vm-pvp']);
  });

  it('plans the default matrix in report order: each cell with its reference and ceiling, iperf3 after', async () => {
    const rows = await planRows(resolveScenario({ tests: ['txonly', 'rxonly', 'iperf3'], modes: ['native', 'skb'], reference: ['testpmd'] }));
    expect(rows.map((r) => r.id)).toEqual([
      'txonly-native-64B', 'txonly-native-64B-testpmd', 'txonly-skb-64B', 'txonly-skb-64B-testpmd',
      'rxonly-native-64B', 'rxonly-native-64B-testpmd', 'rxonly-native-64B-xdp-drop', 'rxonly-skb-64B', 'rxonly-skb-64B-testpmd', 'rxonly-skb-64B-xdp-drop',
      'iperf3-native', 'iperf3-skb', 'iperf3-kernel-bridge', 'iperf3-testpmd',
    ]);
    expect(rows.find((r) => r.id === 'rxonly-skb-64B-xdp-drop')).toMatchObject({ kind: 'ceiling', needs: 'packet', tool: 'xdp-drop', mode: 'skb' });
    expect(rows.find((r) => r.id === 'iperf3-skb')).toMatchObject({ kind: 'iperf3-xdplab', needs: 'forward' });
    // Kinds that need privileges of their own say so for runs through xdplab helper.
    expect(rows.filter((r) => r.viaHelper === undefined).map((r) => r.kind)).toEqual(Array(4).fill('engine'));
  });

  it('--peer-host: the engine rows and the ceiling as here, iperf3 across the hosts only; what cannot cross is refused naming its flag', async () => {
    const base = { peerHost: 'root@gen', ifname: 'enp1s0', peer: 'enp1s0', modes: ['native'] };
    const rows = await planRows(resolveScenario({ ...base, tests: ['txonly', 'rxonly', 'iperf3'] }));
    expect(rows.map((r) => `${r.id}:${r.kind}`)).toEqual(['txonly-native-64B:engine', 'rxonly-native-64B:engine', 'rxonly-native-64B-xdp-drop:ceiling', 'iperf3-peer-host:iperf3-peer']);
    expect(rows[3]).toMatchObject({ needs: 'packet', tool: 'kernel', mode: 'tcp' });
    // --latency across hosts is the round-trip row, with no search.
    const withRtt = await planRows(resolveScenario({ ...base, tests: ['iperf3'], latency: true }));
    expect(withRtt.map((r) => `${r.id}:${r.kind}`)).toEqual(['iperf3-peer-host:iperf3-peer', 'rtt-peer-host:rtt-peer']);
    const refused = (extra: Record<string, unknown>) => { try { resolveScenario({ ...base, ...extra }); return undefined; } catch (e) { return e as LabError; } };
    expect(refused({ ifname: undefined, peer: undefined })).toMatchObject({ field: '--ifname', message: expect.stringContaining('--peer-host needs --ifname') });
    expect(refused({ reference: ['testpmd'] })).toMatchObject({ field: '--reference' });
    expect(refused({ generator: 'testpmd' })).toMatchObject({ field: '--generator' });
    expect(refused({ tests: ['rxonly'], search: ['ndr'] })).toMatchObject({ field: '--search' });
    expect(refused({ tests: [], vm: { backends: ['user'] } })).toMatchObject({ field: '--backends' });
    expect(refused({ peerHost: 'root@gen; rm -rf /' })).toMatchObject({ field: '--peer-host', message: expect.stringContaining('[USER@]HOST') });
    const noHost = (() => { try { resolveScenario({ ssh: 'ssh -F x' }); return undefined; } catch (e) { return e as LabError; } })();
    expect(noHost).toMatchObject({ field: '--ssh' });
    expect(parseBenchArgs(['--peer-host', 'root@gen', '--ssh', 'ssh -F /tmp/c', '--ifname', 'a', '--peer', 'b']).scenario).toMatchObject({ peerHost: 'root@gen', ssh: 'ssh -F /tmp/c' });
  });

  it('plans no host rows for a VM-only scenario, and no VM rows for a host one', async () => {
    const vmOnly = resolveScenario({ tests: [], vm: { backends: ['user'] } });
    const host = ROW_KINDS.filter((k) => !k.kind.startsWith('vm-'));
    for (const k of host) expect(await k.plan(vmOnly, { tools: {} }), k.kind).toEqual([]);
    const hostOnly = resolveScenario({ tests: ['txonly'] });
    for (const k of ROW_KINDS.filter((x) => x.kind.startsWith('vm-'))) expect(await k.plan(hostOnly, { tools: {} }), k.kind).toEqual([]);
  });
});

describe('the trial order', () => {
  it('row by row, or interleaved A B A B', () => {
    expect(trialSteps(['a', 'b'], 2, false).map((s) => `${s.row}${s.trial}`)).toEqual(['a0', 'a1', 'b0', 'b1']);
    expect(trialSteps(['a', 'b'], 2, true).map((s) => `${s.row}${s.trial}`)).toEqual(['a0', 'b0', 'a1', 'b1']);
    expect(trialSteps([], 3, true)).toEqual([]);
  });
});

describe("the worker's spec", () => {
  it('one JSON argument, defaults filled in, bad members named', () => {
    expect(parseWorkerSpec(JSON.stringify({ ifname: 'v0', engine: 'txonly' }))).toMatchObject({ ifname: 'v0', engine: 'txonly', mode: 'native', copy: false, burst: 64, frameBytes: 64, txBudget: 0 });
    expect(errorOf(() => parseWorkerSpec(JSON.stringify({ ifname: 'v0', engine: 'warp' }))).message).toBe('engine: expected one of txonly, rxonly, io, macswap, got "warp"');
    expect(errorOf(() => parseWorkerSpec(JSON.stringify({ ifname: 'v0', engine: 'rxonly', burst: 4096 }))).field).toBe('burst');
    expect(errorOf(() => parseWorkerSpec(JSON.stringify({ ifname: 'v0', engine: 'rxonly', batch: 64 }))).message).toMatch(/batch: unknown member/);
    expect(errorOf(() => parseWorkerSpec('{')).code).toBe('EUSAGE');
  });
});
