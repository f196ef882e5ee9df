/**
 * KSM of transparent huge pages (src/kernel/ksm.ts): try_to_merge_one_page splits a THP's subpage
 * first (`if (PageTransCompound(page)) { if (split_huge_page(page)) goto out_unlock; }`, mm/ksm.c
 * v4.10.17 … v6.8) — split_huge_page_to_list freezes the THP through try_to_unmap, whose
 * TTU_SPLIT_HUGE_PMD splits a PMD mapping inside __split_huge_pmd's own range_start/end — then
 * merges the order-0 page as before. A THP a device holds a reference on is not split (no merge);
 * two subpages of one THP are not merged, and from v4.15 (Era.ksmSplitSameCompound) cmp_and_merge_page
 * splits that THP afterwards. KVM passes fuzzed THP+ksmd scenarios on every era; a mirror deaf to the
 * split's bracket is caught.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { ERAS, eraByName } from '../../src/eras';
import { pinningFault } from '../../src/drivers/unpin';
import type { NotifierDefinition } from '../../src/notifier/definition';
import type { ExecutionResult } from '../../src/runtime/execution';
import { PAGE_SIZE, VMA_BASE } from '../../src/runtime/machine';
import { site } from '../../src/runtime/site';
import { scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import { scenarioText, type Scenario } from '../../src/scenario/scenario';
import { describeEffect } from '../../src/report/label';
import { kvmFor } from '../drivers/kvm-variants';

type Threads = Scenario['threads'];

function run(kernel: string, threads: Threads, driver: NotifierDefinition<any> = kvmFor(kernel), preemptions: Case['preemptions'] = [], thpOrder = 1): ExecutionResult {
  const scenario: Scenario = { threads, thp: true, thpOrder };
  return runCase({ kernel, driver: driver.name, scenario, preemptions, maxSteps: 6000 }, { era: eraByName(kernel), driver });
}

const KSMD = (threads: Threads) => threads.findIndex((t) => t.kind === 'ksmd');
/** `file|function|text` of each step of ksmd. */
const ksmdSteps = (r: ExecutionResult, threads: Threads) => r.trace.filter((s) => s.thread === KSMD(threads)).map((s) => `${s.effect.at.file}|${s.effect.at.fn}|${describeEffect(r.machine, s.effect)}`);
const hx = (vpn: number) => `0x${(VMA_BASE + vpn * PAGE_SIZE).toString(16)}`;

/**
 * Pages 0–1: a THP (a write fault on a PMD-none region); page 2: an order-0 page (page 3 unmapped
 * first, region 2–3 no longer lies in the VMA: do_huge_pmd_anonymous_page falls back).
 */
const THP_AND_SMALL: Threads = [
  { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 3, pages: 1 }, { op: 'access', page: 2, write: true }] },
];
/** Pages 0–1 and 2–3: two THPs. */
const TWO_THPS: Threads = [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 2, write: true }] }];

const merge = (page: number, w: number): Threads[number] => ({ kind: 'ksmd', ops: [{ op: 'merge', page, with: w }] });

/** The indices in `steps` of the __split_huge_pmd bracket of the THP at `haddr` and of the write_protect_page bracket of `vpn`, in order. */
function brackets(steps: string[], haddrVpn: number, vpn: number) {
  // v5.0+ name the range's event after the addresses
  const range = `(${hx(haddrVpn)}, ${hx(haddrVpn + 2)}`;
  const one = `(${hx(vpn)}, ${hx(vpn + 1)}`;
  return {
    splitStart: steps.findIndex((x) => x.startsWith('mm/huge_memory.c|__split_huge_pmd|') && x.includes(`mmu_notifier_invalidate_range_start${range}`)),
    splitEnd: steps.findIndex((x) => x.startsWith('mm/huge_memory.c|__split_huge_pmd|') && /mmu_notifier_invalidate_range(_only)?_end\(/.test(x) && x.includes(range)),
    freeze: steps.findIndex((x) => x.includes('!total_mapcount && page_ref_freeze')),
    wpStart: steps.findIndex((x) => x.startsWith('mm/ksm.c|write_protect_page|') && x.includes(`mmu_notifier_invalidate_range_start${one}`)),
  };
}

describe('ksmd merges a THP subpage (try_to_merge_one_page: split_huge_page first)', () => {
  it('with an order-0 page: the THP is split inside its own notifier bracket, then both PTEs map one read-only PageKsm page and the replaced subpage is freed (every era)', () => {
    for (const era of ERAS) {
      // the THP's tail (page 1) is the tree page, replaced by the order-0 KSM page at 2
      const threads = [...THP_AND_SMALL, merge(1, 2)];
      const r = run(era.name, threads);
      expect(r.verdict.kind, era.name).toBe('pass');
      const m = r.machine;
      expect(m.pmds[0], era.name).toBeNull();
      const k = m.ptes[2]!;
      expect(m.ptes[1], era.name).toMatchObject({ pfn: k.pfn, writable: false, swap: false });
      expect(k.writable).toBe(false);
      expect(m.pages[k.pfn], era.name).toMatchObject({ ksm: true, free: false, refcount: 2, mapcount: 2, order: 0 });
      expect(m.pages[2].free, era.name).toBe(true); // the THP's tail, an order-0 page after the split
      expect(m.ptes[0], era.name).toMatchObject({ pfn: 1, writable: true, swap: false }); // the head stays, PTE-mapped
      expect(m.pages[1], era.name).toMatchObject({ order: 0, refcount: 1, mapcount: 1, lockedBy: -1, ksm: false });
      const steps = ksmdSteps(r, threads);
      const b = brackets(steps, 0, 1);
      expect(b.splitStart >= 0 && b.splitStart < b.splitEnd && b.splitEnd < b.freeze && b.freeze < b.wpStart, `${era.name}: ${JSON.stringify(b)}`).toBe(true);
      // follow_trans_huge_pmd gave ksmd the subpage; try_to_merge_one_page named the split
      expect(steps.some((x) => x.includes('follow_trans_huge_pmd'))).toBe(true);
      expect(steps.some((x) => x.startsWith('mm/ksm.c|try_to_merge_one_page: if (PageTransCompound(page))'))).toBe(true);
    }
  });

  it('the other way round: the THP subpage becomes the KSM page (it stays locked through the split), the order-0 page is replaced and freed', () => {
    for (const kernel of ['v4.10', 'v4.13', 'v5.5', 'v6.6']) {
      const threads = [...THP_AND_SMALL, merge(2, 1)];
      const r = run(kernel, threads);
      expect(r.verdict.kind, kernel).toBe('pass');
      const m = r.machine;
      const small = run(kernel, THP_AND_SMALL).machine.ptes[2]!.pfn; // the order-0 page, before any merge
      expect(m.ptes[1], kernel).toMatchObject({ pfn: 2, writable: false });
      expect(m.ptes[2], kernel).toMatchObject({ pfn: 2, writable: false });
      expect(m.pages[2], kernel).toMatchObject({ ksm: true, refcount: 2, mapcount: 2, order: 0, lockedBy: -1 });
      expect(m.pages[1], kernel).toMatchObject({ ksm: false, refcount: 1, mapcount: 1, lockedBy: -1 });
      expect(small, kernel).toBe(3);
      expect(m.pages[small].free, kernel).toBe(true);
      // the subpage ksmd passed stays locked: the end of __split_huge_page unlocks and puts only the head
      const steps = ksmdSteps(r, threads);
      expect(steps.filter((x) => x.includes('if (subpage == page) continue')).map((x) => x.split('|')[2]), kernel).toEqual(['unlock_page(pfn 1/g0)', 'put_page(pfn 1/g0)']);
    }
  });

  it('with another THP\'s subpage: both THPs are split, each in its own bracket; one KSM page, the replaced subpage freed', () => {
    for (const era of ERAS) {
      const threads = [...TWO_THPS, merge(1, 2)];
      const r = run(era.name, threads);
      expect(r.verdict.kind, era.name).toBe('pass');
      const m = r.machine;
      expect(m.pmds, era.name).toEqual([null, null]);
      expect(m.ptes[1], era.name).toMatchObject({ pfn: 3, writable: false });
      expect(m.ptes[2], era.name).toMatchObject({ pfn: 3, writable: false });
      expect(m.pages[3], era.name).toMatchObject({ ksm: true, refcount: 2, mapcount: 2, order: 0 });
      expect(m.pages[2].free, era.name).toBe(true);
      expect(m.ptes[0], era.name).toMatchObject({ pfn: 1 });
      expect(m.ptes[3], era.name).toMatchObject({ pfn: 4, writable: true });
      for (const pfn of [1, 4]) expect(m.pages[pfn], `${era.name} pfn ${pfn}`).toMatchObject({ free: false, refcount: 1, mapcount: 1, order: 0, lockedBy: -1 });
      const steps = ksmdSteps(r, threads);
      const first = brackets(steps, 2, 2); // the scanned page (`with`) becomes the KSM page first
      const second = brackets(steps.slice(first.wpStart + 1), 0, 1);
      expect(first.splitStart >= 0 && first.splitStart < first.splitEnd && first.splitEnd < first.wpStart, era.name).toBe(true);
      expect(second.splitStart >= 0 && second.splitStart < second.splitEnd && second.splitEnd < second.wpStart, era.name).toBe(true);
    }
  });

  it('two subpages of the same THP are not merged (ksmd\'s two references fail can_split_huge_page); from v4.15 cmp_and_merge_page then splits it', () => {
    for (const era of ERAS) {
      const threads: Threads = [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, merge(0, 1)];
      const r = run(era.name, threads);
      expect(r.verdict.kind, era.name).toBe('pass');
      const m = r.machine;
      const steps = ksmdSteps(r, threads);
      expect(steps.some((x) => x.includes('can_split_huge_page: total_mapcount 1 != page_count 3 - 0 - 1: -EBUSY')), era.name).toBe(true);
      expect(m.pages[1].ksm || m.pages[2].ksm, era.name).toBe(false);
      if (era.ksmSplitSameCompound) {
        expect(m.pmds[0], era.name).toBeNull();
        expect(m.ptes[0], era.name).toMatchObject({ pfn: 1, writable: true });
        expect(m.ptes[1], era.name).toMatchObject({ pfn: 2, writable: true });
        expect(m.pages[1], era.name).toMatchObject({ order: 0, refcount: 1, lockedBy: -1 });
        expect(m.pages[2], era.name).toMatchObject({ refcount: 1, lockedBy: -1 });
        expect(steps.some((x) => x.includes('cmp_and_merge_page: split = PageTransCompound(page)'))).toBe(true);
      } else {
        expect(m.pmds[0], era.name).toMatchObject({ pfn: 1, writable: true });
        expect(m.pages[1], era.name).toMatchObject({ order: 1, refcount: 1, lockedBy: -1 });
      }
    }
    expect(ERAS.filter((e) => e.ksmSplitSameCompound).map((e) => e.name)).toEqual(['v4.15', 'v4.19', 'v5.0', 'v5.2', 'v5.5', 'v6.6']);
  });
});

/**
 * A device that pins what it maps for as long as it maps it and has no notifier callback (an RDMA
 * memory registration without ODP, a VFIO mapping): gup's reference is never given back.
 */
const longTermPin: NotifierDefinition<{ lock: number; spt: number }> = {
  name: 'long-term-pin',
  title: 'TEST ONLY: keeps the get_user_pages reference while mapped, no callbacks',
  contract: 'pin',
  eras: ERAS.map((e) => e.name),
  source: 'test/kernel/ksm-thp.test.ts',
  setup: (api) => Object.freeze({ lock: api.mutex('pin->lock'), spt: api.secondaryTable('pinned') }),
  ops: {},
  device: { table: (s) => s.spt, fault: (k, s, f) => pinningFault(k, s.spt, s.lock, f, site('synthetic', 'long_term_pin_fault', 'v4.13')) },
};

describe('a THP pinned by a device is not split, so not merged', () => {
  it('can_split_huge_page: total_mapcount 1 != page_count 3 - 0 - 1 (the PMD, ksmd and the pin): -EBUSY, out_unlock; the THP stays PMD-mapped (every era)', () => {
    for (const era of ERAS) {
      const threads: Threads = [...THP_AND_SMALL, { kind: 'device', ops: [{ op: 'access', page: 1, write: true }] }, merge(2, 1)];
      const r = run(era.name, threads, longTermPin);
      expect(r.verdict.kind, era.name).toBe('pass');
      const m = r.machine;
      expect(m.pmds[0], era.name).toMatchObject({ pfn: 1, writable: true });
      expect(m.pages[1], era.name).toMatchObject({ order: 1, refcount: 2, ksm: false, lockedBy: -1 }); // the PMD and the pin
      expect(m.ptes[2]!.pfn, era.name).not.toBe(2);
      expect(m.pages[m.ptes[2]!.pfn], era.name).toMatchObject({ ksm: false });
      const steps = ksmdSteps(r, threads);
      expect(steps.some((x) => x.includes('can_split_huge_page: total_mapcount 1 != page_count 3 - 0 - 1: -EBUSY')), era.name).toBe(true);
      expect(steps.some((x) => x.includes('split_huge_page failed: goto out_unlock')), era.name).toBe(true);
      expect(steps.some((x) => x.includes('__split_huge_pmd'))).toBe(false);
      // without the pin the same scenario merges (can_split_huge_page is what stopped it)
      const free = run(era.name, threads.filter((t) => t.kind !== 'device'), longTermPin);
      expect(free.machine.ptes[1]!.pfn, era.name).toBe(free.machine.ptes[2]!.pfn);
    }
  });
});

/**
 * KVM whose range_start/range_end ignore an invalidation of exactly one huge-page region (2 pages
 * with thpOrder 1): deaf to __split_huge_pmd's bracket (and to try_to_unmap_one's for the THP).
 */
function deafToHugeRanges(kernel: string): NotifierDefinition<any> {
  const base = kvmFor(kernel) as NotifierDefinition<any>;
  // exactly one aligned huge-page region (HPAGE_PMD_SIZE with thpOrder 1): a wider zap is still heard
  const huge = (r: { start: number; end: number }) => r.end - r.start === 2 * PAGE_SIZE && (r.start - VMA_BASE) % (2 * PAGE_SIZE) === 0;
  return {
    ...base,
    name: 'kvm-deaf-to-thp-split',
    eras: [kernel],
    ops: {
      ...base.ops,
      *invalidateRangeStart(k, s, range) {
        if (huge(range)) return 0;
        return yield* base.ops.invalidateRangeStart!(k, s, range);
      },
      *invalidateRangeEnd(k, s, range) {
        if (huge(range)) return;
        return yield* base.ops.invalidateRangeEnd!(k, s, range);
      },
    },
  };
}

describe('drivers against KSM of THPs', () => {
  /**
   * A small THP+ksmd family: CPU faults on two THP regions, one or two merges, device faults. With
   * `watch` (write faults only), the CPU thread first does madvise(MADV_DONTNEED) of the empty VMA: an invalidation of
   * every page that ends at once, after which secondary-follows-primary compares the device's entries
   * with the CPU page table at every step (a split's freeze leaves migration entries between its
   * range_end and the unfreeze).
   */
  const family = (watch: boolean) => fc
    .record({
      pre: fc.array(fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 3 }), write: fc.boolean() }), { minLength: 1, maxLength: 3 }),
      cpu: fc.array(fc.oneof(fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 3 }), write: fc.boolean() }), fc.record({ op: fc.constant('dontneed' as const), page: fc.nat({ max: 3 }), pages: fc.constant(1) })), { maxLength: 1 }),
      merges: fc.array(fc.record({ page: fc.nat({ max: 3 }), d: fc.integer({ min: 1, max: 3 }) }).map(({ page, d }) => ({ op: 'merge' as const, page, with: (page + d) % 4 })), { minLength: 1, maxLength: 2 }),
      device: fc.array(fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 3 }), write: fc.boolean() }), { minLength: 1, maxLength: 2 }),
    })
    .map(({ pre, cpu, merges, device }): Threads => {
      // watching, only write faults and no madvise after them: a PMD split by madvise, or a huge zero page a read
      // fault maps and a write replaces (do_huge_pmd_wp_page), would be other brackets the deaf KVM ignores
      const write = <T extends { write: boolean }>(o: T): T => ({ ...o, write: true });
      return [
        { kind: 'cpu', ops: watch ? [{ op: 'dontneed' as const, page: 0, pages: 4 }, ...pre.map(write)] : [...pre, ...cpu] },
        { kind: 'ksmd', ops: merges },
        { kind: 'device', ops: watch ? device.map(write) : device },
      ];
    });

  /** The first counterexample of `driver` over the family on `kernel`, or null. */
  function fuzz(kernel: string, driver: NotifierDefinition<any>, runs: number, seed: number, watch = false): string | null {
    let found: string | null = null;
    fc.assert(
      fc.property(family(watch), scheduleArbitrary(3, 120, 3), (threads, preemptions) => {
        if (found !== null) return true;
        const r = run(kernel, threads, driver, preemptions);
        if (r.verdict.kind !== 'pass') found = `${r.verdict.kind} ${'invariant' in r.verdict ? r.verdict.invariant : ''}: ${scenarioText({ threads, thp: true, thpOrder: 1 })}`;
        return true;
      }),
      { numRuns: runs, seed },
    );
    return found;
  }

  it('KVM passes the THP+ksmd family on every era but aac2fea9 (fuzzed schedules), where the split\'s try_to_unmap has no bracket (Andrea Arcangeli\'s bug 1)', () => {
    for (const era of ERAS) {
      if (era.name === 'aac2fea9') {
        // freeze_page → try_to_unmap_one of a PTE-mapped THP: one bare ->invalidate_range after the walk, no start/end
        expect(fuzz(era.name, kvmFor(era.name), 60, 11), era.name).toMatch(/^violation full-range-invalidated: .*ksmd: merge/);
        continue;
      }
      expect(fuzz(era.name, kvmFor(era.name), 60, 11), era.name).toBeNull();
      expect(fuzz(era.name, kvmFor(era.name), 60, 12, true), era.name).toBeNull();
    }
  });

  it('a KVM deaf to the THP split\'s bracket keeps mapping a page the freeze made a migration entry (secondary-follows-primary); the real KVM does not', () => {
    // an invalidation of page 0 that has ended, then two THPs, the device maps page 0, ksmd merges 0 into 2's page
    const threads: Threads = [
      { kind: 'cpu', ops: [{ op: 'dontneed', page: 0, pages: 1 }, { op: 'access', page: 0, write: true }, { op: 'access', page: 2, write: true }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
      merge(0, 2),
    ];
    for (const era of ERAS) {
      expect(run(era.name, threads).verdict.kind, era.name).toBe('pass');
      const bad = run(era.name, threads, deafToHugeRanges(era.name));
      expect(bad.verdict, era.name).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
      expect('message' in bad.verdict && bad.verdict.message, era.name).toMatch(/still maps 0x100000 to pfn 1\/g0 .*the CPU PTE is a swap entry/);
    }
  });

  it('the same fuzzing finds the deaf KVM (v4.13, v5.5)', () => {
    for (const kernel of ['v4.13', 'v5.5']) expect(fuzz(kernel, deafToHugeRanges(kernel), 100, 11, true), kernel).not.toBeNull();
  });

  it('the default scenario draw has ksmd threads with THP too', () => {
    const drawn = fc.sample(scenarioArbitrary(), { numRuns: 400, seed: 1 });
    expect(drawn.filter((s) => s.thp && s.threads.some((t) => t.kind === 'ksmd')).length).toBeGreaterThan(5);
  });
});
