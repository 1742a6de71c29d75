#!/usr/bin/env node
// Entry point of the `workervisor` command; everything lives in ../dist/main.js.
// process.exit (not exitCode): stdin or a watcher may still hold the loop open, and on Linux
// stdout/stderr writes to pipes, files and terminals are synchronous, so nothing is lost.
import { main } from '../dist/main.js';

process.exit(await main(process.argv.slice(2)));
