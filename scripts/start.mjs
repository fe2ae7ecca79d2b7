#!/usr/bin/env node
// npm start: builds, then opens the desktop app when Electron's binary is here; otherwise serves
// the same UI in web mode (xdplab serve) and says why and how to open it.
//
// The electron package downloads its binary on install (or on first require('electron'));
// here we look for it without triggering that: node_modules/electron/path.txt names the binary
// under node_modules/electron/dist/. When it is missing we run the package's install.js once,
// with a short timeout, and fall back to web mode if that fails (no internet, for one).
// Arguments after `npm start --` go to xdplab serve in web mode (e.g. --port 9000).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const say = (m) => process.stderr.write(`xdplab start: ${m}\n`);

function build() {
  if (process.env.XDPLAB_SKIP_BUILD === '1') return;
  say('building (npm run build)');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { say('the build failed; see above'); process.exit(r.status ?? 1); }
}

/** The Electron binary, or why there is none. Never downloads by requiring 'electron'. */
function electronBinary() {
  const pkg = join(root, 'node_modules', 'electron');
  if (!existsSync(join(pkg, 'package.json'))) return { why: 'the electron package is not installed (npm install)' };
  const find = () => {
    const pathTxt = join(pkg, 'path.txt');
    if (!existsSync(pathTxt)) return undefined;
    const bin = join(pkg, 'dist', readFileSync(pathTxt, 'utf8').trim());
    return existsSync(bin) ? bin : undefined;
  };
  let bin = find();
  if (bin) return { bin };
  if (process.env.XDPLAB_NO_ELECTRON_DOWNLOAD === '1') return { why: 'its binary is not installed and XDPLAB_NO_ELECTRON_DOWNLOAD=1' };
  say('the Electron binary is not installed; trying its download once (node node_modules/electron/install.js, 60 s at most)');
  const r = spawnSync(process.execPath, [join(pkg, 'install.js')], { cwd: pkg, timeout: 60_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  bin = find();
  if (bin) return { bin };
  const detail = (r.error?.message ?? `${r.stderr}`.trim().split('\n').find((l) => /error|fail/i.test(l)) ?? `exit code ${r.status}`).trim();
  return { why: `no Electron binary on this machine: node_modules/electron/dist is missing and its download failed (${detail})` };
}

function runElectron(bin) {
  const electronArgs = [root];
  if (process.getuid?.() === 0) {
    electronArgs.push('--no-sandbox');
    say('WARNING: running as root, so Electron starts with --no-sandbox: the renderer runs WITHOUT the OS sandbox '
      + '(Chromium refuses to sandbox as root). The page is still isolated (contextIsolation, no Node, CSP, LabApi only). '
      + 'The proper fix is the unprivileged app with a privileged helper (issue 6).');
  }
  const child = spawn(bin, electronArgs, { cwd: root, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function runWebMode(why) {
  say(`${why}.`);
  say('serving the same UI in web mode instead (xdplab serve): open the URL below in a browser on this machine.');
  const { run } = await import(pathToFileURL(join(root, 'dist', 'benchmarks', 'cli', 'commands', 'serve.js')).href);
  const io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
  try {
    process.exit(await run(args, io));
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    process.exit(err?.constructor?.name === 'UsageError' ? 2 : 1);
  }
}

build();
const found = electronBinary();
if (found.bin) runElectron(found.bin);
else await runWebMode(found.why);
