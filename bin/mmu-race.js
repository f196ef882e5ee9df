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
function internal(err) {
  process.stderr.write(`mmu-race: internal error: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 3;
}
try {
  // A command returns its status, or a promise of it (a check running in a worker thread).
  Promise.resolve(cli.run(process.argv.slice(2))).then((status) => {
    process.exitCode = status;
  }, internal);
} catch (err) {
  internal(err);
}
