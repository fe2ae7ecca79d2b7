// The preload (CommonJS: sandboxed preloads cannot load ES modules): exposes window.xdplab with
// exactly LabApi's shape, call(command, args) and on(event, listener) -> unsubscribe, and
// nothing else. A failed call rejects with the plain LabError object ({code, message, field?,
// hint?}): contextBridge copies plain objects whole, while it strips an Error's own fields.
//
// No import or export statement: the file stays a plain script (no `exports` object needed);
// types come in through type-only import() expressions.
type EventMessage = import('../benchmarks/api/lab-api.js').EventMessage;
type WireResponse = import('../benchmarks/api/lab-api.js').Response;

const { contextBridge, ipcRenderer }: typeof import('electron') = require('electron');

type Listener = (payload: unknown) => void;
const listeners = new Map<string, Set<Listener>>();
let nextId = 1;

ipcRenderer.on('xdplab:event', (_event, message: EventMessage) => {
  for (const l of listeners.get(message.event) ?? []) {
    try { l(message.payload); } catch (err) { console.error(`xdplab: a listener of '${message.event}' failed`, err); }
  }
});

const api = {
  call(command: string, args: unknown): Promise<unknown> {
    if (typeof command !== 'string') return Promise.reject({ code: 'EBADREQUEST', message: 'command must be a string' });
    return (ipcRenderer.invoke('xdplab:call', { type: 'request', id: nextId++, command, args }) as Promise<WireResponse>).then((r) => {
      if (r.ok) return r.result;
      throw r.error;
    });
  },
  on(event: string, listener: Listener): () => void {
    if (typeof event !== 'string' || typeof listener !== 'function') throw new TypeError('on(event: string, listener: function)');
    let set = listeners.get(event);
    if (!set) { set = new Set(); listeners.set(event, set); }
    set.add(listener);
    return () => { set.delete(listener); };
  },
};

// The shape the renderer programs against (checked at compile time).
const typed: import('../benchmarks/api/lab-api.js').LabApi = api as unknown as import('../benchmarks/api/lab-api.js').LabApi;
contextBridge.exposeInMainWorld('xdplab', typed);
