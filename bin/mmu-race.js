#!/usr/bin/env node
'use strict';
// Runs the compiled CLI (dist/ is built by `npm ci` / `npm install` through the prepare script).
let cli;
try {
  cli = require('../dist/cli/main');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('mmu-race: dist/ is missing; run `npm run build` (or `npm ci`) first\n');
    process.exit(2);
  }
  throw err;
}
try {
  process.exitCode = cli.run(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`mmu-race: internal error: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 3;
}
