// QEMU network backends end to end under real QEMU (TCG here) with real iperf3: one
// `xdplab vm bench` run (the CLI from dist/) over every backend carries TCP both ways through each
// backend that can run on this machine, and writes a report that validates against the schema,
// with unavailable rows saying why (af-xdp, tap-vhost, ...). Then QMP on a running VM (set_link,
// query-rx-filter), faults during a run (QEMU killed, link set down), and bad flags. After each
// test no QEMU process, namespace, tap, socket file or temp dir of ours is left.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../benchmarks/lab/lab.js';
import { labStateDir } from '../../benchmarks/lab/state.js';
import { ensureGuestImage, type GuestImage } from '../../benchmarks/qemu/guest-image.js';
import { ReportSchema, type Report, type Row } from '../../benchmarks/contracts/report.js';
import { VM_BACKEND_NAMES, type VmBackendName } from '../../benchmarks/qemu/backends.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { backendProblem, capabilitiesFor, hostFacts } from '../../benchmarks/vmbench/prerequisites.js';
import { VmGroup } from '../../benchmarks/qemu/vm-group.js';
import { suite } from '../helpers/requirements.js';

const ROOT = join(import.meta.dirname, '..', '..');
const QEMU = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'xdplab.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
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
  const now = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('xl-'));
  return now.filter((n) => !before.has(n) && !owned.has(n));
}

/** QEMU processes, temp dirs and socket dirs of vm bench (their names start with xlvb-). */
function leftovers(): { processes: string[]; dirs: string[] } {
  let processes: string[] = [];
  try { processes = execFileSync('pgrep', ['-a', '-f', 'qemu-system.*-name xlvb-'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { /* none */ }
  const dirs = [...new Set([tmpdir(), '/tmp'])].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('xdplab-xlvb-') || /^xlvb-.*-[A-Za-z0-9]{6}$/.test(n)).map((n) => join(d, n)));
  return { processes, dirs };
}

/** A tap or bridge of a lab left in the host namespace (ours live in lab namespaces). */
function strayLinks(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '').filter((n) => /^xl-[0-9a-f]{6}-(tap|br)$/.test(n));
}

suite('QEMU backends end to end (xdplab vm bench)', { root: true, tools: [QEMU, 'iperf3', 'ip', 'pgrep'] }, () => {
  let image: GuestImage;
  let nsBefore: Set<string>;
  const outDir = mkdtempSync(join(tmpdir(), 'xl-vmbench-test-'));

  beforeAll(async () => {
    image = await ensureGuestImage({});
    nsBefore = new Set(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));
    if (!existsSync(join(ROOT, 'dist', 'benchmarks', 'cli', 'commands', 'vm-bench.js'))) throw new Error('dist/ has no vm bench: run npm run build first');
  }, 300_000);

  afterEach(async () => {
    // A lab closes synchronously; QEMU may take a moment to be reaped.
    for (let i = 0; i < 40 && leftovers().processes.length; i++) await sleep(100);
    const left = leftovers();
    for (const d of left.dirs) rmSync(d, { recursive: true, force: true });
    expect({ ...left, namespaces: strayNamespaces(nsBefore), links: strayLinks() }).toEqual({ processes: [], dirs: [], namespaces: [], links: [] });
  });

  afterAll(() => { rmSync(outDir, { recursive: true, force: true }); });

  describe('xdplab vm bench over every backend', () => {
    let report: Report;
    let reportDir: string;
    let exitCode: number | null;
    let runnable: VmBackendName[];
    let problems: Map<VmBackendName, string>;
    const row = (id: string): Row => {
      const r = report.rows.find((x) => x.id === id);
      if (!r) throw new Error(`no row ${id} in ${report.rows.map((x) => x.id).join(', ')}`);
      return r;
    };

    beforeAll(async () => {
      const caps = await capabilitiesFor(QEMU);
      const host = hostFacts();
      problems = new Map();
      for (const b of VM_BACKEND_NAMES) { const p = backendProblem(b, caps, host); if (p) problems.set(b, p.message); }
      runnable = VM_BACKEND_NAMES.filter((b) => !problems.has(b));
      const r = await cli(['vm', 'bench', '--backends', 'all', '--tests', 'iperf3,txonly,rxonly', '--duration', '1', '--trials', '1', '--out', outDir, '--json'], 600_000);
      exitCode = r.code;
      const dirs = readdirSync(outDir).filter((d) => d !== 'faults');
      expect(dirs, r.stderr).toHaveLength(1);
      reportDir = join(outDir, dirs[0]!);
      report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as Report;
      // --json prints the same report.
      expect((JSON.parse(r.stdout) as Report).id).toBe(report.id);
    }, 660_000);

    it('the report validates against the schema; one row per backend x test, with backend set', () => {
      expect(ReportSchema.safeParse(report).success).toBe(true);
      expect(report.rows).toHaveLength(VM_BACKEND_NAMES.length * 3);
      for (const r of report.rows) expect(r.id).toBe(`${r.backend}/${r.test}`);
      expect(report.environment.tools.qemu).toMatch(/QEMU emulator version \d+/);
      expect(report.environment.tools['qemu-netdevs']).toContain('user');
      expect(report.environment.tools['qemu-af-xdp']).toBeDefined();
      expect(report.environment.tools['qemu-accel']).toMatch(/^(kvm|tcg)/);
      expect(report.scenario).toMatchObject({ tests: [], durationMs: 1000, trials: 1, vm: { nicModel: 'virtio-net-pci' } });
      // Samples were streamed to samples.jsonl as they came.
      const lines = readFileSync(join(reportDir, 'samples.jsonl'), 'utf8').trim().split('\n');
      expect(lines.length).toBe(report.samples.length);
      expect(lines.length).toBeGreaterThan(0);
      expect(exitCode).toBe(report.status === 'complete' ? 0 : 1);
    });

    it.each(VM_BACKEND_NAMES)('%s: iperf3 passes traffic both ways, or the row says why it cannot run', (backend) => {
      const r = row(`${backend}/iperf3`);
      if (!runnable.includes(backend)) {
        expect(r.status).toBe('unavailable');
        expect(r.reason).toContain(problems.get(backend)!);
        expect(r.trials).toEqual([]);
        return;
      }
      expect({ status: r.status, reason: r.reason }).toEqual({ status: 'ok', reason: undefined });
      const m = r.trials[0]!.metrics;
      expect(m.bytes).toBeGreaterThan(0);
      expect(m.reverseBytes).toBeGreaterThan(0);
      expect(m.bitsPerSecond).toBeGreaterThan(0);
      expect(m.reverseBitsPerSecond).toBeGreaterThan(0);
      // The exact QEMU command line(s) first, with this backend's -netdev.
      const qemuLines = r.commandLines.filter((c) => c.includes('qemu-system'));
      expect(qemuLines.length).toBe(r.backend && ['socket', 'stream-unix', 'stream-inet', 'dgram-unix', 'dgram-inet', 'vde', 'l2tpv3'].includes(r.backend) ? 2 : 1);
      expect(r.commandLines[0]).toContain('qemu-system');
      const type = { 'vhost-user-testpmd': 'vhost-user', 'tap-bridge': 'tap', 'tap-vhost': 'tap', 'stream-unix': 'stream', 'stream-inet': 'stream', 'dgram-unix': 'dgram', 'dgram-inet': 'dgram' }[backend as string] ?? backend;
      expect(qemuLines[0]).toContain(`-netdev ${type},id=`);
      expect(r.commandLines.some((c) => c.includes('iperf3 -c') && c.includes('-R'))).toBe(true);
    });

    it('af-xdp and tap-vhost: unavailable here with the reason and what to install (where this machine lacks them)', async () => {
      const caps = await capabilitiesFor(QEMU);
      const afxdp = row('af-xdp/iperf3');
      if (!caps.afXdp.present) {
        expect(afxdp.status).toBe('unavailable');
        expect(afxdp.reason).toMatch(/lacks af-xdp: it needs QEMU >= 8\.2 built with libxdp >= 1\.4/);
        // Built and validated with the model anyway.
        expect(afxdp.reason).toMatch(/validates: af-xdp,id=n0,ifname=\S+,mode=skb,queues=1/);
        expect(afxdp.reason).toMatch(/install libxdp >= 1\.4.*--qemu PATH/);
      }
      const vhost = row('tap-vhost/iperf3');
      if (!existsSync('/dev/vhost-net')) {
        expect(vhost.status).toBe('unavailable');
        expect(vhost.reason).toMatch(/\/dev\/vhost-net is absent.*modprobe vhost_net/);
      }
      if (!existsSync('/etc/qemu/bridge.conf')) expect(row('bridge/iperf3').reason).toMatch(/qemu-bridge-helper refuses.*bridge\.conf does not exist/);
    });

    it('packet tests: run over tap, vhost-user and vhost-user-testpmd (guest counts what xdplab sends; xdplab counts what pktgen sends), unavailable where no host interface exists', () => {
      for (const test of ['txonly', 'rxonly']) {
        expect(row(`user/${test}`)).toMatchObject({ status: 'unavailable', reason: expect.stringMatching(/user cannot carry packet tests: .*no host interface for an AF_XDP peer/) });
        expect(row(`stream-unix/${test}`).reason).toMatch(/joined to another VM/);
        for (const backend of ['tap', 'vhost-user', 'vhost-user-testpmd']) {
          const r = row(`${backend}/${test}`);
          expect({ status: r.status, reason: r.reason }, backend).toEqual({ status: 'ok', reason: undefined });
          expect(r.commandLines[0]).toContain('qemu-system');
          expect(r.trials[0]!.metrics.receivedPackets, backend).toBeGreaterThan(0);
          expect(r.trials[0]!.metrics.packetsPerSecond, backend).toBeGreaterThan(0);
        }
      }
    });
  });

  describe('a running VM over QMP', () => {
    it('set_link off then on: the guest sees its carrier drop and come back; query-rx-filter has the NIC\'s MAC', async () => {
      const lab = new Lab('vmbench-test');
      const { group } = await VmGroup.forBackend('user', { lab, ownsLab: true, qemu: QEMU, image, nicModel: 'virtio-net-pci', namePrefix: `xlvb-${lab.id}-qmp`, serverPort: 5201 });
      try {
        const { vm, qmp } = (await group.start())[0]!;
        const carrier = async () => (await vm.run('cat', ['/sys/class/net/eth0/carrier'])).trim();
        const waitCarrier = async (want: string) => {
          let got = '';
          for (let i = 0; i < 100 && (got = await carrier()) !== want; i++) await sleep(100);
          return got;
        };
        expect(await carrier()).toBe('1');
        expect(await qmp.execute('set_link', { name: 'n0', up: false })).toEqual({});
        expect(await waitCarrier('0')).toBe('0');
        expect(await qmp.execute('set_link', { name: 'n0', up: true })).toEqual({});
        expect(await waitCarrier('1')).toBe('1');

        const mac = (await vm.run('cat', ['/sys/class/net/eth0/address'])).trim();
        expect(vm.commandLine.join(' ')).toContain(`mac=${mac}`);
        const filters = await qmp.execute('query-rx-filter');
        expect(filters.map((f) => f['main-mac'])).toContain(mac);
      } finally {
        await group.stop();
      }
    }, 120_000);
  });

  describe('faults during a run', () => {
    it('the link set down mid-run and QEMU killed mid-run each fail their row with the reason; the matrix goes on', async () => {
      // tap first: its failure must not stop the user row from running.
      // VM rows run by the same RunManager as host rows (xdplab vm bench is a front end of it).
      const h = await new RunManager(join(outDir, 'faults')).start({
        tests: [], durationMs: 2000, warmupMs: 0, trials: 1,
        vm: { backends: ['tap', 'user'], tests: ['iperf3'], nicModel: 'virtio-net-pci', faults: [{ kind: 'kill-qemu', row: 'user/iperf3', afterMs: 1500 }, { kind: 'link-down', row: 'tap/iperf3', afterMs: 1500 }] },
      }, { command: ['test'] });
      const report = await h.done;
      expect(ReportSchema.safeParse(report).success).toBe(true);
      const byId = (id: string) => report.rows.find((r) => r.id === id)!;
      expect(byId('user/iperf3').status).toBe('failed');
      expect(byId('user/iperf3').reason).toMatch(/QEMU of xlvb-\S+ killed \(SIGKILL\)/);
      expect(byId('user/iperf3').reason).toMatch(/exited|QEMU/);
      expect(byId('user/iperf3').commandLines[0]).toContain('qemu-system');
      expect(byId('tap/iperf3').status).toBe('failed');
      expect(byId('tap/iperf3').reason).toMatch(/set_link n0 off over QMP/);
      expect(byId('user/iperf3').trials).toHaveLength(1);
      expect(report.status).toBe('incomplete');
    }, 240_000);
  });

  describe('bad flags', () => {
    it('an unknown backend or test: exit 2, the flag named and the allowed values listed, nothing started', async () => {
      const b = await cli(['vm', 'bench', '--backends', 'user,warp', '--out', outDir], 60_000);
      expect(b.code).toBe(2);
      expect(b.stderr).toMatch(/--backends: unknown backend 'warp'; allowed: user, tap, tap-bridge, tap-vhost, bridge, socket, stream-unix, stream-inet, dgram-unix, dgram-inet, hubport, vde, l2tpv3, af-xdp/);
      expect(b.stderr).toMatch(/stream, dgram, all/);
      const t = await cli(['vm', 'bench', '--tests', 'iperf3,pingpong'], 60_000);
      expect(t.code).toBe(2);
      expect(t.stderr).toMatch(/--tests: unknown test 'pingpong'; allowed: iperf3, txonly, rxonly/);
      const n = await cli(['vm', 'bench', '--nic', 'rtl8139'], 60_000);
      expect(n.code).toBe(2);
      expect(n.stderr).toMatch(/--nic: unknown NIC model 'rtl8139'; allowed: virtio-net-pci, e1000/);
      const d = await cli(['vm', 'bench', '--duration', 'soon'], 60_000);
      expect(d.code).toBe(2);
      const help = await cli(['vm', 'bench', '--help'], 60_000);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/stream = stream-unix,stream-inet/);
    }, 120_000);
  });
});
