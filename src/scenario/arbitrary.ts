/**
 * fast-check arbitraries for scenarios and schedules, shaped so that shrinking removes operations,
 * threads (a thread with no operations is dropped) and preemptions, and lowers page numbers.
 */
import fc from 'fast-check';
import type { Preemption } from '../schedule/preemption';
import type { Scenario, ThreadScenario } from './scenario';

export interface ScenarioBounds {
  /** Highest page index + 1 (1–4 in the spine). */
  readonly pages: number;
  readonly maxOpsPerThread: number;
  /** Whether an OOM-reaper thread may be drawn. */
  readonly oom: boolean;
  /** Whether scenarios with transparent huge pages may be drawn (a fifth of them; default true). */
  readonly thp?: boolean;
  /**
   * Whether madvise(MADV_FREE) may be drawn (default false): the catalogue's pin drivers do not yet
   * model the set_page_dirty of their unpin paths, so with lazyfree pages they would report
   * no-lost-dirty for a gap of the model, not of the driver.
   */
  readonly lazyfree?: boolean;
}

export const DEFAULT_BOUNDS: ScenarioBounds = { pages: 4, maxOpsPerThread: 3, oom: true, thp: true };

/**
 * CPU operations whose call sites handle huge PMDs (split or zap them); the others are not drawn
 * with THP (mprotect's change_pmd_range and fork's copy_huge_pmd are not modelled yet).
 */
const THP_AWARE_CPU_OPS: readonly string[] = ['access', 'munmap', 'dontneed'];

export function scenarioArbitrary(b: ScenarioBounds = DEFAULT_BOUNDS): fc.Arbitrary<Scenario> {
  // Races need threads on the same page: page 0 is drawn half the time, any page otherwise.
  const page = fc.oneof(fc.constant(0), fc.nat({ max: b.pages - 1 }));
  const access = fc.record({ op: fc.constant('access' as const), page, write: fc.boolean() });
  const munmap = fc.record({ op: fc.constant('munmap' as const), page, pages: fc.integer({ min: 1, max: 2 }) }).map((o) => ({ ...o, pages: Math.min(o.pages, b.pages - o.page) }));
  const span = <T extends { page: number; pages: number }>(o: T): T => ({ ...o, pages: Math.min(o.pages, b.pages - o.page) });
  const mprotect = fc.record({ op: fc.constant('mprotect' as const), page, pages: fc.integer({ min: 1, max: 2 }), writable: fc.boolean() }).map(span);
  const dontneed = fc.record({ op: fc.constant('dontneed' as const), page, pages: fc.integer({ min: 1, max: 2 }) }).map(span);
  const fork = fc.constant({ op: 'fork' as const });
  const lazyfree = fc.record({ op: fc.constant('lazyfree' as const), page, pages: fc.integer({ min: 1, max: 2 }) }).map(span);
  const reclaim = fc.record({ op: fc.constant('reclaim' as const), page });
  return fc
    .record({
      cpu: fc.array(
        fc.oneof(
          { arbitrary: access, weight: 4 },
          { arbitrary: munmap, weight: 2 },
          { arbitrary: mprotect, weight: 1 },
          { arbitrary: dontneed, weight: 1 },
          { arbitrary: fork, weight: 1 },
          { arbitrary: lazyfree, weight: b.lazyfree ? 1 : 0 },
        ),
        { maxLength: b.maxOpsPerThread },
      ),
      reclaim: fc.array(reclaim, { maxLength: Math.min(2, b.maxOpsPerThread) }),
      device: fc.array(access, { maxLength: b.maxOpsPerThread }),
      oom: b.oom ? fc.array(fc.constant({ op: 'reap' as const }), { maxLength: 1 }) : fc.constant([]),
      // THP or not (DESIGN §4): order 1 mostly, order 2 sometimes (a walk of several PTEs past the head)
      thpOrder: b.thp === false ? fc.constant(0) : fc.oneof({ arbitrary: fc.constant(0), weight: 16 }, { arbitrary: fc.constant(1), weight: 3 }, { arbitrary: fc.constant(2), weight: 1 }),
    })
    .map(({ cpu: drawn, reclaim: rec, device, oom, thpOrder }) => {
      const threads: ThreadScenario[] = [];
      const cpu = thpOrder > 0 ? drawn.filter((o) => THP_AWARE_CPU_OPS.includes(o.op)) : drawn;
      if (cpu.length) threads.push({ kind: 'cpu', ops: cpu });
      if (rec.length) threads.push({ kind: 'reclaim', ops: rec });
      if (oom.length) threads.push({ kind: 'oom', ops: oom });
      if (device.length) threads.push({ kind: 'device', ops: device });
      return thpOrder > 0 ? { threads, thp: true, thpOrder } : { threads };
    })
    .filter((s) => s.threads.length > 0);
}

/**
 * Up to `max` preemptions of one of `threads` threads after fewer than `maxStep` of its steps, each
 * to another thread (drawn as an offset, so no preemption is wasted on switching to itself).
 */
export function scheduleArbitrary(max = 3, maxStep = 60, threads = 4): fc.Arbitrary<Preemption[]> {
  const preemption = fc
    .record({ thread: fc.nat({ max: threads - 1 }), after: fc.integer({ min: 1, max: maxStep - 1 }), offset: fc.integer({ min: 1, max: Math.max(1, threads - 1) }) })
    .map(({ thread, after, offset }) => ({ thread, after, to: (thread + offset) % threads }));
  return fc.array(preemption, { maxLength: max });
}
