// `xdplab vhost serve` in the lab engine: the AF_XDP port opened in its namespace, the back end
// run until SIGINT/SIGTERM, and everything released on the way out (the port's XDP program
// first: it must not outlive the process).
import { AfXdpPort, VhostUserBackend, pinThisThread, setTxBudget, withNetns, type BackendEvent } from '../../native/index.js';
import type { VhostServeOptions } from '../contracts/vhost.js';

export type ServeEvent = BackendEvent | { kind: 'port'; ifname: string; mode: string; zeroCopy: boolean; queues: number; txBudget: { requested: number; applied: boolean; error?: string }; cpu?: number }
  | { kind: 'stats'; counters: VhostUserBackend['totals']; connections: number } | { kind: 'stopped'; signal: string };

/** Frames the kernel sends per sendto in copy mode (its default is 32): a guest's burst in one call, as the engines do. */
const TX_BUDGET = 256;

export async function serveVhost(o: VhostServeOptions, emit: (e: ServeEvent) => void): Promise<number> {
  if (o.cpu !== undefined) pinThisThread(o.cpu);
  const port = withNetns(o.netns, () => AfXdpPort.open({ ifname: o.ifname, ...(o.mode ? { mode: o.mode } : {}), queues: o.queues }));
  let txBudget: { requested: number; applied: boolean; error?: string } = { requested: TX_BUDGET, applied: false };
  for (const q of port.queues) txBudget = { requested: TX_BUDGET, ...setTxBudget(q.fd, TX_BUDGET) };
  let backend: VhostUserBackend | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals) => { emit({ kind: 'stopped', signal: sig }); backend?.stop(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stats = () => {
    const t = { ...backend!.totals };
    const k = backend!.counters;
    for (const key of Object.keys(t) as (keyof typeof t)[]) t[key] += k[key];
    emit({ kind: 'stats', counters: t, connections: backend!.connections });
  };
  try {
    emit({ kind: 'port', ifname: port.ifname, mode: port.mode, zeroCopy: port.zeroCopy, queues: port.queues.length, txBudget, ...(o.cpu !== undefined ? { cpu: o.cpu } : {}) });
    backend = new VhostUserBackend({ socketPath: o.socket, role: o.client ? 'client' : 'server', port, onEvent: emit, ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}) });
    if (o.statsMs) timer = setInterval(stats, o.statsMs);
    await backend.run();
    stats();
    return 0;
  } finally {
    if (timer) clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    port.close();
  }
}
