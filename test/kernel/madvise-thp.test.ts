/**
 * madvise(MADV_FREE) over transparent huge pages (src/kernel/madvise.ts: madvise_free_huge_pmd and the
 * PTE walk's split_huge_page) and the reclaim of a lazyfree THP (src/kernel/vmscan.ts, per
 * Era.lazyfree and Era.lazyfreeThpReclaim), with the no-lost-dirty invariant on THPs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runCase, type Case } from '../../src/check/case';
import { eraByName } from '../../src/eras';
import type { KernelApi } from '../../src/notifier/kernel-api';
import type { DeviceFault, DeviceFaultResult, MmuNotifierRange, NotifierDefinition, SetupApi } from '../../src/notifier/definition';
import { Op } from '../../src/runtime/effect';
import type { ExecutionResult } from '../../src/runtime/execution';
import type { Gen } from '../../src/runtime/primitives';
import { site } from '../../src/runtime/site';
import { scheduleArbitrary, scenarioArbitrary, DEFAULT_BOUNDS } from '../../src/scenario/arbitrary';
import type { Scenario } from '../../src/scenario/scenario';

type Threads = Scenario['threads'];

const thp = (threads: Threads, thpOrder = 1): Scenario => ({ thp: true, thpOrder, threads });
function run(kernel: string, driver: string | NotifierDefinition<any>, scenario: Scenario, preemptions: Case['preemptions'] = []): ExecutionResult {
  const name = typeof driver === 'string' ? driver : driver.name;
  const c: Case = { kernel, driver: name, scenario, preemptions, maxSteps: 4000 };
  return typeof driver === 'string' ? runCase(c) : runCase(c, { era: eraByName(kernel), driver });
}
const texts = (r: ExecutionResult) => r.trace.map((s) => s.effect.text ?? '');
/** The index of the first trace step whose text matches. */
const at = (r: ExecutionResult, re: RegExp) => r.trace.findIndex((s) => re.test(s.effect.text ?? ''));

const W0 = { op: 'access', page: 0, write: true } as const;
const FREE_WHOLE = { op: 'lazyfree', page: 0, pages: 2 } as const; // order 1: the whole THP region
const FREE_PART = { op: 'lazyfree', page: 0, pages: 1 } as const;
const RECLAIM = { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] } as const;

const SWAPBACKED_ERAS = ['v4.12', 'v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2', 'v5.5', 'v6.6'];
const ALL_ERAS = ['v4.10', ...SWAPBACKED_ERAS];

describe('madvise_free_huge_pmd: a THP the range covers whole', () => {
  for (const kernel of ALL_ERAS) {
    it(`${kernel}: the PMD made old and clean under the PMD lock, the THP clean${kernel === 'v4.10' ? '' : ' and lazyfree'}, inside the notifier bracket`, () => {
      const r = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [W0, FREE_WHOLE] }]));
      expect(r.verdict.kind).toBe('pass');
      const m = r.machine;
      const pmd = m.pmds[0]!;
      expect(pmd).toMatchObject({ dirty: false, young: false, writable: true });
      const head = m.pages[pmd.pfn];
      expect(head).toMatchObject({ order: 1, dirty: false, swapBacked: kernel === 'v4.10', refcount: 1, compoundMapcount: 1 });
      const marks = r.trace.filter((s) => s.effect.op === Op.MarkLazyfree);
      expect(marks).toHaveLength(1);
      expect(marks[0].effect.c).toBe(kernel === 'v4.10' ? 1 : 0);
      expect(marks[0].effect.at.file).toBe('mm/huge_memory.c');
      // range_start(0x100000, 0x102000) < set_pmd_at(old, clean) < mark < range_end
      const start = at(r, /^mmu_notifier_invalidate_range_start\(0x100000, 0x102000[,)]/);
      const set = at(r, /^pmdp_invalidate; set_pmd_at\(pmd_mkold/);
      const mark = r.trace.indexOf(marks[0]);
      const end = at(r, /^mmu_notifier_invalidate_range_end\(0x100000, 0x102000[,)]/);
      expect(start).toBeGreaterThanOrEqual(0);
      expect(start).toBeLessThan(set);
      expect(set).toBeLessThan(mark);
      expect(mark).toBeLessThan(end);
      // the PMD lock is held from before the set to after the mark
      const lock = r.trace.findLastIndex((s, i) => i < set && s.effect.op === Op.SpinLock);
      const unlock = r.trace.findIndex((s, i) => i > mark && s.effect.op === Op.SpinUnlock);
      expect(r.trace.slice(lock + 1, unlock).some((s) => s.effect.op === Op.SpinUnlock)).toBe(false);
      // no split of anything
      expect(texts(r).some((t) => t.startsWith('__split_huge_pmd_locked'))).toBe(false);
      // v6.6: pmdp_invalidate's flush calls ->arch_invalidate_secondary_tlbs inside the bracket
      const arch = at(r, /^mmu_notifier_arch_invalidate_secondary_tlbs\(0x100000, 0x102000[,)]/);
      if (kernel === 'v6.6') expect(arch > set && arch < end).toBe(true);
      else expect(arch).toBe(-1);
    });
  }

  it('a THP mapped twice after fork (page_mapcount 2) is left alone: PMD still dirty, nothing marked', () => {
    for (const kernel of ['v4.10', 'v4.13', 'v6.6']) {
      const r = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [W0, { op: 'fork' }, FREE_WHOLE] }]));
      expect(r.verdict.kind).toBe('pass');
      const pmd = r.machine.pmds[0]!;
      expect(pmd.dirty).toBe(true);
      expect(r.machine.pages[pmd.pfn]).toMatchObject({ swapBacked: true, order: 1 });
      expect(r.trace.some((s) => s.effect.op === Op.MarkLazyfree)).toBe(false);
      expect(texts(r).some((t) => t.startsWith('pmdp_invalidate; set_pmd_at'))).toBe(false);
    }
  });
});

describe('a THP the range covers in part: split_huge_page, then the PTE walk', () => {
  for (const kernel of ['v4.10', 'v4.12', 'v4.13', 'v4.19', 'v6.6']) {
    it(`${kernel}: madvise_free_huge_pmd splits the THP (nested brackets), and only the covered subpage becomes lazyfree`, () => {
      const r = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [W0, FREE_PART] }]));
      expect(r.verdict.kind).toBe('pass');
      const m = r.machine;
      expect(m.pmds[0]).toBeNull();
      const head = m.ptes[0]!.pfn;
      expect(m.ptes[1]).toMatchObject({ pfn: head + 1 });
      // split into two order-0 pages, each with exactly its PTE's reference
      expect(m.pages[head]).toMatchObject({ order: 0, refcount: 1, mapcount: 1, swapBacked: kernel === 'v4.10', dirty: false });
      expect(m.pages[head + 1]).toMatchObject({ order: 0, compoundHead: -1, refcount: 1, mapcount: 1, swapBacked: true });
      expect(m.ptes[0]).toMatchObject({ dirty: false, young: false });
      // madvise_free_single_vma's bracket over [0x100000, 0x101000) holds the split's bracket(s) over the huge page
      const outer = at(r, /^mmu_notifier_invalidate_range_start\(0x100000, 0x101000[,)]/);
      const inner = at(r, /^mmu_notifier_invalidate_range_start\(0x100000, 0x102000[,)]/);
      const innerEnd = at(r, /^mmu_notifier_invalidate_range_end\(0x100000, 0x102000[,)]/);
      const split = at(r, /^!total_mapcount && page_ref_freeze/);
      const outerEnd = at(r, /^mmu_notifier_invalidate_range_end\(0x100000, 0x101000[,)]/);
      if (kernel !== 'v4.10') {
        expect(outer).toBeGreaterThanOrEqual(0);
        expect(outer < inner && inner < innerEnd && innerEnd < split && split < outerEnd).toBe(true);
      } else {
        expect(outer < split && split < outerEnd).toBe(true);
      }
      const mark = r.trace.find((s) => s.effect.op === Op.MarkLazyfree)!;
      expect(mark.effect.a).toBe(head);
      expect(mark.effect.at.fn).toMatch(/^madvise_free_pte_range/);
      expect(r.trace.indexOf(mark)).toBeGreaterThan(split);
    });
  }

  it('a THP mapped by PTEs (its PMD split by mprotect of half) is split by the PTE walk and both subpages made lazyfree', () => {
    const r = run('v4.13', 'observer', thp([{ kind: 'cpu', ops: [W0, { op: 'mprotect', page: 1, pages: 1, writable: true }, FREE_WHOLE] }]));
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    const head = m.ptes[0]!.pfn;
    expect(m.pmds[0]).toBeNull();
    expect(at(r, /^!total_mapcount && page_ref_freeze/)).toBeGreaterThan(at(r, /^mmu_notifier_invalidate_range_start\(0x100000, 0x102000[,)]/));
    for (const pfn of [head, head + 1]) expect(m.pages[pfn]).toMatchObject({ order: 0, refcount: 1, mapcount: 1, swapBacked: false, dirty: false });
    expect(r.trace.filter((s) => s.effect.op === Op.MarkLazyfree).map((s) => s.effect.a)).toEqual([head, head + 1]);
  });
});

describe('reclaim of a lazyfree THP', () => {
  for (const kernel of ALL_ERAS) {
    it(`${kernel}: a clean one is discarded (${kernel === 'v6.6' ? 'whole' : 'split, then page by page'}), one the CPU wrote again is not`, () => {
      const clean = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [W0, FREE_WHOLE] }, RECLAIM]));
      expect(clean.verdict.kind).toBe('pass');
      const head = clean.trace.find((s) => s.effect.op === Op.MarkLazyfree)!.effect.a;
      expect(clean.machine.pages[head].free).toBe(true);
      expect(clean.machine.pages[head + 1].free).toBe(true);
      expect(clean.machine.pmds[0]).toBeNull();
      expect(clean.machine.ptes[0]).toBeNull();
      const frees = clean.trace.filter((s) => s.effect.op === Op.LazyfreeFreeze);
      if (kernel === 'v6.6') expect(frees.map((s) => s.effect.at.fn)).toEqual([expect.stringMatching(/^shrink_folio_list/)]);
      else expect(frees).toHaveLength(2); // the head and the tail, each an order-0 lazyfree page after the split
      expect(texts(clean).some((t) => t.startsWith('!total_mapcount && page_ref_freeze'))).toBe(kernel !== 'v6.6');
      expect(clean.trace.some((s) => s.effect.op === Op.Writeback)).toBe(false); // discarded, never written out

      // the CPU's write after MADV_FREE sets the huge PMD's dirty bit (the hardware walk); reclaim moves it to
      // PageDirty (the split, or try_to_unmap_one) and keeps the data: remapped (v4.12+) or swapped out (v4.10)
      const redirtied = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [W0, FREE_WHOLE, W0] }, RECLAIM]));
      // v4.12 (invalidate_page under the PTL): the order-0 remap of a redirtied lazyfree page is reported by
      // full-range-invalidated, THP or not (rmap.ts unmapPte's clear + set_pte_at, no invalidate_page): not this file's
      if (kernel !== 'v4.12') expect(redirtied.verdict.kind).toBe('pass');
      expect(redirtied.trace.filter((s) => s.effect.op === Op.LazyfreeFreeze && s.result === true)).toHaveLength(0);
      if (kernel === 'v4.10') {
        expect(redirtied.trace.some((s) => s.effect.op === Op.Writeback)).toBe(true);
      } else {
        expect(redirtied.machine.pages[head].free).toBe(false);
        expect(redirtied.machine.pages[head].swapBacked).toBe(true); // SetPageSwapBacked: back to normal reclaim
      }
    });
  }

  it('v6.6: a lazyfree THP mapped by PTEs whose second subpage was written again: the walk discards the first, keeps the folio', () => {
    // mprotect of the second page splits the PMD (clean: MADV_FREE cleaned it); the CPU's write dirties that PTE only
    const threads: Threads = [{ kind: 'cpu', ops: [W0, FREE_WHOLE, { op: 'mprotect', page: 1, pages: 1, writable: true }, { op: 'access', page: 1, write: true }] }, RECLAIM];
    const r = run('v6.6', 'observer', thp(threads));
    expect(r.verdict.kind).toBe('pass');
    const head = r.trace.find((s) => s.effect.op === Op.MarkLazyfree)!.effect.a;
    expect(r.machine.pages[head]).toMatchObject({ free: false, swapBacked: true, dirty: true });
    expect(r.machine.ptes[0]).toBeNull(); // discarded before the walk met the dirty PTE
    expect(r.machine.ptes[1]).toMatchObject({ pfn: head + 1, dirty: true }); // remapped
    expect(r.trace.some((s) => s.effect.op === Op.LazyfreeFreeze)).toBe(false);
  });

  it('a lazyfree THP mapped twice after a later fork is not discarded', () => {
    for (const kernel of ['v4.13', 'v6.6']) {
      const r = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [W0, FREE_WHOLE, { op: 'fork' }] }, RECLAIM]));
      expect(r.verdict.kind).toBe('pass');
      expect(r.trace.filter((s) => s.effect.op === Op.LazyfreeFreeze && s.result === true)).toHaveLength(0);
    }
  });
});

// --- device writes after MADV_FREE on a THP: no-lost-dirty ---------------------------------------

interface MirrorState {
  readonly lock: number;
  readonly spt: number;
}
const AT = site('test', 'mirror driver over get_user_pages_fast', 'model');

/**
 * A test-only mirror driver (every era with range_start/end): range_start zaps the sptes of the
 * range under its lock (`transferDirty`: the dirty bit of a writable spte goes to the page, as KVM's
 * mmu_spte_clear_track_bits does); its fault is get_user_pages_fast (no dirty bit set) + spte + put_page.
 */
function mirror(name: string, transferDirty: boolean): NotifierDefinition<MirrorState> {
  return {
    name,
    title: `test: ${name}`,
    contract: 'mirror',
    eras: ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2', 'v5.5'],
    source: 'test',
    setup: (api: SetupApi) => ({ lock: api.spinlock('dev->lock'), spt: api.secondaryTable('dev spt') }),
    ops: {
      *invalidateRangeStart(k: KernelApi, s: MirrorState, r: MmuNotifierRange): Gen<number> {
        yield* k.spinLock(s.lock, AT);
        yield* k.spteClearRange(s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, AT, transferDirty);
        yield* k.spinUnlock(s.lock, AT);
        return 0;
      },
    },
    device: {
      table: (s) => s.spt,
      *fault(k: KernelApi, s: MirrorState, f: DeviceFault): Gen<DeviceFaultResult> {
        const got = (yield* k.getUserPagesFast(f.address, f.write)) ?? (yield* k.getUserPagesUnlocked(f.address, f.write));
        if (!got) return 'error';
        yield* k.spinLock(s.lock, AT);
        yield* k.spteSet(s.spt, k.vpnOf(f.address), got.page, got.writable, AT);
        yield* k.spinUnlock(s.lock, AT);
        yield* k.putPage(got.page, AT);
        return 'mapped';
      },
    },
  };
}
const forgetsDirty = mirror('mirror-forgets-dirty', false);
const transfersDirty = mirror('mirror-transfers-dirty', true);

/** The CPU faults a THP and MADV_FREEs it whole; then the device writes it; then reclaim finds it. */
const DEVICE_AFTER = (device: number): Threads => [{ kind: 'cpu', ops: [W0, FREE_WHOLE] }, { kind: 'device', ops: [{ op: 'access', page: device, write: true }] }, RECLAIM];

describe('a device write after MADV_FREE on a THP must reach the page (no-lost-dirty)', () => {
  for (const [kernel, driver] of [['v4.13', 'kvm'], ['v4.19', 'kvm'], ['v6.6', 'kvm'], ['v4.13', 'ib-umem-odp'], ['v5.5', 'ib-umem-odp'], ['v6.6', 'ib-umem-odp']] as const) {
    it(`${driver} on ${kernel}: the THP is kept, no-lost-dirty holds`, () => {
      for (const page of [0, 1]) {
        const r = run(kernel, driver, thp(DEVICE_AFTER(page)));
        expect(r.verdict.kind).toBe('pass');
        expect(r.trace.filter((s) => s.effect.op === Op.LazyfreeFreeze && s.result === true)).toHaveLength(0);
        expect(r.trace.some((s) => s.effect.op === Op.DeviceAccess && s.effect.c === 1 && s.result === true)).toBe(true);
      }
    });
  }

  for (const kernel of ['v4.13', 'v4.19', 'v5.5']) {
    it(`${kernel}: a driver that zaps its spte without dirtying the page loses the device's write when reclaim discards the THP`, () => {
      for (const page of [0, 1]) {
        const bad = run(kernel, forgetsDirty, thp(DEVICE_AFTER(page)));
        expect(bad.verdict).toMatchObject({ kind: 'violation', invariant: 'no-lost-dirty' });
        const good = run(kernel, transfersDirty, thp(DEVICE_AFTER(page)));
        expect(good.verdict.kind).toBe('pass');
      }
    });
  }

  it('what the device wrote before MADV_FREE of the THP may be discarded: no report', () => {
    // the device's write fault maps the THP (gup → handle_mm_fault) and writes it; then MADV_FREE, then reclaim
    const r = run('v4.13', forgetsDirty, thp([{ kind: 'cpu', ops: [W0] }, { kind: 'device', ops: [W0] }, { kind: 'cpu', ops: [FREE_WHOLE] }, RECLAIM]));
    expect(r.verdict.kind).toBe('pass');
    expect(r.trace.filter((s) => s.effect.op === Op.LazyfreeFreeze && s.result === true)).toHaveLength(2);
  });

  it('random THP schedules with lazyfree: the broken driver is caught, KVM is not (fixed seeds, small runs)', () => {
    const scen = fc.constantFrom<Threads>(DEVICE_AFTER(0), DEVICE_AFTER(1), [{ kind: 'cpu', ops: [W0, FREE_PART] }, { kind: 'device', ops: [W0] }, RECLAIM]);
    let caught = 0;
    fc.assert(
      fc.property(scen, scheduleArbitrary(), (threads, preemptions) => {
        const bad = run('v4.13', forgetsDirty, thp(threads), preemptions);
        if (bad.verdict.kind === 'violation' && bad.verdict.invariant === 'no-lost-dirty') caught++;
        const kvm = run('v4.13', 'kvm', thp(threads), preemptions);
        return kvm.verdict.kind === 'pass';
      }),
      { numRuns: 150, seed: 7 },
    );
    expect(caught).toBeGreaterThan(10);
  });
});

describe('the default draw', () => {
  it('draws madvise(MADV_FREE) with THP now', () => {
    const huge = fc.sample(scenarioArbitrary(), { numRuns: 400, seed: 5 }).filter((s) => s.thp);
    expect(huge.some((s) => s.threads.some((t) => t.ops.some((o) => o.op === 'lazyfree')))).toBe(true);
    const off = fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, lazyfree: false }), { numRuns: 400, seed: 5 });
    expect(off.some((s) => s.threads.some((t) => t.ops.some((o) => o.op === 'lazyfree')))).toBe(false);
  });
});
