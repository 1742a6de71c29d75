// Puts the whole VMM process under Landlock. landlock_restrict_self covers only the calling thread
// and what it starts later (ABI < 8 has no TSYNC), and Node already runs helper threads (V8's
// platform workers, libuv's pool, the inspector's SIGUSR1 watchdog, which blocks every signal so
// no signal could make it restrict itself). So the main thread enters the domain and then execs
// the VMM again: execve ends every other thread, the domain survives it, and every thread of the
// new image descends from the restricted one. The new image finds LANDLOCK_ENV and goes on.
import { release } from 'node:os';
import { existsSync } from 'node:fs';
import { execProcess, landlockAbiVersion, landlockRestrictSelf } from '@workervisor/native';
import { accessBits, handledAccess, type LandlockRule } from './landlock-rules.js';
import { VmError } from './vm-error.js';

/** Set in the exec'd image's environment (and removed from process.env there): the domain is in place. */
export const LANDLOCK_ENV = 'WORKERVISOR_LANDLOCKED';

/** The kernel's Landlock ABI; refuses by name a kernel without it. */
export function requireLandlock(): number {
  const abi = landlockAbiVersion();
  if (abi < 1) {
    throw new VmError('not-supported', `landlock_enable: this kernel (Linux ${release()}) has no Landlock (landlock_create_ruleset answers ENOSYS or EOPNOTSUPP); boot it with Landlock in lsm= (CONFIG_SECURITY_LANDLOCK) or run without --landlock`, { details: { field: 'landlock_enable' } });
  }
  return abi;
}

/** True in the image execLandlocked started (and only once: the marker is taken out of process.env). */
export function takeLandlockMarker(): boolean {
  if (process.env[LANDLOCK_ENV] !== '1') return false;
  delete process.env[LANDLOCK_ENV];
  return true;
}

/**
 * Restricts the main thread to `rules` (a rule whose path does not exist is left out: nothing may
 * be opened or created there anyway), then re-runs this process's command line under the domain.
 * Never returns; throws VmError or KvmError('landlock') before the exec.
 */
export function execLandlocked(rules: readonly LandlockRule[]): never {
  const abi = requireLandlock();
  const present = rules.filter((r) => existsSync(r.path));
  landlockRestrictSelf(handledAccess(abi), present.map((r) => ({ path: r.path, access: accessBits(r) })));
  return execProcess(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, [LANDLOCK_ENV]: '1' });
}
