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

/** An iperf3 server the client runs against: here (runIperf3) or on the peer host. */
export interface Iperf3Server {
  /** How it ended, once it has (it serves until stopped). */
  ended(): string | null;
  /** What it printed, for an error when the client never got through. */
  output(): string;
  /** Where it runs, for an error naming it. */
  where: string;
  /** Stops it and waits for its end, so that output() is complete (idempotent). */
  stop(): Promise<void>;
}

export type Iperf3ClientOptions = Omit<Iperf3Options, 'serverNetns' | 'clientNetns'> & { clientNetns?: string };

/**
 * The client against a server that is starting: retried while the port is not open yet. When
 * the test fails and the server has ended, the server's end is the cause reported.
 */
export async function runIperf3Client(lab: Lab, o: Iperf3ClientOptions, server: Iperf3Server): Promise<Omit<Iperf3Result, 'commandLines'> & { commandLine: string }> {
  const port = String(o.port ?? 5201);
  const seconds = Math.max(1, Math.round(o.durationMs / 1000));
  const clientArgs = ['-c', o.serverAddress, '-p', port, '-t', String(seconds), '-P', String(o.parallel), '-J', ...(o.reverse ? ['-R'] : [])];
  const commandLine = `${o.clientNetns ? `ip netns exec ${o.clientNetns} ` : ''}iperf3 ${clientArgs.join(' ')}`;
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((r) => setTimeout(r, attempt === 0 ? 100 : 250));
    if (server.ended() !== null) break;
    const client = lab.spawn(o.clientNetns, 'iperf3', clientArgs);
    const r = await collect(client);
    last = r.stdout || r.stderr;
    if (/Connection refused|unable to connect/.test(last)) continue;
    o.onIntervals?.(partialIntervals(r.stdout));
    try {
      return { ...parseIperf3Json(r.stdout), commandLine };
    } catch (err) {
      // The server exits by itself only when something killed it (-1 serves one test, then
      // waits for our SIGTERM): that, not the client's complaint, is the cause to report.
      // Its exit may reach us just after the client's.
      for (let i = 0; i < 10 && server.ended() === null; i++) await new Promise((res) => setTimeout(res, 100));
      const died = server.ended();
      if (died) throw new LabError({ code: 'EIPERF3', message: `the iperf3 server (${server.where}) died during the test (${died}); the client said: ${(err as Error).message.replace(/^iperf3: /, '')}` });
      throw err;
    }
  }
  await server.stop();
  throw new LabError({ code: 'EIPERF3', message: `iperf3 could not run: ${(last || server.output() || server.ended() || '').trim().slice(0, 300)}` });
}

/** Runs one iperf3 test through whatever joins the two namespaces. */
export async function runIperf3(lab: Lab, o: Iperf3Options): Promise<Iperf3Result> {
  const serverArgs = ['-s', '-1', '-p', String(o.port ?? 5201), '-B', o.serverAddress];
  const server = lab.spawn(o.serverNetns, 'iperf3', serverArgs);
  const serverDone = collect(server);
  let output = '';
  const handle: Iperf3Server = {
    ended: () => (server.exitCode !== null || server.signalCode !== null ? (server.signalCode ?? `exit ${server.exitCode}`) : null),
    output: () => output,
    where: `pid ${server.pid}, in ${o.serverNetns}`,
    stop: async () => {
      server.kill('SIGTERM');
      const r = await serverDone;
      output = r.stderr || r.stdout;
    },
  };
  try {
    const { commandLine, ...rest } = await runIperf3Client(lab, o, handle);
    return { ...rest, commandLines: [`ip netns exec ${o.serverNetns} iperf3 ${serverArgs.join(' ')}`, commandLine] };
  } finally {
    await handle.stop();
  }
}
