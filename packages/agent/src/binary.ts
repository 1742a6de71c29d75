// The guest agent binary: where it is built and how (guest/build.sh, a static gcc build of a few
// hundred lines, about a second). Rebuilt when a source file is newer than the binary.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const GUEST_DIR = fileURLToPath(new URL('../guest/', import.meta.url));

/** Where buildAgent() puts the static agent binary. */
export function agentBinaryPath(): string {
  return fileURLToPath(new URL('../out/workervisor-agent', import.meta.url));
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/** Builds the agent if it is missing or older than its sources; returns its path. Needs gcc. */
export function buildAgent(): string {
  const out = agentBinaryPath();
  const newest = Math.max(...readdirSync(GUEST_DIR).map((f) => mtime(GUEST_DIR + f)));
  if (mtime(out) < newest) execFileSync('bash', [GUEST_DIR + 'build.sh', out], { stdio: ['ignore', 'inherit', 'inherit'] });
  return out;
}
