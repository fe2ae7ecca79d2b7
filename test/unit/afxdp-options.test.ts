// NetdevAFXDPOptions validation: QEMU's rules, errors that name the field and what is allowed.
import { describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { resolveAfXdpOptions, resolveTuning } from '../../native/afxdp/options.js';

function errorOf(fn: () => unknown): LabError {
  try { fn(); } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a LabError');
}

describe('resolveAfXdpOptions', () => {
  it('applies QEMU defaults', () => {
    expect(resolveAfXdpOptions({ ifname: 'eth0' })).toEqual({
      ifname: 'eth0', mode: undefined, forceCopy: false, queues: 1, startQueue: 0, inhibit: false, sockFds: undefined,
    });
  });

  it('accepts the full option set with inhibit and one fd per queue', () => {
    const o = resolveAfXdpOptions({ ifname: 'eth0', mode: 'skb', 'force-copy': true, queues: 2, 'start-queue': 3, inhibit: true, 'sock-fds': '7:9' });
    expect(o).toMatchObject({ mode: 'skb', forceCopy: true, queues: 2, startQueue: 3, inhibit: true, sockFds: [7, 9] });
  });

  it.each([
    [{ ifname: 'eth0', queues: 0 }, 'queues', /invalid number of queues \(0\)/],
    [{ ifname: 'eth0', queues: -3 }, 'queues', /invalid number of queues \(-3\)/],
    [{ ifname: 'eth0', queues: 1.5 }, 'queues', /expected an integer, got 1.5/],
    [{ ifname: 'eth0', 'force-copy': 'yes' }, 'force-copy', /expected a boolean, got "yes"/],
    [{ ifname: 'eth0', 'start-queue': -1 }, 'start-queue', /0 or more/],
    [{ ifname: 'eth0', inhibit: true }, 'sock-fds', /'inhibit=on' requires 'sock-fds' and vice versa/],
    [{ ifname: 'eth0', 'sock-fds': '3' }, 'inhibit', /'inhibit=on' requires 'sock-fds' and vice versa/],
    [{ ifname: 'eth0', inhibit: true, queues: 2, 'sock-fds': '3' }, 'sock-fds', /expected 2 socket fds \(one per queue\), got 1/],
    [{ ifname: 'eth0', inhibit: true, 'sock-fds': 'abc' }, 'sock-fds', /'abc' is not a file descriptor number/],
    [{ ifname: 'eth0', inhibit: true, 'sock-fds': '-1' }, 'sock-fds', /'-1' is not a file descriptor number/],
    [{ ifname: 'eth0', mode: 'turbo' }, 'mode', /expected one of native, skb, got "turbo"/],
    [{ ifname: '' }, 'ifname', /ifname/],
    [{ ifname: 'a-very-long-interface-name' }, 'ifname', /ifname/],
    [{ mode: 'skb' }, 'ifname', /required/],
    [{ ifname: 'eth0', 'zero-copy': true }, 'zero-copy', /unknown member/],
  ])('rejects %j naming %s', (input, field, message) => {
    const e = errorOf(() => resolveAfXdpOptions(input));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
    expect(e.message.startsWith(`${field}:`)).toBe(true);
  });
});

describe('resolveTuning', () => {
  it('defaults to 4096 frames of 4 KiB and 2048-entry rings', () => {
    expect(resolveTuning(undefined)).toEqual({ frameSize: 4096, frameCount: 4096, ringSize: 2048, busyPollBudget: 0 });
  });
  it.each([
    [{ frameSize: 1000 }, 'frameSize'],
    [{ ringSize: 1000 }, 'ringSize'],
    [{ frameCount: 10 }, 'frameCount'],
  ])('rejects %j', (input, field) => {
    expect(errorOf(() => resolveTuning(input)).field).toBe(field);
  });
});
