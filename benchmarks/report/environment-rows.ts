// A report's environments as label/value rows: this host's, and the peer host's when the run had
// one (--peer-host). Shared by report.html and the app's report view, like report/views.ts:
// types only, pure, so both say the same thing in the same words.
import type { Environment, PeerHost } from '../contracts/report.js';

export type EnvironmentRow = [label: string, value: string];

export function environmentRows(env: Environment): EnvironmentRow[] {
  return [
    ['host', env.hostname], ['kernel', env.kernel], ['CPU', `${env.cpuModel} (${env.cores} cores)`],
    ['memory', `${(env.memoryBytes / 2 ** 30).toFixed(1)} GiB`], ['node', env.node],
    ['xdplab', `${env.xdplab.version} (${env.xdplab.gitCommit})`],
    ...Object.entries(env.tools),
    ...env.interfaces.map((i): EnvironmentRow => [`interface ${i.name}`, `${i.driver}${i.netns ? ` in ${i.netns}` : ''}`]),
    ...(env.clock ? [['clock', env.clock.detail] as EnvironmentRow] : []),
  ];
}

/** The peer host's side: who it is, what ran there, how latency was measured, its sessions, its environment. */
export function peerHostRows(p: PeerHost): EnvironmentRow[] {
  const i = p.interface;
  return [
    ['peer host', p.host],
    ['its interface', `${i.name}${i.netns ? ` in ${i.netns}` : ''}, ${i.mac}, MTU ${i.mtu}`],
    ['ran there', p.ran],
    ['latency', p.latency],
    ...p.sessions.map((s, n): EnvironmentRow => [`ssh session ${n + 1}`, `${s.commandLine}${s.hostname ? ` (on ${s.hostname}${s.pid ? `, pid ${s.pid}` : ''})` : ''}`]),
    ...environmentRows(p.environment),
  ];
}
