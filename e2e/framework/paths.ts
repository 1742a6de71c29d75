// Where things live in the repository, resolved from this file so tests work from any
// working directory (and from e2e/dist after `tsc -b`).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first directory at or above `start` whose package.json is the workspace root. */
function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (pkg.name === 'workervisor') return dir;
    }
    if (dirname(dir) === dir) {
      throw new Error(`no workervisor package.json at or above ${start}`);
    }
  }
}

/** Absolute path of the monorepo root (the directory with the root package.json). */
export const repoRoot: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** The `workervisor` command's entry point, run with `process.execPath`. */
export const cliPath: string = join(repoRoot, 'packages/cli/bin/workervisor.js');

/** Directory the test guests are built into by `bash e2e/guests/build.sh`. */
export const guestsOutDir: string = join(repoRoot, 'e2e/guests/out');

/** Path of a built test guest, e.g. `guestPath('hello.elf')`. Does not check it exists. */
export function guestPath(name: string): string {
  return join(guestsOutDir, name);
}
