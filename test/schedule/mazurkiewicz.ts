/**
 * Brute-force Mazurkiewicz traces, computed independently of the explorer: every interleaving
 * (exhaustive-naive.ts), each replayed once to read every step's footprint on the machine before
 * it, and canonicalised to the Foata normal form of its dependence partial order.
 */
import { execute, type ExecutionOptions, type ExecutionResult, type ThreadSpec } from '../../src/runtime/execution';
import { footprint, type Footprint } from '../../src/runtime/footprint';
import type { Machine } from '../../src/runtime/machine';
import { verdictName } from '../../src/runtime/verdict';
import { exploreAllInterleavings } from '../../src/schedule/exhaustive-naive';
import type { Scheduler, SchedulerView } from '../../src/schedule/scheduler';

type Build = () => { machine: Machine; threads: ThreadSpec[] };

class Replay implements Scheduler {
  readonly footprints: Footprint[] = [];
  constructor(private readonly choices: readonly number[]) {}
  choose(v: SchedulerView): number {
    const t = this.choices[v.step];
    this.footprints.push(footprint(v.machine!, t, v.pending![t]!));
    return t;
  }
}

function dependent(a: Footprint, b: Footprint): boolean {
  const hit = (x: readonly number[], y: readonly number[]) => x.some((o) => y.includes(o));
  return hit(a.writes, b.writes) || hit(a.writes, b.reads) || hit(a.reads, b.writes);
}

/** The Foata normal form of an execution: levels of its dependence order, each a sorted set of events. */
export function traceKey(build: Build, opts: ExecutionOptions, r: ExecutionResult): string {
  const { machine, threads } = build();
  const replay = new Replay(r.choices);
  execute(machine, threads, replay, opts);
  const fps = replay.footprints;
  const level: number[] = [];
  const seen = new Map<number, number>();
  const labels: string[] = [];
  for (let j = 0; j < r.choices.length; j++) {
    const t = r.choices[j];
    const k = seen.get(t) ?? 0;
    seen.set(t, k + 1);
    const e = r.trace[j].effect;
    labels.push(`${t}.${k}:${e.op}/${e.a}`);
    let lv = 0;
    for (let i = 0; i < j; i++) if (r.choices[i] === t || dependent(fps[i], fps[j])) lv = Math.max(lv, level[i] + 1);
    level.push(lv);
  }
  const levels: string[][] = [];
  labels.forEach((l, j) => (levels[level[j]] ??= []).push(l));
  return levels.map((l) => l.sort().join(',')).join(' | ') + ` => ${verdictName(r.verdict)}`;
}

export interface BruteForce {
  readonly interleavings: number;
  readonly traces: Set<string>;
  readonly verdicts: Set<string>;
}

export function bruteForce(build: Build, opts: ExecutionOptions, maxExecutions = 200_000): BruteForce {
  const traces = new Set<string>();
  const verdicts = new Set<string>();
  const { executions, truncated } = exploreAllInterleavings(build, opts, (r) => {
    traces.add(traceKey(build, opts, r));
    verdicts.add(verdictName(r.verdict));
  }, maxExecutions);
  if (truncated) throw new Error('brute force truncated: program too large for a test');
  return { interleavings: executions, traces, verdicts };
}
