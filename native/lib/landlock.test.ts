// landlock_restrict_self covers the calling thread and the threads it starts later, not the ones
// already running; execve ends those. A child process shows both: restricted without exec, its
// libuv pool thread (started before) still reads a file outside the rules; restricted then exec'd,
// no thread of the new image can (main, pool, worker). Runs native/dist (the unit tier builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { landlockAbiVersion } from './landlock.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const nativeDist = join(repo, 'native/dist/index.js');
const abi = landlockAbiVersion();
const describeLandlock = abi > 0 && existsSync(nativeDist) ? describe : describe.skip;
if (abi === 0) console.log('landlock tests skipped: this kernel has no Landlock');

/** Reads `secret` on the main thread, through the libuv pool and in a new worker; prints what each got. */
const CHECK = `
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
const secret = process.env.SECRET;
const code = (f) => { try { f(); return 'read'; } catch (e) { return e.code; } };
const main = code(() => readFileSync(secret));
const pool = await readFile(secret).then(() => 'read', (e) => e.code);
const worker = await new Promise((ok) => {
  const w = new Worker("const { readFileSync } = require('node:fs'); const { parentPort } = require('node:worker_threads'); try { readFileSync(process.env.SECRET); parentPort.postMessage('read'); } catch (e) { parentPort.postMessage(e.code); }", { eval: true });
  w.once('message', ok);
});
console.log(JSON.stringify({ main, pool, worker }));
`;

/** Starts the pool, restricts the main thread to system and repository reads, then checks here or in an exec'd image. */
const RESTRICT = `
import { readFile } from 'node:fs/promises';
import { execProcess, landlockRestrictSelf, LANDLOCK_ACCESS_FS as A } from ${JSON.stringify(nativeDist)};
await readFile(process.env.SECRET); // the libuv pool thread now exists, unrestricted
const read = A.EXECUTE | A.READ_FILE | A.READ_DIR;
const handled = (1 << 13) - 1;
const paths = ['/usr', '/lib', '/lib64', '/etc', '/proc', '/sys', ${JSON.stringify(repo)}, process.env.CHECK].filter((p) => p !== undefined);
const { existsSync, statSync } = await import('node:fs');
landlockRestrictSelf(handled, paths.filter((p) => existsSync(p)).map((path) => ({ path, access: statSync(path).isDirectory() ? read : read & (A.EXECUTE | A.READ_FILE) })).concat([{ path: '/dev/null', access: A.READ_FILE | A.WRITE_FILE }]));
if (process.argv[2] === 'exec') execProcess(process.execPath, [process.execPath, process.env.CHECK], process.env);
await import(process.env.CHECK);
`;

describeLandlock('landlock_restrict_self and execve', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-landlock-'));
    writeFileSync(join(dir, 'secret'), 'not for the VMM');
    writeFileSync(join(dir, 'check.mjs'), CHECK);
    writeFileSync(join(dir, 'restrict.mjs'), RESTRICT);
    env = { ...process.env, SECRET: join(dir, 'secret'), CHECK: join(dir, 'check.mjs') };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(mode: 'exec' | 'no-exec'): unknown {
    const r = spawnSync(process.execPath, [join(dir, 'restrict.mjs'), mode], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr.replace(/^Warning: Ignoring extra certs.*\n/m, '')).toBe('');
    return JSON.parse(r.stdout);
  }

  it('restricts only the calling thread and later ones: a pool thread started before still reads', () => {
    expect(run('no-exec')).toEqual({ main: 'EACCES', pool: 'read', worker: 'EACCES' });
  });

  it('puts every thread of the exec-ed image in the domain', () => {
    expect(run('exec')).toEqual({ main: 'EACCES', pool: 'EACCES', worker: 'EACCES' });
  });
});
