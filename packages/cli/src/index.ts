export { main, describeError } from './main.js';
export { parseArgs, CliError, type ParsedCli, type RunOptions } from './args.js';
export { runRemote } from './remote.js';
