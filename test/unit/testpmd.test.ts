import { describe, expect, it } from 'vitest';
import { TestpmdOutputParser, rateFromSamples, testpmdArgs } from '../../benchmarks/tools/testpmd.js';

// Output of dpdk-testpmd 22.11 (net_af_xdp, rxonly, --stats-period 1) as it arrives on a pipe.
const BLOCK = (rx: number, missed: number, tx: number, rxPps: number, txPps: number) => [
  '\x1b[2J\x1b[1;1H',
  'Port statistics ====================================',
  '  ######################## NIC statistics for port 0  ########################',
  `  RX-packets: ${rx}          RX-missed: ${missed}          RX-bytes:  ${rx * 64}`,
  '  RX-errors: 0',
  '  RX-nombuf:  0         ',
  `  TX-packets: ${tx}          TX-errors: 0          TX-bytes:  ${tx * 64}`,
  '',
  '  Throughput (since last show)',
  `  Rx-pps:       ${rxPps}          Rx-bps:    ${rxPps * 512}`,
  `  Tx-pps:       ${txPps}          Tx-bps:    ${txPps * 512}`,
  '  ############################################################################',
];

const START = [
  'Set rxonly packet forwarding mode',
  'Auto-start selected',
  'Configuring Port 0 (socket 0)',
  'No commandline core given, start packet forwarding',
  'rxonly packet forwarding - ports=1 - cores=1 - streams=1 - NUMA support enabled, MP allocation mode: native',
];

const END = [
  'Telling cores to stop...',
  'Waiting for lcores to finish...',
  '  ---------------------- Forward statistics for port 0  ----------------------',
  '  RX-packets: 5478422        RX-dropped: 17130         RX-total: 5495552',
  '  TX-packets: 0              TX-dropped: 0             TX-total: 0',
  '  ----------------------------------------------------------------------------',
  '  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++',
  '  RX-packets: 5478422        RX-dropped: 17130         RX-total: 5495552',
  '  TX-packets: 0              TX-dropped: 0             TX-total: 0',
  '  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++',
];

describe('testpmd output', () => {
  it('parses periodic statistics blocks and the accumulated statistics', () => {
    const p = new TestpmdOutputParser();
    let t = 0;
    for (const l of START) p.line(l, t++);
    expect(p.forwardingAtMs).toBe(3);
    const blocks = [BLOCK(0, 0, 0, 0, 0), BLOCK(946089, 3159, 0, 470714, 0), BLOCK(1859497, 3159, 0, 456515, 0)];
    const seen = [];
    for (const [i, b] of blocks.entries()) for (const l of b) { const s = p.line(l, 1000 * (i + 1)); if (s) seen.push(s); }
    expect(seen).toHaveLength(3);
    expect(p.samples[1]).toEqual({ atMs: 2000, rxPackets: 946089, rxMissed: 3159, txPackets: 0, txErrors: 0, rxPps: 470714, txPps: 0 });
    for (const l of END) p.line(l, 9000);
    expect(p.accumulated).toEqual({ rxPackets: 5478422, rxDropped: 17130, rxTotal: 5495552, txPackets: 0, txDropped: 0, txTotal: 0 });
    // The per-port "Forward statistics" block (same line format) is not mistaken for it.
    expect(p.samples).toHaveLength(3);
  });

  it('rates come from the first and last blocks inside the window', () => {
    const samples = [0, 1000, 3000, 5000, 7000].map((atMs, i) => ({ atMs, n: i * 1000 }));
    expect(rateFromSamples(samples, (s) => s.n, 900, 6000)).toMatchObject({ packets: 2000, seconds: 4, pps: 500, samples: 3 });
    expect(rateFromSamples(samples, (s) => s.n, 6500, 9000)).toBeNull();
  });

  it('builds the command line of the lab recipe', () => {
    expect(testpmdArgs({ netns: 'n', ifname: 'veth0', forwardMode: 'txonly', filePrefix: 'xl-1', lcores: [0, 1], mainLcore: 0 }).join(' '))
      .toBe('--no-huge -m 1024 --no-pci --vdev net_af_xdp0,iface=veth0 --file-prefix xl-1 -l 0,1 --main-lcore 0 -- --forward-mode=txonly --stats-period 1 --nb-cores=1 -a --txpkts=64');
    expect(testpmdArgs({ netns: 'n', ifname: 'v', forwardMode: 'rxonly', filePrefix: 'p', lcores: [0, 1], mainLcore: 1, vdevIndex: 1, devargs: { busy_budget: 0 } }).join(' '))
      .toBe('--no-huge -m 1024 --no-pci --vdev net_af_xdp1,iface=v,busy_budget=0 --file-prefix p -l 0,1 --main-lcore 1 -- --forward-mode=rxonly --stats-period 1 --nb-cores=1 -a');
    // The scenario's burst goes to testpmd too, so both tools move the same bursts.
    expect(testpmdArgs({ netns: 'n', ifname: 'v', forwardMode: 'io', filePrefix: 'p', lcores: [0, 1], mainLcore: 0, burst: 64 }).join(' ')).toMatch(/ -a --burst=64$/);
  });
});
