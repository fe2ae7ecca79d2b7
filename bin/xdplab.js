#!/usr/bin/env node
// The xdplab command: runs the compiled CLI (npm run build writes dist/).
// process.exit, not exitCode: a probe still blocked in a native call must not keep us alive.
import { main } from '../dist/benchmarks/cli/main.js';

process.exit(await main(process.argv.slice(2)));
