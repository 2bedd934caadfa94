#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
// The command is done and its output written: whatever a user's handler left behind
// (a timer, an interval) must not keep the process alive.
setTimeout(() => process.exit(), 1000).unref();
