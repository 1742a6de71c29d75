#!/usr/bin/env node
// Entry point of the `workervisor` command; everything lives in ../dist/main.js.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
