/**
 * Fuzz mode: fast-check draws scenarios and schedules, runs each case, shrinks the first
 * counterexample, and `minimize` makes it 1-minimal. The result is a value; printing is the CLI's.
 *
 * A check can watch its own progress (`onProgress`), be stopped from outside (`signal`: Ctrl-C) and
 * count which scenario families it ran (`coverage`); none of these costs anything when unused, so
 * the hot loop stays what it was.
 */
import fc from 'fast-check';
import { eraByName } from '../eras';
import type { NotifierDefinition } from '../notifier/definition';
import { InternalError, UsageError } from '../runtime/errors';
import type { ExecutionResult } from '../runtime/execution';
import { verdictName, type Verdict } from '../runtime/verdict';
import { scenarioForEra } from '../scenario/era-ops';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary, type ScenarioBounds } from '../scenario/arbitrary';
import type { Scenario } from '../scenario/scenario';
import { encodeToken } from '../schedule/token';
import { DEFAULT_MAX_STEPS, resolve, runCase, type Case, type ResolvedTarget } from './case';
import { LESSER_INVARIANTS } from '../invariants';
import type { ExhaustiveCoverage } from './explore';
import { effectivePreemptions, minimize } from './minimize';

/** Where a check is: drawing cases, fast-check shrinking a failure, or the 1-minimisation after it. */
export type CheckPhase = 'fuzz' | 'shrink' | 'minimize';

/** What `onProgress` is told, every `progressEvery` executions and at each change of phase. */
export interface CheckProgress {
  readonly kernel: string;
  readonly driver: string;
  readonly phase: CheckPhase;
  /** Executions so far (runs and shrinking). */
  readonly executions: number;
  /** The runs asked for. */
  readonly runs: number;
}

/** Anything with an `aborted` flag: an `AbortSignal`, or a flag backed by shared memory in a worker. */
export interface AbortFlag {
  readonly aborted: boolean;
}

export interface CheckOptions {
  readonly kernel: string;
  /**
   * Eras to draw from (issue #3: "the scenario arbitrary draws an era"): with two or more, each run
   * draws its era with the scenario (reduced to the operations that era has, src/scenario/era-ops.ts)
   * and shrinking moves a counterexample towards the oldest era listed. `kernel` is then only the
   * name the result carries until a counterexample names its own era.
   */
  readonly kernels?: readonly string[];
  /** A built-in driver by name (`--driver kvm`); ignored for lookup when `notifier` is given. */
  readonly driver?: string;
  /** A notifier definition to check instead of a built-in one (a user's module); its `name` names it. */
  readonly notifier?: NotifierDefinition<any>;
  readonly runs: number;
  readonly seed: number;
  readonly maxSteps?: number;
  readonly bounds?: ScenarioBounds;
  /** Maximum preemptions per schedule. */
  readonly maxPreemptions?: number;
  /** Names of the invariants to check (default: all registered ones). */
  readonly invariants?: readonly string[];
  /** Called every `progressEvery` executions and when the phase changes. */
  readonly onProgress?: (p: CheckProgress) => void;
  /** Executions between two `onProgress` calls (default 1000). */
  readonly progressEvery?: number;
  /** Polled once per execution: when set, the check stops and returns what it has (`interrupted`). */
  readonly signal?: AbortFlag;
  /** Count, per scenario family (`cpu:munmap`, `device:access` …), the executions that included it. */
  readonly coverage?: boolean;
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
  /** Set by `check --mode exhaustive` (src/check/explore.ts exploreCatalogue): what was explored, and whether completely. */
  readonly exhaustive?: ExhaustiveCoverage;
  readonly counterexample?: Counterexample;
  /** The check was stopped by `signal` before it finished: a pass covers only `executions`. */
  readonly interrupted?: boolean;
  /** With `coverage`: executions per scenario family, families in first-seen order. */
  readonly coverage?: Readonly<Record<string, number>>;
}

/** The era and notifier a check runs: a user's definition, or a built-in driver by name. */
export function checkTarget(opts: Pick<CheckOptions, 'kernel' | 'driver' | 'notifier'>): ResolvedTarget {
  if (opts.notifier) return { era: eraByName(opts.kernel), driver: opts.notifier };
  if (opts.driver === undefined) throw new UsageError('check needs a driver name or a notifier definition');
  return resolve(opts.kernel, opts.driver);
}

/** Adds the families of `s` (thread kind and operation, e.g. `cpu:munmap`) to `into`. */
function countFamilies(s: Scenario, into: Record<string, number>): void {
  for (const t of s.threads) {
    const seen: string[] = [];
    for (const op of t.ops) {
      const f = `${t.kind}:${op.op}`;
      if (!seen.includes(f)) seen.push(f);
    }
    for (const f of seen) into[f] = (into[f] ?? 0) + 1;
  }
}

/**
 * Fuzzes one notifier on one era: `runs` drawn scenarios and schedules, then the first failure
 * shrunk by fast-check and made 1-minimal. Deterministic for a given seed, watched or not.
 */
export function check(opts: CheckOptions): CheckResult {
  if (opts.kernels !== undefined && opts.kernels.length > 1) return checkAcrossEras(opts, opts.kernels);
  const target = checkTarget(opts);
  // The case names what a replay resolves: a user's notifier by its name, built-ins as given (`kvm+other`).
  const driver = opts.notifier ? opts.notifier.name : (opts.driver as string);
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  const bounds = opts.bounds ?? DEFAULT_BOUNDS;
  let executions = 0;
  const toCase = (scenario: Case['scenario'], preemptions: Case['preemptions']): Case => ({
    kernel: opts.kernel,
    driver,
    scenario,
    preemptions,
    maxSteps,
    ...(opts.invariants !== undefined ? { invariants: opts.invariants } : {}),
  });
  const { onProgress, signal } = opts;
  const coverage: Record<string, number> | undefined = opts.coverage ? {} : undefined;
  const watched = onProgress !== undefined || signal !== undefined || coverage !== undefined;
  const every = opts.progressEvery ?? 1000;
  let phase: CheckPhase = 'fuzz';
  let interrupted = false;
  const tell = () => onProgress?.({ kernel: opts.kernel, driver, phase, executions, runs: opts.runs });

  // The plain predicate is the hot loop of every check; the watched one only when asked for.
  // A lesser violation (LESSER_INVARIANTS) does not fail the property: the first one is kept aside
  // and reported only if the runs find nothing graver.
  const aside: { lesser: Case | null } = { lesser: null };
  const plain = (scenario: Scenario, preemptions: Case['preemptions']) => {
    executions++;
    const c = toCase(scenario, preemptions);
    const v = runCase(c, target).verdict;
    if (v.kind === 'pass') return true;
    if (v.kind === 'violation' && LESSER_INVARIANTS.has(v.invariant)) {
      aside.lesser ??= c; // and shrinking a graver failure never wanders onto a lesser one
      return true;
    }
    return false;
  };
  const watchedPredicate = (scenario: Scenario, preemptions: Case['preemptions']) => {
    if (signal?.aborted) {
      interrupted = true;
      // fast-check's own interruption (as interruptAfterTimeLimit does): stops the runs, or the
      // shrinking with the smallest failure found so far.
      throw new fc.PreconditionFailure(true);
    }
    if (coverage && phase === 'fuzz') countFamilies(scenario, coverage);
    const ok = plain(scenario, preemptions);
    if (!ok && phase === 'fuzz') {
      phase = 'shrink';
      tell();
    } else if (executions % every === 0) tell();
    return ok;
  };
  const property = fc.property(scenarioArbitrary(bounds), scheduleArbitrary(opts.maxPreemptions ?? 3), watched ? watchedPredicate : plain);
  const details = fc.check(property, { numRuns: opts.runs, seed: opts.seed });
  const base = { kernel: opts.kernel, driver, seed: opts.seed, runs: opts.runs, ...(coverage ? { coverage } : {}), ...(interrupted ? { interrupted } : {}) };
  if (details.failed && details.counterexample === null && !interrupted) throw details.errorInstance ?? new InternalError('fast-check failed without a counterexample');
  // the graver failure fast-check shrank, else the first lesser one kept aside, else a pass
  const first = details.failed && details.counterexample !== null ? toCase(details.counterexample[0], details.counterexample[1]) : aside.lesser;
  if (first === null) return { ...base, executions, verdict: { kind: 'pass' } };
  const normal = effectivePreemptions(first, runCase(first, target).preemptions);
  executions++;
  let found = normal;
  if (!interrupted) {
    phase = 'minimize';
    tell();
    const min = minimize(normal, target);
    executions += min.executions;
    found = min.case;
  }
  const result = runCase(found, target);
  if (result.verdict.kind === 'pass') throw new InternalError(`minimised case passes (${verdictName(result.verdict)})`);
  return { ...base, executions, verdict: result.verdict, counterexample: { case: found, result, token: encodeToken(found) } };
}

/**
 * `check` with the era drawn per run among `kernels` (given oldest first, shrinking prefers the
 * first): one campaign across eras, so a driver written for several kernels learns which is the
 * oldest that breaks it. The counterexample is then made 1-minimal within its era.
 */
function checkAcrossEras(opts: CheckOptions, kernels: readonly string[]): CheckResult {
  const targets = new Map(kernels.map((k) => [k, checkTarget({ ...opts, kernel: k })]));
  const driver = opts.notifier ? opts.notifier.name : (opts.driver as string);
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  const toCase = (kernel: string, scenario: Scenario, preemptions: Case['preemptions']): Case => ({
    kernel,
    driver,
    scenario,
    preemptions,
    maxSteps,
    ...(opts.invariants !== undefined ? { invariants: opts.invariants } : {}),
  });
  let executions = 0;
  const aside: { lesser: Case | null } = { lesser: null };
  const drawn = fc
    .tuple(fc.constantFrom(...kernels), scenarioArbitrary(opts.bounds ?? DEFAULT_BOUNDS))
    .map(([kernel, s]) => [kernel, scenarioForEra(s, (targets.get(kernel) as ResolvedTarget).era)] as const)
    .filter((x): x is readonly [string, Scenario] => x[1] !== null);
  const coverage: Record<string, number> | undefined = opts.coverage ? {} : undefined;
  const every = opts.progressEvery ?? 1000;
  let phase: CheckPhase = 'fuzz';
  const tell = () => opts.onProgress?.({ kernel: kernels.join(','), driver, phase, executions, runs: opts.runs });
  const property = fc.property(drawn, scheduleArbitrary(opts.maxPreemptions ?? 3), ([kernel, scenario], preemptions) => {
    if (opts.signal?.aborted) throw new fc.PreconditionFailure(true);
    if (coverage && phase === 'fuzz') {
      countFamilies(scenario, coverage);
      coverage[`era:${kernel}`] = (coverage[`era:${kernel}`] ?? 0) + 1;
    }
    if (++executions % every === 0) tell();
    const c = toCase(kernel, scenario, preemptions);
    const v = runCase(c, targets.get(kernel)).verdict;
    if (v.kind === 'pass') return true;
    if (v.kind === 'violation' && LESSER_INVARIANTS.has(v.invariant)) {
      aside.lesser ??= c;
      return true;
    }
    if (phase === 'fuzz') {
      phase = 'shrink';
      tell();
    }
    return false;
  });
  const details = fc.check(property, { numRuns: opts.runs, seed: opts.seed });
  const interrupted = opts.signal?.aborted === true;
  const base = { driver, seed: opts.seed, runs: opts.runs, ...(coverage ? { coverage } : {}), ...(interrupted ? { interrupted } : {}) };
  if (details.failed && details.counterexample === null && !interrupted) throw details.errorInstance ?? new InternalError('fast-check failed without a counterexample');
  const first = details.failed && details.counterexample !== null ? toCase(details.counterexample[0][0], details.counterexample[0][1], details.counterexample[1]) : aside.lesser;
  if (first === null) return { ...base, kernel: kernels.join(','), executions, verdict: { kind: 'pass' } };
  const target = targets.get(first.kernel) as ResolvedTarget;
  let found = effectivePreemptions(first, runCase(first, target).preemptions);
  executions++;
  if (!interrupted) {
    phase = 'minimize';
    tell();
    const min = minimize(found, target);
    executions += min.executions;
    found = min.case;
  }
  const result = runCase(found, target);
  if (result.verdict.kind === 'pass') throw new InternalError(`minimised case passes (${verdictName(result.verdict)})`);
  return { ...base, kernel: found.kernel, executions, verdict: result.verdict, counterexample: { case: found, result, token: encodeToken(found) } };
}
