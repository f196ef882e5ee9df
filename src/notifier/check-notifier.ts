/**
 * Checking a user's notifier: the same fuzz machinery the built-in drivers go through
 * (`check()` in src/check/fuzz.ts), after the steps a definition from outside needs first —
 * validation of its shape and eras, instrumentation (frozen state, errors blamed on the callback),
 * a dry run of `setup`, and a determinism probe.
 */
import { configuredRuns, configuredSeed, DEFAULT_RUNS } from '../check/budget';
import { DEFAULT_MAX_STEPS, runCase, type Case, type ResolvedTarget } from '../check/case';
import { check, type AbortFlag, type CheckProgress, type CheckResult } from '../check/fuzz';
import { eraByName } from '../eras';
import { UsageError } from '../runtime/errors';
import type { ExecutionResult } from '../runtime/execution';
import { buildExecution } from '../scenario/build';
import { decodeToken } from '../schedule/token';
import type { NotifierDefinition } from './definition';
import { probeDeterminism } from './determinism';
import { instrumentNotifier, type InstrumentOptions } from './instrument';
import { validateNotifier } from './validate';
import type { ScenarioBounds } from '../scenario/arbitrary';
import { setPhase } from './watch';

export interface NotifierCheckOptions extends InstrumentOptions {
  /** Eras to check (default: every era the notifier declares). */
  readonly kernel?: string | readonly string[];
  /** Runs per era (default `MMU_RACE_RUNS`, else 2000). */
  readonly runs?: number;
  /** fast-check seed (default `MMU_RACE_SEED`, else fixed). */
  readonly seed?: number;
  /** Step budget of one execution (default 2000). */
  readonly maxSteps?: number;
  /** See `CheckOptions.onProgress`. */
  readonly onProgress?: (p: CheckProgress) => void;
  /** See `CheckOptions.signal`. */
  readonly signal?: AbortFlag;
  /** See `CheckOptions.coverage`. */
  readonly coverage?: boolean;
  /** Scenario bounds (default: DEFAULT_BOUNDS), e.g. to draw `unregister` or a file VMA with writeback. */
  readonly bounds?: ScenarioBounds;
  /** With several eras: one campaign that draws the era per run (see `CheckOptions.kernels`), one result. */
  readonly drawEra?: boolean;
  /** Called with each era's result as soon as it is known (before the next era starts). */
  readonly onResult?: (r: NotifierEraResult) => void;
}

/** One era's result, with the instrumented target to rebuild timelines and reports from. */
export interface NotifierEraResult {
  readonly result: CheckResult;
  readonly target: ResolvedTarget;
}

/** Validates and instruments `def` for the given eras; runs `setup` once so that a broken one fails here. */
export function prepareNotifier(def: unknown, kernels: readonly string[] | undefined, opts: InstrumentOptions = {}): { def: NotifierDefinition<unknown>; kernels: string[] } {
  setPhase(opts.watch, 'validating');
  const valid = validateNotifier(def, kernels);
  const eras = kernels ? [...kernels] : [...valid.eras];
  const instrumented = instrumentNotifier(valid, opts);
  for (const k of eras) {
    try {
      buildExecution(eraByName(k), [instrumented], { threads: [{ kind: 'device', ops: [] }] });
    } catch (err) {
      throw new UsageError(`setup() of '${valid.name}' cannot run: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { def: instrumented, kernels: eras };
}

/**
 * Checks a notifier definition on each era (`kernel`, or every era it declares) and returns one
 * result per era. Throws UsageError when the definition is not one the checker can run.
 */
export function checkNotifier(def: unknown, opts: NotifierCheckOptions = {}): NotifierEraResult[] {
  const kernels = opts.kernel === undefined ? undefined : typeof opts.kernel === 'string' ? [opts.kernel] : opts.kernel;
  const prepared = prepareNotifier(def, kernels, opts);
  const runs = opts.runs ?? configuredRuns(DEFAULT_RUNS);
  const seed = opts.seed ?? configuredSeed();
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  const out: NotifierEraResult[] = [];
  if (opts.drawEra && prepared.kernels.length > 1) {
    for (const kernel of prepared.kernels) {
      setPhase(opts.watch, 'probing determinism');
      const nondeterminism = probeDeterminism({ era: eraByName(kernel), driver: prepared.def }, kernel, seed, maxSteps);
      if (nondeterminism !== null) throw new UsageError(`${prepared.def.name} on ${kernel}: ${nondeterminism}`);
    }
    setPhase(opts.watch, 'checking');
    const result = check({ kernel: prepared.kernels[0], kernels: prepared.kernels, notifier: prepared.def, runs, seed, maxSteps, bounds: opts.bounds, onProgress: opts.onProgress, signal: opts.signal, coverage: opts.coverage });
    const r = { result, target: { era: eraByName(result.counterexample?.case.kernel ?? prepared.kernels[0]), driver: prepared.def } };
    opts.onResult?.(r);
    return [r];
  }
  for (const kernel of prepared.kernels) {
    const target: ResolvedTarget = { era: eraByName(kernel), driver: prepared.def };
    setPhase(opts.watch, 'probing determinism');
    const nondeterminism = probeDeterminism(target, kernel, seed, maxSteps);
    let result: CheckResult;
    if (nondeterminism !== null) {
      result = { kernel, driver: prepared.def.name, seed, runs, executions: 0, verdict: { kind: 'model-error', message: nondeterminism, step: 0, thread: 0 } };
    } else {
      setPhase(opts.watch, 'checking');
      result = check({ kernel, notifier: prepared.def, runs, seed, maxSteps, bounds: opts.bounds, onProgress: opts.onProgress, signal: opts.signal, coverage: opts.coverage });
    }
    const r = { result, target };
    opts.onResult?.(r);
    out.push(r);
    if (result.interrupted) break;
  }
  return out;
}

/** A replayed execution and the case it ran. */
export interface NotifierReplay {
  readonly case: Case;
  readonly result: ExecutionResult;
  readonly target: ResolvedTarget;
}

/** Re-runs the execution a replay token names, with `def` as its notifier (validated and instrumented). */
export function replayNotifier(def: unknown, token: string, opts: InstrumentOptions = {}): NotifierReplay {
  const c = decodeToken(token);
  const valid = validateNotifier(def);
  if (valid.name !== c.driver) throw new UsageError(`the token is for driver '${c.driver}', but the module defines '${valid.name}'`);
  const prepared = prepareNotifier(valid, [c.kernel], opts);
  const target: ResolvedTarget = { era: eraByName(c.kernel), driver: prepared.def };
  return { case: c, result: runCase(c, target), target };
}
