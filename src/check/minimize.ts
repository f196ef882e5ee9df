/**
 * After fast-check's shrinking, a last deterministic pass that makes a counterexample 1-minimal:
 * removing any one operation or any one preemption makes the violation disappear. It tries each
 * removal in turn and keeps it whenever the same verdict (same invariant) still results, until no
 * single removal does.
 */
import { verdictName } from '../runtime/verdict';
import type { Scenario, ThreadScenario } from '../scenario/scenario';
import type { Preemption } from '../schedule/preemption';
import { runCase, type Case, type ResolvedTarget } from './case';

/**
 * The scenario without operation `op` of thread `t` (its THP, file and DAX flags kept); a thread left
 * empty is dropped and preemptions to later threads renumbered.
 */
export function removeOp(c: Case, t: number, op: number): Case {
  const thread = c.scenario.threads[t];
  const ops = thread.ops.filter((_, i) => i !== op);
  if (ops.length > 0) {
    const threads = c.scenario.threads.map((x, i) => (i === t ? ({ ...x, ops } as ThreadScenario) : x));
    return { ...c, scenario: { ...c.scenario, threads } };
  }
  const threads = c.scenario.threads.filter((_, i) => i !== t);
  const renumber = (x: number) => (x > t ? x - 1 : x);
  const preemptions = c.preemptions.filter((p) => p.to !== t && p.thread !== t).map((p) => ({ thread: renumber(p.thread), after: p.after, to: renumber(p.to) }));
  return { ...c, scenario: { ...c.scenario, threads } satisfies Scenario, preemptions };
}

export function removePreemption(c: Case, i: number): Case {
  return { ...c, preemptions: c.preemptions.filter((_, j) => j !== i) };
}

/** Every case one removal away from `c`. */
export function oneRemovalNeighbours(c: Case): Case[] {
  const out: Case[] = [];
  c.scenario.threads.forEach((t, ti) => t.ops.forEach((_, oi) => out.push(removeOp(c, ti, oi))));
  c.preemptions.forEach((_, i) => out.push(removePreemption(c, i)));
  return out.filter((n) => n.scenario.threads.length > 0);
}

export interface MinimizeResult {
  readonly case: Case;
  readonly executions: number;
}

/** Keeps only the preemptions that the execution actually took (the recorded schedule). */
export function effectivePreemptions(c: Case, taken: readonly Preemption[]): Case {
  return { ...c, preemptions: taken.map((p) => ({ thread: p.thread, after: p.after, to: p.to })) };
}

/**
 * Removing an operation shifts the step numbers of everything after it, so a preemption that made
 * the race may no longer land in the race window. When a removal loses the violation, each of its
 * preemptions is tried at every other step of that execution before the removal is given up.
 */
function* withReplacedPreemptions(n: Case, steps: readonly number[]): Generator<Case> {
  for (let i = 0; i < n.preemptions.length; i++) {
    const p = n.preemptions[i];
    for (let after = 1; after < steps[p.thread]; after++) {
      if (after === p.after) continue;
      yield { ...n, preemptions: n.preemptions.map((q, j) => (j === i ? { thread: q.thread, after, to: q.to } : q)) };
    }
  }
}

export function minimize(start: Case, target: ResolvedTarget): MinimizeResult {
  const want = verdictName(runCase(start, target).verdict);
  let executions = 1;
  const same = (c: Case) => {
    executions++;
    const r = runCase(c, target);
    return r.verdict.kind !== 'pass' && verdictName(r.verdict) === want ? r : null;
  };
  let cur = start;
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of oneRemovalNeighbours(cur)) {
      let r = same(n);
      let found: Case | null = r ? n : null;
      if (!found && n.preemptions.length > 0) {
        const trace = runCase(n, target).trace;
        executions++;
        const steps = n.scenario.threads.map((_, t) => trace.filter((s) => s.thread === t).length + 1);
        for (const m of withReplacedPreemptions(n, steps)) {
          r = same(m);
          if (r) {
            found = m;
            break;
          }
        }
      }
      if (found && r) {
        cur = effectivePreemptions(found, r.preemptions);
        changed = true;
        break;
      }
    }
  }
  return { case: cur, executions };
}
