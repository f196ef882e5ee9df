/**
 * Preemption-bounded exhaustive search with happens-before state caching, as CHESS does it
 * (Musuvathi and Qadeer, PLDI 2007 for the bound; MSR-TR-2007-12 for the caching).
 *
 * A depth-first search over every schedule with at most `bound` preemptions (switch-cost.ts),
 * re-executing from the start for each path, that stops a path at a node already explored: same
 * Mazurkiewicz trace of the prefix (trace-hash.ts), same running thread, and no fewer preemptions
 * left. Such a node has the same state (footprints are exact, threads deterministic), the same
 * steps left before the step bound, and the same continuations at the same costs as the one
 * explored, so nothing reachable within the bounds is lost, and every state of every schedule
 * within them is checked on some explored path (state invariants included: no visibility condition
 * is needed here). Before re-running the program to try an alternative, the fingerprint of the node
 * it leads to is computed from the pending step's footprint, so an alternative that leads to an
 * explored node is not even run.
 *
 * Why not DPOR with a bound: bounded partial-order reduction (Coons, Musuvathi, McKinley, OOPSLA
 * 2013) adds backtrack points at races and at the context switch before them, but the only
 * schedule within the bound for a trace may preempt where there is no race at all (just before the
 * other thread blocks on a lock it holds); the tests keep such a program, which BPOR misses.
 */
import { Op, type Effect } from '../runtime/effect';
import { InternalError } from '../runtime/errors';
import type { Machine } from '../runtime/machine';
import { accessOf } from './dependence';
import { newStats, type DporOptions, type DporStats } from './dpor';
import { FingerprintTable } from './fingerprint-table';
import { Abandon, runRecorded, type Policy } from './recorder';
import { freeChoice, preemptionsOf, switchCost, type SwitchContext } from './switch-cost';
import { TraceHasher } from './trace-hash';

interface Frame {
  readonly ctx: SwitchContext;
  /** Preemptions spent before this node. */
  readonly spent: number;
  /** Threads to run from here, within the bound, the free choice first. */
  readonly alternatives: readonly number[];
  /** Fingerprint (3 words each) of the node each alternative leads to, known before running it. */
  readonly leadsTo: number[];
  next: number;
  current: number;
  /** Enabled threads the bound rules out here. */
  readonly cut: number;
}

export function exploreBounded(opts: DporOptions, bound: number): DporStats {
  const stats = newStats();
  const execOpts = { maxSteps: opts.maxSteps, invariants: opts.invariants };
  const maxExecutions = opts.maxExecutions ?? Infinity;
  const frames: Frame[] = [];
  /** Fingerprint of a node (trace of the prefix, running thread) → fewest preemptions it was explored with. */
  const explored = new FingerprintTable();
  let hasher = new TraceHasher(0);
  const replayable = opts.schedules === 'replayable';

  const policy: Policy = {
    choose(i, v, steps) {
      if (i === 0) hasher = new TraceHasher(v.threadCount);
      const prev = i > 0 ? steps[i - 1] : undefined;
      if (prev) hasher.push(prev.thread, prev.access, prev.effect.op, prev.effect.a);
      if (i < frames.length) return frames[i].current;
      if (i !== frames.length) throw new InternalError(`bounded search lost its place at step ${i}`);
      const spent = i > 0 ? frames[i - 1].spent + switchCost(frames[i - 1].ctx, frames[i - 1].current) : 0;
      const ctx: SwitchContext = { prev: prev?.thread ?? -1, prevEnabled: prev !== undefined && v.enabled.includes(prev.thread), prevRelaxed: prev?.effect.op === Op.CpuRelax, enabled: v.enabled.slice() };
      const [h0, h1, h2] = hasher.sums;
      if (!explored.lower(h0, h1, h2, ctx.prev, spent)) throw new Abandon('covered');
      const within = v.enabled.filter((t) => spent + switchCost(ctx, t) <= bound && (!replayable || expressible(ctx, t)));
      const first = freeChoice(ctx, (t) => within.includes(t));
      const alternatives = [first, ...within.filter((t) => t !== first)];
      const leadsTo: number[] = [];
      for (let k = 1; k < alternatives.length; k++) {
        const t = alternatives[k];
        const e = v.pending?.[t] as Effect;
        hasher.sumsWith(t, accessOf(v.machine as Machine, t, e, []), e.op, e.a, leadsTo, 3 * k);
      }
      frames.push({ ctx, spent, alternatives, leadsTo, next: 1, current: first, cut: v.enabled.length - within.length });
      return first;
    },
  };

  for (;;) {
    if (stats.executions >= maxExecutions) {
      stats.stoppedBy = 'maxExecutions';
      return stats;
    }
    const rec = runRecorded(opts.build, execOpts, [], policy, false);
    stats.executions++;
    if (frames.length > rec.steps.length) frames.length = rec.steps.length;
    if (rec.result) {
      if (rec.result.verdict.kind === 'step-budget-exceeded') stats.cutBySteps++;
      if (opts.visit && opts.visit(rec.result, { steps: rec.steps, preemptions: preemptionsOf(rec.steps) }) === false) {
        stats.stoppedBy = 'visit';
        return stats;
      }
    } else {
      stats.pruned++;
    }
    if (!backtrack(frames, explored, stats)) {
      stats.exhausted = true;
      return stats;
    }
  }
}

/**
 * Whether a preemption list over the default order can make `t` run next: any thread when the
 * running one could go on (a preemption), else only the default order's choice.
 */
function expressible(c: SwitchContext, t: number): boolean {
  if (c.prev >= 0 && c.prevEnabled && !c.prevRelaxed) return true;
  return t === freeChoice(c, () => true);
}

/**
 * Moves to the deepest node with an alternative left that leads somewhere not yet explored (with
 * as many preemptions left); false when there is none.
 */
function backtrack(frames: Frame[], explored: FingerprintTable, stats: DporStats): boolean {
  for (let b = frames.length - 1; b >= 0; b--) {
    const f = frames[b];
    while (f.next < f.alternatives.length) {
      const k = f.next++;
      const t = f.alternatives[k];
      const seen = explored.get(f.leadsTo[3 * k], f.leadsTo[3 * k + 1], f.leadsTo[3 * k + 2], t);
      if (seen >= 0 && seen <= f.spent + switchCost(f.ctx, t)) {
        stats.pruned++;
        continue;
      }
      f.current = t;
      frames.length = b + 1;
      return true;
    }
    stats.cutByPreemptions += f.cut;
  }
  frames.length = 0;
  return false;
}
