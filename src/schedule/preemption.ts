import { defaultChoice, type Scheduler, type SchedulerView } from './scheduler';

/**
 * A preemption: once thread `thread` has taken `after` steps, if it could go on, switch to thread
 * `to`. A schedule is a short list of these over the default non-preemptive order, so shrinking a
 * schedule means removing preemptions: a minimal race has the fewest context switches (CHESS).
 *
 * Preemption points are counted in the preempted thread's own steps, not in global steps, so that
 * removing an operation of another thread while shrinking leaves them where they were.
 */
export interface Preemption {
  readonly thread: number;
  readonly after: number;
  readonly to: number;
}

/** Runs the default order with the given preemptions; used by fuzzing and by replay. */
export class PreemptionScheduler implements Scheduler {
  private readonly points: readonly Preemption[];

  constructor(preemptions: readonly Preemption[]) {
    this.points = preemptions;
  }

  choose(v: SchedulerView): number {
    // Only a real preemption (the current thread could go on) is applied, so the preemptions an
    // execution records are exactly the ones that changed it: replaying them gives the same trace.
    if (v.currentRunnable) {
      for (const p of this.points) {
        if (p.thread === v.current && p.after === v.currentSteps && p.to !== v.current && v.enabled.includes(p.to)) return p.to;
      }
    }
    return defaultChoice(v);
  }
}
