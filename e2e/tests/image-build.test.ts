// `workervisor image build`: an image with a Debian package and its dependencies unpacked into
// the initramfs (the Linux tier boots one and runs the package's program: linux/image.test.ts),
// cached by content, and bad input refused with one clear line. Downloads from Debian's apt
// repositories; the kernel and busybox .debs come from the cache scripts/setup.sh filled.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath, readCpio, repoRoot } from '../framework/index.js';

const dir = mkdtempSync(join(tmpdir(), 'wv-image-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** setup.sh's download cache (kernel + busybox), so this test fetches only the extra packages. */
const debCache = join(repoRoot, 'e2e/linux/out/debs');
const canBuild = spawnSync('apt-cache', ['policy', 'jq'], { encoding: 'utf8' }).stdout?.includes('Candidate:') === true;

/** Runs the CLI without blocking this worker (a synchronous minute-long build starves vitest's RPC). */
function imageBuild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cliPath, 'image', 'build', ...args], { env: { ...process.env, WORKERVISOR_DEB_CACHE: debCache }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('workervisor image build', () => {
  it('refuses a bad flag, a bad package name and an unknown package, naming each, and writes nothing', async () => {
    const flag = await imageBuild(['--packges', 'jq']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^workervisor: image build: unknown flag '--packges'/);
    const name = await imageBuild(['--packages', 'jq,Not_A_Name', '--out', join(dir, 'bad')]);
    expect(name.code).toBe(1);
    expect(name.stderr).toMatch(/'Not_A_Name' is not a Debian package name/);
    const unknown = await imageBuild(['--packages', 'workervisor-no-such-package', '--out', join(dir, 'unknown')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/workervisor: cannot build the image in .*unknown: no installable version of workervisor-no-such-package/);
    expect(existsSync(join(dir, 'unknown'))).toBe(false);
  });

  it.runIf(canBuild)('puts a package and its libraries in the initramfs, and the second build is a cache hit', async () => {
    const out = join(dir, 'jq');
    const first = await imageBuild(['--packages', 'jq', '--out', out]);
    expect(first.stderr, first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`dir=${out}\nkernel=${out}/vmlinuz\ninitramfs=${out}/initramfs.cpio.gz\n`);
    const names = new Set(readCpio(join(out, 'initramfs.cpio.gz')).map((e) => e.name));
    expect(names).toContain('usr/bin/jq');
    expect([...names].some((n) => /libjq\.so\.1/.test(n)), 'libjq1 came with jq').toBe(true);
    expect([...names].some((n) => /libonig\.so\.5/.test(n)), 'libonig5 came with libjq1').toBe(true);
    expect(names).toContain('bin/workervisor-agent');
    expect(readFileSync(join(out, 'manifest.txt'), 'utf8')).toMatch(/^ {2}jq=\S+$/m);
    const second = await imageBuild(['--packages', 'jq', '--out', out]);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/up to date/);
    expect(second.stderr).not.toMatch(/downloading|unpacking/);
  });
});
