export { main, describeError, type MainOptions } from './main.js';
export { disableInspector } from './no-inspector.js';
export { parseArgs, CliError, type ParsedCli, type RunOptions } from './args.js';
export { runRemote } from './remote.js';
