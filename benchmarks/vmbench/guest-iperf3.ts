// iperf3 around VMs: the server as a daemon in a guest, the client on the host side (the host or
// a lab namespace) or in another guest. iperf3 3.12 prints its JSON when the test ends, so the
// per-second samples come from its `intervals` then. A client run is bounded in time, and ends
// early with the reason when a VM's QEMU exits under it.
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import { parseIperf3Json } from '../tools/iperf3.js';
import type { GroupVm } from '../qemu/vm-group.js';
import type { ClientSide } from '../qemu/backend-topology.js';

export interface ClientRun {
  bitsPerSecond: number;
  /** Bytes the receiving side counted. */
  bytes: number;
  retransmits: number;
  /** TCP streams iperf3 ran (-P); bits, bytes and intervals are their sum. */
  streams: number;
  intervals: { startMs: number; durationMs: number; bitsPerSecond: number }[];
  commandLine: string;
}

/** Starts `iperf3 -s -D` in the guest (daemonized: setsid, so the agent's exec returns at once). */
export async function startGuestServer(v: GroupVm, port: number): Promise<string> {
  const args = ['-s', '-D', '-p', String(port)];
  await v.vm.run('iperf3', args, { timeoutMs: 20_000 });
  await waitGuestListening(v, port);
  return `(in guest ${v.vm.name}) iperf3 ${args.join(' ')}`;
}

/**
 * Until the guest's server listens: at start, and between tests (iperf3 re-creates its listening
 * socket after each test). Through slirp's hostfwd a client that comes too early is not refused:
 * slirp accepts, fails to reach the guest, and closes ("control socket has closed unexpectedly").
 */
export async function waitGuestListening(v: GroupVm, port: number): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  await v.vm.run('sh', ['-c', `n=0; while [ $n -lt 200 ]; do grep -q ':${hex} [0:]*:0000 0A' /proc/net/tcp6 /proc/net/tcp 2>/dev/null && exit 0; usleep 50000; n=$((n + 1)); done; echo 'iperf3 -s did not listen within 10 s' >&2; exit 1`], { timeoutMs: 20_000 });
}

function bytesOf(text: string): number {
  try {
    const j = JSON.parse(text) as { end?: { sum_received?: { bytes?: number } } };
    return j.end?.sum_received?.bytes ?? 0;
  } catch { return 0; }
}

/** The error for a VM whose QEMU exited under a run: how it ended and its last console lines. */
async function exitedError(v: GroupVm): Promise<LabError> {
  // stop() on an exited VM only collects its exit status (and removes its files).
  const s = await v.vm.stop();
  const how = s.signal ? `was killed by ${s.signal}` : `exited with code ${s.exitCode}`;
  const con = v.vm.consoleTail(5);
  return new LabError({ code: 'EQEMUEXIT', message: `QEMU of ${v.vm.name} ${how} during the iperf3 run${con ? `; last console lines:\n${con}` : ''}` });
}

/** Rejects as soon as one of the VMs is no longer running; stop() ends the watch. */
function watchVms(vms: GroupVm[]): { exited: Promise<never>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const gone = vms.find((v) => !v.vm.running);
      if (gone) {
        clearInterval(timer);
        void exitedError(gone).then(reject);
      }
    }, 100);
  });
  exited.catch(() => { /* raced below */ });
  return { exited, stop: () => clearInterval(timer) };
}

/** A client failure is QEMU's when one exited: its exit is noticed a moment after its sockets close. */
async function qemuExitBehind(vms: GroupVm[]): Promise<LabError | undefined> {
  for (let i = 0; i < 10; i++) {
    const gone = vms.find((v) => !v.vm.running);
    if (gone) return exitedError(gone);
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

// Failures of the control connection's start: worth another try while no data has flowed.
const RETRYABLE = /Connection refused|Connection reset|control socket has closed unexpectedly|unable to receive control message|unable to connect/i;
const RETRY_FOR_MS = 15_000;

function parsed(text: string): ReturnType<typeof parseIperf3Json> | undefined {
  try { return parseIperf3Json(text); } catch { return undefined; }
}

/** Whether iperf3's JSON shows that the test began (then a failure is the test's, not the start's). */
function began(text: string): boolean {
  try { return ((JSON.parse(text) as { intervals?: unknown[] }).intervals ?? []).length > 0; } catch { return false; }
}

/** One iperf3 client run (reverse: -R, the server sends); retried while the server is not up. */
export async function runClient(lab: Lab, side: ClientSide, vms: GroupVm[], o: { durationMs: number; reverse: boolean; parallel?: number; stop?: { stop: boolean } }): Promise<ClientRun> {
  const seconds = Math.max(1, Math.round(o.durationMs / 1000));
  const parallel = o.parallel ?? 1;
  // --snd-timeout: a sender whose data stays unacknowledged for 10 s (a link set down, a peer
  // gone) gives up, instead of the run hanging until our limit.
  const args = ['-c', side.address, '-p', String(side.port), '-t', String(seconds), '-J', '--connect-timeout', '3000', '--snd-timeout', '10000', ...(parallel > 1 ? ['-P', String(parallel)] : []), ...(o.reverse ? ['-R'] : [])];
  // Generous: TCG guests are slow to start iperf3, and the machine is shared. A run whose traffic
  // stopped (a link set down) ends here: iperf3 itself would wait for its results forever.
  const limitMs = seconds * 1000 + Math.max(15_000, seconds * 1000);
  const where = side.kind === 'guest' ? `(in guest ${vms[side.vm]!.vm.name})` : side.netns ? `ip netns exec ${side.netns}` : '';
  const commandLine = `${where ? `${where} ` : ''}iperf3 ${args.join(' ')}`;
  const watch = watchVms(vms);
  try {
    let last = '';
    const retryUntil = Date.now() + RETRY_FOR_MS;
    for (;;) {
      if (o.stop?.stop) throw new LabError({ code: 'ESTOPPED', message: 'the run was stopped' });
      const r = await Promise.race([runOnce(lab, side, vms, args, limitMs), watch.exited]);
      last = r.stdout || r.stderr;
      // iperf3 -J may exit 0 with an "error" in its JSON (a control connection that closed).
      const p = r.code === 0 ? parsed(r.stdout) : undefined;
      if (p) {
        return {
          bitsPerSecond: p.receivedBitsPerSecond, bytes: bytesOf(r.stdout), retransmits: p.retransmits, streams: p.streams,
          intervals: p.intervals.map((i) => ({ startMs: i.startMs, durationMs: i.durationMs, bitsPerSecond: i.bitsPerSecond })),
          commandLine,
        };
      }
      if (r.timedOut) throw (await qemuExitBehind(vms)) ?? new LabError({ code: 'ETIMEDOUT', message: `iperf3 client did not finish within ${limitMs / 1000} s (${commandLine}); traffic stopped flowing (link down, or a backend that lost its peer)` });
      if (!RETRYABLE.test(last) || began(r.stdout) || Date.now() > retryUntil) break;
      await new Promise((res) => setTimeout(res, 300));
    }
    const behind = await qemuExitBehind(vms);
    if (behind) throw behind;
    let reason = last.trim();
    try { parseIperf3Json(last); } catch (e) { reason = e instanceof LabError ? e.message : reason; }
    throw new LabError({ code: 'EIPERF3', message: `iperf3 client failed (${commandLine}): ${reason.slice(0, 400)}` });
  } finally {
    watch.stop();
  }
}

interface Once { code: number | null; stdout: string; stderr: string; timedOut: boolean }

async function runOnce(lab: Lab, side: ClientSide, vms: GroupVm[], args: string[], limitMs: number): Promise<Once> {
  if (side.kind === 'guest') {
    try {
      const r = await vms[side.vm]!.vm.exec('iperf3', args, { timeoutMs: limitMs });
      return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: false };
    } catch (e) {
      if (e instanceof LabError && e.code === 'ETIMEDOUT') return { code: null, stdout: '', stderr: e.message, timedOut: true };
      throw e;
    }
  }
  const child = lab.spawn(side.netns, 'iperf3', args);
  return new Promise((resolve) => {
    let stdout = '', stderr = '', timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, limitMs);
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, timedOut }); });
  });
}
