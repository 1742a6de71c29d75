// Reading L1's kernel console (the nested runner's `console.log`): a soft lockup there means one
// of L1's CPUs is stuck inside L1's kernel and, in every case seen so far, stays stuck until L1 is
// killed (10 to 30+ minutes). The runner watches for it, so a stuck L1 ends in seconds with the
// kernel's own report (the Call Trace needs `loglevel=5` on L1's command line; `quiet` hides it).

/** The kernel lines that say a CPU is stuck for good. */
const LOCKUP = /watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s! \[[^\]]*\]|NMI watchdog: Watchdog detected hard LOCKUP/;

/** How many console lines after the first lockup line belong to its report. */
const REPORT_LINES = 80;

/**
 * The first lockup report in L1's console: its first line and what follows (registers, Call
 * Trace, other CPUs' backtraces), or `undefined` when there is none.
 */
export function lockupReport(consoleText: string): string | undefined {
  const match = LOCKUP.exec(consoleText);
  if (match === null) return undefined;
  const start = consoleText.lastIndexOf('\n', match.index) + 1;
  return consoleText.slice(start).split('\n').slice(0, REPORT_LINES).join('\n').trimEnd();
}

/** The first lockup line alone (`watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [node:195]`). */
export function lockupSummary(report: string): string {
  return LOCKUP.exec(report)?.[0] ?? report.split('\n')[0] ?? '';
}
