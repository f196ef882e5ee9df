#!/usr/bin/env node
'use strict';
// Exhaustive mode on the scenario catalogue (one core, this process): for each scenario, the
// explorer (iterative preemption bounding 0..2 with happens-before caching) against the naive
// searches: every schedule within 2 preemptions without reduction (CHESS ICB), and every
// interleaving with no bound at all (exhaustive-naive.ts), capped because retry loops make it
// unbounded. Also optimal DPOR with no preemption bound, capped for the same reason.
// Run: npm run build && node scripts/bench-explore.js [driver] (BENCH_CAP=N sets the caps).
const { explore } = require('../dist/check/explore');
const { resolve } = require('../dist/check/case');
const { selectInvariants } = require('../dist/invariants');
const { buildExecution } = require('../dist/scenario/build');
const { CATALOGUE } = require('../dist/scenario/catalogue');
const { dpor } = require('../dist/schedule/dpor');
const { exploreBoundedInterleavings } = require('../dist/schedule/exhaustive-bounded-naive');
const { exploreAllInterleavings } = require('../dist/schedule/exhaustive-naive');

const KERNEL = 'v4.13';
const BOUND = 2;
const driver = process.argv[2] || 'kvm';
const cap = Number(process.env.BENCH_CAP || 20000);
const target = resolve(KERNEL, driver);
const invariants = selectInvariants();

function time(fn) {
  const t = process.hrtime.bigint();
  const r = fn();
  return { r, ms: Number(process.hrtime.bigint() - t) / 1e6 };
}
const rate = (n, ms) => Math.round((n / ms) * 1000);

// warm up the JIT
explore({ kernel: KERNEL, driver, scenario: CATALOGUE[0].name, maxPreemptions: 1 });

console.log(`exhaustive mode, kernel ${KERNEL}, driver ${driver}, preemption bound ${BOUND}, caps ${cap}\n`);
for (const e of CATALOGUE) {
  const build = () => buildExecution(target.era, [target.driver, ...(target.others || [])], e.scenario);
  const ex = time(() => explore({ kernel: KERNEL, driver, scenario: e.name, maxPreemptions: BOUND }));
  const one = time(() => dpor({ build, invariants, maxSteps: 2000, maxPreemptions: BOUND }));
  const icb = time(() => exploreBoundedInterleavings(build, { maxSteps: 2000, invariants }, BOUND, () => {}, 10 * cap));
  const all = time(() => exploreAllInterleavings(build, { maxSteps: 2000, invariants }, () => {}, cap));
  const opt = time(() => dpor({ build, invariants, maxSteps: 2000, maxExecutions: cap }));
  const r = ex.r;
  const verdict = r.verdict.kind === 'pass' ? (r.complete ? 'pass, complete within bounds' : 'pass, INCOMPLETE') : `${r.verdict.invariant || r.verdict.kind} found at bound ${r.counterexample.foundAtBound}`;
  const naiveAll = all.r.truncated ? `>= ${all.r.executions} (capped)` : `${all.r.executions}`;
  console.log(`${e.name}${e.spine ? ' (spine)' : ''}: ${verdict}`);
  console.log(`  explore 0..${BOUND}:             ${r.executions} executions, ${r.pruned} pruned, ${Math.round(ex.ms)} ms, ${rate(r.executions, ex.ms)} executions/s`);
  console.log(`  bounded search at ${BOUND}:       ${one.r.executions} executions, ${Math.round(one.ms)} ms, ${rate(one.r.executions, one.ms)} executions/s`);
  console.log(`  naive within ${BOUND} (CHESS ICB): ${icb.r.executions}${icb.r.truncated ? ' (capped)' : ''} executions, ${Math.round(icb.ms)} ms -> explored/naive ${(one.r.executions / icb.r.executions).toFixed(2)}`);
  console.log(`  naive DFS, no bound:          ${naiveAll} executions, ${Math.round(all.ms)} ms -> explored/naive ${all.r.truncated ? '<= ' : ''}${(one.r.executions / all.r.executions).toFixed(3)}`);
  console.log(`  optimal DPOR, no bound:       ${opt.r.executions} executions${opt.r.exhausted ? '' : ' (capped: retry loops make it unbounded)'}, ${opt.r.cutBySteps} cut by steps, ${Math.round(opt.ms)} ms, ${rate(opt.r.executions, opt.ms)} executions/s`);
}
