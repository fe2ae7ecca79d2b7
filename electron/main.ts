// The desktop app's main process: one window showing the renderer from the app's own
// xdplab://app/ protocol (no remote content, no file:// pages), locked down (context isolation,
// sandbox, no Node in the page, a strict Content-Security-Policy, no navigation, no new
// windows, no permissions), reached only through one IPC channel. The lab engine does not run
// here: it runs in a child process (benchmarks/server/engine-host.ts, started with
// utilityProcess.fork), which validates every request with the same dispatch as the web
// server's. This process checks only who asks and how big the request is, forwards it
// (engine-client.ts), and holds no FFI: nothing it imports reaches native/ or koffi.
import { app, BrowserWindow, ipcMain, protocol, session, utilityProcess, type WebContents, type WebFrameMain } from 'electron';
import { readFile, stat } from 'node:fs/promises';
import { extname, normalize, resolve, sep } from 'node:path';
import { errorResponse } from '../benchmarks/contracts/envelope.js';
import { distPath } from '../benchmarks/paths.js';
import { EngineClient, ENGINE_HOST_PATH, type EngineChild } from '../benchmarks/server/engine-client.js';

const SCHEME = 'xdplab';
const ORIGIN = `${SCHEME}://app`;
const CALL_CHANNEL = 'xdplab:call';
const EVENT_CHANNEL = 'xdplab:event';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.map': 'application/json', '.woff2': 'font/woff2',
};

const rendererRoot = resolve(distPath('renderer'));
const warn = (m: string) => process.stderr.write(`xdplab: ${m}\n`);

if (process.getuid?.() === 0) {
  warn('running as root: Electron runs WITHOUT its renderer sandbox (--no-sandbox) because Chromium refuses to sandbox as root. '
    + 'The page is still isolated (contextIsolation, no Node, CSP, LabApi only), but not by the OS sandbox. '
    + 'The proper fix is the unprivileged app with a privileged helper (issue 6).');
}

// Before `ready`: the app's own scheme, standard (relative URLs, origin) and secure.
protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true } }]);

function securityHeaders(contentType: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
}

/** Files of dist/renderer only, by path under xdplab://app/. */
async function serveRenderer(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.host !== 'app' || request.method !== 'GET') return new Response('not found', { status: 404, headers: securityHeaders('text/plain') });
  let path: string;
  try { path = decodeURIComponent(url.pathname); } catch { return new Response('bad path', { status: 400, headers: securityHeaders('text/plain') }); }
  const rel = path === '/' ? 'index.html' : normalize(path).replace(/^([/\\])+/, '');
  const file = resolve(rendererRoot, rel);
  if (!file.startsWith(rendererRoot + sep)) return new Response('forbidden', { status: 403, headers: securityHeaders('text/plain') });
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    return new Response(await readFile(file), { status: 200, headers: securityHeaders(TYPES[extname(file)] ?? 'application/octet-stream') });
  } catch {
    const missing = rel === 'index.html' ? `the renderer is not built (${rendererRoot}/index.html is missing): run npm run build` : 'not found';
    return new Response(missing, { status: 404, headers: securityHeaders('text/plain; charset=utf-8') });
  }
}

function isAppUrl(url: string): boolean {
  try { const u = new URL(url); return u.protocol === `${SCHEME}:` && u.host === 'app'; } catch { return false; }
}

/** Only our page's main frame may call LabApi. */
function trusted(frame: WebFrameMain | null, owner: WebContents | undefined, sender: WebContents): boolean {
  return !!frame && frame === sender.mainFrame && sender === owner && isAppUrl(frame.url);
}

function lockDown(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  // No remote content: only the app's scheme (and in-page data:/blob: URLs for images and saves).
  ses.webRequest.onBeforeRequest((details, callback) => {
    const ok = isAppUrl(details.url) || details.url.startsWith('data:') || details.url.startsWith(`blob:${ORIGIN}`) || details.url.startsWith('devtools:');
    if (!ok) warn(`blocked a request to ${details.url.slice(0, 200)}`);
    callback({ cancel: !ok });
  });
  // The CSP on every response, whatever served it.
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY], 'X-Content-Type-Options': ['nosniff'] } });
  });
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event, url) => { event.preventDefault(); warn(`blocked navigation to ${url.slice(0, 200)}`); });
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(({ url }) => { warn(`blocked a new window for ${url.slice(0, 200)}`); return { action: 'deny' }; });
  });
}

/** The engine host as a utility process: Node, out of this process, with its stdout/stderr here. */
function forkEngine(): EngineChild {
  const child = utilityProcess.fork(ENGINE_HOST_PATH, [], { serviceName: 'xdplab engine', stdio: 'inherit' });
  return {
    send: (frame) => child.postMessage(frame),
    onMessage: (listener) => { child.on('message', (data: unknown) => listener(data)); },
    // Electron gives the code only.
    onExit: (listener) => { child.on('exit', (code) => listener({ code, signal: null })); },
    // kill() is SIGTERM; SIGKILL by pid for one that does not stop.
    kill: (signal) => { if (signal === 'SIGTERM' || child.pid === undefined) child.kill(); else process.kill(child.pid, signal); },
  };
}

let engine: EngineClient | undefined;
let window: BrowserWindow | undefined;

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    title: 'xdplab',
    show: false,
    autoHideMenuBar: true,
    webPreferences: {
      preload: distPath('electron', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      devTools: !app.isPackaged,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${ORIGIN}/index.html`);
  return win;
}

async function main(): Promise<void> {
  await app.whenReady();
  lockDown();
  protocol.handle(SCHEME, serveRenderer);
  const client = new EngineClient({
    start: forkEngine,
    warn,
  });
  engine = client;
  client.start();

  ipcMain.handle(CALL_CHANNEL, async (event, message: unknown) => {
    if (!trusted(event.senderFrame, window?.webContents, event.sender)) {
      return errorResponse(-1, { code: 'EFORBIDDEN', message: 'LabApi answers only the xdplab page' });
    }
    // The size here (EngineClient.call), the schemas in the engine host's dispatch.
    return client.call(message);
  });
  client.onEvent((message) => {
    if (window && !window.isDestroyed()) window.webContents.send(EVENT_CHANNEL, message);
  });

  window = createWindow();
  window.on('closed', () => { window = undefined; });
}

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !engine) return;
  // The engine host stops the runs and VMs first (SIGTERM), then quit for real.
  event.preventDefault();
  quitting = true;
  void engine.close().catch((err: Error) => warn(`shutdown: ${err.message}`)).finally(() => app.quit());
});
app.on('window-all-closed', () => app.quit());

main().catch((err: unknown) => {
  warn(`failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  app.exit(1);
});
