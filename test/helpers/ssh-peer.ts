// A "remote host" for the two-host tests, made by the test itself: an OpenSSH server in a
// network namespace of its own ("remote", 192.0.2.2) joined by a veth pair to a "local"
// namespace (192.0.2.1) where the ssh client runs. Its host key and the user's key pair are made
// with ssh-keygen into a temp dir, with an sshd_config, a known_hosts and an ssh_config of the
// test's own, so that `ip netns exec LOCAL ssh -F CONFIG root@192.0.2.2` logs in with no prompt
// and checks the host key strictly. The remote command is this checkout's CLI, by absolute path.
//
// sshd is started with `ip netns exec REMOTE`, which gives it a mount namespace of its own: the
// namespaces an agent creates there (ip netns add) are mounted in that mount namespace only, as
// on a real other host. inRemote() runs a command inside both of sshd's namespaces to look.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../../benchmarks/lab/lab.js';
import { labStateDir } from '../../benchmarks/lab/state.js';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';

export const SSHD = '/usr/sbin/sshd';

export interface SshPeer {
  lab: Lab;
  localNs: string;
  remoteNs: string;
  localIf: string;
  remoteIf: string;
  /** The sshd's address, and [USER@]HOST for --peer-host. */
  address: string;
  host: string;
  /** An address in the subnet that nobody answers (no ARP reply): a host that does not answer. */
  silentAddress: string;
  dir: string;
  sshConfig: string;
  /** The --ssh command line: the system's ssh in the local namespace with the test's config. */
  ssh: string;
  /** The remote xdplab command: node and this checkout's bin/xdplab.js, by absolute path. */
  remoteCommand: string;
  sshdPid: number;
  sshdLog: () => string;
  /** Runs a command in sshd's network and mount namespaces (the remote host's view). */
  inRemote(cmd: string, args: string[]): string;
  /** Pids in the remote namespace other than sshd's listener. */
  remotePids(): number[];
  close(): Promise<void>;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until check() holds, polling every 100 ms. */
export async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

/** Lab state files of this test process (an agent's are the remote's, with their own pid). */
export function ownStateFiles(): string[] {
  const dir = labStateDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).filter((f) => {
    try { return (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid?: number }).pid === process.pid; } catch { return false; }
  });
}

export async function startSshPeer(): Promise<SshPeer> {
  const lab = new Lab('test');
  const dir = mkdtempSync(join(tmpdir(), 'xdplab-ssh-'));
  let sshdPid = 0;
  const remotePidsOf = (ns: string) => sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
  const close = async () => {
    // Ask every process left in the remote namespace (sessions, agents, their workers) to stop
    // first, so agents remove what they made; then the lab kills sshd and deletes the namespaces.
    try {
      const pids = remotePidsOf(remoteNs).filter((p) => p !== sshdPid);
      for (const p of pids) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
      for (let i = 0; i < 30 && remotePidsOf(remoteNs).some((p) => p !== sshdPid); i++) await sleep(100);
      for (const p of remotePidsOf(remoteNs)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    } catch { /* namespace already gone */ }
    lab.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let remoteNs = '';
  try {
    const localNs = lab.addNetns('l');
    remoteNs = lab.addNetns('r');
    const [localIf, remoteIf] = lab.addVethPair({ netns: localNs, suffix: 'l' }, { netns: remoteNs, suffix: 'r' });
    const address = '192.0.2.2';
    lab.addAddress(localNs, localIf, '192.0.2.1/24');
    lab.addAddress(remoteNs, remoteIf, `${address}/24`);

    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'xdplab-test-host', '-f', join(dir, 'host_ed25519')]);
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'xdplab-test-user', '-f', join(dir, 'id_ed25519')]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')), { mode: 0o600 });
    const hostPub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(join(dir, 'known_hosts'), `${address} ${hostPub}\n`);
    const sshdConfig = join(dir, 'sshd_config');
    writeFileSync(sshdConfig, [
      'Port 22',
      `ListenAddress ${address}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'PrintMotd no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'));
    const sshConfig = join(dir, 'ssh_config');
    writeFileSync(sshConfig, [
      'Host *',
      '  User root',
      `  IdentityFile ${join(dir, 'id_ed25519')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${join(dir, 'known_hosts')}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'));
    // The privilege separation directory sshd insists on.
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    const log = join(dir, 'sshd.log');
    const sshd = lab.spawn(remoteNs, SSHD, ['-D', '-f', sshdConfig, '-E', log]);
    sshdPid = sshd.pid ?? 0;
    const sshdLog = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
    for (let i = 0; !/Server listening on/.test(sshdLog()); i++) {
      if (sshd.exitCode !== null || i > 100) throw new Error(`sshd did not start (exit ${sshd.exitCode}): ${sshdLog()}`);
      await sleep(50);
    }
    return {
      lab, localNs, remoteNs, localIf, remoteIf, address, host: `root@${address}`, silentAddress: '192.0.2.99',
      dir, sshConfig, ssh: `ip netns exec ${localNs} ssh -F ${sshConfig}`,
      remoteCommand: `${process.execPath} ${join(PROJECT_ROOT, 'bin', 'xdplab.js')}`,
      sshdPid, sshdLog,
      inRemote: (cmd, args) => sh('nsenter', ['-t', String(sshdPid), '-m', '-n', cmd, ...args]),
      remotePids: () => remotePidsOf(remoteNs).filter((p) => p !== sshdPid),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
