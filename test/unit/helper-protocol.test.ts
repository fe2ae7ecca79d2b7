// The helper's request schema and config: every bad request or config member is a LabError
// naming the field and what it allows.
import { expect, it } from 'vitest';
import { parseConfig, interfaceAllowed, refusePeer } from '../../benchmarks/helper/config.js';
import { parseRequest } from '../../benchmarks/helper/protocol.js';
import { checkHelperCapabilities } from '../../benchmarks/helper/capabilities.js';
import { parseBenchArgs } from '../../benchmarks/cli/commands/bench.js';
import { LabError } from '../../benchmarks/contracts/errors.js';

const fails = (fn: () => unknown): LabError => {
  try { fn(); } catch (e) { return e as LabError; }
  throw new Error('expected an error');
};

it('parses requests with defaults', () => {
  expect(parseRequest({ op: 'sockets', ifname: 'xl-ab12cd-d', netns: 'xl-ab12cd-d' })).toEqual({ op: 'sockets', ifname: 'xl-ab12cd-d', netns: 'xl-ab12cd-d', queues: 1, 'start-queue': 0 });
  expect(parseRequest({ op: 'topology' })).toEqual({ op: 'topology', queues: 1 });
});

it('refuses malformed requests, naming the member', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [null, 'request.op', /expected one of hello, topology, sockets, drop, release, counters/],
    ['text', 'request.op', /a string instead of an object/],
    [{ op: 'mount' }, 'request.op', /got "mount"/],
    [{ op: 'sockets', ifname: '../../etc' }, 'request.ifname', /must be an interface name/],
    [{ op: 'sockets', ifname: 'a-very-long-interface-name' }, 'request.ifname', /1 to 15/],
    [{ op: 'sockets', ifname: 'eth0', mode: 'turbo' }, 'request.mode', /expected one of native, skb/],
    [{ op: 'sockets', ifname: 'eth0', queues: 0 }, 'request.queues', /at least 1/],
    [{ op: 'drop', ifname: 'eth0' }, 'request.mode', /expected one of native, skb, got nothing/],
    [{ op: 'counters', ifname: 'eth0', netns: 'a b' }, 'request.netns', /namespace name/],
    [{ op: 'release', handle: 1.5 }, 'request.handle', /integer/],
    [{ op: 'hello', version: 1, sudo: true }, 'request.sudo', /unknown member/],
  ];
  for (const [input, field, message] of cases) {
    const e = fails(() => parseRequest(input));
    expect(e, JSON.stringify(input)).toBeInstanceOf(LabError);
    expect([e.field, e.message], JSON.stringify(input)).toEqual([field, expect.stringMatching(message)]);
  }
});

it('reads a config; names a bad member with the file', () => {
  const c = parseConfig({ allowUsers: [1000, 'root'], allowGroups: [27], interfaces: ['eth1', 'tap*'] }, '/etc/xdplab/helper.json');
  expect([...c.uids]).toEqual([1000, 0]);
  expect(c.mode).toBe(0o660);
  expect(c.socket).toBe('/run/xdplab/helper.sock');
  expect(['eth1', 'tap7', 'eth10', 'lo'].map((i) => interfaceAllowed(c, i))).toEqual([true, true, false, false]);
  const e = fails(() => parseConfig({ socketMode: '777x' }, '/x.json'));
  expect([e.field, e.message]).toEqual(['config.socketMode', expect.stringMatching(/^\/x\.json: config\.socketMode: .*octal/)]);
  expect(fails(() => parseConfig({ allowUsers: ['no-such-user-xdplab'] }, '/x.json')).field).toBe('config.allowUsers.0');
  expect(fails(() => parseConfig({ interfaces: ['eth*0'] }, '/x.json')).field).toBe('config.interfaces.0');
});

it('lets root, listed users and listed groups in, and says who may when refusing', () => {
  const c = parseConfig({ allowUsers: [1000], allowGroups: [2000] }, '/x.json');
  const dead = 2 ** 22 + 7; // no such pid: only the primary gid counts
  expect(refusePeer(c, { pid: dead, uid: 0, gid: 0 })).toBeUndefined();
  expect(refusePeer(c, { pid: dead, uid: 1000, gid: 1000 })).toBeUndefined();
  expect(refusePeer(c, { pid: dead, uid: 1001, gid: 2000 })).toBeUndefined();
  const e = refusePeer(c, { pid: dead, uid: 1001, gid: 1001 })!;
  expect([e.code, e.field]).toEqual(['EACCES', 'uid']);
  expect(e.message).toMatch(/users \[1000\], groups \[2000\]/);
});

it('names the capabilities the helper lacks', () => {
  const root = 'CapEff:\t000001ffffffffff\nCapAmb:\t0000000000000000\n';
  expect(() => checkHelperCapabilities(root, 0)).not.toThrow();
  // Not root: the capabilities must be ambient too, or ip and ethtool would not have them.
  expect(fails(() => checkHelperCapabilities(root, 1000)).message).toMatch(/effective and ambient/);
  expect(fails(() => checkHelperCapabilities('CapEff:\t0000008000201000\nCapAmb:\t0\n', 0)).message).toMatch(/CAP_NET_RAW/);
});

it('bench takes the helper from --helper or XDPLAB_HELPER', () => {
  expect(parseBenchArgs(['--helper', '/run/h.sock'], {}).helper).toBe('/run/h.sock');
  expect(parseBenchArgs([], { XDPLAB_HELPER: '/run/e.sock' }).helper).toBe('/run/e.sock');
  expect(parseBenchArgs(['--helper', '/a'], { XDPLAB_HELPER: '/b' }).helper).toBe('/a');
  expect(parseBenchArgs([], {}).helper).toBeUndefined();
});
