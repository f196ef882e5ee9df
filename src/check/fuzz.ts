/**
 * Fuzz mode: fast-check draws scenarios and schedules, runs each case, shrinks the first
 * counterexample, and `minimize` makes it 1-minimal. The result is a value; printing is the CLI's.
 */
import fc from 'fast-check';
import type { ExecutionResult } from '../runtime/execution';
import { verdictName, type Verdict } from '../runtime/verdict';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary, type ScenarioBounds } from '../scenario/arbitrary';
import { encodeToken } from '../schedule/token';
import { DEFAULT_MAX_STEPS, resolve, runCase, type Case } from './case';
import { effectivePreemptions, minimize } from './minimize';

export interface CheckOptions {
  readonly kernel: string;
  readonly driver: string;
  readonly runs: number;
  readonly seed: number;
  readonly maxSteps?: number;
  readonly bounds?: ScenarioBounds;
  /** Maximum preemptions per schedule. */
  readonly maxPreemptions?: number;
}

export interface Counterexample {
  readonly case: Case;
  readonly result: ExecutionResult;
  readonly token: string;
}

export interface CheckResult {
  readonly kernel: string;
  readonly driver: string;
  readonly seed: number;
  readonly runs: number;
  /** Executions run in all: the runs, the shrinking and the minimisation. */
  readonly executions: number;
  readonly verdict: Verdict;
  readonly counterexample?: Counterexample;
}

export function check(opts: CheckOptions): CheckResult {
  const target = resolve(opts.kernel, opts.driver);
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  const bounds = opts.bounds ?? DEFAULT_BOUNDS;
  let executions = 0;
  const toCase = (scenario: Case['scenario'], preemptions: Case['preemptions']): Case => ({
    kernel: opts.kernel,
    driver: opts.driver,
    scenario,
    preemptions,
    maxSteps,
  });
  const property = fc.property(scenarioArbitrary(bounds), scheduleArbitrary(opts.maxPreemptions ?? 3), (scenario, preemptions) => {
    executions++;
    return runCase(toCase(scenario, preemptions), target).verdict.kind === 'pass';
  });
  const details = fc.check(property, { numRuns: opts.runs, seed: opts.seed });
  const base = { kernel: opts.kernel, driver: opts.driver, seed: opts.seed, runs: opts.runs };
  if (!details.failed) return { ...base, executions, verdict: { kind: 'pass' } };
  if (details.counterexample === null) throw details.errorInstance ?? new Error('fast-check failed without a counterexample');
  const [scenario, preemptions] = details.counterexample;
  const first = toCase(scenario, preemptions);
  const normal = effectivePreemptions(first, runCase(first, target).preemptions);
  const min = minimize(normal, target);
  executions += 1 + min.executions;
  const result = runCase(min.case, target);
  if (result.verdict.kind === 'pass') throw new Error(`[mmu-race internal bug] minimised case passes (${verdictName(result.verdict)})`);
  return { ...base, executions, verdict: result.verdict, counterexample: { case: min.case, result, token: encodeToken(min.case) } };
}
