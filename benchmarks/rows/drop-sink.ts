// txonly's sink: an XDP program on the peer that drops every frame (the cheapest receiver).
// veth runs it in the sender's softirq, on the DUT's CPU, for every tool alike. Moving it to the
// other CPU (RPS, or threaded NAPI pinned there) made the sender slower, not faster: 1.25-1.35
// Mpps against 1.9-2.4 in place (handing each frame to another CPU costs the sender more than
// dropping it), and it took the CPU the app's UI runs on.
import { XdpDropProgram, withNetns } from '../../native/index.js';
import { droppedBetween } from '../tools/counters.js';
import { helperDropSink } from './helper-session.js';
import type { PacketParams, TrialContext, TrialOutcome } from './row-kind.js';
import { peerCounters } from './trial-tools.js';

export async function withDropSink(ctx: TrialContext, p: PacketParams, fn: (commandLines: string[]) => Promise<TrialOutcome>): Promise<TrialOutcome> {
  const t = ctx.packet!;
  if (!ctx.helper && !ctx.remote) ctx.lab.recordXdp(t.peer.netns, t.peer.ifname);
  const sink = ctx.remote ? await ctx.remote.dropSink(t.peer, p.mode)
    : ctx.helper ? await helperDropSink(ctx.helper, t.peer, p.mode) : withNetns(t.peer.netns, () => XdpDropProgram.attachTo(t.peer.ifname, p.mode));
  try {
    const before = await peerCounters(ctx);
    const out = await fn([`${ctx.remote ? `[${ctx.remote.host}] ` : ''}XDP drop program on ${t.peer.ifname} (${p.mode} mode)`]);
    const after = await peerCounters(ctx);
    // What the peer counted over the whole trial (warm-up included), next to what the DUT sent.
    out.metrics.peerReceivedPackets = droppedBetween(before, after, p.mode).frames;
    return out;
  } finally {
    await sink.detach();
  }
}
