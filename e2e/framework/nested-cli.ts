// `npm run nested -- COMMAND [ARG...]`: runs one command inside the nested runner's L1
// (see nested.ts) against this checkout and exits with its status. For benchmarks and for
// debugging the Linux tier by hand; L1's console log goes to e2e/nested/out/nested-cli.log.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { nestedOutDir, runNested } from './nested.js';

const interactive = process.argv[2] === '--interactive';
const command = process.argv.slice(interactive ? 3 : 2);
if (command.length === 0) {
  console.error('usage: npm run nested -- [--interactive] COMMAND [ARG...]   (runs COMMAND inside L1, in this directory;\n       --interactive gives it this terminal)');
  process.exit(2);
}
mkdirSync(nestedOutDir, { recursive: true });
const timeoutMs = Number(process.env['WORKERVISOR_NESTED_TIMEOUT_MS'] ?? 40 * 60_000);
const logFile = join(nestedOutDir, 'nested-cli.log');
const result = await runNested({ command, cwd: process.cwd(), timeoutMs, logFile, interactive });
if (result.kind === 'failed') {
  console.error(`nested: ${result.reason}`);
  process.exit(1);
}
process.exit(result.exitCode);
