// `xdplab serve` for the browser tests: the compiled command (test/fixtures/serve.mjs) in a
// process of its own on a free port, with the real engine; resolves with the URL and token it
// prints. `env` adds to this process's environment (XDPLAB_SSH, XDPLAB_REPORTS_DIR, ...).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fixture } from './processes.js';

export interface Served { proc: ChildProcess; url: string; port: number; token: string; stderr: () => string; stop(): Promise<void> }

export function startServe(env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const proc = spawn(process.execPath, [fixture('serve.mjs'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`xdplab serve printed no URL within 30 s; stderr: ${stderr}`)), 30_000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`xdplab serve exited (${code}) before listening; stderr: ${stderr}`)); });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /open (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]+))/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        proc, url: m[1]!, port: Number(m[2]), token: m[3]!, stderr: () => stderr,
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGTERM');
            const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
            await exited;
            clearTimeout(t);
          }
        },
      });
    });
  });
}
