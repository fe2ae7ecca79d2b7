// The helper's config (JSON, /etc/xdplab/helper.json by default): who may connect, which host
// interfaces it may put AF_XDP sockets on besides its own topology, and its socket. Users and
// groups may be names or ids; names are resolved once, at start, so a typo fails loudly then.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { schemaError, LabError } from '../contracts/errors.js';
import { DEFAULT_HELPER_SOCKET } from './protocol.js';
import type { PeerCred } from '../../native/index.js';

export const DEFAULT_HELPER_CONFIG = '/etc/xdplab/helper.json';

const ID = z.union([z.number().int().min(0), z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a user or group name')]);

export const HelperConfigSchema = z.object({
  socket: z.string().min(1).max(107).default(DEFAULT_HELPER_SOCKET),
  /** Octal permission bits of the socket file; connecting needs write permission. */
  socketMode: z.string().regex(/^0?[0-7]{3}$/, 'must be octal permission bits such as 0660').default('0660'),
  socketGroup: ID.optional(),
  /** Who may use the helper (root always may): uids or user names, gids or group names. */
  allowUsers: z.array(ID).default([]),
  allowGroups: z.array(ID).default([]),
  /** Interfaces in the helper's own namespace it may attach to (for QEMU's af-xdp); `eth*` matches a prefix. */
  interfaces: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,15}\*?$/, 'must be an interface name, or a prefix ending in *')).default([]),
  /** Concurrent sessions (each may own one topology). */
  maxSessions: z.number().int().min(1).max(64).default(4),
}).strict();

export type HelperConfigFile = z.infer<typeof HelperConfigSchema>;
export interface HelperConfig extends HelperConfigFile { path: string; uids: Set<number>; gids: Set<number>; socketGid?: number; mode: number }

function resolveId(db: 'passwd' | 'group', v: number | string, field: string): number {
  if (typeof v === 'number') return v;
  try {
    return Number(execFileSync('getent', [db, v], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    throw new LabError({ code: 'EINVALIDOPTION', field, message: `${field}: no ${db === 'passwd' ? 'user' : 'group'} named '${v}' (getent ${db} ${v})` });
  }
}

export function parseConfig(input: unknown, path: string): HelperConfig {
  const r = HelperConfigSchema.safeParse(input);
  if (!r.success) {
    const e = schemaError(r.error.issues, input, (p) => `config.${p.join('.')}`);
    throw new LabError({ code: e.code, field: e.field!, message: `${path}: ${e.message}` });
  }
  const c = r.data;
  const uids = new Set(c.allowUsers.map((u, i) => resolveId('passwd', u, `config.allowUsers.${i}`)));
  const gids = new Set(c.allowGroups.map((g, i) => resolveId('group', g, `config.allowGroups.${i}`)));
  return {
    ...c, path, uids, gids, mode: parseInt(c.socketMode, 8),
    ...(c.socketGroup !== undefined ? { socketGid: resolveId('group', c.socketGroup, 'config.socketGroup') } : {}),
  };
}

export function loadConfig(path: string): HelperConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LabError({ code: 'ENOENT', field: 'config', message: `config: cannot read ${path}: ${(err as Error).message}`, hint: 'write a JSON config (README: Running unprivileged) or pass --config FILE' });
  }
  let json: unknown;
  try { json = JSON.parse(text); } catch (err) {
    throw new LabError({ code: 'EINVALIDOPTION', field: 'config', message: `config: ${path} is not JSON: ${(err as Error).message}` });
  }
  return parseConfig(json, path);
}

/** The groups a peer process belongs to: SO_PEERCRED's gid and its supplementary groups. */
function peerGroups(cred: PeerCred): number[] {
  const groups = [cred.gid];
  try {
    const line = readFileSync(`/proc/${cred.pid}/status`, 'utf8').match(/^Groups:\s*(.*)$/m);
    if (line?.[1]) groups.push(...line[1].trim().split(/\s+/).filter(Boolean).map(Number));
  } catch { /* the peer is gone: its primary gid decides */ }
  return groups;
}

/** Why a peer may not use the helper, or undefined when it may. */
export function refusePeer(config: HelperConfig, cred: PeerCred): LabError | undefined {
  if (cred.uid === 0 || config.uids.has(cred.uid)) return undefined;
  if (peerGroups(cred).some((g) => config.gids.has(g))) return undefined;
  return new LabError({
    code: 'EACCES', field: 'uid',
    message: `uid: user ${cred.uid} (gid ${cred.gid}) is not allowed to use this helper; allowed: users [${[...config.uids].join(', ')}], groups [${[...config.gids].join(', ')}]`,
    hint: `add the user to allowUsers or one of its groups to allowGroups in ${config.path}`,
  });
}

/** Whether a host interface (in the helper's own namespace) is on the config's list. */
export function interfaceAllowed(config: HelperConfig, ifname: string): boolean {
  return config.interfaces.some((p) => (p.endsWith('*') ? ifname.startsWith(p.slice(0, -1)) : ifname === p));
}
