/**
 * A scheduler only answers "which enabled thread steps next?" (DESIGN §2). It never touches state.
 */
import type { Effect } from '../runtime/effect';
import type { Machine } from '../runtime/machine';

export interface SchedulerView {
  /** Index of the step about to be taken (0-based). */
  readonly step: number;
  /** Thread that took the previous step, or -1 at the start. */
  readonly current: number;
  /** Enabled threads, ascending. Never empty when `choose` is called. */
  readonly enabled: readonly number[];
  /** Steps `current` has taken so far. */
  readonly currentSteps: number;
  /** Whether `current` is enabled and did not just give up the CPU (`cpu_relax`). */
  readonly currentRunnable: boolean;
  readonly threadCount: number;
  /**
   * The effect each thread issues next (null once it has finished), blocked ones included. For
   * schedulers that reason about footprints (DPOR); read-only.
   */
  readonly pending?: readonly (Effect | null)[];
  /** The machine before the step, read-only: DPOR computes the next steps' footprints on it. */
  readonly machine?: Machine;
}

export interface Scheduler {
  choose(view: SchedulerView): number;
}

/**
 * The default, non-preemptive choice: keep running the current thread while it can run; when it
 * blocks, finishes or relaxes, the next enabled thread after it in round-robin order.
 */
export function defaultChoice(v: SchedulerView): number {
  if (v.currentRunnable) return v.current;
  const en = v.enabled;
  for (let i = 0; i < en.length; i++) if (en[i] > v.current) return en[i];
  return en[0];
}
