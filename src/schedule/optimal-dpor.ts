/**
 * Optimal DPOR (Abdulla, Aronis, Jonsson, Sagonas, "Optimal dynamic partial order reduction",
 * POPL 2014, Algorithm 2), stateless: each node of the current execution keeps a sleep set and a
 * wakeup tree; after each execution every reversible race (races.ts) inserts the sequence that
 * reverses it at the node before its first step, unless a sleeping thread or an existing branch
 * already covers it; the deepest node with a branch left is where the next execution departs.
 * It runs one execution per Mazurkiewicz trace and abandons none (no sleep-set blocking); the paper
 * proves it without blocking, and the tests check the count against brute force on programs with
 * mutexes, blocking and deadlocks included (races.ts reverses a blocked acquire against the
 * acquire of the critical section it waited for).
 */
import { Op } from '../runtime/effect';
import { InternalError } from '../runtime/errors';
import { conflicts, visibilityMasks, type Access } from './dependence';
import { newStats, type DporOptions, type DporStats } from './dpor';
import { findRaces, notAfter } from './races';
import { Abandon, runRecorded, type Policy } from './recorder';
import { freeChoice, preemptionsOf } from './switch-cost';
import { insertWakeup, wakeupRoot, weakInitial, type SeqStep, type WakeupNode } from './wakeup-tree';

/** One node of the current execution: the state before step i. */
interface Frame {
  /** Its wakeup tree; the first child is the branch being explored. */
  readonly node: WakeupNode;
  /** Sleep set on entry: threads whose next step was explored from an ancestor, and nothing since conflicted with it. */
  readonly sleepIn: Map<number, Access>;
  /** Branches explored from here (asleep in later branches). */
  readonly done: Map<number, Access>;
  enabledCount: number;
}

function asleep(f: Frame, t: number): boolean {
  return f.sleepIn.has(t) || f.done.has(t);
}

export function exploreOptimal(opts: DporOptions): DporStats {
  const stats = newStats();
  const masks = opts.visibility === false ? [] : visibilityMasks(opts.invariants);
  const execOpts = { maxSteps: opts.maxSteps, invariants: opts.invariants };
  const maxExecutions = opts.maxExecutions ?? Infinity;
  const frames: Frame[] = [{ node: wakeupRoot(), sleepIn: new Map(), done: new Map(), enabledCount: 0 }];

  const policy: Policy = {
    choose(i, v, steps) {
      if (i === frames.length) frames.push(childFrame(frames[i - 1], steps[i - 1].access));
      const f = frames[i];
      f.enabledCount = v.enabled.length;
      if (f.node.children.length > 0) {
        const t = f.node.children[0].thread;
        if (!v.enabled.includes(t) || asleep(f, t)) throw new InternalError(`wakeup sequence runs thread ${t} at step ${i}, which is ${asleep(f, t) ? 'asleep' : 'not enabled'}`);
        return t;
      }
      const prev = i > 0 ? steps[i - 1] : undefined;
      const ctx = { prev: prev?.thread ?? -1, prevEnabled: prev !== undefined && v.enabled.includes(prev.thread), prevRelaxed: prev?.effect.op === Op.CpuRelax, enabled: v.enabled };
      const t = freeChoice(ctx, (q) => !asleep(f, q));
      if (t < 0) throw new Abandon('sleep-blocked');
      f.node.children.push({ thread: t, access: null, children: [] });
      return t;
    },
  };

  for (;;) {
    if (stats.executions >= maxExecutions) {
      stats.stoppedBy = 'maxExecutions';
      return stats;
    }
    const rec = runRecorded(opts.build, execOpts, masks, policy);
    stats.executions++;
    const L = rec.steps.length;
    if (frames.length > L) frames.length = L;
    if (rec.result) {
      if (rec.result.verdict.kind === 'step-budget-exceeded') stats.cutBySteps++;
      if (opts.visit && opts.visit(rec.result, { steps: rec.steps, preemptions: preemptionsOf(rec.steps) }) === false) {
        stats.stoppedBy = 'visit';
        return stats;
      }
    } else {
      stats.sleepBlocked++;
    }
    const a = findRaces(rec, rec.endEffect.length);
    for (const race of a.races) {
      const f = frames[race.i];
      const seq: SeqStep[] = notAfter(a, race.i, race.j).map((k) => a.events[k]);
      seq.push(a.events[race.j]);
      if (coveredBySleep(f, seq)) continue;
      insertWakeup(f.node, seq);
    }
    if (!backtrack(frames, rec.steps, stats)) {
      stats.exhausted = true;
      return stats;
    }
  }
}

/** The node after the first branch of `parent` was taken with access `a`. */
function childFrame(parent: Frame, a: Access): Frame {
  const node = parent.node.children[0];
  node.access = a;
  const sleepIn = new Map<number, Access>();
  for (const [q, x] of parent.sleepIn) if (!conflicts(x, a)) sleepIn.set(q, x);
  for (const [q, x] of parent.done) if (!conflicts(x, a)) sleepIn.set(q, x);
  return { node, sleepIn, done: new Map(), enabledCount: 0 };
}

/** Whether a sleeping thread is a weak initial of `seq`: the reversal is then already explored. */
function coveredBySleep(f: Frame, seq: readonly SeqStep[]): boolean {
  for (const [q, x] of f.sleepIn) if (weakInitial(q, x, seq) !== -2) return true;
  for (const [q, x] of f.done) if (weakInitial(q, x, seq) !== -2) return true;
  return false;
}

/**
 * Retires the explored branch at every node from the end; stops at the deepest node with a branch
 * left (the next execution follows the path to it). Returns false when the tree is exhausted.
 */
function backtrack(frames: Frame[], steps: readonly { thread: number; access: Access }[], stats: DporStats): boolean {
  for (let b = frames.length - 1; b >= 0; b--) {
    const f = frames[b];
    const c = f.node.children.shift();
    if (c === undefined || c.thread !== steps[b].thread) throw new InternalError(`wakeup tree out of step with the execution at step ${b}`);
    f.done.set(c.thread, steps[b].access);
    if (f.node.children.length > 0) {
      frames.length = b + 1;
      return true;
    }
    stats.pruned += f.enabledCount - f.done.size;
  }
  frames.length = 0;
  return false;
}
