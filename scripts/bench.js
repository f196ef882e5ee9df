#!/usr/bin/env node
'use strict';
// Measures executions per second of `check --kernel v4.13 --driver kvm` on one core (this process),
// and of the bare runtime on the same cases (no fast-check generation). Run: npm run bench.
const { check } = require('../dist/check/fuzz');
const { runCase, resolve } = require('../dist/check/case');
const fc = require('fast-check');
const { scenarioArbitrary, scheduleArbitrary } = require('../dist/scenario/arbitrary');

const runs = Number(process.env.BENCH_RUNS || 50000);

function time(fn) {
  const t = process.hrtime.bigint();
  const r = fn();
  return { r, ms: Number(process.hrtime.bigint() - t) / 1e6 };
}

// warm up the JIT
check({ kernel: 'v4.13', driver: 'kvm', runs: 5000, seed: 1 });

const c = time(() => check({ kernel: 'v4.13', driver: 'kvm', runs, seed: 42 }));
console.log(`check --kernel v4.13 --driver kvm --runs ${runs}: ${c.ms.toFixed(0)} ms, ${Math.round((c.r.executions / c.ms) * 1000)} executions/s (verdict ${c.r.verdict.kind})`);

const cases = fc.sample(fc.tuple(scenarioArbitrary(), scheduleArbitrary()), { numRuns: runs, seed: 42 });
const target = resolve('v4.13', 'kvm');
let steps = 0;
const b = time(() => {
  for (const [scenario, preemptions] of cases) steps += runCase({ kernel: 'v4.13', driver: 'kvm', scenario, preemptions, maxSteps: 2000 }, target).trace.length;
});
console.log(`runtime alone on the same ${runs} cases: ${b.ms.toFixed(0)} ms, ${Math.round((runs / b.ms) * 1000)} executions/s, ${(steps / runs).toFixed(1)} steps/execution, ${Math.round((steps / b.ms) * 1000)} steps/s`);
