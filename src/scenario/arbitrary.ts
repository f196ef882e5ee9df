/**
 * fast-check arbitraries for scenarios and schedules, shaped so that shrinking removes operations,
 * threads (a thread with no operations is dropped) and preemptions, and lowers page numbers.
 */
import fc from 'fast-check';
import type { Preemption } from '../schedule/preemption';
import type { CpuOp, DeviceAccess, Scenario, ThreadScenario } from './scenario';

export interface ScenarioBounds {
  /** Highest page index + 1 (1–4 in the spine). */
  readonly pages: number;
  readonly maxOpsPerThread: number;
  /** Whether an OOM-reaper thread may be drawn. */
  readonly oom: boolean;
  /** Whether scenarios with transparent huge pages may be drawn (a fifth of them; default true). */
  readonly thp?: boolean;
  /**
   * Whether madvise(MADV_FREE) may be drawn (default true; false leaves it out): its lazyfree pages,
   * which reclaim discards while clean, are what the no-lost-dirty invariant needs. The drivers model
   * how their writes reach the page's dirty state (set_page_dirty at unpin, gup's FOLL_TOUCH, the ATS
   * walk's dirty bit, KVM's kvm_set_pfn_dirty).
   */
  readonly lazyfree?: boolean;
  /** Whether a migration thread (migrate_pages of one or two pages) may be drawn (default true; a quarter of the scenarios). */
  readonly migrate?: boolean;
  /** Whether a ksmd thread (1–2 merges; a THP's subpage is split first) may be drawn (default true; a fifth of the scenarios). */
  readonly ksm?: boolean;
  /**
   * Whether exit may be drawn (default true): the cpu thread's last operation, the task, the mm's
   * last user, exits (exit_mmap → ->release), in an eighth of the scenarios.
   */
  readonly exit?: boolean;
  /**
   * Whether unregister may be drawn (the device thread's last operation: mmu_interval_notifier_remove
   * of its subscriptions and mmu_notifier_unregister), in an eighth of the scenarios (default false:
   * drawn only on request). Not by default: it is the bare kernel call, not each driver's own
   * teardown (amdgpu_mn_destroy takes amn->lock for write before mmu_notifier_unregister_no_release,
   * so it never leaves a v4.19 bracket holding the read side; nouveau tears down from its channel).
   */
  readonly lifetime?: boolean;
  /**
   * Whether reclaim's aging pass (`age`: page_referenced → ->clear_flush_young, kernel/aging.ts) may
   * be drawn, as a reclaim thread of its own added last, in two thirds of the scenarios (default
   * false: drawn only on request, `--also aging`).
   */
  readonly aging?: boolean;
  /**
   * Whether clear_refs soft-dirty (`echo 4 > /proc/self/clear_refs`) may be drawn into a drawn cpu
   * thread, in an eighth of the scenarios (default true).
   */
  readonly clearRefs?: boolean;
  /**
   * Whether the device's driver may register while the threads run (its thread's first operation:
   * mmu_notifier_register, mmu_interval_notifier_insert), in an eighth of the scenarios with a
   * device thread (default true).
   */
  readonly register?: boolean;
  /**
   * Whether a MAP_SHARED file VMA with a writeback thread (write_cache_pages → page_mkclean,
   * src/kernel/writeback.ts) may be drawn, in an eighth of the scenarios (default false: drawn only
   * on request). Such a scenario keeps only what the model has for a shared file VMA: its cpu
   * accesses, munmap and MADV_DONTNEED, half the time a hole punched in the file
   * (src/kernel/truncate.ts), the device thread, no THP.
   */
  readonly file?: boolean;
  /**
   * With `file`: a drawn file scenario whose THP order is not 0 becomes a DAX file with PMD faults
   * (src/kernel/dax.ts; catalogue B3): cpu accesses, device and writeback only. Draws nothing more
   * (default false: the file scenarios draw as before).
   */
  readonly dax?: boolean;
  /**
   * Whether NUMA balancing's scanner may be drawn (a `numa` thread: task_numa_work → change_prot_numa
   * over one or two pages, whose hinting entries the next access faults on and migrates;
   * src/kernel/numa.ts), in an eighth of the scenarios without exit (default true).
   */
  readonly numa?: boolean;
}

export const DEFAULT_BOUNDS: ScenarioBounds = { pages: 4, maxOpsPerThread: 3, oom: true, thp: true };

/**
 * CPU operations whose call sites handle huge PMDs (split, zap, change_huge_pmd, copy_huge_pmd,
 * clear_soft_dirty_pmd or madvise_free_huge_pmd them); the others are not drawn with THP.
 */
const THP_AWARE_CPU_OPS: readonly string[] = ['access', 'munmap', 'dontneed', 'mprotect', 'fork', 'clearRefs', 'lazyfree'];

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
  const migrate = fc.record({ op: fc.constant('migrate' as const), page });
  // ksmd merges two different pages: `with` is `page` plus a non-zero offset
  const merge = fc.record({ page, offset: fc.integer({ min: 1, max: Math.max(1, b.pages - 1) }) }).map(({ page: pg, offset }) => ({ op: 'merge' as const, page: pg, with: (pg + offset) % Math.max(2, b.pages) }));
  return fc
    .record({
      cpu: fc.array(
        fc.oneof(
          { arbitrary: access, weight: 4 },
          { arbitrary: munmap, weight: 2 },
          { arbitrary: mprotect, weight: 1 },
          { arbitrary: dontneed, weight: 1 },
          { arbitrary: fork, weight: 1 },
          { arbitrary: lazyfree, weight: b.lazyfree === false ? 0 : 1 },
        ),
        { maxLength: b.maxOpsPerThread },
      ),
      reclaim: fc.array(reclaim, { maxLength: Math.min(2, b.maxOpsPerThread) }),
      device: fc.array(access, { maxLength: b.maxOpsPerThread }),
      oom: b.oom ? fc.array(fc.constant({ op: 'reap' as const }), { maxLength: 1 }) : fc.constant([]),
      // THP or not (DESIGN §4): order 1 mostly, order 2 sometimes (a walk of several PTEs past the head)
      thpOrder: b.thp === false ? fc.constant(0) : fc.oneof({ arbitrary: fc.constant(0), weight: 16 }, { arbitrary: fc.constant(1), weight: 3 }, { arbitrary: fc.constant(2), weight: 1 }),
      // page migration: a low weight, at most two pages (drawn last: the other fields draw as before)
      mig: b.migrate === false ? fc.constant([]) : fc.oneof({ arbitrary: fc.constant([]), weight: 3 }, { arbitrary: fc.array(migrate, { minLength: 1, maxLength: 2 }), weight: 1 }),
      // KSM: a low weight, at most two merges, with or without THP (drawn after the others: they draw as before)
      ksm: b.ksm === false ? fc.constant([]) : fc.oneof({ arbitrary: fc.constant([]), weight: 4 }, { arbitrary: fc.array(merge, { minLength: 1, maxLength: 2 }), weight: 1 }),
      // exit_mmap / mmu_notifier_unregister: a low weight, drawn after the others (they draw as before)
      exit: b.exit === false ? fc.constant(false) : fc.oneof({ arbitrary: fc.constant(false), weight: 7 }, { arbitrary: fc.constant(true), weight: 1 }),
      unreg: b.lifetime !== true ? fc.constant(false) : fc.oneof({ arbitrary: fc.constant(false), weight: 7 }, { arbitrary: fc.constant(true), weight: 1 }),
      // clear_refs soft-dirty: a low weight, at a drawn place among the cpu thread's operations (drawn last: the other
      // fields draw as before, though the schedule drawn after the scenario changes)
      softDirty: b.clearRefs === false ? fc.constant(-1) : fc.oneof({ arbitrary: fc.constant(-1), weight: 7 }, { arbitrary: fc.nat({ max: b.maxOpsPerThread }), weight: 1 }),
      // registration while running: a low weight, drawn last (the other fields draw as before)
      reg: b.register === false ? fc.constant(false) : fc.oneof({ arbitrary: fc.constant(false), weight: 7 }, { arbitrary: fc.constant(true), weight: 1 }),
      // a shared file VMA with writeback: only on request, drawn last (the other fields draw as before)
      wb: b.file !== true ? fc.constant([]) : fc.oneof({ arbitrary: fc.constant([]), weight: 7 }, { arbitrary: fc.array(fc.record({ op: fc.constant('writeback' as const), page }), { minLength: 1, maxLength: 2 }), weight: 1 }),
      // reclaim's aging pass: only on request, drawn last (the other fields draw as before)
      age: b.aging !== true ? fc.constant([]) : fc.oneof({ arbitrary: fc.constant([]), weight: 1 }, { arbitrary: fc.array(fc.record({ op: fc.constant('age' as const), page }), { minLength: 1, maxLength: 2 }), weight: 2 }),
      // NUMA balancing's scanner: a low weight, drawn last (the other fields draw as before)
      // a hole punched in the shared file: only with a file scenario, drawn last (the other fields draw as before)
      punch: b.file !== true ? fc.constant([]) : fc.oneof({ arbitrary: fc.constant([]), weight: 1 }, { arbitrary: fc.array(fc.record({ op: fc.constant('punch' as const), page }), { minLength: 1, maxLength: 1 }), weight: 1 }),
      numa: b.numa === false ? fc.constant([]) : fc.oneof({ arbitrary: fc.constant([]), weight: 7 }, { arbitrary: fc.array(fc.record({ op: fc.constant('scan' as const), page, pages: fc.integer({ min: 1, max: 2 }) }).map(span), { minLength: 1, maxLength: 1 }), weight: 1 }),
    })
    .map(({ cpu: drawn, reclaim: rec, device, oom, thpOrder, mig, ksm, exit, unreg, softDirty, reg, wb, age, punch, numa }) => {
      if (wb.length) {
        // the shared file VMA: what the model has for it (scenario.ts validateScenario), plus the writeback thread
        const fileCpu: CpuOp[] = [...drawn.filter((o) => o.op === 'access' || o.op === 'munmap' || o.op === 'dontneed'), ...punch, ...(exit ? [{ op: 'exit' as const }] : [])];
        const fileThreads: ThreadScenario[] = [];
        if (fileCpu.length) fileThreads.push({ kind: 'cpu', ops: fileCpu });
        if (device.length) fileThreads.push({ kind: 'device', ops: device });
        fileThreads.push({ kind: 'writeback', ops: wb });
        if (b.dax === true && thpOrder > 0) {
          // the DAX file (kernel/dax.ts): only cpu accesses are modelled on it
          const daxThreads = fileThreads.map((t) => (t.kind === 'cpu' ? { kind: 'cpu' as const, ops: t.ops.filter((o) => o.op === 'access') } : t)).filter((t) => t.ops.length > 0);
          return { threads: daxThreads, file: true, thp: true, thpOrder, dax: true };
        }
        return { threads: fileThreads, file: true };
      }
      const threads: ThreadScenario[] = [];
      const aware: CpuOp[] = thpOrder > 0 ? drawn.filter((o) => THP_AWARE_CPU_OPS.includes(o.op)) : drawn;
      // into a cpu thread that was drawn anyway: a scenario without one stays as it was
      const cpu = softDirty < 0 || aware.length === 0 ? aware : [...aware.slice(0, softDirty), { op: 'clearRefs' as const }, ...aware.slice(softDirty)];
      if (cpu.length) threads.push({ kind: 'cpu', ops: cpu });
      if (rec.length) threads.push({ kind: 'reclaim', ops: rec });
      if (oom.length) threads.push({ kind: 'oom', ops: oom });
      if (device.length) threads.push({ kind: 'device', ops: reg ? [{ op: 'register' as const }, ...device] : device });
      if (mig.length) threads.push({ kind: 'migrate', ops: mig });
      // last, so that the other threads keep their indices (and the schedules drawn for them)
      if (ksm.length) threads.push({ kind: 'ksmd', ops: ksm }); // a THP's subpage is split first (try_to_merge_one_page)
      // exit ends the (only) cpu thread, unregister the device thread (exit.ts, mmu_notifier.ts)
      if (exit) {
        const i = threads.findIndex((t) => t.kind === 'cpu');
        if (i >= 0) threads[i] = { kind: 'cpu', ops: [...(threads[i].ops as CpuOp[]), { op: 'exit' }] };
        else threads.unshift({ kind: 'cpu', ops: [{ op: 'exit' }] });
      }
      if (unreg) {
        const i = threads.findIndex((t) => t.kind === 'device');
        if (i >= 0) threads[i] = { kind: 'device', ops: [...(threads[i].ops as DeviceAccess[]), { op: 'unregister' }] };
      }
      // the aging pass: a reclaim thread of its own, last (the other threads keep their indices)
      if (age.length) threads.push({ kind: 'reclaim', ops: age });
      // the scanner is another thread of the process: not beside the mm's last user exiting
      if (numa.length && !exit) threads.push({ kind: 'numa', ops: numa });
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
