// RunMatrix with reactive props (runes need a .svelte.ts module).
import { mount, unmount } from 'svelte';
import RunMatrix from '../../renderer/src/components/RunMatrix.svelte';

export function mountMatrix(target: HTMLElement) {
  const props = $state({ busy: false, onstart: () => {} });
  const component = mount(RunMatrix, { target, props });
  return {
    setBusy(b: boolean) { props.busy = b; },
    destroy() { unmount(component); },
  };
}
