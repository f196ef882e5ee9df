/**
 * One execution: runs threads of effects on a machine under a scheduler, checks invariants after
 * every step, and returns a verdict with the trace and the schedule that produced it.
 *
 * Mechanism only: which thread runs is the scheduler's business; what an effect does is apply.ts's.
 */
import { applyEffect, isEnabled } from './apply';
import { Op, type Effect } from './effect';
import { InternalError, ModelError } from './errors';
import { K_THREAD, writeKinds } from './footprint';
import type { EffectInvariant, Invariant, StateInvariant } from './invariant';
import { LockKind, type Machine } from './machine';
import type { Gen } from './primitives';
import { PASS, type Verdict } from './verdict';
import type { Preemption } from '../schedule/preemption';
import type { Scheduler, SchedulerView } from '../schedule/scheduler';

export interface ThreadSpec {
  readonly name: string;
  readonly body: Gen;
}

export interface TraceStep {
  readonly thread: number;
  readonly effect: Effect;
  readonly result: unknown;
  /** Set on the step whose effect was issued but not run because it violated an effect invariant. */
  readonly issuedOnly?: boolean;
}

export interface ExecutionOptions {
  readonly maxSteps: number;
  readonly invariants: readonly Invariant[];
  /** Called after each step (for reports that show state beside each step). Off in the hot loop. */
  readonly observe?: (m: Machine, step: TraceStep, index: number) => void;
}

export interface ExecutionResult {
  readonly verdict: Verdict;
  readonly trace: readonly TraceStep[];
  /** Thread chosen at each step. */
  readonly choices: readonly number[];
  /** The switches away from a thread that could have continued: the schedule's preemptions (`at`: global step). */
  readonly preemptions: readonly (Preemption & { readonly at: number })[];
  readonly machine: Machine;
  /** The effect each thread would have issued next when the execution ended (null: finished). */
  readonly pending?: readonly (Effect | null)[];
}

function isEffect(x: unknown): x is Effect {
  return typeof x === 'object' && x !== null && typeof (x as Effect).op === 'number' && typeof (x as Effect).at === 'object';
}

export function execute(m: Machine, threads: readonly ThreadSpec[], scheduler: Scheduler, opts: ExecutionOptions): ExecutionResult {
  const n = threads.length;
  const stateInvs = opts.invariants.filter((i): i is StateInvariant => i.kind === 'state');
  // the state invariants a step that writes objects of kinds `k` can break, per kinds mask (a few masks occur)
  const byKinds = new Map<number, readonly StateInvariant[]>();
  const invariantsFor = (k: number): readonly StateInvariant[] => {
    let l = byKinds.get(k);
    if (l === undefined) byKinds.set(k, (l = stateInvs.filter((inv) => (inv.watches & k) !== 0)));
    return l;
  };
  const effectInvs = opts.invariants.filter((i): i is EffectInvariant => i.kind === 'effect');
  const pending: (Effect | null)[] = new Array(n).fill(null);
  const trace: TraceStep[] = [];
  const choices: number[] = [];
  const preemptions: (Preemption & { at: number })[] = [];
  const enabled: number[] = [];
  const steps: number[] = new Array(n).fill(0);
  let current = -1;
  let relaxed = false;
  let verdict: Verdict | null = null;

  if (m.threads.length !== n) throw new InternalError(`machine has ${m.threads.length} thread contexts for ${n} threads`);

  /** Advances thread `tid` with `value`; records its next effect or its end. Returns a verdict to stop on. */
  const advance = (tid: number, value: unknown): Verdict | null => {
    let r: IteratorResult<Effect, void>;
    try {
      r = threads[tid].body.next(value);
    } catch (err) {
      return modelError(err, tid, trace.length);
    }
    if (r.done) {
      pending[tid] = null;
      const ctx = m.threads[tid];
      ctx.done = true;
      // a thread's end is a state change too: invariants about finished threads run now
      for (const inv of stateInvs) {
        if ((inv.watches & K_THREAD) === 0) continue;
        const msg = inv.check(m);
        if (msg !== null) return { kind: 'violation', invariant: inv.name, message: msg, step: Math.max(0, trace.length - 1), thread: tid };
      }
      return null;
    }
    const e = r.value;
    if (!isEffect(e)) {
      return { kind: 'model-error', message: `thread ${threads[tid].name} yielded ${describe(e)}, not a kernel effect (call the kernel API with yield*)`, step: trace.length, thread: tid };
    }
    pending[tid] = e;
    for (const inv of effectInvs) {
      const msg = inv.check(m, tid, e);
      if (msg !== null) {
        trace.push({ thread: tid, effect: e, result: undefined, issuedOnly: true });
        return { kind: 'violation', invariant: inv.name, message: msg, step: trace.length - 1, thread: tid };
      }
    }
    return null;
  };

  for (let t = 0; t < n && verdict === null; t++) verdict = advance(t, undefined);

  const rwsems = m.locks.filter((l) => l.kind === LockKind.RwSem);
  while (verdict === null) {
    // rwsem writer preference: a writer that cannot take the lock now is queued, and readers wait behind it
    if (rwsems.length > 0) {
      for (const l of rwsems) l.writersQueued = 0;
      for (let t = 0; t < n; t++) {
        const e = pending[t];
        if (e === null || e.op !== Op.DownWrite) continue;
        const l = m.locks[e.a];
        if (l.owner !== -1 || l.readers.length > 0) l.writersQueued++;
      }
    }
    enabled.length = 0;
    let live = 0;
    for (let t = 0; t < n; t++) {
      const e = pending[t];
      if (e === null) continue;
      live++;
      if (isEnabled(m, t, e)) enabled.push(t);
    }
    if (live === 0) {
      verdict = PASS;
      break;
    }
    if (enabled.length === 0) {
      verdict = { kind: 'deadlock', message: deadlockMessage(m, threads, pending), step: trace.length };
      break;
    }
    if (trace.length >= opts.maxSteps) {
      verdict = { kind: 'step-budget-exceeded', message: `no end after ${opts.maxSteps} steps (a retry loop that never succeeds, or a runaway loop)`, step: trace.length };
      break;
    }
    const currentRunnable = current >= 0 && !relaxed && pending[current] !== null && enabled.includes(current);
    const currentSteps = current >= 0 ? steps[current] : 0;
    const view: SchedulerView = { step: trace.length, current, currentSteps, enabled, currentRunnable, threadCount: n, pending, machine: m };
    const tid = scheduler.choose(view);
    if (!enabled.includes(tid)) throw new InternalError(`scheduler chose thread ${tid}, which is not enabled`);
    if (currentRunnable && tid !== current) preemptions.push({ thread: current, after: currentSteps, to: tid, at: trace.length });
    steps[tid]++;
    const e = pending[tid] as Effect;
    let result: unknown;
    try {
      result = applyEffect(m, tid, e);
    } catch (err) {
      trace.push({ thread: tid, effect: e, result: undefined });
      choices.push(tid);
      verdict = modelError(err, tid, trace.length - 1);
      break;
    }
    const stepRec: TraceStep = { thread: tid, effect: e, result };
    trace.push(stepRec);
    choices.push(tid);
    m.step++;
    if (opts.observe) opts.observe(m, stepRec, trace.length - 1);
    const kinds = writeKinds(e.op);
    if (kinds !== 0) {
      for (const inv of invariantsFor(kinds)) {
        const msg = inv.check(m);
        if (msg !== null) {
          verdict = { kind: 'violation', invariant: inv.name, message: msg, step: trace.length - 1, thread: tid };
          break;
        }
      }
      if (verdict !== null) break;
    }
    current = tid;
    relaxed = e.op === Op.CpuRelax;
    verdict = advance(tid, result);
  }
  return { verdict, trace, choices, preemptions, machine: m, pending };
}

function modelError(err: unknown, tid: number, step: number): Verdict {
  if (err instanceof InternalError) throw err;
  const msg = err instanceof Error ? err.message : String(err);
  const prefix = err instanceof ModelError ? '' : 'threw: ';
  return { kind: 'model-error', message: `${prefix}${msg}`, step, thread: tid };
}

function describe(x: unknown): string {
  if (x === undefined) return 'undefined';
  if (x === null) return 'null';
  if (typeof x === 'object') return `an object without an effect op (${JSON.stringify(x)?.slice(0, 60)})`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}

function deadlockMessage(m: Machine, threads: readonly ThreadSpec[], pending: readonly (Effect | null)[]): string {
  const parts: string[] = [];
  pending.forEach((e, t) => {
    if (e === null) return;
    if (e.op === Op.WaitCounter || e.op === Op.WaitCounterChange) {
      parts.push(`${threads[t].name} waits for ${m.counterNames[e.a]} ${e.op === Op.WaitCounter ? '==' : '!='} ${e.b} (it is ${m.counters[e.a]})`);
      return;
    }
    if (e.op === Op.LockPage) {
      const holder = m.pages[e.a]?.lockedBy ?? -1;
      parts.push(`${threads[t].name} waits for the page lock of pfn ${e.a} held by ${holder >= 0 ? threads[holder].name : 'nobody'}`);
      return;
    }
    const lock = m.locks[e.a];
    const holders = lock.owner >= 0 ? [lock.owner] : lock.readers;
    const by = holders.map((h) => threads[h].name + (m.threads[h].done ? ' (finished)' : '')).join(', ');
    parts.push(`${threads[t].name} waits for ${lock.name} held by ${by}`);
  });
  return parts.join('; ');
}

