/**
 * Naive exhaustive exploration: a stateless DFS over every scheduling choice (every enabled thread
 * at every step), re-executing from the start for each prefix. No reduction at all: it is the
 * brute-force baseline the test suite uses to check mutual exclusion and deadlock detection over
 * every interleaving of small programs (and, later, to count Mazurkiewicz traces for DPOR).
 */
import { execute, type ExecutionOptions, type ExecutionResult, type ThreadSpec } from '../runtime/execution';
import type { Machine } from '../runtime/machine';
import { defaultChoice, type Scheduler, type SchedulerView } from './scheduler';

/** Follows a fixed prefix of choices, then the default order; records the enabled set at each step. */
class PrefixScheduler implements Scheduler {
  readonly enabledAt: number[][] = [];
  constructor(private readonly prefix: readonly number[]) {}
  choose(v: SchedulerView): number {
    this.enabledAt.push(v.enabled.slice());
    return v.step < this.prefix.length ? this.prefix[v.step] : defaultChoice(v);
  }
}

export interface NaiveExploration {
  readonly executions: number;
  /** Stopped early because `maxExecutions` was reached. */
  readonly truncated: boolean;
}

/**
 * Calls `visit` with every execution of the program `build` makes (a fresh machine and threads each
 * time). Returns how many there were.
 */
export function exploreAllInterleavings(
  build: () => { machine: Machine; threads: ThreadSpec[] },
  opts: ExecutionOptions,
  visit: (r: ExecutionResult) => void,
  maxExecutions = 1_000_000,
): NaiveExploration {
  let executions = 0;
  const stack: number[][] = [[]];
  while (stack.length > 0) {
    if (executions >= maxExecutions) return { executions, truncated: true };
    const prefix = stack.pop() as number[];
    const { machine, threads } = build();
    const sched = new PrefixScheduler(prefix);
    const r = execute(machine, threads, sched, opts);
    executions++;
    visit(r);
    // branch on every alternative at every step past the prefix
    for (let i = r.choices.length - 1; i >= prefix.length; i--) {
      for (const t of sched.enabledAt[i]) {
        if (t !== r.choices[i]) stack.push([...r.choices.slice(0, i), t]);
      }
    }
  }
  return { executions, truncated: false };
}
