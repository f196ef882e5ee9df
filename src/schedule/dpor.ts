/**
 * Exhaustive exploration of one program with dynamic partial-order reduction: stateless (every
 * execution re-runs a fresh program from the start, `build()`), one execution per Mazurkiewicz trace
 * of the footprint dependence relation when unbounded, and CHESS preemption bounding when asked.
 *
 * - Without a preemption bound: optimal DPOR with source sets, sleep sets and wakeup trees
 *   (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014), optimal-dpor.ts.
 * - With one: preemption-bounded search with happens-before state caching, as CHESS does it
 *   (bounded-search.ts): sound for the bound, not one execution per trace.
 *
 * The result says what was explored and whether any bound cut something: a search that returns
 * `exhausted` with no step cut has covered every execution within the preemption bound.
 */
import type { ExecutionResult, ThreadSpec } from '../runtime/execution';
import type { Invariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';
import { exploreBounded } from './bounded-search';
import { exploreOptimal } from './optimal-dpor';
import type { StepRecord } from './recorder';

export interface DporOptions {
  /** A fresh machine and fresh threads, the same program every call. */
  readonly build: () => { machine: Machine; threads: ThreadSpec[] };
  readonly invariants: readonly Invariant[];
  /** Step budget of one execution: an execution that reaches it is cut (counted in `cutBySteps`). */
  readonly maxSteps: number;
  /** Preemption bound (CHESS); Infinity (the default) explores every trace. */
  readonly maxPreemptions?: number;
  /** Stop after this many executions (the search is then not exhausted). */
  readonly maxExecutions?: number;
  /**
   * Optimal DPOR: make the steps each state invariant watches mutually dependent (dependence.ts),
   * so that every state an invariant could see is reached. Default true; false gives the plain
   * footprint relation. (The bounded search checks every state of every schedule it covers anyway.)
   */
  readonly visibility?: boolean;
  /**
   * `chess` (default): at a free switch point (the running thread blocked, finished or relaxed) any
   * thread may run. `replayable`: only the schedules a preemption list over the default order can
   * express (preemption.ts): at a free switch point the default order decides. A subset, used to
   * turn a counterexample into a replay token; bounded search only.
   */
  readonly schedules?: 'chess' | 'replayable';
  /** Called with every execution run to its end; return false to stop the search. */
  readonly visit?: (r: ExecutionResult, info: VisitInfo) => boolean | void;
}

export interface VisitInfo {
  readonly steps: readonly StepRecord[];
  /** Preemptions of this execution (switch-cost.ts). */
  readonly preemptions: number;
}

export interface DporStats {
  /** Executions run (each from the start), abandoned ones included. */
  executions: number;
  /** Executions abandoned because every thread that could run was asleep (redundant; optimal DPOR never should). */
  sleepBlocked: number;
  /**
   * Redundant work avoided, each item standing for at least one execution: alternatives left out at
   * explored nodes (optimal DPOR), or paths stopped at a node already explored (bounded search).
   */
  pruned: number;
  /** Alternatives left out because they would exceed the preemption bound. */
  cutByPreemptions: number;
  /** Executions that reached the step budget. */
  cutBySteps: number;
  /** Every alternative within the bounds was explored (not stopped by `maxExecutions` or `visit`). */
  exhausted: boolean;
  stoppedBy?: 'maxExecutions' | 'visit';
}

export function newStats(): DporStats {
  return { executions: 0, sleepBlocked: 0, pruned: 0, cutByPreemptions: 0, cutBySteps: 0, exhausted: false };
}

/** Explores `opts.build`'s program: see the module comment. */
export function dpor(opts: DporOptions): DporStats {
  const bound = opts.maxPreemptions ?? Infinity;
  return Number.isFinite(bound) ? exploreBounded(opts, bound) : exploreOptimal(opts);
}
