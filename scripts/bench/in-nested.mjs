// The entry every Linux-guest bench shares: on hardware KVM it measures here; on a nested-PVM host
// (where a stock kernel cannot boot) it runs the bench's own file inside the nested runner's L1
// and parses the one JSON line, prefixed `mark`, that the file prints there.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const nested = fileURLToPath(new URL('../../e2e/dist/framework/nested.js', import.meta.url));

/**
 * `needs`: a built file the bench loads (else it is skipped); `measure()`: the bench run here;
 * `file`, `args`: what L1 runs; `log`: the nested run's log file name.
 */
export async function benchInNested({ needs, measure, file, args, mark, log }) {
  if (!existsSync(needs)) return { skipped: 'e2e is not built (npm run build)' };
  if (!existsSync('/sys/module/kvm_pvm')) return { where: 'this host', ...(await measure()) };
  const fw = await import(nested);
  const ready = fw.nestedRunnerStatus();
  if (!ready.usable) return { skipped: `nested PVM host and no nested runner: ${ready.reason}` };
  let output = '';
  const run = await fw.runNested({
    command: [process.execPath, file, ...args.map(String)],
    timeoutMs: 60 * 60_000,
    logFile: `${fw.nestedOutDir}/${log}`,
    onOutput: (chunk) => (output += chunk.toString('utf8')),
  });
  const line = output.split('\n').find((l) => l.startsWith(mark));
  if (run.kind === 'failed' || line === undefined) return { error: run.kind === 'failed' ? run.reason : `no result line; output: ${output.slice(-500)}` };
  return { where: 'nested KVM (L1 under QEMU TCG)', ...JSON.parse(line.slice(mark.length)) };
}
