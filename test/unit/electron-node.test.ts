// The Electron/Node decision (README, Install: "Electron and Node 20") holds for what is
// installed: the project stays on Node >= 20.19, the pinned Electron has utilityProcess (the
// engine host needs Electron >= 22), and the README names the Electron major and the engines it
// declares, so a bump that changes either makes this fail until the note is brought up to date.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
const electron = JSON.parse(read('node_modules/electron/package.json')) as { version: string; engines?: { node?: string } };
const readme = read('README.md');

describe('Electron and Node 20', () => {
  it('the project declares Node >= 20.19 (CI runs Node 20)', () => {
    expect(pkg.engines.node).toBe('>=20.19');
  });

  it("the installed Electron matches package.json and its electron.d.ts has utilityProcess (Electron >= 22)", () => {
    const major = Number(electron.version.split('.')[0]);
    expect(pkg.devDependencies.electron).toMatch(new RegExp(`^\\^?${major}\\.`));
    expect(major).toBeGreaterThanOrEqual(22);
    expect(read('node_modules/electron/electron.d.ts')).toMatch(/const utilityProcess: (typeof )?UtilityProcess/);
  });

  it("the README's note names this Electron major and the engines it declares", () => {
    const major = electron.version.split('.')[0]!;
    expect(readme).toContain(`uses Electron ${major} (\`${pkg.devDependencies.electron}\`)`);
    expect(readme).toContain(`"engines": {"node": "${electron.engines?.node ?? ''}"}`);
  });
});
