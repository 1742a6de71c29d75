#!/usr/bin/env node
// Entry point of the `workervisor` command; everything lives in ../dist/main.js.
// The inspector is disabled first, before the rest of the VMM is even loaded (no-inspector.ts).
// process.exit (not exitCode): stdin or a watcher may still hold the loop open, and on Linux
// stdout/stderr writes to pipes, files and terminals are synchronous, so nothing is lost.
import { disableInspector } from '../dist/no-inspector.js';

const inspectorWasOpen = disableInspector();
const { main } = await import('../dist/main.js');
process.exit(await main(process.argv.slice(2), { inspectorWasOpen }));
