/**
 * Exhaustive mode: every schedule of one scenario within a preemption bound, explored as CHESS does
 * (iterative context bounding: bound 0, then 1, … up to `maxPreemptions`, so the first violation
 * found has the fewest preemptions the search can give), with happens-before state caching
 * (schedule/bounded-search.ts). A pass that is `complete` is a proof within the bounds: no
 * execution with at most `maxPreemptions` preemptions and `maxSteps` steps violates an invariant.
 *
 * A violation becomes a replayable case: the schedule's preemptions over the default order
 * (preemption.ts), checked by re-running it; 1-minimised as in fuzz mode; encoded as a token. The
 * result is a value; printing is the CLI's.
 */
import { selectInvariants } from '../invariants';
import { InternalError, UsageError } from '../runtime/errors';
import type { ExecutionResult } from '../runtime/execution';
import { PASS, verdictName, type Verdict } from '../runtime/verdict';
import { buildExecution } from '../scenario/build';
import { CATALOGUE, catalogueEntry } from '../scenario/catalogue';
import { validateScenario, type Scenario } from '../scenario/scenario';
import { dpor, type DporOptions, type DporStats } from '../schedule/dpor';
import { encodeToken } from '../schedule/token';
import { DEFAULT_MAX_STEPS, resolve, runCase, type Case, type ResolvedTarget } from './case';
import { effectivePreemptions, minimize } from './minimize';
import type { CheckResult } from './fuzz';

export const DEFAULT_MAX_PREEMPTIONS = 2;
export const DEFAULT_MAX_EXECUTIONS = 1_000_000;

export interface ExploreOptions {
  readonly kernel: string;
  readonly driver: string;
  /** A catalogue name (scenario/catalogue.ts) or a scenario. */
  readonly scenario: string | Scenario;
  /**
   * Preemption bound (default 2). Always finite here: a retry loop (`cpu_relax`) can spin forever
   * when nothing bounds the schedule, and the `progress` invariant presumes a fair one. (Unbounded
   * optimal DPOR is schedule/dpor.ts with no `maxPreemptions`, for programs without retry loops.)
   */
  readonly maxPreemptions?: number;
  readonly maxSteps?: number;
  readonly maxExecutions?: number;
  /** Invariants to check, by name (all registered ones by default). */
  readonly invariants?: readonly string[];
  /** The era and notifier to run (a user's module); default: `resolve(kernel, driver)`. */
  readonly target?: ResolvedTarget;
}

export interface ExploreBounds {
  readonly maxPreemptions: number;
  readonly maxSteps: number;
  readonly maxExecutions: number;
}

/** What cut the search short of "every schedule within the preemption bound". */
export interface CutBy {
  /** Executions that reached the step bound (a longer run was not followed). */
  readonly steps?: number;
  /** The execution budget ran out before the search did. */
  readonly executions?: true;
}

export interface ExploreCounterexample {
  readonly case: Case;
  readonly result: ExecutionResult;
  readonly token: string;
  /** The preemption bound at which the search found it (the fewest it can give). */
  readonly foundAtBound: number;
}

export interface ExploreResult {
  readonly kernel: string;
  readonly driver: string;
  /** Catalogue name, or undefined for a scenario given as data. */
  readonly scenarioName?: string;
  readonly scenario: Scenario;
  /** `pass` or the first violation (or deadlock, model error) found. */
  readonly verdict: Verdict;
  /** Executions run, over every bound tried (each re-runs the program from the start). */
  readonly executions: number;
  /** Redundant work avoided: paths stopped at a node already explored (each at least one execution). */
  readonly pruned: number;
  readonly bounds: ExploreBounds;
  /** The bound the search reached (less than maxPreemptions when it stopped at a violation). */
  readonly preemptionsExplored: number;
  /** Alternatives the preemption bound ruled out at the last bound (0: the bound cut nothing, the search covered every schedule). */
  readonly cutByPreemptions: number;
  /** Every schedule within the bounds was explored (a pass is then a proof within them). */
  readonly complete: boolean;
  readonly cutBy?: CutBy;
  readonly wallMs: number;
  readonly counterexample?: ExploreCounterexample;
}

/** Resolves `ExploreOptions.scenario`: a catalogue name, or scenario data (validated). */
export function scenarioOf(s: string | Scenario): { name?: string; scenario: Scenario } {
  if (typeof s === 'string') return { name: s, scenario: catalogueEntry(s).scenario };
  return { scenario: validateScenario(s) };
}

function isFailure(v: Verdict): boolean {
  return v.kind !== 'pass' && v.kind !== 'step-budget-exceeded';
}

/** The program of a case, fresh on every call (as runCase builds it). */
function builder(target: ResolvedTarget, scenario: Scenario): DporOptions['build'] {
  return () => buildExecution(target.era, [target.driver, ...(target.others ?? [])], scenario);
}

/** The first failing execution over bounds 0, 1, … `bounds.maxPreemptions` (CHESS's iterative context bounding). */
function iterativeBounding(build: DporOptions['build'], invariants: DporOptions['invariants'], bounds: ExploreBounds) {
  let executions = 0;
  let pruned = 0;
  let failure: ExecutionResult | undefined;
  let stats: DporStats | undefined;
  let k = 0;
  for (; k <= bounds.maxPreemptions; k++) {
    stats = dpor({
      build,
      invariants,
      maxSteps: bounds.maxSteps,
      maxPreemptions: k,
      maxExecutions: bounds.maxExecutions - executions,
      visit: (r) => {
        if (!isFailure(r.verdict)) return true;
        failure = r;
        return false;
      },
    });
    executions += stats.executions;
    pruned += stats.pruned;
    if (failure || stats.stoppedBy === 'maxExecutions') break;
  }
  return { executions, pruned, failure, last: stats as DporStats, reached: Math.min(k, bounds.maxPreemptions) };
}

export function explore(opts: ExploreOptions): ExploreResult {
  const bounds: ExploreBounds = {
    maxPreemptions: nonNegative('maxPreemptions', opts.maxPreemptions ?? DEFAULT_MAX_PREEMPTIONS),
    maxSteps: nonNegative('maxSteps', opts.maxSteps ?? DEFAULT_MAX_STEPS),
    maxExecutions: nonNegative('maxExecutions', opts.maxExecutions ?? DEFAULT_MAX_EXECUTIONS),
  };
  const target = opts.target ?? resolve(opts.kernel, opts.driver);
  const { name, scenario } = scenarioOf(opts.scenario);
  const invariants = selectInvariants(opts.invariants);
  const build = builder(target, scenario);
  const start = performance.now();
  const search = iterativeBounding(build, invariants, bounds);
  const stats = search.last;
  const base = {
    kernel: opts.kernel,
    driver: opts.driver,
    ...(name !== undefined ? { scenarioName: name } : {}),
    scenario,
    bounds,
    preemptionsExplored: search.reached,
    pruned: search.pruned,
    cutByPreemptions: stats.cutByPreemptions,
  };
  if (search.failure) {
    const caseOf = (preemptions: Case['preemptions']): Case => ({
      kernel: opts.kernel,
      driver: opts.driver,
      scenario,
      preemptions,
      maxSteps: bounds.maxSteps,
      ...(opts.invariants ? { invariants: opts.invariants } : {}),
    });
    const cx = counterexampleOf(search.failure, search.reached, { caseOf, target, build, invariants, bounds });
    return { ...base, verdict: cx.result.verdict, executions: search.executions + cx.executions, complete: false, wallMs: performance.now() - start, counterexample: cx.counterexample };
  }
  const complete = stats.exhausted && stats.cutBySteps === 0;
  const cutBy: CutBy = { ...(stats.cutBySteps > 0 ? { steps: stats.cutBySteps } : {}), ...(stats.stoppedBy === 'maxExecutions' ? { executions: true as const } : {}) };
  return { ...base, verdict: PASS, executions: search.executions, complete, ...(complete ? {} : { cutBy }), wallMs: performance.now() - start };
}

interface Replaying {
  readonly caseOf: (p: Case['preemptions']) => Case;
  readonly target: ResolvedTarget;
  readonly build: DporOptions['build'];
  readonly invariants: DporOptions['invariants'];
  readonly bounds: ExploreBounds;
}

/** The failure as a replayable case, 1-minimised (as fuzz mode does), checked, and its token. */
function counterexampleOf(failure: ExecutionResult, bound: number, ctx: Replaying) {
  const found = replayable(failure, bound, ctx);
  const min = minimize(found.case, ctx.target);
  const result = runCase(min.case, ctx.target);
  if (verdictName(result.verdict) !== verdictName(failure.verdict)) {
    throw new InternalError(`minimised counterexample gives ${verdictName(result.verdict)}, not ${verdictName(failure.verdict)}`);
  }
  return { result, executions: found.executions + min.executions + 1, counterexample: { case: min.case, result, token: encodeToken(min.case), foundAtBound: bound } };
}

function nonNegative(what: string, n: number): number {
  if (!(Number.isInteger(n) && n >= 0)) throw new UsageError(`${what} must be a non-negative integer, got ${n}`);
  return n;
}

/**
 * A case whose preemptions reproduce a violation with the same verdict. The schedule the search
 * found replays as is when every free switch in it went the default order's way; otherwise the
 * search runs again over replayable schedules only, from the same bound up, until one gives the
 * same verdict.
 */
function replayable(failure: ExecutionResult, bound: number, { caseOf, target, build, invariants, bounds }: Replaying): { case: Case; executions: number } {
  const want = verdictName(failure.verdict);
  const direct = effectivePreemptions(caseOf([]), failure.preemptions);
  if (verdictName(runCase(direct, target).verdict) === want) return { case: direct, executions: 1 };
  let executions = 1;
  for (let k = bound; k <= bound + 2; k++) {
    let hit: ExecutionResult | undefined;
    const st = dpor({
      build,
      invariants,
      maxSteps: bounds.maxSteps,
      maxPreemptions: k,
      maxExecutions: bounds.maxExecutions,
      schedules: 'replayable',
      visit: (r) => {
        if (verdictName(r.verdict) !== want) return true;
        hit = r;
        return false;
      },
    });
    executions += st.executions;
    if (hit) {
      const c = effectivePreemptions(caseOf([]), hit.preemptions);
      executions++;
      if (verdictName(runCase(c, target).verdict) === want) return { case: c, executions };
      throw new InternalError(`a replayable schedule did not replay to ${want}`);
    }
  }
  throw new InternalError(`no schedule over the default order reproduces the ${want} found at ${bound} preemptions`);
}

/** What `check --mode exhaustive` covered: the catalogue scenarios explored, and whether completely. */
export interface ExhaustiveCoverage {
  readonly scenarios: readonly string[];
  readonly complete: boolean;
  readonly maxPreemptions: number;
  readonly maxSteps: number;
}

/**
 * `check --mode exhaustive`: every spine scenario of the catalogue explored within the bounds, for one
 * era and notifier, stopping at the first violation. The result has the shape of a fuzzing check's
 * (`CheckResult`), with `exhaustive` saying what was covered.
 */
export function exploreCatalogue(opts: Omit<ExploreOptions, 'scenario'>): CheckResult & { readonly exhaustive: ExhaustiveCoverage } {
  const names = CATALOGUE.filter((e) => e.spine).map((e) => e.name);
  let executions = 0;
  let complete = true;
  let maxPreemptions = opts.maxPreemptions ?? DEFAULT_MAX_PREEMPTIONS;
  const base = { kernel: opts.kernel, driver: opts.driver, seed: 0, runs: 0 };
  for (const name of names) {
    const r = explore({ ...opts, scenario: name });
    executions += r.executions;
    complete &&= r.complete;
    maxPreemptions = r.bounds.maxPreemptions;
    const coverage = { scenarios: names, complete, maxPreemptions, maxSteps: r.bounds.maxSteps };
    if (r.verdict.kind !== 'pass') {
      const cx = r.counterexample;
      return { ...base, executions, verdict: r.verdict, exhaustive: coverage, ...(cx ? { counterexample: { case: cx.case, result: cx.result, token: cx.token } } : {}) };
    }
  }
  return { ...base, executions, verdict: { kind: 'pass' }, exhaustive: { scenarios: names, complete, maxPreemptions, maxSteps: opts.maxSteps ?? DEFAULT_MAX_STEPS } };
}
