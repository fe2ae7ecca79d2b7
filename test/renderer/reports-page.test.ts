// The Reports page's "compare two runs": which runs A and B are while listRuns answers (on mount,
// on Refresh, on every run start and end) land before, between and after the user's picks.
// LabApi here is an in-memory one whose listRuns answers the test releases, in any order, so
// each interleaving is exercised on purpose rather than by luck of timing.
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandArgs, CommandName, CommandResult, EventName, EventPayload, LabApi } from '../../renderer/src/api/types.js';
import { AppState } from '../../renderer/src/lib/state.svelte.js';
import ReportsPage from '../../renderer/src/pages/ReportsPage.svelte';

class HeldLabApi implements LabApi {
  /** Run ids, newest first: what the next listRuns answer will say. */
  runIds: string[] = [];
  /** listRuns answers not given yet (while `holding`), oldest request first. */
  readonly held: Array<() => void> = [];
  holding = false;
  readonly compared: Array<{ a: string; b: string }> = [];
  private readonly listeners = new Map<string, Set<(p: unknown) => void>>();

  call<C extends CommandName>(command: C, args: CommandArgs<C>): Promise<CommandResult<C>> {
    if (command === 'listRuns') {
      const answer = this.runIds.map((runId, i) => ({ runId, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 100 - i)).toISOString(), status: 'complete', command: ['xdplab', 'bench'], rows: 2 }));
      return new Promise((resolve) => {
        const give = () => resolve(answer as CommandResult<C>);
        if (this.holding) this.held.push(give); else give();
      });
    }
    if (command === 'compareReports') {
      this.compared.push(args as { a: string; b: string });
      return Promise.resolve({ rows: [], onlyInA: [], onlyInB: [] } as unknown as CommandResult<C>);
    }
    return Promise.reject(new Error(`${command}: not part of this test`));
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(listener as (p: unknown) => void);
    return () => set.delete(listener as (p: unknown) => void);
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const l of this.listeners.get(event) ?? []) l(payload);
  }

  /** A run starting: the page asks listRuns again (held while `holding`). */
  runStarted(runId: string): void {
    this.runIds = [runId, ...this.runIds];
    this.emit('runState', { runId, state: 'running', reportDir: `/tmp/${runId}` });
  }
}

let target: HTMLElement;
let component: ReturnType<typeof mount> | undefined;
afterEach(() => { if (component) unmount(component); component = undefined; target?.remove(); });

const settle = async () => { for (let i = 0; i < 3; i++) { await new Promise((r) => setTimeout(r, 0)); flushSync(); } };
const select = (name: string) => target.querySelector(`select[name="${name}"]`) as HTMLSelectElement;
const shown = () => ({ a: select('a').value, b: select('b').value });
function pick(name: 'a' | 'b', runId: string): void {
  const s = select(name);
  s.value = runId;
  s.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}
async function compare(): Promise<void> {
  (target.querySelector('form[aria-label="Compare two reports"]') as HTMLFormElement).dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
  await settle();
}

async function open(runIds: string[]): Promise<HeldLabApi> {
  const api = new HeldLabApi();
  api.runIds = runIds;
  target = document.createElement('div');
  document.body.append(target);
  component = mount(ReportsPage, { target, props: { app: new AppState(api, 'web') } });
  // happy-dom matches no option with :checked, which Svelte's bind:value reads on change; answer
  // it from selectedIndex as a browser would (app-pages.test.ts does this in Chromium).
  for (const s of target.querySelectorAll('select')) {
    const query = s.querySelector.bind(s);
    s.querySelector = ((sel: string) => (sel === ':checked' ? s.options[s.selectedIndex] ?? null : query(sel))) as typeof s.querySelector;
  }
  await settle();
  return api;
}

describe('ReportsPage: comparing two runs', () => {
  it('starts with the newest run as B and the one before it as A', async () => {
    await open(['r1', 'r0']);
    expect(shown()).toEqual({ a: 'r0', b: 'r1' });
    await compare();
    expect(target.querySelector('#compare-title')?.textContent).toBe('r0 → r1');
  });

  it('pick A, pick B, compare: exactly the picks, whatever listRuns answers land in between', async () => {
    const api = await open(['r1', 'r0']);
    api.holding = true;
    api.runStarted('r2');
    pick('a', 'r0');
    api.runStarted('r3');
    api.held.shift()!();
    await settle();
    pick('b', 'r2');
    for (const give of api.held.splice(0)) give();
    await settle();
    expect(shown()).toEqual({ a: 'r0', b: 'r2' });
    await compare();
    expect(api.compared).toEqual([{ a: 'r0', b: 'r2' }]);
    expect(target.querySelector('#compare-title')?.textContent).toBe('r0 → r2');
  });

  it('picking A while a listRuns answer is on its way leaves B following the newest run', async () => {
    const api = await open(['r1', 'r0']);
    api.holding = true;
    api.runStarted('r2');
    pick('a', 'r1');
    api.held.shift()!();
    await settle();
    // The answer came after the pick: B is still the newest run, not frozen at r1.
    expect(shown()).toEqual({ a: 'r1', b: 'r2' });
    await compare();
    expect(api.compared).toEqual([{ a: 'r1', b: 'r2' }]);
  });

  it('keeps the newest list when an older listRuns answer arrives last', async () => {
    const api = await open(['r0']);
    api.holding = true;
    api.runStarted('r1');
    api.runStarted('r2');
    const [older, newer] = api.held.splice(0);
    newer!();
    await settle();
    older!();
    await settle();
    expect([...select('b').options].map((o) => o.value)).toEqual(['r2', 'r1', 'r0']);
    expect(shown()).toEqual({ a: 'r1', b: 'r2' });
  });

  it('picking B alone moves A to the run before it, never to B itself', async () => {
    await open(['r2', 'r1', 'r0']);
    pick('b', 'r1');
    expect(shown()).toEqual({ a: 'r0', b: 'r1' });
  });
});
