// The peer agent (`xdplab agent --stdio`): the lab engine's far side, driven over stdin/stdout
// with the protocol of contracts/agent.ts. It owns one Lab; everything it makes (namespaces,
// links, iperf3 servers, engine workers) is that Lab's, and the Lab removes it when stdin
// closes (the ssh connection dropped or the client ended), on SIGTERM/SIGHUP/SIGINT, and on
// exit. stdout carries protocol messages only; anything else goes to stderr.
import { execFile, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import {
  AGENT_PROTOCOL_VERSION, AgentCommands, AgentHelloSchema, FAKE_VERSION_ENV, isAgentCommand, versionMismatch,
  type AgentCommandName, type AgentCommandResult, type AgentEventName, type AgentEventPayload, type AgentHello, type LinkCounters,
} from '../contracts/agent.js';
import { errorResponse, MAX_MESSAGE_BYTES, requestCommand, requestId, RequestSchema } from '../contracts/envelope.js';
import { LabError, describeError, schemaError } from '../contracts/errors.js';
import { argsError } from './args-error.js';
import { Lab } from '../lab/lab.js';
import { packageVersion } from '../report/environment.js';
import type { RunningWorker } from '../engines/worker-client.js';
import type { z } from 'zod';

const execFileAsync = promisify(execFile);

/** The version this agent says it is: xdplab's own, unless a test makes it claim another. */
export function agentVersion(): string {
  return process.env[FAKE_VERSION_ENV] || packageVersion();
}

export interface AgentOptions {
  input: Readable;
  output: Writable;
  /** Where diagnostics go (stderr). */
  log?: (line: string) => void;
  /** How long to wait for the client's hello before giving up. */
  helloTimeoutMs?: number;
}

type Handler<C extends AgentCommandName> = (args: z.infer<(typeof AgentCommands)[C]['args']>) => Promise<AgentCommandResult<C>> | AgentCommandResult<C>;

/** Runs the agent until its input ends or a signal comes; resolves with the exit code. */
export async function runAgent(opts: AgentOptions): Promise<number> {
  const log = opts.log ?? ((l: string) => { process.stderr.write(`xdplab agent: ${l}\n`); });
  const lab = new Lab('agent');
  const version = agentVersion();
  let outputOpen = true;
  opts.output.on('error', () => { outputOpen = false; });
  const send = (message: unknown): void => {
    if (!outputOpen) return;
    try { opts.output.write(JSON.stringify(message) + '\n'); } catch { outputOpen = false; }
  };
  const emit = <E extends AgentEventName>(event: E, payload: AgentEventPayload<E>): void => send({ type: 'event', event, payload });

  const hello: AgentHello = { type: 'hello', role: 'agent', protocol: AGENT_PROTOCOL_VERSION, xdplab: version, hostname: hostname(), pid: process.pid, labId: lab.id };
  send(hello);

  const workers = new Map<string, RunningWorker>();
  const servers = new Map<string, ChildProcess>();
  const programs = new Map<string, { detach(): void }>();
  let nextHandle = 1;
  const handle = (kind: string) => `${kind}-${nextHandle++}`;

  const handlers: { [C in AgentCommandName]: Handler<C> } = {
    environment: async () => {
      const { collectEnvironment } = await import('../report/environment.js');
      const environment = collectEnvironment();
      return { environment: { ...environment, xdplab: { ...environment.xdplab, version } } };
    },
    doctor: async (a) => {
      const { runChecks, passed } = await import('../doctor/doctor.js');
      const checks = await runChecks(a.qemu ? { qemu: a.qemu } : {});
      return { hostname: hostname(), passed: passed(checks), checks };
    },
    'netns.create': (a) => ({ name: lab.addNetns(a.suffix) }),
    'netns.delete': (a) => { lab.removeNetns(a.name); return { removed: true }; },
    'veth.create': (a) => {
      const [an, bn] = lab.addVethPair(a.a, a.b);
      return { a: an, b: bn };
    },
    'addr.add': (a) => { lab.addAddress(a.netns, a.ifname, a.cidr); return {}; },
    'link.counters': (a) => readLinkCounters(a.netns, a.ifname),
    'link.info': (a) => readLinkInfo(a.netns, a.ifname),
    'xdp.drop.attach': async (a) => {
      const { XdpDropProgram, withNetns } = await import('../../native/index.js');
      lab.recordXdp(a.netns, a.ifname);
      const prog = withNetns(a.netns, () => XdpDropProgram.attachTo(a.ifname, a.mode));
      const id = handle('xdp');
      programs.set(id, prog);
      return { id };
    },
    'xdp.drop.detach': (a) => {
      const prog = programs.get(a.id);
      if (!prog) return { detached: false };
      programs.delete(a.id);
      prog.detach();
      return { detached: true };
    },
    'iperf3.server.start': async (a) => {
      const args = ['-s', '-p', String(a.port), '-B', a.address];
      const child = lab.spawn(a.netns, 'iperf3', args);
      const id = handle('iperf3');
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
      child.stdout!.resume();
      const exited = new Promise<void>((resolve) => child.once('close', (code, signal) => {
        servers.delete(id);
        emit('iperf3.server.exit', { id, code, signal, stderr: stderr.trim() });
        resolve();
      }));
      // iperf3 binds within a few ms; one that cannot (address not there, port taken) is gone by then.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 300))]);
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
        throw new LabError({ code: 'EIPERF3', message: `iperf3 server on ${a.address}:${a.port}${a.netns ? ` in ${a.netns}` : ''} did not start: ${stderr.trim() || `exit ${child.exitCode}`}` });
      }
      servers.set(id, child);
      return { id, pid: child.pid, commandLine: `${a.netns ? `ip netns exec ${a.netns} ` : ''}iperf3 ${args.join(' ')}` };
    },
    'iperf3.server.stop': (a) => {
      const child = servers.get(a.id);
      if (!child) return { stopped: false };
      child.kill('SIGTERM');
      servers.delete(a.id);
      return { stopped: true };
    },
    'worker.start': async (a) => {
      const { startWorker } = await import('../engines/worker-client.js');
      const id = handle('worker');
      const w = startWorker(lab, a.spec, (sample) => emit('worker.sample', { id, sample }));
      workers.set(id, w);
      w.ready.then((r) => emit('worker.ready', { id, mode: r.mode, zeroCopy: r.zeroCopy }), () => { /* in worker.done */ });
      void w.done.then((result) => { workers.delete(id); emit('worker.done', { id, result }); });
      return { id, commandLine: w.commandLine };
    },
    'worker.stop': (a) => {
      const w = workers.get(a.id);
      if (!w) return { stopped: false };
      w.stop();
      return { stopped: true };
    },
  };

  async function dispatch(raw: unknown): Promise<void> {
    const id = requestId(raw);
    const envelope = RequestSchema.safeParse(raw);
    if (!envelope.success) { send(errorResponse(id, schemaError(envelope.error.issues, raw).toJSON())); return; }
    const { command } = envelope.data;
    if (!isAgentCommand(command)) {
      send(errorResponse(id, { code: 'EUNKNOWNCOMMAND', field: 'command', message: `command: unknown agent command '${requestCommand(raw)}'; the agent knows ${Object.keys(AgentCommands).join(', ')}` }));
      return;
    }
    try {
      const result = await call(command, envelope.data.args);
      send({ type: 'response', id, ok: true, result });
    } catch (err) {
      send(errorResponse(id, err instanceof LabError ? err.toJSON() : { code: 'EAGENT', message: `${command}: ${describeError(err)}` }));
    }
  }

  async function call<C extends AgentCommandName>(command: C, rawArgs: unknown): Promise<AgentCommandResult<C>> {
    const schema = AgentCommands[command].args;
    const parsed = schema.safeParse(rawArgs ?? {});
    if (!parsed.success) throw argsError(command, parsed.error.issues, rawArgs);
    const h = handlers[command] as Handler<C>;
    return h(parsed.data as z.infer<(typeof AgentCommands)[C]['args']>);
  }

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number, why: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(helloTimer);
      for (const w of workers.values()) w.stop();
      for (const p of programs.values()) { try { p.detach(); } catch { /* the lab's record detaches it */ } }
      lab.close();
      log(`${why}; removed what this agent made (lab ${lab.id})`);
      for (const sig of SIGNALS) process.off(sig, onSignal[sig]);
      resolve(code);
    };
    const SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
    const onSignal = Object.fromEntries(SIGNALS.map((sig) => [sig, () => finish(sig === 'SIGINT' ? 130 : 143, `${sig}`)])) as Record<(typeof SIGNALS)[number], () => void>;
    for (const sig of SIGNALS) process.on(sig, onSignal[sig]);

    let greeted = false;
    const helloTimer = setTimeout(() => {
      if (!greeted) { send({ type: 'fatal', error: { code: 'EHELLO', message: 'no hello from the client within the time allowed' } }); finish(1, 'no hello'); }
    }, opts.helloTimeoutMs ?? 30_000);

    const lines = createInterface({ input: opts.input, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (finished || !line.trim()) return;
      if (Buffer.byteLength(line) > MAX_MESSAGE_BYTES) { send(errorResponse(-1, { code: 'ETOOBIG', message: `a message of more than ${MAX_MESSAGE_BYTES} bytes` })); return; }
      let raw: unknown;
      try { raw = JSON.parse(line); } catch {
        send(errorResponse(-1, { code: 'EPROTOCOL', message: `not JSON: ${line.slice(0, 80)}` }));
        return;
      }
      if (!greeted) {
        const h = AgentHelloSchema.safeParse(raw);
        if (!h.success || h.data.role !== 'client') {
          const error = h.success ? { code: 'EHELLO', message: 'the first message must be the client\'s hello' } : schemaError(h.error.issues, raw, (p) => `hello.${p.join('.')}`).toJSON();
          send({ type: 'fatal', error });
          finish(1, 'bad hello');
          return;
        }
        const mismatch = versionMismatch({ protocol: AGENT_PROTOCOL_VERSION, xdplab: version }, h.data, `xdplab agent on ${hostname()}`);
        if (mismatch) { send({ type: 'fatal', error: mismatch }); finish(1, mismatch.message); return; }
        greeted = true;
        return;
      }
      void dispatch(raw);
    });
    // stdin closed: the ssh connection dropped, or the client is done.
    lines.on('close', () => finish(0, 'input closed'));
  });
}

/** `ip -j ...` about one interface; one that is not there is an error naming ifname. */
async function ipJson(netns: string | undefined, args: string[], ifname: string): Promise<string> {
  try {
    return (await execFileAsync('ip', [...(netns ? ['-n', netns] : []), ...args])).stdout;
  } catch (err) {
    throw new LabError({ code: 'ENOLINK', field: 'ifname', message: `ifname: no interface ${ifname}${netns ? ` in ${netns}` : ''}: ${((err as { stderr?: string }).stderr ?? '').trim()}` });
  }
}

/** An interface's MAC, MTU, state and addresses (ip -j addr). */
export async function readLinkInfo(netns: string | undefined, ifname: string): Promise<AgentCommandResult<'link.info'>> {
  const out = await ipJson(netns, ['-j', 'addr', 'show', 'dev', ifname], ifname);
  const l = (JSON.parse(out) as Array<{ address?: string; mtu?: number; flags?: string[]; addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }> }>)[0] ?? {};
  // Global addresses first, IPv4 before IPv6: the one iperf3 is pointed at.
  const addrs = (l.addr_info ?? []).filter((a) => a.scope !== 'link' && a.scope !== 'host')
    .sort((x, y) => (x.family === y.family ? 0 : x.family === 'inet' ? -1 : 1)).map((a) => `${a.local}/${a.prefixlen}`);
  return { ifname, mac: l.address ?? '', mtu: l.mtu ?? 0, up: (l.flags ?? []).includes('UP'), addresses: addrs };
}

/** An interface's kernel counters (ip -s -j link; ethtool -S for veth's XDP counters). */
export async function readLinkCounters(netns: string | undefined, ifname: string): Promise<LinkCounters> {
  const atMs = Date.now();
  const linkJson = await ipJson(netns, ['-s', '-j', 'link', 'show', 'dev', ifname], ifname);
  type Dir = { packets?: number; bytes?: number; dropped?: number; errors?: number };
  const l = (JSON.parse(linkJson) as Array<{ stats64?: { rx?: Dir; tx?: Dir } }>)[0];
  const dir = (d: Dir | undefined) => ({ packets: d?.packets ?? 0, bytes: d?.bytes ?? 0, dropped: d?.dropped ?? 0, errors: d?.errors ?? 0 });
  let xdp: LinkCounters['xdp'];
  try {
    const eth = (await (netns ? execFileAsync('ip', ['netns', 'exec', netns, 'ethtool', '-S', ifname]) : execFileAsync('ethtool', ['-S', ifname]))).stdout;
    let packets = 0, drops = 0, seen = false;
    for (const m of eth.matchAll(/rx_queue_\d+_xdp_(drops|packets):\s*(\d+)/g)) {
      seen = true;
      if (m[1] === 'drops') drops += Number(m[2]); else packets += Number(m[2]);
    }
    if (seen) xdp = { packets, drops };
  } catch { /* no ethtool statistics on this driver */ }
  return { ifname, ...(netns ? { netns } : {}), atMs, rx: dir(l?.stats64?.rx), tx: dir(l?.stats64?.tx), ...(xdp ? { xdp } : {}) };
}
