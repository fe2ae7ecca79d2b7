// doctor --peer-host: the peer's side, through its agent over ssh.
import { describeError, LabError } from '../contracts/errors.js';
import type { DoctorOptions, PeerDoctor } from '../doctor/doctor.js';
import { connectPeer } from './peer-client.js';

/** Connects to the peer agent, runs its doctor, closes the session. Never throws. */
export async function peerDoctor(peer: NonNullable<DoctorOptions['peer']>, qemu?: string): Promise<PeerDoctor> {
  try {
    const client = await connectPeer({ host: peer.host, ...(peer.ssh !== undefined ? { ssh: peer.ssh } : {}), ...(peer.connectTimeoutSeconds !== undefined ? { connectTimeoutSeconds: peer.connectTimeoutSeconds } : {}) });
    try {
      const r = await client.call('doctor', qemu ? { qemu } : {});
      return { host: peer.host, ok: true, hostname: r.hostname, xdplab: client.hello.xdplab, passed: r.passed, checks: r.checks };
    } finally {
      await client.close();
    }
  } catch (err) {
    const e = err instanceof LabError ? err : new LabError({ code: 'EPEER', message: describeError(err) });
    return { host: peer.host, ok: false, error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
  }
}

