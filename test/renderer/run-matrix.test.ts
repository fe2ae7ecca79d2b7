// The run matrix: the rows it shows and the startRun arguments it sends, for the axes chosen
// (engines x modes x frame sizes x trials, quick), refusing what the engine would refuse.
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import RunMatrix from '../../renderer/src/components/RunMatrix.svelte';
import type { StartRunArgs } from '../../renderer/src/api/types.js';

let target: HTMLElement;
let component: ReturnType<typeof mount>;
let onstart: ReturnType<typeof vi.fn<(a: StartRunArgs) => void>>;

const q = <T extends Element = HTMLInputElement>(sel: string) => target.querySelector(sel) as T | null;
const box = (name: string, value: string) => q(`input[name="${name}"][value="${value}"]`)!;
const summary = () => q('[data-testid="matrix-summary"]')!.textContent!.replace(/\s+/g, ' ').trim();
const startButton = () => q<HTMLButtonElement>('button[type="submit"]')!;
const rows = () => [...target.querySelectorAll('table.rows tbody tr')].map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent));

function click(el: HTMLElement): void { el.click(); flushSync(); }
function type(el: HTMLInputElement, value: string): void {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}
function submit(): void {
  q<HTMLFormElement>('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
  flushSync();
}

beforeEach(() => {
  target = document.createElement('div');
  document.body.append(target);
  onstart = vi.fn<(a: StartRunArgs) => void>();
  component = mount(RunMatrix, { target, props: { onstart } });
  flushSync();
});
afterEach(() => { unmount(component); target.remove(); });

describe('RunMatrix', () => {
  it('starts with txonly and rxonly, native, 64 bytes, quick: two rows', () => {
    expect(summary()).toBe('2 rows, quick = 2 measurements');
    expect(rows()).toEqual([['txonly', 'native', '64'], ['rxonly', 'native', '64']]);
    expect(startButton().disabled).toBe(false);
    expect(q<HTMLInputElement>('input[name="trials"]')!.disabled).toBe(true);
    submit();
    expect(onstart).toHaveBeenCalledTimes(1);
    expect(onstart.mock.calls[0]![0]).toEqual({ scenario: { tests: ['txonly', 'rxonly'], modes: ['native'], frameBytes: [64] }, quick: true });
  });

  it('a peer on another host: the host and both interfaces, round-trip latency, no ssh command line sent', () => {
    const host = q('input[name="peer-host"]')!;
    expect(q('input[name="ifname"]')!.disabled).toBe(true);
    type(host, 'root@gen');
    expect(q('[role="alert"]')!.textContent).toContain("needs the interface here and the peer's interface there");
    expect(startButton().disabled).toBe(true);
    type(q('input[name="ifname"]')!, 'enp1s0');
    type(q('input[name="netns"]')!, 'dut');
    type(q('input[name="peer"]')!, 'enp2s0');
    click(box('engine', 'iperf3'));
    const latency = q('input[name="latency"]')!;
    expect(latency.disabled).toBe(false);
    expect(latency.parentElement!.textContent).toContain('round-trip latency across the hosts');
    click(latency);
    expect(startButton().disabled).toBe(false);
    submit();
    const sent = onstart.mock.calls[0]![0];
    expect(sent.scenario).toMatchObject({ tests: ['txonly', 'rxonly', 'iperf3'], peerHost: 'root@gen', ifname: 'enp1s0', netns: 'dut', peer: 'enp2s0', latency: true });
    expect(sent.scenario).not.toHaveProperty('ssh');
    // Cleared again: a run on this host.
    type(host, '');
    submit();
    expect(onstart.mock.calls[1]![0].scenario).not.toHaveProperty('peerHost');
  });

  it('asks for NDR/PDR searches, latency rows and IMIX; latency only with PDR, searches only with receiving rows', () => {
    click(box('engine', 'rxonly'));
    click(box('engine', 'txonly'));
    // txonly alone has nothing to search.
    expect(box('search', 'ndr').disabled).toBe(true);
    click(box('engine', 'io'));
    expect(box('search', 'ndr').disabled).toBe(false);
    const latency = q('input[name="latency"]')!;
    expect(latency.disabled).toBe(true);
    click(box('search', 'ndr'));
    click(box('search', 'pdr'));
    expect(latency.disabled).toBe(false);
    click(latency);
    click(q('input[name="imix"]')!);
    expect(q('input[name="pvp"]')!.disabled).toBe(true);
    submit();
    expect(onstart.mock.calls[0]![0].scenario).toEqual({ tests: ['io'], modes: ['native'], frameBytes: [64], search: ['ndr', 'pdr'], latency: true, imix: true });
  });

  it('multiplies engines x modes x frame sizes, and trials when not quick', () => {
    click(box('mode', 'skb'));
    click(box('frame', '1518'));
    click(q('input[name="quick"]')!);
    type(q('input[name="trials"]')!, '5');
    type(q('input[name="duration"]')!, '2');
    expect(summary()).toBe('8 rows × 5 trials = 40 measurements');
    expect(rows()).toHaveLength(8);
    expect(rows()[0]).toEqual(['txonly', 'native', '64']);
    expect(rows()[1]).toEqual(['txonly', 'native', '1518']);
    submit();
    expect(onstart.mock.calls[0]![0]).toEqual({
      scenario: { tests: ['txonly', 'rxonly'], modes: ['native', 'skb'], frameBytes: [64, 1518], trials: 5, durationMs: 2000 },
      quick: false,
    });
  });

  it('refuses an empty axis, with the reason, and does not start', () => {
    click(box('engine', 'txonly'));
    click(box('engine', 'rxonly'));
    expect(q('[role="alert"]')!.textContent).toBe('choose at least one engine or VM backend');
    expect(startButton().disabled).toBe(true);
    submit();
    expect(onstart).not.toHaveBeenCalled();
    click(box('engine', 'io'));
    click(box('mode', 'native'));
    expect(q('[role="alert"]')!.textContent).toBe('choose at least one mode');
  });

  it('takes other frame sizes within 60..3840 and says what is wrong otherwise', () => {
    const extra = q('input[name="extra-frames"]')!;
    type(extra, '30');
    expect(q('[role="alert"]')!.textContent).toContain("'30' is not a frame size from 60 to 3840 bytes");
    expect(extra.getAttribute('aria-invalid')).toBe('true');
    expect(startButton().disabled).toBe(true);
    type(extra, '3000, 1500');
    expect(q('[role="alert"]')).toBeNull();
    submit();
    expect(onstart.mock.calls[0]![0].scenario.frameBytes).toEqual([64, 1500, 3000]);
  });

  it('iperf3 alone makes one row per mode and sends no frame sizes', () => {
    click(box('engine', 'txonly'));
    click(box('engine', 'rxonly'));
    click(box('engine', 'iperf3'));
    click(box('mode', 'skb'));
    expect(rows()).toEqual([['iperf3', 'native', '—'], ['iperf3', 'skb', '—']]);
    submit();
    expect(onstart.mock.calls[0]![0]).toEqual({ scenario: { tests: ['iperf3'], modes: ['native', 'skb'] }, quick: true });
  });

  it('waits while busy', async () => {
    const { mountMatrix } = await import('./run-matrix-host.svelte.js');
    const other = document.createElement('div');
    document.body.append(other);
    const host = mountMatrix(other);
    flushSync();
    const button = other.querySelector('button[type="submit"]') as HTMLButtonElement;
    expect(button.disabled).toBe(false);
    host.setBusy(true);
    flushSync();
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe('Starting…');
    host.destroy();
    other.remove();
  });

  it('labels every control (keyboard and screen reader use)', () => {
    for (const input of target.querySelectorAll('input')) {
      expect(input.closest('label') ?? input.getAttribute('aria-label'), input.outerHTML).toBeTruthy();
    }
    for (const fs of target.querySelectorAll('fieldset')) expect(fs.querySelector('legend')?.textContent).toBeTruthy();
  });
});
