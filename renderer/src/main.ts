// Starts the renderer: the LabApi transport (Electron's bridge or the WebSocket), the shared
// state, and the app.
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { connect } from './api/client.js';
import { AppState } from './lib/state.svelte.js';

let app: AppState | undefined;
const { api, transport } = connect((state, detail) => {
  if (app) app.connection = { state, ...(detail ? { detail } : {}) };
});
app = new AppState(api, transport);
if (transport === 'electron') app.connection = { state: 'open' };

mount(App, { target: document.getElementById('app')!, props: { app } });
