// Keeps Node's inspector closed in the VMM process. SIGUSR1 makes Node open it on 127.0.0.1:9229,
// and anyone who can connect there runs code with the VMM's privileges (issue 9).
import inspector from 'node:inspector';

/** Why the inspector must stay closed, for the one log line when it was found open. */
export const INSPECTOR_RISK = 'a debugger on the inspector port runs code with the VMM\'s privileges';

/**
 * Makes the inspector unreachable for the rest of the process's life, and returns whether it was
 * open (from --inspect or NODE_OPTIONS, or a SIGUSR1 that arrived during start-up) and got closed.
 *
 * Node 20 has no --disable-sigusr1 (22.14+). A 'SIGUSR1' listener replaces Node's own handler (libuv
 * installs its sigaction over the inspector's), so the signal no longer opens the inspector. The
 * listener is never removed: libuv would then restore SIG_DFL, and SIGUSR1 would kill the VMM.
 * The inspector server is one per process: once the main thread's is closed no worker can be
 * reached either (a worker started with an inherited --inspect opens nothing of its own).
 * Call it first, before anything else is loaded: until then Node's handler is in place.
 */
export function disableInspector(): boolean {
  process.on('SIGUSR1', ignore);
  if (inspector.url() === undefined) return false;
  inspector.close();
  return true;
}

function ignore(): void {}

