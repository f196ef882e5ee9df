/**
 * Preemption-bounded exhaustive exploration without any reduction: every schedule whose
 * preemptions (switch-cost.ts) stay within the bound, as CHESS's iterative context bounding
 * enumerates them. The baseline bounded DPOR is measured against, and the tests' oracle for what
 * "every execution within the bound" means.
 */
import { Op } from '../runtime/effect';
import { execute, type ExecutionOptions, type ExecutionResult, type ThreadSpec } from '../runtime/execution';
import type { Machine } from '../runtime/machine';
import type { NaiveExploration } from './exhaustive-naive';
import type { Scheduler, SchedulerView } from './scheduler';
import { freeChoice, switchCost, type SwitchContext } from './switch-cost';

/** Follows a prefix of choices, then the default order; records each step's switch context. */
class PrefixScheduler implements Scheduler {
  readonly contexts: SwitchContext[] = [];
  private last = -1;
  private prevRelaxed = false;
  constructor(private readonly prefix: readonly number[]) {}
  choose(v: SchedulerView): number {
    const prev = v.step > 0 ? this.last : -1;
    const ctx: SwitchContext = { prev, prevEnabled: prev >= 0 && v.enabled.includes(prev), prevRelaxed: this.prevRelaxed, enabled: v.enabled.slice() };
    this.contexts.push(ctx);
    const t = v.step < this.prefix.length ? this.prefix[v.step] : freeChoice(ctx, () => true);
    this.last = t;
    this.prevRelaxed = v.pending?.[t]?.op === Op.CpuRelax;
    return t;
  }
}

/**
 * Calls `visit` with every execution of `build`'s program that has at most `bound` preemptions
 * (`visit` gets that count too). Returns how many there were.
 */
export function exploreBoundedInterleavings(
  build: () => { machine: Machine; threads: ThreadSpec[] },
  opts: ExecutionOptions,
  bound: number,
  visit: (r: ExecutionResult, preemptions: number) => void,
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
    // preemptions along the way, and the alternatives past the prefix that stay within the bound
    let used = 0;
    const branches: number[][] = [];
    for (let i = 0; i < r.choices.length; i++) {
      const c = sched.contexts[i];
      if (i >= prefix.length) {
        for (const t of c.enabled) {
          if (t === r.choices[i]) continue;
          if (used + switchCost(c, t) <= bound) branches.push([...r.choices.slice(0, i), t]);
        }
      }
      used += switchCost(c, r.choices[i]);
    }
    visit(r, used);
    for (let k = branches.length - 1; k >= 0; k--) stack.push(branches[k]);
  }
  return { executions, truncated: false };
}
