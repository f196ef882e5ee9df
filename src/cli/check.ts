/** `mmu-race check`: fuzz one driver on one era and print a verdict or a minimal counterexample. */
import { parseArgs } from 'node:util';
import { configuredRuns, configuredSeed } from '../check/budget';
import { DEFAULT_MAX_STEPS, resolve } from '../check/case';
import { check, type CheckResult } from '../check/fuzz';
import { INVARIANTS } from '../invariants';
import { UsageError } from '../runtime/errors';
import { DEFAULT_BOUNDS } from '../scenario/arbitrary';
import { exitCodeOf, intFlag, printCounterexample, violationJson } from './common';
import type { Io } from './io';

export const CLI_DEFAULT_RUNS = 10000;
export const DEFAULT_KERNEL = 'v4.13';
export const DEFAULT_DRIVER = 'kvm-no-retry';

export function cmdCheck(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args,
    options: {
      kernel: { type: 'string' },
      driver: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      'max-steps': { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (notifier modules are not supported yet; use --driver)`);
  const kernel = values.kernel ?? DEFAULT_KERNEL;
  const driver = values.driver ?? DEFAULT_DRIVER;
  const target = resolve(kernel, driver); // validates both before any work
  if (!target.driver.eras.includes(kernel)) throw new UsageError(`driver '${driver}' is not written for kernel ${kernel} (it declares ${target.driver.eras.join(', ')})`);
  const runs = intFlag('runs', values.runs, configuredRuns(CLI_DEFAULT_RUNS), 1);
  const seed = intFlag('seed', values.seed, configuredSeed(), -(2 ** 31));
  const maxSteps = intFlag('max-steps', values['max-steps'], DEFAULT_MAX_STEPS, 10);
  const res: CheckResult = check({ kernel, driver, runs, seed, maxSteps });
  const cx = res.counterexample;
  if (values.json) {
    const out = {
      verdict: res.verdict.kind,
      kernel,
      driver,
      executions: res.executions,
      seed,
      runs,
      ...(cx ? { violation: violationJson(cx.case, cx.result) } : {}),
    };
    io.out(JSON.stringify(out, null, 2));
    return exitCodeOf(res.verdict);
  }
  io.out(`mmu-race check: kernel ${kernel}, driver ${driver}: ${target.driver.title}`);
  io.out(`seed ${seed}, ${runs} runs`);
  if (!cx) {
    const b = DEFAULT_BOUNDS;
    io.out(
      `no race found: ${res.executions} executions; scenarios of up to 3 threads (cpu: access/munmap, reclaim, device: access), ` +
        `up to ${b.maxOpsPerThread} operations each on ${b.pages} pages, up to 3 preemptions, step budget ${maxSteps}; ` +
        `invariants: ${INVARIANTS.map((i) => i.name).join(', ')}`,
    );
    io.out('(random search: a pass is evidence, not a proof)');
    return 0;
  }
  io.out(`race found after ${res.executions} executions (runs, shrinking and minimisation)`);
  io.out('');
  printCounterexample(io, cx.case, cx.result);
  return exitCodeOf(res.verdict);
}

