// The lab engine in a process of its own, so that the desktop shell's main process loads no FFI
// (koffi, AF_XDP) and holds no engine state. Started by the shell with Electron's
// utilityProcess.fork (frames over process.parentPort) or by anything else with Node's
// child_process.fork (process.send / 'message'), it runs every `call` frame's request through
// dispatch (the one validation gate, as for the web server), answers with a `reply` frame, and
// sends every engine event as an `event` frame. It closes the engine (stops the runs, then every
// VM) and exits on SIGTERM (the shell's kill() on quit), SIGINT, or when its parent's channel
// closes, so that nothing it started outlives it.
import { errorResponse, requestId } from '../contracts/envelope.js';
import { dispatch } from './dispatch.js';
import { createEngine, type Engine } from './engine.js';
import { ToHostSchema, type FromHost } from './engine-channel.js';

/** Long enough for VMs to power down; the shell kills us itself if we take longer. */
const CLOSE_TIMEOUT_MS = 25_000;

interface ParentChannel {
  send(frame: FromHost): void;
  onMessage(listener: (data: unknown) => void): void;
  onClose(listener: () => void): void;
}

/** Electron's process.parentPort, which Node's types do not know. */
interface ParentPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
}

function isParentPort(v: unknown): v is ParentPortLike {
  return typeof v === 'object' && v !== null && 'postMessage' in v && typeof v.postMessage === 'function' && 'on' in v && typeof v.on === 'function';
}

function parentChannel(): ParentChannel | undefined {
  const port: unknown = Reflect.get(process, 'parentPort');
  if (isParentPort(port)) {
    return {
      send: (frame) => port.postMessage(frame),
      onMessage: (listener) => { port.on('message', (event) => listener(event.data)); },
      // A utility process has no close event: Electron ends it with the app, and the shell
      // stops it with SIGTERM (kill()) before quitting.
      onClose: () => {},
    };
  }
  const send = process.send?.bind(process);
  if (!send) return undefined;
  return {
    // Fails only once the parent is gone, which 'disconnect' handles.
    send: (frame) => { if (process.connected) send(frame, undefined, undefined, () => {}); },
    onMessage: (listener) => { process.on('message', (data: unknown) => listener(data)); },
    onClose: (listener) => { process.on('disconnect', listener); },
  };
}

const warn = (m: string): void => { try { process.stderr.write(`xdplab engine: ${m}\n`); } catch { /* no stderr left */ } };
const errorText = (err: unknown): string => (err instanceof Error ? err.stack ?? err.message : String(err));

function serve(channel: ParentChannel): void {
  const engineReady: Promise<Engine> = createEngine({ warn });
  let closing = false;

  /** A result that cannot cross the channel (not cloneable) still gets an answer. */
  const reply = (seq: number, frame: FromHost): void => {
    try { channel.send(frame); } catch (err) {
      const id = frame.kind === 'reply' ? frame.response.id : -1;
      channel.send({ kind: 'reply', seq, response: errorResponse(id, { code: 'EINTERNAL', message: `the answer could not be sent: ${err instanceof Error ? err.message : String(err)}` }) });
    }
  };

  channel.onMessage((data) => {
    const frame = ToHostSchema.safeParse(data);
    if (!frame.success) { warn('ignored a frame that is not a call'); return; }
    const { seq, request } = frame.data;
    if (closing) {
      reply(seq, { kind: 'reply', seq, response: errorResponse(requestId(request), { code: 'ECLOSING', message: 'the lab engine is shutting down', hint: 'start xdplab again' }) });
      return;
    }
    void engineReady.then((engine) => dispatch(engine.service.handlers, request, warn)).then((response) => reply(seq, { kind: 'reply', seq, response }));
  });

  engineReady.then((engine) => {
    engine.service.onEvent((message) => { try { channel.send({ kind: 'event', message }); } catch (err) { warn(`an event could not be sent: ${errorText(err)}`); } });
    channel.send({ kind: 'ready' });
  }, (err: unknown) => {
    warn(`the engine failed to start: ${errorText(err)}`);
    process.exit(1);
  });

  const shutdown = (why: string): void => {
    if (closing) return;
    closing = true;
    let code = 0;
    const timer = setTimeout(() => { warn(`closing the engine took over ${CLOSE_TIMEOUT_MS / 1000} s (${why}); exiting anyway`); process.exit(1); }, CLOSE_TIMEOUT_MS);
    void engineReady
      .then((engine) => engine.close())
      .catch((err: unknown) => { code = 1; warn(`closing the engine (${why}): ${errorText(err)}`); })
      .finally(() => { clearTimeout(timer); process.exit(code); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  channel.onClose(() => shutdown('the parent went away'));
}

const channel = parentChannel();
if (!channel) {
  warn('no parent channel: this is started by the desktop shell (utilityProcess.fork) or with child_process.fork');
  process.exit(2);
}
serve(channel);
