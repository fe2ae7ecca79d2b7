// Web mode: the built renderer over HTTP and LabApi over a WebSocket, on the loopback interface
// only. A random token, compared in constant time, is required for everything: in the page's
// URL (`/?token=...`, which also sets a same-site, HttpOnly cookie for the page's own assets)
// and as the WebSocket's `token` query parameter. A wrong or missing token gets 403 and no
// WebSocket. Every WebSocket message is size-limited and validated by dispatch.ts; malformed
// ones get an error response and the connection stays usable. Strict security headers on
// everything: a CSP without inline scripts, nosniff, no framing, no CORS.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { LabError } from '../contracts/errors.js';
import type { EventMessage } from '../api/lab-api.js';
import { distPath } from '../paths.js';
import { dispatchText, errorResponse, MAX_MESSAGE_BYTES } from './dispatch.js';
import type { LabService } from './lab-service.js';

export const DEFAULT_PORT = 7878;
export const API_PATH = '/api';

export interface WebServerOptions {
  service: LabService;
  /** Loopback only: 127.0.0.1 (default), another 127.x address, or ::1. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The built renderer (default dist/renderer). */
  rendererDir?: string;
  /** Default: 32 random bytes, base64url. */
  token?: string;
  warn?: (message: string) => void;
}

export interface WebServer {
  host: string;
  port: number;
  token: string;
  /** The page's URL, token included. */
  url: string;
  clients(): number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Pending requests per connection: more are answered with an error, not queued without end. */
const MAX_PENDING_PER_CLIENT = 32;
/** A client that lets this much of our output pile up is too slow for the event stream. */
const MAX_BUFFERED_BYTES = 16 << 20;

export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1';
}

/** Equal-length digests, so neither the token's length nor its bytes leak through timing. */
export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

export function contentSecurityPolicy(host: string, port: number): string {
  const origin = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ws://${origin}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

function securityHeaders(csp: string): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=(), serial=(), hid=(), bluetooth=()',
    'Cache-Control': 'no-store',
  };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new LabError({
      code: 'EINVALIDOPTION', field: '--host',
      message: `--host: ${host} is not a loopback address; xdplab serve listens on 127.0.0.1 (or ::1) only`,
      hint: 'the lab runs as root and drives QEMU: reach it from another machine through an SSH tunnel (ssh -L 7878:127.0.0.1:7878 HOST)',
    });
  }
  const port = opts.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LabError({ code: 'EINVALIDOPTION', field: '--port', message: `--port: expected 0..65535, got ${port}` });
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const root = resolve(opts.rendererDir ?? distPath('renderer'));
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`xdplab serve: ${m}\n`));
  const service = opts.service;

  let actualPort = port;
  let csp = '';
  let cookieName = '';
  const allowedHosts = () => new Set([`127.0.0.1:${actualPort}`, `localhost:${actualPort}`, `[::1]:${actualPort}`, `${host.includes(':') ? `[${host}]` : host}:${actualPort}`]);

  /** The token from the query (the page, the WebSocket) or the page's cookie (its assets). */
  function authorized(req: IncomingMessage, url: URL, allowCookie: boolean): boolean {
    if (tokenMatches(token, url.searchParams.get('token'))) return true;
    return allowCookie && tokenMatches(token, cookieValue(req.headers.cookie, cookieName));
  }

  /** DNS rebinding: a page on another name that resolves to 127.0.0.1 sends its own Host. */
  function hostAllowed(req: IncomingMessage): boolean {
    return allowedHosts().has(req.headers.host ?? '');
  }

  function deny(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...securityHeaders(csp), 'Content-Type': 'text/plain; charset=utf-8', ...extra });
    res.end(`${text}\n`);
  }

  const server = createServer((req, res) => {
    try {
      handleHttp(req, res);
    } catch (err) {
      warn(`HTTP ${req.method} ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) deny(res, 500, 'internal error');
      else res.destroy();
    }
  });

  function handleHttp(req: IncomingMessage, res: ServerResponse): void {
    if (!hostAllowed(req)) return deny(res, 403, 'forbidden: unexpected Host header');
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    let url: URL;
    try { url = new URL(req.url ?? '/', `http://${req.headers.host}`); } catch { return deny(res, 400, 'bad request'); }
    const isPage = url.pathname === '/' || url.pathname === '/index.html';
    if (!authorized(req, url, !isPage)) return deny(res, 403, 'forbidden: open the URL that xdplab serve printed (it carries the token)');
    if (url.pathname === API_PATH) return deny(res, 426, 'this is the WebSocket endpoint', { Upgrade: 'websocket' });
    let pathname: string;
    try { pathname = decodeURIComponent(url.pathname); } catch { return deny(res, 400, 'bad request: malformed path'); }
    const rel = isPage ? 'index.html' : normalize(pathname).replace(/^([/\\])+/, '');
    const file = resolve(root, rel);
    if (file !== root && !file.startsWith(root + sep)) return deny(res, 403, 'forbidden');
    if (!existsSync(join(root, 'index.html'))) {
      return deny(res, 503, `the renderer is not built: ${root}/index.html is missing; run npm run build:renderer (npm run build builds it too)`);
    }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return deny(res, 404, 'not found');
      size = st.size;
    } catch { return deny(res, 404, 'not found'); }
    const headers: Record<string, string> = {
      ...securityHeaders(csp),
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(size),
    };
    if (isPage) headers['Set-Cookie'] = `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict`;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => { /* a client that went away */ });
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text) + 1}\r\n\r\n${text}\n`);
    };
    let url: URL;
    try { url = new URL(req.url ?? '/', `http://${req.headers.host}`); } catch { return refuse(400, 'Bad Request'); }
    if (!hostAllowed(req)) return refuse(403, 'Forbidden');
    if (!tokenMatches(token, url.searchParams.get('token'))) return refuse(403, 'Forbidden');
    // Browsers always send Origin; only our own page's origin may open the socket.
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedHosts().has(origin.replace(/^http:\/\//, ''))) return refuse(403, 'Forbidden');
    if (url.pathname !== API_PATH) return refuse(404, 'Not Found');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    let pending = 0;
    ws.on('error', (err) => warn(`WebSocket: ${err.message}`));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const send = (text: string) => { if (ws.readyState === ws.OPEN) ws.send(text); };
      if (isBinary) {
        send(JSON.stringify(errorResponse(-1, { code: 'EBADREQUEST', message: 'binary messages are not accepted', hint: 'send JSON text messages' })));
        return;
      }
      if (pending >= MAX_PENDING_PER_CLIENT) {
        send(JSON.stringify(errorResponse(-1, { code: 'EBUSY', message: `more than ${MAX_PENDING_PER_CLIENT} requests in flight on this connection`, hint: 'wait for answers before sending more' })));
        return;
      }
      pending++;
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      void dispatchText(service.handlers, text, warn).then((response) => {
        pending--;
        let out: string;
        try { out = JSON.stringify(response); } catch (err) {
          out = JSON.stringify(errorResponse(response.id, { code: 'EINTERNAL', message: `the result could not be sent: ${(err as Error).message}` }));
        }
        send(out);
      });
    });
  });

  const unsubscribe = service.onEvent((message: EventMessage) => {
    const text = JSON.stringify(message);
    for (const client of wss.clients) {
      if (client.readyState !== client.OPEN) continue;
      if (client.bufferedAmount > MAX_BUFFERED_BYTES) { client.close(1008, 'too slow: event backlog over 16 MiB'); continue; }
      client.send(text);
    }
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? new LabError({ code: 'EADDRINUSE', field: '--port', message: `--port: ${host}:${port} is in use`, hint: 'choose another with --port N, or --port 0 for any free port' })
        : err);
    });
    server.listen(port, host, () => resolveListen());
  });
  actualPort = (server.address() as AddressInfo).port;
  csp = contentSecurityPolicy(host, actualPort);
  cookieName = `xdplab-${actualPort}`;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    host,
    port: actualPort,
    token,
    url: `http://${urlHost}:${actualPort}/?token=${token}`,
    clients: () => wss.clients.size,
    async close() {
      unsubscribe();
      for (const c of wss.clients) c.close(1001, 'xdplab serve is stopping');
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
