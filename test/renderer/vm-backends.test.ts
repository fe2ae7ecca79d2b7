// The Runs page's VM backends: every backend vmBackends lists is shown, the ones that cannot run
// here disabled with the reason (never hidden); the VM scenario startRun gets; the engine's plan
// (planRun) asked once the choices settle, with the boot time said to be measured or assumed.
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import RunMatrix from '../../renderer/src/components/RunMatrix.svelte';
import type { CommandResult, Plan, StartRunArgs } from '../../renderer/src/api/types.js';

const BACKENDS: CommandResult<'vmBackends'> = {
  qemu: 'qemu-system-x86_64 8.2.2',
  backends: [
    { name: 'user', summary: 'SLIRP', pair: 'host<->guest', tests: ['iperf3'], available: true },
    { name: 'tap', summary: 'a tap on a bridge', pair: 'host<->guest', tests: ['iperf3', 'txonly', 'rxonly'], available: true },
    { name: 'af-xdp', summary: 'AF_XDP netdev', pair: 'host<->guest', tests: ['iperf3', 'txonly'], available: false, reason: 'QEMU lacks af-xdp: install qemu-system-x86 >= 8.2 built with libxdp' },
  ],
};

let target: HTMLElement;
let component: ReturnType<typeof mount> | undefined;
const q = <T extends Element = HTMLInputElement>(sel: string) => target.querySelector(sel) as T | null;
function click(el: HTMLElement): void { el.click(); flushSync(); }
function submit(): void { q<HTMLFormElement>('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })); flushSync(); }

beforeEach(() => { target = document.createElement('div'); document.body.append(target); });
afterEach(() => { if (component) unmount(component); component = undefined; target.remove(); vi.useRealTimers(); });

describe('RunMatrix VM backends', () => {
  it('lists every backend; one that cannot run here is disabled, with its reason and what to install', () => {
    component = mount(RunMatrix, { target, props: { onstart: () => {}, vmBackends: BACKENDS } });
    flushSync();
    const items = [...target.querySelectorAll('[data-testid="vm-backends"] li')];
    expect(items.map((li) => li.getAttribute('data-backend'))).toEqual(['user', 'tap', 'af-xdp']);
    expect(q('input[name="backend"][value="user"]')!.disabled).toBe(false);
    const xdp = q('input[name="backend"][value="af-xdp"]')!;
    expect(xdp.disabled).toBe(true);
    const li = items[2]!;
    expect(li.getAttribute('data-available')).toBe('false');
    expect(li.textContent).toContain('cannot run here: QEMU lacks af-xdp: install qemu-system-x86 >= 8.2 built with libxdp');
    // The reason is the checkbox's description (screen readers say it with the name).
    expect(q(`#${xdp.getAttribute('aria-describedby')}`)!.textContent).toContain('cannot run here');
    expect(items[1]!.textContent).toContain('tests: iperf3, txonly, rxonly');
  });

  it('starts VM rows alone (host tests []) with the backends, tests and NIC model', () => {
    const onstart = vi.fn<(a: StartRunArgs) => void>();
    component = mount(RunMatrix, { target, props: { onstart, vmBackends: BACKENDS } });
    flushSync();
    click(q('input[name="engine"][value="txonly"]')!);
    click(q('input[name="engine"][value="rxonly"]')!);
    expect(q('[role="alert"]')!.textContent).toBe('choose at least one engine or VM backend');
    click(q('input[name="backend"][value="user"]')!);
    click(q('input[name="backend"][value="tap"]')!);
    click(q('input[name="vm-test"][value="txonly"]')!);
    // txonly runs on tap only: the list says so.
    expect(q('input[name="vm-test"][value="txonly"]')!.parentElement!.textContent).toContain('on tap only');
    expect([...q<HTMLSelectElement>('select[name="nic"]')!.options].map((o) => o.value)).toEqual(['virtio-net-pci', 'e1000']);
    submit();
    expect(onstart).toHaveBeenCalledWith({ scenario: { tests: [], vm: { backends: ['user', 'tap'], tests: ['iperf3', 'txonly'], nicModel: 'virtio-net-pci' } }, quick: true });
  });

  it('offers iperf3 streams (--parallel) for VM iperf3 rows and sends it; refuses a bad count', () => {
    const onstart = vi.fn<(a: StartRunArgs) => void>();
    component = mount(RunMatrix, { target, props: { onstart, vmBackends: BACKENDS } });
    flushSync();
    click(q('input[name="engine"][value="txonly"]')!);
    click(q('input[name="engine"][value="rxonly"]')!);
    const parallel = q('input[name="parallel"]')!;
    expect(parallel.disabled).toBe(true); // no iperf3 row chosen
    click(q('input[name="backend"][value="tap"]')!);
    expect(parallel.disabled).toBe(false);
    expect(parallel.labels![0]!.textContent).toMatch(/iperf3 streams \(--parallel, host and VM iperf3 rows\)/);
    parallel.value = '0';
    parallel.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(q('[role="alert"]')!.textContent).toBe('iperf3 streams must be a whole number from 1 to 128');
    parallel.value = '2';
    parallel.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    submit();
    expect(onstart).toHaveBeenCalledWith({ scenario: { tests: [], vm: { backends: ['tap'], tests: ['iperf3'], nicModel: 'virtio-net-pci' }, parallel: 2 }, quick: true });
  });

  it('asks planRun once the choices settle and shows its rows, unavailable ones with reasons, VM boots and duration', async () => {
    vi.useFakeTimers();
    const plans: StartRunArgs[] = [];
    const answer = (measured: boolean): Plan => ({
      rows: [
        { id: 'user/iperf3', kind: 'vm', test: 'iperf3', tool: 'iperf3', mode: 'tcp', backend: 'user' },
        { id: 'user/txonly', kind: 'vm', test: 'txonly', tool: 'xdplab', mode: 'native', backend: 'user', unavailable: 'user has no host end' },
      ],
      trials: 3, vmBoots: 3, bootMs: 2400, bootMeasured: measured, estimatedMs: 25_000, ...(basis ? { bootBasis: basis } : {}),
    });
    let measured = false;
    let basis: string | undefined;
    const plan = vi.fn(async (a: StartRunArgs) => { plans.push(a); return answer(measured); });
    component = mount(RunMatrix, { target, props: { onstart: () => {}, vmBackends: BACKENDS, plan, planDelayMs: 300 } });
    flushSync();
    click(q('input[name="backend"][value="user"]')!);
    click(q('input[name="vm-test"][value="txonly"]')!);
    await vi.advanceTimersByTimeAsync(100);
    expect(plan).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(300);
    expect(plan).toHaveBeenCalledTimes(1);
    expect(plans[0]!.scenario.vm).toEqual({ backends: ['user'], tests: ['iperf3', 'txonly'], nicModel: 'virtio-net-pci' });
    flushSync();
    const summary = q('[data-testid="plan-summary"]')!.textContent!.replace(/\s+/g, ' ');
    expect(summary).toContain('2 rows (1 unavailable)');
    expect(summary).toContain('3 VM boots, about 25 s');
    expect(summary).toContain('assumed: not measured here yet');
    const rows = [...target.querySelectorAll('[data-testid="plan-rows"] tbody tr')];
    expect(rows[1]!.classList.contains('unavailable')).toBe(true);
    expect(rows[1]!.textContent).toContain('no: user has no host end');
    measured = true;
    click(q('input[name="quick"]')!);
    await vi.advanceTimersByTimeAsync(400);
    flushSync();
    expect(plan).toHaveBeenCalledTimes(2);
    expect(q('[data-testid="plan-summary"]')!.textContent).toContain('measured on this machine');
    // The engine's words for where the boot time comes from, when it gives them.
    basis = 'measured: median of the last 3 boots of /usr/bin/qemu-system-x86_64 (tcg) here';
    click(q('input[name="quick"]')!);
    await vi.advanceTimersByTimeAsync(400);
    flushSync();
    expect(q('[data-testid="plan-summary"]')!.textContent).toContain('a boot takes 2.4 s, measured: median of the last 3 boots of /usr/bin/qemu-system-x86_64 (tcg) here');
  });
});
