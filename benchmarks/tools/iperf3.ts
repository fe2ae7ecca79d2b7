// iperf3: server in one namespace, client in another, `--json` parsed into typed results.
// iperf3 3.12 (Debian 12) has no --json-stream, so per-second samples come from the JSON's
// `intervals` when the client ends.
import type { ChildProcess } from 'node:child_process';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';

export interface Iperf3Options {
  serverNetns: string;
  clientNetns: string;
  serverAddress: string;
  durationMs: number;
  parallel: number;
  reverse: boolean;
  port?: number;
  /** Gets the per-interval results even when the test fails halfway (iperf3 prints them then too). */
  onIntervals?: (intervals: Iperf3Interval[]) => void;
}

export interface Iperf3Interval { startMs: number; durationMs: number; bitsPerSecond: number; retransmits: number }

export interface Iperf3Result {
  sentBitsPerSecond: number;
  receivedBitsPerSecond: number;
  retransmits: number;
  cpuHostPercent: number;
  cpuRemotePercent: number;
  /** Parallel streams the test ran (-P), from the JSON's end.streams. */
  streams: number;
  intervals: Iperf3Interval[];
  commandLines: string[];
}

interface Iperf3Json {
  error?: string;
  intervals?: Array<{ sum: { start: number; seconds: number; bits_per_second: number; retransmits?: number } }>;
  end?: {
    sum_sent?: { bits_per_second: number; retransmits?: number };
    sum_received?: { bits_per_second: number };
    cpu_utilization_percent?: { host_total: number; remote_total: number };
    streams?: unknown[];
  };
}

/** The intervals of a run's JSON, complete or not ([] when there is no JSON). */
function partialIntervals(text: string): Iperf3Interval[] {
  try {
    return intervalsOf(JSON.parse(text) as Iperf3Json);
  } catch {
    return [];
  }
}

function intervalsOf(j: Iperf3Json): Iperf3Interval[] {
  return (j.intervals ?? []).map((i) => ({
    startMs: i.sum.start * 1000, durationMs: i.sum.seconds * 1000, bitsPerSecond: i.sum.bits_per_second, retransmits: i.sum.retransmits ?? 0,
  }));
}

export function parseIperf3Json(text: string): Omit<Iperf3Result, 'commandLines'> {
  let j: Iperf3Json;
  try {
    j = JSON.parse(text) as Iperf3Json;
  } catch {
    throw new LabError({ code: 'EIPERF3', message: `iperf3 printed no JSON: ${text.slice(0, 200)}` });
  }
  if (j.error) throw new LabError({ code: 'EIPERF3', message: `iperf3: ${j.error}` });
  if (!j.end?.sum_sent || !j.end.sum_received) throw new LabError({ code: 'EIPERF3', message: 'iperf3 JSON has no end.sum_sent/sum_received' });
  return {
    sentBitsPerSecond: j.end.sum_sent.bits_per_second,
    receivedBitsPerSecond: j.end.sum_received.bits_per_second,
    retransmits: j.end.sum_sent.retransmits ?? 0,
    cpuHostPercent: j.end.cpu_utilization_percent?.host_total ?? NaN,
    cpuRemotePercent: j.end.cpu_utilization_percent?.remote_total ?? NaN,
    streams: j.end.streams?.length ?? 0,
    intervals: intervalsOf(j),
  };
}

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    let stdout = '', stderr = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs one iperf3 test through whatever joins the two namespaces. */
export async function runIperf3(lab: Lab, o: Iperf3Options): Promise<Iperf3Result> {
  const port = String(o.port ?? 5201);
  const serverArgs = ['-s', '-1', '-p', port, '-B', o.serverAddress];
  const seconds = Math.max(1, Math.round(o.durationMs / 1000));
  const clientArgs = ['-c', o.serverAddress, '-p', port, '-t', String(seconds), '-P', String(o.parallel), '-J', ...(o.reverse ? ['-R'] : [])];
  const server = lab.spawn(o.serverNetns, 'iperf3', serverArgs);
  const serverDone = collect(server);
  // The server listens within a few ms; retry the client while the port is not open yet.
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((r) => setTimeout(r, attempt === 0 ? 100 : 250));
    if (server.exitCode !== null) break;
    const client = lab.spawn(o.clientNetns, 'iperf3', clientArgs);
    const r = await collect(client);
    last = r.stdout || r.stderr;
    if (/Connection refused|unable to connect/.test(last)) continue;
    o.onIntervals?.(partialIntervals(r.stdout));
    try {
      const result = { ...parseIperf3Json(r.stdout), commandLines: [`ip netns exec ${o.serverNetns} iperf3 ${serverArgs.join(' ')}`, `ip netns exec ${o.clientNetns} iperf3 ${clientArgs.join(' ')}`] };
      server.kill('SIGTERM');
      await serverDone;
      return result;
    } catch (err) {
      // The server exits by itself only when something killed it (-1 serves one test, then
      // waits for our SIGTERM): that, not the client's complaint, is the cause to report.
      // Its exit may reach us just after the client's.
      await Promise.race([serverDone, new Promise((res) => setTimeout(res, 1000))]);
      const died = server.exitCode !== null || server.signalCode !== null ? (server.signalCode ?? `exit ${server.exitCode}`) : null;
      server.kill('SIGTERM');
      await serverDone;
      if (died) throw new LabError({ code: 'EIPERF3', message: `the iperf3 server (pid ${server.pid}, in ${o.serverNetns}) died during the test (${died}); the client said: ${(err as Error).message.replace(/^iperf3: /, '')}` });
      throw err;
    }
  }
  server.kill('SIGTERM');
  const s = await serverDone;
  throw new LabError({ code: 'EIPERF3', message: `iperf3 could not run: ${(last || s.stderr || s.stdout).trim().slice(0, 300)}` });
}
