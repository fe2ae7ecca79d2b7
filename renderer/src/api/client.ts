// The one LabApi the pages use, chosen at startup: Electron's preload bridge when the page runs
// in the desktop app, else the web server's WebSocket with the token from the page's URL.
import { IpcLabApi } from './ipc-client.js';
import type { LabApi } from './types.js';
import { apiUrl, WebSocketLabApi, type ConnectionState } from './ws-client.js';

export type Transport = 'electron' | 'web';

export interface Connection {
  api: LabApi;
  transport: Transport;
}

export function connect(onState: (state: ConnectionState, detail?: string) => void): Connection {
  if (typeof window !== 'undefined' && window.xdplab) {
    onState('open');
    return { api: new IpcLabApi(window.xdplab), transport: 'electron' };
  }
  return { api: new WebSocketLabApi(apiUrl(window.location.href), { onState }), transport: 'web' };
}
