// The Node/Electron decision (README, Install) holds for what is installed: the project declares
// the Node the desktop app's install chain needs (Electron's and electron-builder's engines), the
// pinned Electron has utilityProcess (the engine host needs Electron >= 22), electron-builder is
// a pinned devDependency behind `npm run dist`, and the README names the Electron major and the
// engines it declares, so a bump that changes any of these fails until the note follows.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string>; scripts: Record<string, string> };
const electron = JSON.parse(read('node_modules/electron/package.json')) as { version: string; engines?: { node?: string } };
const readme = read('README.md');
const minor = (range: string | undefined) => (/(\d+)\.(\d+)/.exec(range ?? '') ?? []).slice(1, 3).map(Number);

describe('Electron and Node', () => {
  it("the project declares at least the Node that Electron's package declares", () => {
    const [pm, pn] = minor(pkg.engines.node), [em, en] = minor(electron.engines?.node);
    expect(pm! > em! || (pm === em && pn! >= en!)).toBe(true);
    expect(readme).toContain(`"engines": {"node": "${pkg.engines.node}"}`);
  });

  it('the installed Electron matches package.json and its electron.d.ts has utilityProcess (Electron >= 22)', () => {
    const major = Number(electron.version.split('.')[0]);
    expect(pkg.devDependencies.electron).toMatch(new RegExp(`^\\^?${major}\\.`));
    expect(major).toBeGreaterThanOrEqual(22);
    expect(read('node_modules/electron/electron.d.ts')).toMatch(/const utilityProcess: (typeof )?UtilityProcess/);
    expect(readme).toContain(`Electron ${major}\n(\`${pkg.devDependencies.electron}\`) declares \`"engines": {"node": "${electron.engines?.node ?? ''}"}\``);
  });

  it('electron-builder is a pinned devDependency that runs, behind npm run dist', () => {
    expect(pkg.devDependencies['electron-builder']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.scripts.dist).toMatch(/electron-builder --linux/);
    const v = spawnSync(new URL('../../node_modules/.bin/electron-builder', import.meta.url).pathname, ['--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(v.stdout.trim()).toBe(pkg.devDependencies['electron-builder']);
  });

  it.skipIf(!existsSync(new URL('../../node_modules/electron/dist', import.meta.url)))(
    `npm run dist builds the AppImage and deb${existsSync(new URL('../../node_modules/electron/dist', import.meta.url)) ? '' : ' [skipped: needs the Electron runtime, which electron-builder downloads from GitHub: no internet here]'}`,
    () => {
      const r = spawnSync('npm', ['run', 'dist'], { encoding: 'utf8', timeout: 600_000 });
      expect(r.status, r.stderr).toBe(0);
    }, 600_000);
});
