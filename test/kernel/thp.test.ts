/**
 * Transparent huge pages (src/kernel/huge_memory.ts, rmap-thp.ts, runtime/apply-huge.ts): the
 * machine's compound pages and huge PMDs, the call sites that map, split, zap and reclaim them,
 * and the history they decide — Andrea Arcangeli's bugs 2 and 3 in aac2fea9 (reference §1.c, B5,
 * B6), B3 on v4.12, B14 (nested brackets with ODP's umem_rwsem).
 */
import { describe, expect, it } from 'vitest';
import { resolve, runCase, type Case } from '../../src/check/case';
import { driverByName } from '../../src/drivers';
import { ibUmemOdp419, ibUmemOdpRwsemHeld, type OdpState } from '../../src/drivers/umem_odp';
import { ERAS, eraByName } from '../../src/eras';
import { aac2fea9, aac2fea9Bug2Only, aac2fea9Bug3Only } from '../../src/eras/aac2fea9';
import { deriveEra, type Era } from '../../src/eras/era';
import { CORE_INVARIANTS, DRIVER_INVARIANTS, INVARIANTS, selectInvariants } from '../../src/invariants';
import { Op } from '../../src/runtime/effect';
import { execute, type ExecutionResult, type TraceStep } from '../../src/runtime/execution';
import { PAGE_SIZE, VMA_BASE, pageTableEntry, type Machine } from '../../src/runtime/machine';
import { site } from '../../src/runtime/site';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import { buildExecution } from '../../src/scenario/build';
import { catalogueEntry } from '../../src/scenario/catalogue';
import type { Scenario } from '../../src/scenario/scenario';
import { PreemptionScheduler } from '../../src/schedule/preemption';
import { decodeToken, encodeToken } from '../../src/schedule/token';
import * as hp from '../../src/runtime/huge-primitives';
import { dupMapping } from '../../src/runtime/primitives';
import { flushTlb, invalidateRangeEnd, invalidateRangeStart } from '../../src/kernel/mmu_notifier';
import { explore } from '../../src/check/explore';
import { verdictName } from '../../src/runtime/verdict';
import fc from 'fast-check';
import { kvmStartKeeps } from '../drivers/kvm-variants';

type Threads = Scenario['threads'];
const addr = (vpn: number) => VMA_BASE + vpn * PAGE_SIZE;
const hexa = (vpn: number) => '0x' + addr(vpn).toString(16);

/** Runs a scenario in the default order; a test-only era (aac2fea9 with a bug fixed) runs the drivers written for aac2fea9. */
function run(kernel: string | Era, driver: string, scenario: Scenario, invariants?: readonly string[], observe?: (m: Machine, s: TraceStep) => void, preemptions: Case['preemptions'] = []): ExecutionResult {
  const era = typeof kernel === 'string' ? eraByName(kernel) : kernel;
  const real = ERAS.some((e) => e.name === era.name) ? era.name : 'aac2fea9';
  const c: Case = { kernel: real, driver, scenario, preemptions, maxSteps: 3000, ...(invariants ? { invariants } : {}) };
  return runCase(c, { ...resolve(real, driver), era }, observe ? (m, s) => observe(m, s) : undefined);
}

const thp = (threads: Threads, thpOrder = 1): Scenario => ({ thp: true, thpOrder, threads });
const texts = (r: ExecutionResult) => r.trace.map((s) => s.effect.text ?? '');

describe('compound pages and huge PMDs in the machine', () => {
  it('a write fault on an aligned region maps a THP: one refcount on the head, compound mapcount, a subpage view per address', () => {
    const r = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 1, write: true }] }], 2));
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    const pmd = m.pmds[0]!;
    expect(pmd).toMatchObject({ writable: true, dirty: true });
    const head = m.pages[pmd.pfn];
    expect(head).toMatchObject({ order: 2, refcount: 1, compoundMapcount: 1, compoundHead: -1 });
    for (let i = 1; i < 4; i++) expect(m.pages[pmd.pfn + i]).toMatchObject({ refcount: 0, compoundHead: pmd.pfn, order: 0 });
    expect(m.ptes.every((p) => p === null)).toBe(true);
    expect(pageTableEntry(m, 3)).toMatchObject({ pfn: pmd.pfn + 3, huge: true });
    expect(texts(r).some((t) => t.startsWith('set_pmd_at(0x100000'))).toBe(true);
  });

  it('a read fault maps the huge zero page; a region the VMA does not cover whole takes the PTE path', () => {
    const read = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }] }]));
    expect(read.machine.pmds[0]).toMatchObject({ writable: false, pfn: read.machine.hugeZero });
    expect(pageTableEntry(read.machine, 0)).toMatchObject({ huge: true, hugeZero: true }); // is_huge_zero_pmd
    expect(read.machine.ptes[0]).toBeNull();
    const cut = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [{ op: 'munmap', page: 1, pages: 1 }, { op: 'access', page: 0, write: true }] }]));
    expect(cut.machine.pmds[0]).toBeNull();
    expect(cut.machine.ptes[0]).toMatchObject({ writable: true });
  });

  it('munmap of the whole region: zap_huge_pmd, and the THP freed whole (every subpage, generation bumped) after range_end', () => {
    const r = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 2 }] }]));
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    expect(m.pages[1]).toMatchObject({ free: true, generation: 1, order: 0 });
    expect(m.pages[2]).toMatchObject({ free: true, generation: 1, compoundHead: 1 }); // a freed THP's tails keep their head: it is reused whole
    expect(m.freeHuge).toEqual([1]);
    const t = texts(r);
    expect(t.some((x) => x.startsWith('pmdp_huge_get_and_clear_full(0x100000); page_remove_rmap(page, true)'))).toBe(true);
    const end = r.trace.findIndex((s) => /^mmu_notifier_invalidate_range_end\(0x100000, 0x102000\) returned/.test(s.effect.text ?? ''));
    const free = r.trace.findIndex((s) => s.effect.op === Op.PutPage && s.effect.at.fn === 'tlb_flush_mmu_free');
    expect(end).toBeGreaterThan(0);
    expect(free).toBeGreaterThan(end);
  });

  it('madvise(DONTNEED) of part of a THP: __split_huge_pmd nests its bracket inside the zap\'s (reference S7)', () => {
    const r = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'dontneed', page: 1, pages: 1 }] }]));
    expect(r.verdict.kind).toBe('pass');
    const t = texts(r);
    const zapStart = t.indexOf('mmu_notifier_invalidate_range_start(0x101000, 0x102000)');
    const splitStart = t.indexOf('mmu_notifier_invalidate_range_start(0x100000, 0x102000)');
    const zapEnd = t.findIndex((x) => x.startsWith('mmu_notifier_invalidate_range_end(0x101000, 0x102000)'));
    expect(zapStart).toBeGreaterThan(0);
    expect(splitStart).toBeGreaterThan(zapStart);
    expect(zapEnd).toBeGreaterThan(splitStart);
    // the PTE-mapped THP keeps its head page mapped, a reference per PTE
    const m = r.machine;
    expect(m.pmds[0]).toBeNull();
    expect(m.ptes[0]).toMatchObject({ pfn: 1, swap: false });
    expect(m.ptes[1]).toBeNull();
    expect(m.pages[1]).toMatchObject({ order: 1, refcount: 1, compoundMapcount: 0, mapcount: 1 });
  });

  it('gup of a huge PMD (KVM: gup_huge_pmd) takes and drops its reference on the head; the spte maps the subpage', () => {
    const r = run('v4.13', 'kvm', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'device', ops: [{ op: 'access', page: 1, write: true }] }]));
    expect(r.verdict.kind).toBe('pass');
    expect(r.trace.some((s) => s.effect.at.fn === 'gup_huge_pmd: page_cache_add_speculative(head, refs)')).toBe(true);
    expect(r.machine.tables[0].entries[1]).toMatchObject({ pfn: 2, writable: true });
    expect(r.machine.pages[1].refcount).toBe(1);
  });
});

describe('a write to a read-only huge PMD shared with another mapping (do_huge_pmd_wp_page)', () => {
  /**
   * fork and mprotect do not handle huge PMDs yet (copy_huge_pmd, change_huge_pmd): a hand-driven
   * thread stands for fork's copy_huge_pmd — pmdp_set_wrprotect and the child's page_dup_rmap — after
   * a THP write fault, then the parent writes again.
   */
  function cow(kernel: string): ExecutionResult {
    const scenario = thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }]);
    const built = buildExecution(eraByName(kernel), [driverByName('observer', kernel)], scenario);
    const FORK = site('mm/huge_memory.c', 'copy_huge_pmd', 'v4.13', 'hand-driven: fork does not handle huge PMDs in the model yet');
    const range = { start: addr(0), end: addr(2) };
    const fork = function* () {
      yield* invalidateRangeStart(built.kc, range, FORK); // copy_page_range's bracket
      yield* built.kc.k.spinLock(1, FORK);
      const pmd = built.machine.pmds[0]!; // read by the test between steps: the fault has run
      yield* built.kc.k.getPageUnlessZero({ pfn: pmd.pfn, generation: pmd.generation }, FORK); // a step so the PMD is read after the fault
      yield* hp.pmdSet(0, { ...pmd, writable: false }, FORK, 'pmdp_set_wrprotect');
      yield* dupMapping({ pfn: pmd.pfn, generation: pmd.generation }, FORK); // the child's page_dup_rmap (its reference is the get above)
      yield* built.kc.k.putPage({ pfn: pmd.pfn, generation: pmd.generation }, FORK);
      yield* built.kc.k.spinUnlock(1, FORK);
      yield* invalidateRangeEnd(built.kc, range, FORK);
      yield* flushTlb(built.kc, 0, 2, FORK); // dup_mmap: flush_tlb_mm(oldmm) (v6.6: -> arch_invalidate_secondary_tlbs)
    };
    const faultAgain = built.threads[1];
    const threads = [built.threads[0], { name: 'fork', body: fork() }, faultAgain];
    built.machine.threads.push({ name: 'cpu2', atomic: 0, nonBlock: 0, retries: 0, held: [], done: false });
    return execute(built.machine, threads, new PreemptionScheduler([]), { maxSteps: 2000, invariants: INVARIANTS });
  }

  it('≤ v5.7 copies the THP into a new one inside a start/end bracket, pmdp_huge_clear_flush_notify under the PMD lock', () => {
    const r = cow('v4.13');
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    expect(m.pmds[0]).toMatchObject({ writable: true });
    expect(m.pmds[0]!.pfn).not.toBe(1);
    expect(m.pages[1]).toMatchObject({ free: false, refcount: 1, order: 1 }); // the child's
    expect(texts(r)).toContain('mmu_notifier_invalidate_range_start(0x100000, 0x102000)');
    expect(texts(r)).toContain('mmu_notifier_invalidate_range(0x100000, 0x102000)');
  });

  it('v6.6 (v5.8+) splits the PMD and COWs the faulting subpage at the PTE level', () => {
    const r = cow('v6.6');
    expect(r.verdict).toEqual({ kind: 'pass' });
    const m = r.machine;
    expect(m.pmds[0]).toBeNull();
    // the child's page_dup_rmap stands on the head subpage: page_mapcount(head subpage) is 2 after the split
    expect(m.ptes[0]).toMatchObject({ writable: true });
    expect(m.ptes[0]!.pfn).not.toBe(1); // a copy of the subpage (wp_page_copy)
    expect(m.ptes[1]).toMatchObject({ pfn: 2, writable: false });
    expect(r.trace.some((st) => st.effect.at.fn === 'do_huge_pmd_wp_page: __split_huge_pmd; return VM_FAULT_FALLBACK')).toBe(true);
  });
});

describe('reclaim of a THP, in each era\'s form (Era.thpReclaim)', () => {
  const pmdMapped = thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'reclaim', ops: [{ op: 'reclaim', page: 1 }] }]);

  it('v4.13 splits it (freeze: migration entries under __split_huge_pmd\'s bracket), then frees each subpage as an order-0 page', () => {
    const r = run('v4.13', 'observer', pmdMapped, CORE_INVARIANTS);
    expect(r.verdict.kind).toBe('pass');
    const t = texts(r);
    expect(t.some((x) => x.startsWith('__split_huge_pmd_locked(0x100000, freeze = true)'))).toBe(true);
    expect(t.some((x) => /page_ref_freeze\(pfn 1\/g0, 3\): __split_huge_page/.test(x))).toBe(true); // 1 + extra_pins (HPAGE_PMD_NR in the swap cache)
    expect(r.machine.pages[1]).toMatchObject({ free: true, generation: 1 });
    expect(r.machine.pages[2]).toMatchObject({ free: true, generation: 1 });
    expect(r.machine.freeHuge).toEqual([]);
  });

  it('v4.19 swaps it out whole: TTU_SPLIT_HUGE_PMD, every PTE in one bracket, __remove_mapping freezes 1 + HPAGE_PMD_NR', () => {
    const r = run('v4.19', 'observer', pmdMapped, CORE_INVARIANTS);
    expect(r.verdict.kind).toBe('pass');
    const t = texts(r);
    expect(t.some((x) => x.startsWith('__split_huge_pmd_locked(0x100000, freeze = false)'))).toBe(true);
    expect(t).toContain('mmu_notifier_invalidate_range_start(0x100000, 0x102000)');
    expect(r.trace.some((s) => s.effect.op === Op.PageRefFreeze && s.effect.c === 3 && s.result === true)).toBe(true);
    expect(r.machine.freeHuge).toEqual([1]);
    expect(r.machine.ptes.slice(0, 2).every((p) => p?.swap === true)).toBe(true);
  });

  it('KVM keeps up with it in every era it is written for', () => {
    const scenario = thp([
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'device', ops: [{ op: 'access', page: 1, write: false }] },
      { kind: 'reclaim', ops: [{ op: 'reclaim', page: 1 }] },
      { kind: 'device', ops: [{ op: 'access', page: 1, write: true }] },
    ]);
    for (const kernel of ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.5', 'v6.6']) expect(run(kernel, 'kvm', scenario).verdict.kind).toBe('pass');
  });
});

/**
 * A PTE-mapped THP of order 2 (munmap of its head page split the PMD), the device having read its
 * three mapped subpages, then reclaim: split_huge_page's freeze walk visits the PTEs of 0x101000,
 * 0x102000 and 0x103000.
 */
const walked = thp(
  [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }] },
    { kind: 'device', ops: [1, 2, 3].map((page) => ({ op: 'access' as const, page, write: false })) },
    { kind: 'reclaim', ops: [{ op: 'reclaim', page: 1 }] },
  ],
  2,
);
const rangesFixed = deriveEra(aac2fea9, { name: 'aac2fea9-ranges-fixed', summary: 'test-only', source: 'test-only', rangeAfterWalk: { lengthInPages: false, startAtLastPte: false } });
const NOT_TOLD = /changed the mapping of 0x10[123]000 .*no invalidate_range after it \(devices sharing the page table were not told\)/;

/**
 * The IOTLB entries, and the migration entries, right after the freeze walk's bare invalidate_range
 * returned (the first one aac2fea9 makes from try_to_unmap_one), when the device translates the three
 * subpages between split_huge_pmd_address's bracket (whose range_end calls ->invalidate_range over
 * the huge page: the IOTLB is empty before it) and the walk: reclaim preempted after that bracket.
 */
function afterFreezeWalk(era: Era, driver: string): { left: number[]; migration: number[]; verdict: ExecutionResult['verdict'] } {
  const plain = run(era, driver, walked, DRIVER_INVARIANTS);
  const reclaim = 2;
  const endOfSplit = plain.trace.findIndex((s) => s.thread === reclaim && s.effect.at.fn === '__split_huge_pmd' && /invalidate_range_end.*returned/.test(s.effect.text ?? ''));
  const after = plain.trace.slice(0, endOfSplit + 1).filter((s) => s.thread === reclaim).length;
  let left: number[] | null = null;
  let migration: number[] = [];
  const walkedWithDevice = thp([walked.threads[0], walked.threads[2], walked.threads[1]], 2);
  const r = run(era, driver, walkedWithDevice, DRIVER_INVARIANTS, (m, s) => {
    if (left !== null || s.effect.op !== Op.Notify || s.effect.at.version !== 'aac2fea9' || !/^mmu_notifier_invalidate_range returned/.test(s.effect.text ?? '')) return;
    left = m.tables[0].entries.flatMap((x, v) => (x ? [v] : []));
    migration = m.ptes.flatMap((p, v) => (p?.migration ? [v] : []));
  }, [{ thread: 1, after, to: 2 }]);
  return { left: left ?? [-1], migration, verdict: r.verdict };
}

describe("aac2fea9: Andrea Arcangeli's bugs 2 and 3 on a THP (reference §1.c, B5, B6)", () => {
  it.each([
    ['aac2fea9 (both)', aac2fea9],
    ['bug 2 alone: 1UL << compound_order(page)', aac2fea9Bug2Only],
    ['bug 3 alone: the start at the last PTE visited', aac2fea9Bug3Only],
  ])('%s: full-range-invalidated catches the core VM (the freeze walk\'s range misses subpages)', (_n, era) => {
    const r = run(era, 'observer', walked, CORE_INVARIANTS);
    expect(r.verdict.kind === 'violation' && r.verdict.invariant).toBe('full-range-invalidated');
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(NOT_TOLD);
    // the one range after the walk: [last PTE, +4 bytes), [haddr, +4 bytes), [last PTE, +16 KiB)
    const range = { aac2fea9: '(0x103000, 0x103004)', 'aac2fea9-bug2-only': '(0x100000, 0x100004)', 'aac2fea9-bug3-only': '(0x103000, 0x107000)' }[era.name as 'aac2fea9'];
    expect(texts(r)).toContain(`mmu_notifier_invalidate_range${range}`);
  });

  it('with both ranges fixed only bug 1 is left (no start/end bracket), so the two are each what the test above catches', () => {
    const r = run(rangesFixed, 'observer', walked, CORE_INVARIANTS);
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/no invalidate_range_start\/end bracket/);
    expect(r.verdict.kind === 'violation' && r.verdict.message).not.toMatch(/no invalidate_range after it/);
  });

  // Which IOTLB entries the freeze window leaves stale, by each driver's flush granularity:
  // AMD IOMMUv2 flushes one page when (start ^ (end - 1)) < PAGE_SIZE, else the whole IOTLB, so bug 3
  // alone (a 16 KiB range) is hidden; Intel SVM flushes the AM-aligned block holding start, and
  // [0x103000, +16 KiB) rounds to the aligned block of the THP, so bug 3 alone is hidden too. Bug 2
  // alone (4 bytes at haddr) leaves subpages 1–3 in both.
  const eras: Record<string, Era> = { aac2fea9, 'aac2fea9-bug2-only': aac2fea9Bug2Only, 'aac2fea9-bug3-only': aac2fea9Bug3Only };
  it.each([
    ['amd-iommu-v2', 'aac2fea9-bug2-only', [1, 2, 3]],
    ['amd-iommu-v2', 'aac2fea9-bug3-only', []],
    ['intel-svm', 'aac2fea9-bug2-only', [1, 2, 3]],
    ['intel-svm', 'aac2fea9-bug3-only', []],
    ['amd-iommu-v2', 'aac2fea9', [1, 2]],
    ['intel-svm', 'aac2fea9', [1, 2]],
  ] as const)('%s on %s: IOTLB entries left stale by the freeze walk: %j', (driver, era, expected) => {
    const got = afterFreezeWalk(eras[era], driver);
    expect(got.left).toEqual(expected);
    expect(got.migration).toEqual([1, 2, 3]); // stale: the CPU PTEs are migration entries then
    // ...but no driver invariant fails: split_huge_page remaps the same pages, and each subpage is then
    // unmapped alone with a one-page range the driver flushes before it can be freed: here B5/B6 are
    // core-VM findings (full-range-invalidated), not a freed page
    expect(got.verdict.kind).toBe('pass');
  });

  it.each(['amd-iommu-v2', 'intel-svm'])('%s: no driver invariant fails on aac2fea9 with a THP in the default order either', (driver) => {
    for (const era of Object.values(eras)) expect(run(era, driver, walked, DRIVER_INVARIANTS).verdict.kind).toBe('pass');
  });

  it.each(['v4.13', 'v4.15', 'v4.19'])('the same drivers and the core VM pass on %s', (kernel) => {
    for (const driver of ['amd-iommu-v2', 'intel-svm', 'observer']) expect(run(kernel, driver, walked, INVARIANTS.map((i) => i.name)).verdict.kind).toBe('pass');
  });

  it('the catalogue scenario fault-vs-reclaim-thp shows it: aac2fea9 fails full-range-invalidated, v4.13 passes', () => {
    const { scenario } = catalogueEntry('fault-vs-reclaim-thp');
    expect(run(aac2fea9Bug2Only, 'observer', scenario, CORE_INVARIANTS).verdict).toMatchObject({ invariant: 'full-range-invalidated' });
    expect(run(aac2fea9Bug3Only, 'observer', scenario, CORE_INVARIANTS).verdict).toMatchObject({ invariant: 'full-range-invalidated' });
    expect(run('v4.13', 'observer', scenario, CORE_INVARIANTS).verdict.kind).toBe('pass');
  });
});

describe('B3 on v4.12: a THP-unaware invalidate_page user (one 4 KiB flush per call)', () => {
  it('passes: v4.12 try_to_unmap_one calls invalidate_page with each PTE\'s own pvmw.address (mm/rmap.c v4.12)', () => {
    const r = run('v4.12', 'amd-iommu-v2', walked, INVARIANTS.map((i) => i.name));
    expect(r.verdict.kind).toBe('pass');
    const freeze = r.trace.filter((s) => /^mmu_notifier_invalidate_page\(/.test(s.effect.text ?? '') && s.effect.at.version === 'v4.12').map((s) => s.effect.text);
    expect(freeze.slice(0, 3)).toEqual([1, 2, 3].map((v) => `mmu_notifier_invalidate_page(${hexa(v)})`));
  });
});

describe('B14: ODP holds umem_rwsem across the bracket, and a THP split nests a bracket inside zap', () => {
  const dontneed = thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'dontneed', page: 1, pages: 1 }] }]);

  it('lockdep reports the recursive down_read on v5.0 from the real call sites (madvise → zap_pmd_range → __split_huge_pmd)', () => {
    const r = run('v5.0', 'ib-umem-odp-rwsem-held', dontneed);
    expect(r.verdict.kind === 'violation' && r.verdict.invariant).toBe('no-deadlock');
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/cpu takes context->umem_rwsem for read while already holding it/);
    const step = r.verdict.kind === 'violation' ? r.verdict.step : -1;
    expect(r.trace[step].effect.at.fn).toBe('ib_umem_notifier_invalidate_range_start');
    expect(r.trace.slice(0, step).some((s) => s.effect.at.fn === '__split_huge_pmd')).toBe(true);
  });

  /** The madvise thread of the scenario and an MR registration (ib_umem_odp_get: down_write) preempting it after `after` steps. */
  function withWriter(kernel: string, def: typeof ibUmemOdpRwsemHeld, after: number): ExecutionResult {
    const scenario = thp([...dontneed.threads, { kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }] }]);
    const built = buildExecution(eraByName(kernel), [def], scenario);
    const s = built.kc.notifiers[0].state as OdpState;
    const REG = site('drivers/infiniband/core/umem_odp.c', 'ib_umem_odp_get: down_write(&per_mm->umem_rwsem)', 'v5.4', 'hand-driven: MR registration is not a scenario operation');
    const writer = function* () {
      yield* built.kc.k.downWrite(s.umemRwsem, REG);
      yield* built.kc.k.upWrite(s.umemRwsem, REG);
    };
    const threads = [built.threads[0], { name: 'register', body: writer() }];
    const invariants = selectInvariants(INVARIANTS.map((i) => i.name).filter((n) => n !== 'no-deadlock'));
    return execute(built.machine, threads, new PreemptionScheduler([{ thread: 0, after, to: 1 }]), { maxSteps: 2000, invariants });
  }

  it('hangs when a writer queues between the two read acquisitions (the f25a546e6529 trace), and the v4.19 driver does not', () => {
    const hangs = [...Array(80).keys()].filter((after) => withWriter('v5.0', ibUmemOdpRwsemHeld, after + 1).verdict.kind === 'deadlock');
    expect(hangs.length).toBeGreaterThan(0);
    const r = withWriter('v5.0', ibUmemOdpRwsemHeld, hangs[0] + 1);
    expect(r.verdict.kind === 'deadlock' && r.verdict.message).toMatch(/cpu waits for context->umem_rwsem held by cpu.*register waits for context->umem_rwsem/s);
    for (let after = 1; after <= 80; after++) expect(withWriter('v4.19', ibUmemOdp419, after).verdict.kind).toBe('pass');
  });
});

describe('exhaustive exploration with THP (footprints of the PMD and of THP heads)', () => {
  const pmdMapped = thp([
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
    { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
    { kind: 'device', ops: [{ op: 'access', page: 1, write: false }] },
  ]);

  it.each(['v4.13', 'v4.19'])('kvm on %s: a THP fault, a device fault on its tail and the THP\'s reclaim, complete within 2 preemptions, no race', (kernel) => {
    const r = explore({ kernel, driver: 'kvm', scenario: pmdMapped, maxPreemptions: 2 });
    expect(r.verdict).toEqual({ kind: 'pass' });
    expect(r.complete).toBe(true);
    expect(r.executions).toBeGreaterThan(100);
  });

  it('mmu-race explore --scenario fault-vs-reclaim-thp: kvm-no-retry is caught, and the token replays the THP scenario', () => {
    const r = explore({ kernel: 'v4.13', driver: 'kvm-no-retry', scenario: 'fault-vs-reclaim-thp', maxPreemptions: 2 });
    expect(r.verdict.kind).toBe('violation');
    const cx = r.counterexample!;
    const again = decodeToken(cx.token);
    expect(again.scenario).toMatchObject({ thp: true, thpOrder: 2 });
    const replayed = runCase(again);
    expect(verdictName(replayed.verdict)).toBe(verdictName(r.verdict));
    expect(replayed.trace.map((st) => [st.thread, st.effect.op])).toEqual(cx.result.trace.map((st) => [st.thread, st.effect.op]));
  });
});

describe('THP scenarios as data', () => {
  it('replay tokens carry the THP order, and a token without one decodes as before', () => {
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: catalogueEntry('fault-vs-reclaim-thp').scenario, preemptions: [{ thread: 0, after: 3, to: 2 }], maxSteps: 2000 };
    expect(decodeToken(encodeToken(c))).toEqual(c);
    const plain: Case = { ...c, scenario: { threads: c.scenario.threads } };
    expect(decodeToken(encodeToken(plain))).toEqual(plain);
  });

  it('the arbitrary draws THP scenarios of order 1 and 2, without the operations whose call sites do not handle huge PMDs', () => {
    const drawn = fc.sample(scenarioArbitrary(), { numRuns: 400, seed: 5 });
    const huge = drawn.filter((s) => s.thp);
    expect(huge.length).toBeGreaterThan(40); // a fifth of 400
    expect(new Set(huge.map((s) => s.thpOrder))).toEqual(new Set([1, 2]));
    const hugeOps = new Set(huge.flatMap((s) => s.threads.flatMap((t) => t.ops.map((o) => o.op))));
    // madvise(MADV_FREE) too, since madvise_free_huge_pmd is modelled (kernel/madvise.ts)
    for (const op of ['mprotect', 'fork', 'clearRefs', 'lazyfree']) expect(hugeOps).toContain(op);
    // and none with clear_refs turned off (ScenarioBounds.clearRefs)
    const noClear = fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, clearRefs: false }), { numRuns: 400, seed: 5 });
    expect(noClear.some((s) => s.threads.some((t) => t.ops.some((o) => o.op === 'clearRefs')))).toBe(false);
    expect(driverByName('kvm', 'v4.13').name).toBe('kvm');
  });
});

/**
 * Test-only broken driver (every era): like KVM it counts the invalidations in progress (so its
 * device faults retry), but instead of zapping in range_start it keeps its sptes and, in range_end,
 * drops those whose pfn the CPU page table no longer maps. Unmaps are followed; a write-protect is
 * not (a permission leak).
 */
const REVALIDATE = site('test', 'a mirror that revalidates its sptes by pfn only', 'model');
type NotifierDefinition<S> = import('../../src/notifier/definition').NotifierDefinition<S>;
type KernelApi = import('../../src/notifier/kernel-api').KernelApi;
type MmuNotifierRange = import('../../src/notifier/definition').MmuNotifierRange;
type KvmState = { mmuLock: number; seq: number; count: number; spt: number };
function pfnOnly(kernel: string) {
  const kvm = driverByName('kvm', kernel);
  return {
    ...kvm,
    name: 'revalidates-pfn-only',
    ops: {
      *invalidateRangeStart(k: KernelApi, s: KvmState) {
        yield* k.spinLock(s.mmuLock, REVALIDATE);
        yield* k.add(s.count, 1, REVALIDATE);
        yield* k.spinUnlock(s.mmuLock, REVALIDATE);
        return 0;
      },
      *invalidateRangeEnd(k: KernelApi, s: KvmState, r: MmuNotifierRange) {
        yield* k.spinLock(s.mmuLock, REVALIDATE);
        for (let v = Math.max(0, k.vpnOf(r.start)); v <= k.vpnOf(r.end - 1) && v < 8; v++) {
          const e = yield* k.spteRead(s.spt, v, REVALIDATE);
          if (!e) continue;
          const pte = yield* k.walkCpuPageTable(k.addressOf(v), REVALIDATE);
          if (!pte || pte.swap || pte.pfn !== e.pfn || pte.generation !== e.generation) yield* k.spteClearRange(s.spt, v, v + 1, REVALIDATE, true);
        }
        yield* k.add(s.seq, 1, REVALIDATE);
        yield* k.add(s.count, -1, REVALIDATE);
        yield* k.spinUnlock(s.mmuLock, REVALIDATE);
      },
    },
  } as NotifierDefinition<KvmState>;
}

/** Runs `threads` with THP of `order` against `driver` (a definition) on `kernel`, in the default order. */
function runWith(kernel: string, driver: NotifierDefinition<any>, threads: Threads, order = 1): ExecutionResult {
  return runCase({ kernel, driver: driver.name, scenario: thp(threads, order), preemptions: [], maxSteps: 3000 }, { era: eraByName(kernel), driver });
}
const fnsOf = (r: ExecutionResult) => r.trace.map((s) => s.effect.at.fn);
/** A THP write fault, the device maps its head writable, then `op` on another CPU thread. */
const deviceThen = (op: Threads[number]['ops'][number]): Threads => [
  { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
  { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
  { kind: 'cpu', ops: [op] as Threads[number]['ops'] } as Threads[number],
];

describe('fork of a THP (mm/memory.c copy_pmd_range → mm/huge_memory.c copy_huge_pmd)', () => {
  it('write-protects the parent\'s huge PMD in place inside copy_page_range\'s bracket; the THP is shared (compound mapcount 2, a reference for the child)', () => {
    const r = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'fork' }] }]));
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    expect(m.pmds[0]).toMatchObject({ pfn: 1, writable: false });
    expect(m.pages[1]).toMatchObject({ refcount: 2, compoundMapcount: 2, mapcount: 0 });
    const t = texts(r);
    const start = t.indexOf('mmu_notifier_invalidate_range_start(0x100000, 0x102000)');
    const wp = t.findIndex((x) => x.startsWith('pmdp_set_wrprotect(0x100000'));
    const end = t.findIndex((x) => x.startsWith('mmu_notifier_invalidate_range_end(0x100000, 0x102000)'));
    expect(start).toBeGreaterThan(0);
    expect(wp).toBeGreaterThan(start);
    expect(end).toBeGreaterThan(wp);
    expect(r.trace[wp].effect.at).toMatchObject({ file: 'mm/huge_memory.c', fn: 'copy_huge_pmd' });
  });

  it('the parent\'s next write COWs the THP: ≤ v5.7 into a new THP; v6.6 (v5.8+) splits and copies the subpage, the child keeps the rest', () => {
    const ops: Threads = [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'fork' }, { op: 'access', page: 1, write: true }] }];
    for (const era of ['v4.10', 'v4.13', 'v5.5']) {
      const r = run(era, 'observer', thp(ops));
      expect(r.verdict.kind, era).toBe('pass');
      expect(r.machine.pmds[0], era).toMatchObject({ writable: true });
      expect(r.machine.pmds[0]!.pfn, era).not.toBe(1);
      expect(r.machine.pages[1], era).toMatchObject({ free: false, refcount: 1, compoundMapcount: 1, order: 1 }); // the child's
    }
    const r = run('v6.6', 'observer', thp(ops));
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    expect(m.pmds[0]).toBeNull();
    expect(m.ptes[0]).toMatchObject({ pfn: 1, writable: false }); // still shared with the child
    expect(m.ptes[1]).toMatchObject({ writable: true });
    expect(m.ptes[1]!.pfn).not.toBe(2); // page_mapcount(subpage) = 1 + the child's compound mapcount: copied, not reused
    expect(m.pages[1]).toMatchObject({ compoundMapcount: 1 });
  });

  it('a device that keeps its writable spte over fork\'s write-protect of the THP is caught (secondary-follows-primary) on every era; KVM passes', () => {
    for (const era of ERAS.map((e) => e.name)) {
      const broken = runWith(era, pfnOnly(era), deviceThen({ op: 'fork' }));
      expect(broken.verdict, era).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
      expect(broken.verdict.kind === 'violation' && broken.verdict.message, era).toMatch(/still maps 0x100000 writable .* the CPU PTE is read-only/);
      const r = runWith(era, driverByName('kvm', era), deviceThen({ op: 'fork' }));
      expect(r.verdict.kind, era).toBe('pass');
      expect(r.machine.pmds[0], era).toMatchObject({ writable: false });
      expect(r.machine.tables[0].entries[0], era).toBeNull();
    }
  });
});

describe('mprotect of a THP (mm/mprotect.c change_pmd_range → mm/huge_memory.c change_huge_pmd)', () => {
  it('a whole huge PMD is rewritten read-only under the PMD lock, in each era\'s form (Era.changeHugePmd)', () => {
    const threads: Threads = [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'mprotect', page: 0, pages: 2, writable: false }] }];
    for (const era of ERAS) {
      const r = run(era.name, 'observer', thp(threads));
      expect(r.verdict.kind, era.name).toBe('pass');
      expect(r.machine.pmds[0], era.name).toMatchObject({ pfn: 1, writable: false });
      const f = fnsOf(r);
      const t = texts(r);
      const set = t.findIndex((x) => /^(pmdp_huge_get_and_clear_notify|pmdp_invalidate|pmdp_invalidate_ad); set_pmd_at/.test(x));
      expect(set, era.name).toBeGreaterThan(0);
      if (era.changeHugePmd === 'get-and-clear-notify') {
        expect(t[set], era.name).toMatch(/^pmdp_huge_get_and_clear_notify/);
        // ->invalidate_range under the PMD lock (v4.10), before the unlock
        const inv = t.indexOf('mmu_notifier_invalidate_range(0x100000, 0x102000)');
        expect(inv, era.name).toBeGreaterThan(set);
        expect(r.trace.slice(set, inv).some((s) => s.effect.op === Op.SpinUnlock), era.name).toBe(false);
      } else {
        expect(f, era.name).not.toContain('pmdp_huge_get_and_clear_notify → mmu_notifier_invalidate_range(haddr, haddr + HPAGE_PMD_SIZE)');
        expect(t[set], era.name).toMatch(era.changeHugePmd === 'pmdp-invalidate' ? /^pmdp_invalidate; / : /^pmdp_invalidate_ad; /);
      }
    }
  });

  it('PROT_WRITE: ≤ v5.7 pmd_modify(vm_page_prot) leaves the PMD read-only and the next write reuses the THP; v6.6 keeps an exclusive THP writable', () => {
    const threads: Threads = [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'mprotect', page: 0, pages: 2, writable: true }] }];
    expect(run('v4.13', 'observer', thp(threads)).machine.pmds[0]).toMatchObject({ writable: false });
    expect(run('v6.6', 'observer', thp(threads)).machine.pmds[0]).toMatchObject({ writable: true });
    const again = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [...threads[0].ops, { op: 'access', page: 1, write: true }] } as Threads[number]]));
    expect(again.machine.pmds[0]).toMatchObject({ pfn: 1, writable: true }); // do_huge_pmd_wp_page reused it
  });

  it('a range covering part of a THP splits it (__split_huge_pmd, its bracket nested in mprotect\'s) and write-protects the PTEs in range', () => {
    const r = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'mprotect', page: 1, pages: 1, writable: false }] }], 2));
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    expect(m.pmds[0]).toBeNull();
    expect(m.ptes.slice(0, 4).map((p) => p?.writable)).toEqual([true, false, true, true]);
    const t = texts(r);
    const outer = t.indexOf('mmu_notifier_invalidate_range_start(0x101000, 0x102000)');
    const inner = t.indexOf('mmu_notifier_invalidate_range_start(0x100000, 0x104000)');
    expect(outer).toBeGreaterThan(0);
    expect(inner).toBeGreaterThan(outer);
  });

  it('a device that keeps its writable spte over mprotect(PROT_READ) of a THP is caught on every era; KVM passes', () => {
    for (const era of ERAS.map((e) => e.name)) {
      const op = { op: 'mprotect' as const, page: 0, pages: 2, writable: false };
      const broken = runWith(era, pfnOnly(era), deviceThen(op));
      expect(broken.verdict, era).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
      const r = runWith(era, driverByName('kvm', era), deviceThen(op));
      expect(r.verdict.kind, era).toBe('pass');
      expect(r.machine.pmds[0], era).toMatchObject({ writable: false });
    }
  });
});

describe('the huge zero page (do_huge_pmd_anonymous_page for a read fault: set_huge_zero_page)', () => {
  const ERA_NAMES = ['v4.10', 'v4.13', 'v4.15', 'v5.5', 'v6.6'];
  const readThenWrite = thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'access', page: 1, write: true }] }]);

  it('a write to it: ≤ v5.7 a new zeroed THP replaces it inside a bracket (pmdp_huge_clear_flush_notify); v6.8 splits it to zero-page PTEs and COWs one', () => {
    for (const kernel of ERA_NAMES) {
      const r = run(kernel, 'observer', readThenWrite);
      expect(r.verdict.kind, kernel).toBe('pass');
      const m = r.machine;
      expect(m.hugeZero, kernel).toBeGreaterThan(0);
      expect(m.pages[m.hugeZero], kernel).toMatchObject({ free: false, refcount: 1, compoundMapcount: 0 }); // never freed, no rmap
      const t = texts(r);
      if (kernel === 'v6.6') {
        expect(m.pmds[0], kernel).toBeNull();
        expect(m.ptes[0], kernel).toMatchObject({ pfn: 0, writable: false }); // the zero page
        expect(m.ptes[1]!.pfn, kernel).not.toBe(0); // the written subpage, copied from the zero page
      } else {
        expect(m.pmds[0], kernel).toMatchObject({ writable: true, dirty: true });
        expect(m.pmds[0]!.zero, kernel).toBeUndefined();
        expect(t.some((x) => x.startsWith('pmdp_huge_clear_flush(0x100000)')), kernel).toBe(true);
      }
    }
  });

  it('munmap of it frees nothing; a partial munmap splits it into zero-page PTEs (no notifier needed: zero for zero)', () => {
    for (const kernel of ERA_NAMES) {
      const z = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'munmap', page: 0, pages: 2 }] }]));
      expect(z.verdict.kind, kernel).toBe('pass');
      expect(z.machine.pages[z.machine.hugeZero], kernel).toMatchObject({ free: false, refcount: 1 });
      const part = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'munmap', page: 1, pages: 1 }] }]));
      expect(part.verdict.kind, kernel).toBe('pass');
      expect(part.machine.ptes[0], kernel).toMatchObject({ pfn: 0, writable: false });
      expect(part.machine.ptes[1], kernel).toBeNull();
    }
  });

  it('KVM maps it read-only and passes a write, fork, reclaim and migration around it', () => {
    const scenario = thp([
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'fork' }, { op: 'access', page: 1, write: true }] },
      { kind: 'device', ops: [{ op: 'access', page: 1, write: false }] },
      { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
      { kind: 'migrate', ops: [{ op: 'migrate', page: 1 }] },
    ]);
    for (const kernel of ERA_NAMES) {
      fc.assert(
        fc.property(scheduleArbitrary(2, 60, 4), (pre) => {
          const r = run(kernel, 'kvm', scenario, undefined, undefined, pre);
          return r.verdict.kind === 'pass' || r.verdict.kind === 'step-budget-exceeded';
        }),
        { numRuns: 60, seed: 11 },
      );
    }
  });

  it('a mirror whose range_start keeps its entries keeps the huge zero page after a write replaced it (v4.13), and is caught; KVM is not', () => {
    const keeps = kvmStartKeeps('v4.13');
    const scenario = thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }] }, { kind: 'device', ops: [{ op: 'access', page: 1, write: false }] }, { kind: 'cpu', ops: [{ op: 'access', page: 1, write: true }] }]);
    const good = runCase({ kernel: 'v4.13', driver: 'kvm', scenario, preemptions: [], maxSteps: 4000 });
    expect(good.verdict.kind).toBe('pass');
    const bad = runCase({ kernel: 'v4.13', driver: keeps.name, scenario, preemptions: [], maxSteps: 4000 }, { era: eraByName('v4.13'), driver: keeps });
    expect(bad.verdict.kind === 'violation' && bad.verdict.invariant).toBe('secondary-follows-primary');
  });
});
