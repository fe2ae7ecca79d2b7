// Running external tools for doctor: never throws, always bounded in time. A missing binary or
// a timeout becomes a `problem` string the check can put in its detail.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ToolOutput {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** Why ok is false: "not found", "timed out after 5 s", "exited with 1: <stderr>". */
  problem?: string;
}

export const DEFAULT_TIMEOUT_MS = 5000;

export function runTool(cmd: string, args: string[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ToolOutput> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const done = (r: ToolOutput) => { if (!settled) { settled = true; clearTimeout(timer); resolve(r); } };
    // Own process group, so that a timeout also kills what a wrapper script started
    // (chromium's launcher is a shell script; its child would keep our pipes open).
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
      // Do not wait for pipes a stray grandchild might still hold.
      setTimeout(() => done({ ok: false, stdout, stderr, problem: `timed out after ${timeoutMs / 1000} s` }), 200).unref();
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err: NodeJS.ErrnoException) => {
      done({ ok: false, stdout, stderr, problem: err.code === 'ENOENT' ? `${cmd} not found` : err.message });
    });
    child.on('close', (code, signal) => {
      if (timedOut) return done({ ok: false, stdout, stderr, problem: `timed out after ${timeoutMs / 1000} s` });
      if (code === 0) return done({ ok: true, stdout, stderr });
      const why = stderr.trim().split('\n')[0] ?? '';
      done({ ok: false, stdout, stderr, problem: `${cmd} ${signal ? `was killed by ${signal}` : `exited with ${code}`}${why ? `: ${why}` : ''}` });
    });
  });
}

/** The absolute path `cmd` resolves to in PATH (or cmd itself when it has a slash), if executable. */
export function which(cmd: string): string | undefined {
  const candidates = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  for (const c of candidates) {
    try { accessSync(c, constants.X_OK); return c; } catch { /* next */ }
  }
  return undefined;
}
