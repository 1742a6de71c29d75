// `buildImage()` (and `workervisor image build`): a guest image made from Debian packages by this
// checkout's e2e/linux/build.sh — Debian's cloud kernel, a busybox initramfs with the guest
// agent and the virtio modules, and optionally more packages unpacked with their dependencies
// (files only; maintainer scripts never run). Images are cached by content: the directory is
// named after the package list, and build.sh rebuilds only when its inputs (package versions,
// modules, its own scripts) changed. Needs a Debian/Ubuntu host with apt (see build.sh).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKOUT_IMAGE, findImage, ImageError, type GuestImage } from './image.js';

/** The build script, relative to this package (packages/sdk/dist). */
const BUILD_SCRIPT = fileURLToPath(new URL('../../../e2e/linux/build.sh', import.meta.url));

/** A Debian package name (policy 5.6.1). */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

export interface BuildImageOptions {
  /** More Debian packages for the image; their dependencies come with them. */
  packages?: readonly string[];
  /** Where the image goes; default: the checkout's default image without packages, else a cache directory named by content. */
  out?: string;
  /** Rebuild even when the image is up to date. */
  force?: boolean;
  /** Each progress line of the build ("downloading jq=1.6-2.1", "writing the ext4 root filesystem", ...). */
  onProgress?: (line: string) => void;
}

/** Where images and downloaded packages are cached: $XDG_CACHE_HOME/workervisor, else ~/.cache/workervisor. */
export function imageCacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'workervisor');
}

/** The sorted, de-duplicated package list; an ImageError names a word that is not a package name. */
export function normalisePackages(packages: readonly string[]): string[] {
  const names = [...new Set(packages.map((p) => p.trim()).filter((p) => p !== ''))].sort();
  for (const name of names) {
    if (!PACKAGE_NAME.test(name)) throw new ImageError('invalid-package', `'${name}' is not a Debian package name (lower-case letters, digits, + - .)`);
  }
  return names;
}

/** The image directory for a package list when no `out` is given. */
export function defaultImageDir(packages: readonly string[]): string {
  if (packages.length === 0) return CHECKOUT_IMAGE;
  const key = createHash('sha256').update(`workervisor-image-v1\n${packages.join('\n')}`).digest('hex').slice(0, 16);
  return join(imageCacheDir(), 'images', key);
}

/** Builds (or finds up to date) an image and returns it. Throws ImageError with build.sh's own reason. */
export async function buildImage(options: BuildImageOptions = {}): Promise<GuestImage> {
  const packages = normalisePackages(options.packages ?? []);
  const out = resolve(options.out ?? defaultImageDir(packages));
  if (!existsSync(BUILD_SCRIPT)) throw new ImageError('build-failed', `cannot build images: ${BUILD_SCRIPT} is missing (image build needs a Workervisor checkout)`);
  const env: NodeJS.ProcessEnv = { ...process.env, WORKERVISOR_LINUX_OUT: out, WORKERVISOR_LINUX_PACKAGES: packages.join(' ') };
  // Packages downloaded for one image serve the next; the default image keeps its own cache.
  if (packages.length > 0 && (env['WORKERVISOR_DEB_CACHE'] ?? '') === '') env['WORKERVISOR_DEB_CACHE'] = join(imageCacheDir(), 'debs');
  const args = [BUILD_SCRIPT, ...(options.force === true ? ['--force'] : [])];
  const reasons: string[] = [];
  const code = await new Promise<number | string>((done) => {
    const child = spawn('bash', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let pending = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.replace(/^e2e\/linux\/build\.sh: /, '').trim();
        if (line === '') continue;
        if (line.startsWith('error: ')) reasons.push(line.slice('error: '.length));
        options.onProgress?.(line);
      }
    });
    child.once('error', (err) => done(err.message));
    child.once('close', (status, signal) => done(status ?? `killed by ${signal ?? 'a signal'}`));
  });
  if (code !== 0) {
    const why = reasons.length > 0 ? reasons.join('; ') : typeof code === 'string' ? code : `build.sh exited with ${code}`;
    throw new ImageError('build-failed', `cannot build the image in ${out}: ${why}`);
  }
  return findImage(out);
}
