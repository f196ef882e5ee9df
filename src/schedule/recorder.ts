/**
 * One execution under an exploring scheduler, recorded the way dynamic partial-order reduction
 * needs it: for every step, the thread, its access (exact footprint, computed on the machine before
 * the step), which threads were enabled, and the switch context (which thread ran before and whether
 * it had just relaxed); at the end, the access of every effect still pending (blocked acquires
 * included: a blocked acquire still conflicts with the release that would enable it).
 *
 * The exploring policy (optimal-dpor.ts, bounded-search.ts) decides each step; it may abandon an
 * execution that cannot lead anywhere new by throwing {@link Abandon}.
 */
import { Op, type Effect } from '../runtime/effect';
import { InternalError } from '../runtime/errors';
import { execute, type ExecutionOptions, type ExecutionResult, type ThreadSpec } from '../runtime/execution';
import { cloneMachine, type Machine } from '../runtime/machine';
import { accessOf, withThreadEnd, type Access } from './dependence';
import type { Scheduler, SchedulerView } from './scheduler';

export interface StepRecord {
  readonly thread: number;
  readonly effect: Effect;
  /** Final once the next step has been chosen (a step that ends its thread becomes visible then). */
  access: Access;
  /** Threads enabled before the step, ascending. */
  readonly enabled: readonly number[];
  /** Thread of the previous step (-1 at the start). */
  readonly prev: number;
  /** Whether that thread had just done `cpu_relax` (a free context switch). */
  readonly prevRelaxed: boolean;
  /** Whether that thread could have gone on (it is enabled now). */
  readonly prevEnabled: boolean;
  /** For synchronisation steps: the machine before the step (a checkpoint to rebuild earlier states from, races.ts). */
  readonly before?: Machine;
}

/** Thrown by a policy to stop an execution that cannot lead anywhere new. */
export class Abandon {
  constructor(readonly reason: 'sleep-blocked' | 'covered') {}
}

export interface Policy {
  /** The thread to run at step `i` (an enabled one); `steps` holds the steps taken so far. */
  choose(i: number, view: SchedulerView, steps: readonly StepRecord[]): number;
}

export interface Recorded {
  readonly steps: readonly StepRecord[];
  /** Undefined when the policy abandoned the execution. */
  readonly result?: ExecutionResult;
  readonly abandoned?: Abandon['reason'];
  /** Per thread, the access of the effect still pending at the end (null: finished). */
  readonly endAccess: readonly (Access | null)[];
  /** Per thread, the effect still pending at the end. */
  readonly endEffect: readonly (Effect | null)[];
  /** The machine at the end. */
  readonly machine: Machine;
  /** The machine before the first step (with checkpoints on). */
  readonly initial?: Machine;
}

class RecordingScheduler implements Scheduler {
  readonly steps: StepRecord[] = [];
  last: SchedulerView | null = null;
  initial: Machine | undefined;

  constructor(
    private readonly policy: Policy,
    private readonly masks: readonly number[],
    private readonly snapshots: boolean,
  ) {}

  choose(v: SchedulerView): number {
    const m = v.machine;
    const pending = v.pending;
    if (m === undefined || pending === undefined) throw new InternalError('the runtime gave the exploring scheduler no pending effects');
    this.last = v;
    const n = this.steps.length;
    if (n === 0 && this.snapshots) this.initial = cloneMachine(m);
    if (n > 0) {
      const prev = this.steps[n - 1];
      if (pending[prev.thread] === null) prev.access = withThreadEnd(prev.access, this.masks);
    }
    const prevThread = n > 0 ? this.steps[n - 1].thread : -1;
    const prevRelaxed = n > 0 && this.steps[n - 1].effect.op === Op.CpuRelax;
    const tid = this.policy.choose(n, v, this.steps);
    const e = pending[tid];
    if (e === null || !v.enabled.includes(tid)) throw new InternalError(`exploring policy chose thread ${tid}, which is not enabled at step ${n}`);
    const access = accessOf(m, tid, e, this.masks);
    this.steps.push({
      thread: tid,
      effect: e,
      access,
      enabled: v.enabled.slice(),
      prev: prevThread,
      prevRelaxed,
      prevEnabled: prevThread >= 0 && v.enabled.includes(prevThread),
      ...(access.sync && this.snapshots ? { before: cloneMachine(m) } : {}),
    });
    return tid;
  }
}

/**
 * Runs one execution of a fresh program under `policy` and records it; `snapshots` keeps the
 * machine at the start and before each synchronisation step (race analysis rebuilds the state
 * before any step from them, races.ts).
 */
export function runRecorded(
  build: () => { machine: Machine; threads: ThreadSpec[] },
  opts: ExecutionOptions,
  masks: readonly number[],
  policy: Policy,
  snapshots = true,
): Recorded {
  const { machine, threads } = build();
  const sched = new RecordingScheduler(policy, masks, snapshots);
  let result: ExecutionResult | undefined;
  let abandoned: Abandon['reason'] | undefined;
  try {
    result = execute(machine, threads, sched, opts);
  } catch (err) {
    if (!(err instanceof Abandon)) throw err;
    abandoned = err.reason;
  }
  const steps = sched.steps;
  let pending: readonly (Effect | null)[];
  if (result) {
    if (result.pending === undefined) throw new InternalError('the runtime returned no pending effects');
    const last = steps[steps.length - 1];
    if (last && result.pending[last.thread] === null) last.access = withThreadEnd(last.access, masks);
    // An execution that stopped right after a step (a violation, a model error) never advanced that
    // step's thread: its slot still holds the step itself, and its next effect is unknown.
    pending = last && result.pending[last.thread] === last.effect ? result.pending.map((e, t) => (t === last.thread ? null : e)) : result.pending;
  } else {
    pending = (sched.last as SchedulerView).pending as readonly (Effect | null)[];
  }
  const endAccess = pending.map((e, t) => (e === null ? null : accessOf(machine, t, e, masks)));
  return { steps, result, abandoned, endAccess, endEffect: pending.slice(), machine, ...(sched.initial ? { initial: sched.initial } : {}) };
}
