// The vhost-user-testpmd backend under real QEMU (TCG), real dpdk-testpmd and real iperf3, through
// the run model (RunManager, what `xdplab vm bench` is a front end of): the guest's NIC is
// -netdev vhost-user on a unix socket, dpdk-testpmd is the vhost-user server (net_vhost0) and
// forwards in io mode to its AF_XDP port (net_af_xdp0) on a veth end; the other end, in a lab
// namespace, runs the iperf3 client. TCP both ways; afterwards no testpmd or QEMU process, DPDK
// runtime dir, namespace, veth or temp file of the run is left.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ReportSchema, type Report, type Row } from '../../benchmarks/contracts/report.js';
import { labStateDir } from '../../benchmarks/lab/state.js';
import { ensureGuestImage } from '../../benchmarks/qemu/guest-image.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { suite } from '../helpers/requirements.js';

const QEMU = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';
const ID = 'vhost-user-testpmd/iperf3';
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

const pgrep = (pattern: string): string[] => {
  try { return execFileSync('pgrep', ['-a', '-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { return []; }
};

/** QEMU and testpmd processes of VM rows, their temp and socket dirs, testpmd's runtime dirs. */
function leftovers(prefixes: string[]): { processes: string[]; dirs: string[] } {
  // The VM rows' names and socket dirs start with xlvb-; testpmd's socket lives in such a dir.
  const processes = [...pgrep('qemu-system.*-name xlvb-'), ...pgrep('dpdk-testpmd.*iface=\\S*/xlvb-')];
  const dirs = [...new Set([tmpdir(), '/tmp'])].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('xdplab-xlvb-') || /^xlvb-.*-[A-Za-z0-9]{6}$/.test(n)).map((n) => join(d, n)));
  for (const p of prefixes) if (existsSync(`/var/run/dpdk/${p}`)) dirs.push(`/var/run/dpdk/${p}`);
  return { processes, dirs };
}

/** A veth end of a lab left in the host namespace (ours live in lab namespaces). */
function strayLinks(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '').filter((n) => /^xl-[0-9a-f]{6}-(vx|vp)$/.test(n));
}

suite('vhost-user-testpmd: iperf3 through dpdk-testpmd (net_vhost <-> net_af_xdp)', { root: true, tools: [QEMU, 'iperf3', 'ip', 'pgrep', 'dpdk-testpmd'] }, () => {
  let nsBefore: Set<string>;
  let report: Report;
  let row: Row;
  let testpmdDuring: string[] = [];
  const outDir = mkdtempSync(join(tmpdir(), 'xl-vut-test-'));

  beforeAll(async () => {
    await ensureGuestImage({});
    nsBefore = new Set(namespaces());
    const rm = new RunManager(join(outDir, 'run'));
    // While the trial's VM runs, its back end is there (the check afterwards must see it gone).
    rm.on('runVms', (e) => { if (e.vms.length) testpmdDuring = pgrep('dpdk-testpmd.*iface=\\S*/xlvb-'); });
    const h = await rm.start({ tests: [], durationMs: 5000, warmupMs: 0, trials: 1, vm: { backends: ['vhost-user-testpmd'], tests: ['iperf3'] } }, { command: ['test'] });
    report = await h.done;
    row = report.rows.find((r) => r.id === ID)!;
  }, 300_000);

  afterAll(() => { if (!process.env.XDPLAB_KEEP_TEST_REPORTS) rmSync(outDir, { recursive: true, force: true }); });

  it('the row is ok: iperf3 both ways through testpmd, > 0 bits/s each', () => {
    expect(ReportSchema.safeParse(report).success).toBe(true);
    expect(row, report.rows.map((r) => r.id).join(', ')).toBeDefined();
    expect({ status: row.status, reason: row.reason }).toEqual({ status: 'ok', reason: undefined });
    const m = row.trials[0]!.metrics;
    console.log(`vhost-user-testpmd iperf3: forward ${(m.bitsPerSecond! / 1e9).toFixed(3)} Gbps, reverse ${(m.reverseBitsPerSecond! / 1e9).toFixed(3)} Gbps`);
    expect(m.bitsPerSecond).toBeGreaterThan(0);
    expect(m.reverseBitsPerSecond).toBeGreaterThan(0);
    expect(m.bytes).toBeGreaterThan(0);
    expect(m.reverseBytes).toBeGreaterThan(0);
    // Live samples as every host<->guest iperf3 row has them: the server guest's NIC.
    expect(row.liveSource).toMatch(/^guest-nic/);
    expect(report.samples.filter((s) => s.row === ID && s.metrics.bitsPerSecond !== undefined).length).toBeGreaterThan(3);
    expect(report.samples.filter((s) => s.row === ID && s.metrics.reverseBitsPerSecond !== undefined).length).toBeGreaterThan(3);
  });

  it('command lines: QEMU with shared memfd memory and the vhost-user chardev, then testpmd\'s', () => {
    const qemu = row.commandLines[0]!;
    expect(qemu).toContain('qemu-system');
    expect(qemu).toMatch(/-m 256 .*-object memory-backend-memfd,id=xlmem,size=256M,share=on -numa node,memdev=xlmem/);
    expect(qemu).toMatch(/-chardev socket,id=xlvhost,path=\S+\/vhost\.sock,reconnect-ms=1000/);
    expect(qemu).toMatch(/-netdev vhost-user,id=n0,chardev=xlvhost -device virtio-net-pci,netdev=n0,/);
    expect(qemu).toContain('csum=off');
    const testpmd = row.commandLines.find((c) => c.includes('dpdk-testpmd'))!;
    expect(testpmd).toMatch(/^ip netns exec xl-[0-9a-f]{6}-vm dpdk-testpmd -l 0-1 --no-huge --no-pci -m 512 --file-prefix \S+ --vdev net_vhost0,iface=\S+\/vhost\.sock,queues=1 --vdev net_af_xdp0,iface=xl-[0-9a-f]{6}-vx -- --forward-mode=io --total-num-mbufs=16384/);
    expect(row.commandLines.some((c) => c.includes('iperf3 -c') && c.includes('-R'))).toBe(true);
    expect(testpmdDuring).toHaveLength(1);
  });

  it('nothing is left: no testpmd or QEMU process, DPDK runtime dir, namespace, veth or temp file', async () => {
    const prefixes = [...row.commandLines.join(' ').matchAll(/--file-prefix (\S+)/g)].map((m) => m[1]!);
    expect(prefixes).toHaveLength(1);
    for (let i = 0; i < 40 && leftovers(prefixes).processes.length; i++) await sleep(100);
    const left = leftovers(prefixes);
    for (const d of left.dirs) rmSync(d, { recursive: true, force: true });
    expect({ ...left, namespaces: strayNamespaces(nsBefore), links: strayLinks() }).toEqual({ processes: [], dirs: [], namespaces: [], links: [] });
  });
});
