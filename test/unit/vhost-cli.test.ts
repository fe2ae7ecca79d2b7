// `xdplab vhost serve`'s options: every bad value refused before anything is opened, with the
// field and what is allowed.
import { describe, expect, it } from 'vitest';
import { main } from '../../benchmarks/cli/main.js';
import { parseServeOptions } from '../../benchmarks/cli/commands/vhost.js';

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return main(args, { out: (t) => { out += t; }, err: (t) => { err += t; } }).then((code) => ({ code, out, err }));
}

describe('xdplab vhost serve options', () => {
  it('defaults: one queue pair, the server role', () => {
    expect(parseServeOptions({ socket: '/tmp/x.sock', ifname: 'veth0' })).toEqual({ socket: '/tmp/x.sock', ifname: 'veth0', queues: 1, client: false });
  });

  it.each([
    [{ socket: '/tmp/x.sock', ifname: 'veth0', mode: 'drv' }, /mode: .*allowed: native, skb/],
    [{ socket: '/tmp/x.sock', ifname: 'a very long name' }, /ifname: /],
    [{ socket: '/tmp/x.sock', ifname: 'veth0', queues: 0 }, /queues: /],
    [{ socket: `/tmp/${'x'.repeat(120)}`, ifname: 'veth0' }, /socket: /],
    [{ socket: '/tmp/x.sock', ifname: 'veth0', netns: 'a b' }, /netns: /],
    [{ socket: '/tmp/x.sock', ifname: 'veth0', spinUs: -1 }, /spinUs: /],
    [{ socket: '/tmp/x.sock', ifname: 'veth0', spinUs: 2_000_000 }, /spinUs: /],
    [{ socket: '/tmp/x.sock', ifname: 'veth0', cpu: -1 }, /cpu: /],
  ])('%j is refused naming the field', (o, re) => {
    expect(() => parseServeOptions(o)).toThrow(re);
  });

  it('the CLI: help, a missing --socket, an unknown subcommand, a bad number', async () => {
    const help = await cli(['vhost', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/memory-backend-memfd.*share=on/s);
    const noSocket = await cli(['vhost', 'serve', '--ifname', 'veth0']);
    expect(noSocket).toMatchObject({ code: 2, err: expect.stringMatching(/--socket PATH is required/) });
    const sub = await cli(['vhost', 'listen']);
    expect(sub).toMatchObject({ code: 2, err: expect.stringMatching(/unknown subcommand 'listen'; subcommands: serve/) });
    const bad = await cli(['vhost', 'serve', '--socket', '/tmp/x.sock', '--ifname', 'veth0', '--queues', 'two']);
    expect(bad).toMatchObject({ code: 1, err: expect.stringMatching(/queues: expected a whole number, got 'two'/) });
    const spin = await cli(['vhost', 'serve', '--socket', '/tmp/x.sock', '--ifname', 'veth0', '--spin-us', '1ms']);
    expect(spin).toMatchObject({ code: 1, err: expect.stringMatching(/spin-us: expected a whole number, got '1ms'/) });
  });

  it('an interface that does not exist: a clear error, exit 1', async () => {
    const r = await cli(['vhost', 'serve', '--socket', '/tmp/xl-vh-none.sock', '--ifname', 'xl-nosuchif']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ifname: .*xl-nosuchif/);
  });
});
