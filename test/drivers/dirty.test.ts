/**
 * How device writes reach the page's dirty state, and what MADV_FREE does to the data if they do not
 * (the no-lost-dirty invariant): set_page_dirty at unpin (a pinning driver), set_page_dirty_lock and
 * its page lock, gup's FOLL_TOUCH dirtying, the ATS walk's dirty bit (devices sharing the CPU page
 * table), and writes racing with the madvise call itself.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { explore } from '../../src/check/explore';
import { DEFAULT_BOUNDS, scenarioArbitrary } from '../../src/scenario/arbitrary';
import { runCase, type Case } from '../../src/check/case';
import { DRIVERS } from '../../src/drivers';
import { amdIommuV2, type AmdIommuV2State } from '../../src/drivers/amd_iommu_v2';
import { hfi1MmuRb } from '../../src/drivers/mmu_rb';
import { eraByName } from '../../src/eras';
import { DRIVER_INVARIANTS } from '../../src/invariants';
import type { KernelApi } from '../../src/notifier/kernel-api';
import type { DeviceFault, DeviceFaultResult, MmuNotifierRange, NotifierDefinition, SetupApi } from '../../src/notifier/definition';
import { Op } from '../../src/runtime/effect';
import type { Gen } from '../../src/runtime/primitives';
import { site } from '../../src/runtime/site';

type Threads = Case['scenario']['threads'];

function run(kernel: string, threads: Threads, driver: NotifierDefinition<any>, preemptions: Case['preemptions'] = []) {
  return runCase({ kernel, driver: driver.name, scenario: { threads }, preemptions, maxSteps: 3000 }, { era: eraByName(kernel), driver });
}

const W = { op: 'access', page: 0, write: true } as const;
const LAZYFREE = { op: 'lazyfree', page: 0, pages: 1 } as const;
const RECLAIM = { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] } as const;
/** The CPU writes the page and MADV_FREEs it; then the device writes it; then reclaim finds it. */
const AFTER: Threads = [{ kind: 'cpu', ops: [W, LAZYFREE] }, { kind: 'device', ops: [W] }, RECLAIM];
/** The device writes before the MADV_FREE (that data is the application's to lose) and after it. */
const BEFORE_AND_AFTER: Threads = [{ kind: 'device', ops: [W] }, { kind: 'cpu', ops: [LAZYFREE] }, { kind: 'device', ops: [W] }, RECLAIM];

// --- a pinning driver on get_user_pages_fast, with and without the dirtying at unpin -------------

interface PinState {
  readonly lock: number;
  readonly spt: number;
}

const AT = site('test', 'gup-fast pinning driver', 'model');

/**
 * A pin driver built like hfi1's caches (get_user_pages_fast, which sets no dirty bit; the entry
 * keeps the reference; range_start unpins under a spinlock), mapping writable when asked. `unpin`
 * is its teardown of one page; the fixed one calls set_page_dirty for a writable pin, as
 * ib_umem_odp_unmap_dma_pages does.
 */
function gupFastPin(name: string, unpin: (k: KernelApi, page: { pfn: number; generation: number; writable: boolean }) => Gen): NotifierDefinition<PinState> {
  return {
    name,
    title: `test: ${name}`,
    contract: 'pin',
    eras: ['v4.13', 'v4.19', 'v5.2'],
    source: 'test',
    setup: (api: SetupApi) => ({ lock: api.spinlock('dev->lock'), spt: api.secondaryTable('dev pins') }),
    ops: {
      *invalidateRangeStart(k: KernelApi, s: PinState, r: MmuNotifierRange): Gen<number> {
        const gone: { pfn: number; generation: number; writable: boolean }[] = [];
        yield* k.spinLock(s.lock, AT);
        for (let vpn = k.vpnOf(r.start); vpn <= k.vpnOf(r.end - 1); vpn++) {
          const e = yield* k.spteRead(s.spt, vpn, AT);
          if (!e) continue;
          yield* k.spteClearRange(s.spt, vpn, vpn + 1, AT);
          gone.push(e);
        }
        yield* k.spinUnlock(s.lock, AT);
        for (const e of gone) yield* unpin(k, e);
        return 0;
      },
    },
    device: {
      table: (s) => s.spt,
      *fault(k: KernelApi, s: PinState, f: DeviceFault): Gen<DeviceFaultResult> {
        const got = (yield* k.getUserPagesFast(f.address, f.write)) ?? (yield* k.getUserPagesUnlocked(f.address, f.write));
        if (!got) return 'error';
        const vpn = k.vpnOf(f.address);
        yield* k.spinLock(s.lock, AT);
        const old = yield* k.spteRead(s.spt, vpn, AT);
        yield* k.spteSet(s.spt, vpn, got.page, got.writable, AT);
        yield* k.spinUnlock(s.lock, AT);
        if (old) yield* unpin(k, old);
        return 'mapped';
      },
    },
  };
}

const forgets = gupFastPin('pin-forgets-dirty', function* (k, page) {
  yield* k.putPage(page, AT); // hfi1_release_user_pages(mm, p, 1, false) for a page the device wrote
});
const dirties = gupFastPin('pin-dirties', function* (k, page) {
  if (page.writable) yield* k.setPageDirty(page, AT);
  yield* k.putPage(page, AT);
});
const dirtiesLocked = gupFastPin('pin-dirties-locked', function* (k, page) {
  if (page.writable) yield* k.setPageDirtyLock(page, AT);
  yield* k.putPage(page, AT);
});

describe('a pinning driver must dirty what the device wrote before it unpins', () => {
  it('forgetting set_page_dirty at unpin loses the write into a lazyfree page: no-lost-dirty', () => {
    const r = run('v4.13', AFTER, forgets);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-lost-dirty' });
    expect(r.machine.pages[1].free).toBe(true);
  });

  it('set_page_dirty at unpin keeps the page: try_to_unmap_one finds it redirtied and remaps it', () => {
    for (const threads of [AFTER, BEFORE_AND_AFTER]) {
      const r = run('v4.13', threads, dirties);
      expect(r.verdict.kind).toBe('pass');
      expect(r.machine.pages[1].free).toBe(false);
      expect(r.machine.ptes[0]).toMatchObject({ pfn: 1 });
    }
  });

  it('MADV_FREE cleans the PTE without counting the mapping twice (a second MADV_FREE still finds page_mapcount == 1)', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [W, LAZYFREE, W, LAZYFREE] }], forgets);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].mapcount).toBe(1);
    expect(r.trace.filter((t) => t.effect.op === Op.MarkLazyfree)).toHaveLength(2);
  });

  it('what the device wrote before MADV_FREE may be discarded: no report', () => {
    const r = run('v4.13', [{ kind: 'device', ops: [W] }, { kind: 'cpu', ops: [LAZYFREE] }, RECLAIM], forgets);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].free).toBe(true);
  });

  it('the exhaustive search over the threads finds it, and proves the fixed driver within one preemption', () => {
    const scenario = { threads: [{ kind: 'cpu', ops: [W, LAZYFREE] }, RECLAIM, { kind: 'device', ops: [W] }] as Threads };
    const opts = { kernel: 'v4.13', scenario, maxPreemptions: 1, invariants: DRIVER_INVARIANTS };
    const bad = explore({ ...opts, driver: forgets.name, target: { era: eraByName('v4.13'), driver: forgets } });
    expect(bad.verdict).toMatchObject({ kind: 'violation', invariant: 'no-lost-dirty' });
    expect(bad.counterexample!.foundAtBound).toBeLessThanOrEqual(1);
    const good = explore({ ...opts, driver: dirties.name, target: { era: eraByName('v4.13'), driver: dirties } });
    expect(good.verdict.kind).toBe('pass');
    expect(good.complete).toBe(true);
  });

  it('MADV_FREE is in the default scenario draw', () => {
    const drawn = fc.sample(scenarioArbitrary(), { numRuns: 300, seed: 1 });
    expect(drawn.some((sc) => sc.threads.some((t) => t.ops.some((o) => o.op === 'lazyfree')))).toBe(true);
    const off = fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, lazyfree: false }), { numRuns: 300, seed: 1 });
    expect(off.some((sc) => sc.threads.some((t) => t.ops.some((o) => o.op === 'lazyfree')))).toBe(false);
  });
});

describe('set_page_dirty_lock takes the page lock', () => {
  it('from an atomic callback (->invalidate_range under the PTL) it is caught: no-sleep-in-atomic', () => {
    // a device sharing the page table whose ->invalidate_range "dirties" the page it flushes with the
    // page lock: lock_page may sleep, and try_to_unmap_one calls it under the PTL
    const locked: NotifierDefinition<AmdIommuV2State> = {
      ...amdIommuV2,
      name: 'iommu-dirty-lock',
      ops: {
        *invalidateRange(k, s, r) {
          const e = yield* k.spteRead(s.iotlb, k.vpnOf(r.start), AT);
          if (e && e.writable) yield* k.setPageDirtyLock(e, AT);
          yield* amdIommuV2.ops.invalidateRange!(k, s, r);
        },
      },
    };
    const threads: Threads = [{ kind: 'cpu', ops: [W] }, { kind: 'device', ops: [W] }, RECLAIM];
    const r = run('v4.13', threads, locked);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/lock_page/);
  });

  it('from range_start called by try_to_unmap (the page locked by reclaim) it never gets the lock', () => {
    // why ib_umem_odp_unmap_dma_pages uses set_page_dirty: "MMU notifiers are called sometimes with
    // and sometimes without the lock" (drivers/infiniband/core/umem_odp.c v4.13)
    const r = run('v4.13', [{ kind: 'cpu', ops: [W] }, { kind: 'device', ops: [W] }, RECLAIM], dirtiesLocked);
    expect(['deadlock', 'step-budget-exceeded']).toContain(r.verdict.kind === 'violation' ? r.verdict.invariant : r.verdict.kind);
    // and from a context that does not hold it (munmap), it dirties and unlocks
    const ok = run('v4.13', [{ kind: 'cpu', ops: [W] }, { kind: 'device', ops: [W] }, { kind: 'cpu', ops: [{ op: 'munmap', page: 0, pages: 1 }] }], dirtiesLocked);
    expect(ok.verdict.kind).toBe('pass');
  });
});

describe('get_user_pages with FOLL_WRITE dirties a clean page (follow_page_pte FOLL_TOUCH)', () => {
  it('a slow-path pin of the clean lazyfree page makes it dirty, so the forgetful unpin loses nothing', () => {
    // the same forgetful teardown, but pinning through get_user_pages (scif, gntdev, the synthetic pin drivers)
    const slow: NotifierDefinition<PinState> = {
      ...forgets,
      name: 'pin-slow-gup',
      device: {
        ...forgets.device,
        *fault(k, s, f) {
          const got = yield* k.getUserPagesUnlocked(f.address, f.write);
          if (!got) return 'error';
          yield* k.spinLock(s.lock, AT);
          yield* k.spteSet(s.spt, k.vpnOf(f.address), got.page, got.writable, AT);
          yield* k.spinUnlock(s.lock, AT);
          return 'mapped';
        },
      },
    };
    const r = run('v4.13', AFTER, slow);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].free).toBe(false);
    expect(r.trace.some((t) => /FOLL_TOUCH/.test(t.effect.at.fn))).toBe(true);
  });
});

describe('a device sharing the CPU page table dirties the PTE through the ATS walk', () => {
  /** AMD IOMMUv2 with an IOMMU that walks the page table without setting the dirty bit. */
  const noDirtyBit: NotifierDefinition<AmdIommuV2State> = {
    ...amdIommuV2,
    name: 'iommu-no-dirty-bit',
    device: {
      ...amdIommuV2.device,
      fault: (k, s, f) => amdIommuV2.device.fault({ ...k, atsTranslate: (address, _write, at) => k.walkCpuPageTable(address, at) }, s, f),
    },
  };

  it('an ATS write after MADV_FREE leaves the PTE dirty: reclaim keeps the page', () => {
    const r = run('v4.13', AFTER, amdIommuV2);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].free).toBe(false);
    expect(r.machine.ptes[0]).toMatchObject({ pfn: 1, dirty: true });
  });

  it('an IOMMU walk that did not set the dirty bit would lose it: no-lost-dirty', () => {
    const r = run('v4.13', AFTER, noDirtyBit);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-lost-dirty' });
  });

  it('a write through an IOTLB entry that MADV_FREE has not flushed yet races with the call: not reported', () => {
    // the device translates and writes before the madvise, MADV_FREE cleans the PTE, and the device
    // writes again through its IOTLB before range_end's ->invalidate_range flushes it
    const threads: Threads = [{ kind: 'cpu', ops: [W] }, { kind: 'device', ops: [W, W] }, { kind: 'cpu', ops: [LAZYFREE] }, RECLAIM];
    const r = run('v4.13', threads, amdIommuV2, [
      { thread: 1, after: 6, to: 2 },
      { thread: 2, after: 8, to: 1 },
    ]);
    // the device's second write came between mark_page_lazyfree and the IOTLB flush of range_end
    const lazy = r.trace.findIndex((t) => t.effect.op === Op.MarkLazyfree);
    const flush = r.trace.findIndex((t, i) => i > lazy && t.effect.op === Op.SpteClearRange);
    const write = r.trace.findIndex((t, i) => i > lazy && t.effect.op === Op.DeviceAccess && t.result === true);
    expect(lazy).toBeGreaterThan(0);
    expect(write).toBeGreaterThan(lazy);
    expect(write).toBeLessThan(flush);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].free).toBe(true);
  });
});

describe("v4.10's MADV_FREE (TTU_LZFREE: no page flag, reclaim discards any clean anonymous page)", () => {
  it('madvise only clears PG_dirty and the PTE; reclaim adds the page to the swap cache without dirtying it and discards it', () => {
    const r = run('v4.10', [{ kind: 'cpu', ops: [W, LAZYFREE] }, RECLAIM], forgets);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].free).toBe(true);
    expect(r.machine.ptes[0]).toBeNull(); // discarded: no swap entry
    const sites = r.trace.map((t) => t.effect.at.fn);
    expect(sites).toContain('madvise_free_pte_range: ClearPageDirty(page)');
    expect(sites).toContain('try_to_unmap_one: !PageDirty && TTU_LZFREE: discard');
    expect(r.trace.some((t) => t.effect.op === Op.MarkLazyfree && t.effect.c === 1)).toBe(true); // no mark_page_lazyfree
  });

  it('a page the CPU wrote again after MADV_FREE is swapped out, not discarded', () => {
    const r = run('v4.10', [{ kind: 'cpu', ops: [W, LAZYFREE, W] }, RECLAIM], forgets);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.ptes[0]).toMatchObject({ swap: true, pfn: 1 });
  });

  it('a gup-fast pin the driver releases without dirtying loses what the device wrote after MADV_FREE', () => {
    // v4.10 tells the driver with ->invalidate_page after the PTL (and after TTU_LZFREE's discard decision)
    const forgets410: NotifierDefinition<PinState> = {
      ...forgets,
      eras: ['v4.10'],
      ops: {
        ...forgets.ops,
        *invalidatePage(k, s, address) {
          yield* forgets.ops.invalidateRangeStart!(k, s, { start: address, end: address + k.PAGE_SIZE });
        },
      },
    };
    const r = run('v4.10', AFTER, forgets410);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-lost-dirty' });
    // dirtying in ->invalidate_page comes after try_to_unmap_one's TTU_LZFREE discard (mm/rmap.c
    // v4.10.17: `goto discard` under the PTL, mmu_notifier_invalidate_page after pte_unmap_unlock):
    // the page is then swapped out, but the process's PTE is already gone, so the process gets a new
    // zeroed page at its next access (no-lost-dirty counts pageout as safe and does not see this)
    const late: NotifierDefinition<PinState> = { ...forgets410, ops: { ...forgets410.ops, invalidatePage: function* (k, s, address) {
      yield* dirties.ops.invalidateRangeStart!(k, s, { start: address, end: address + k.PAGE_SIZE });
    } } };
    const l = run('v4.10', AFTER, late);
    expect(l.verdict.kind).toBe('pass');
    expect(l.machine.ptes[0]).toBeNull(); // no swap entry: what the device wrote is out of the process's reach
    expect(l.trace.some((t) => t.effect.op === Op.Writeback && t.result === true)).toBe(true);
  });
});

describe('hfi1 SDMA only reads user memory', () => {
  it('its pins are read-only and a device write is refused, so it never writes a page', () => {
    const r = run('v4.13', AFTER, hfi1MmuRb);
    expect(r.verdict.kind).toBe('pass');
    expect(r.trace.some((t) => /SDMA only reads/.test(t.effect.text ?? ''))).toBe(true);
    expect(r.machine.tables[0].entries.every((e) => e === null || !e.writable)).toBe(true);
  });
});

describe('every catalogue driver keeps what its device wrote after MADV_FREE', () => {
  // hmm_range_fault users: the device writes through a mirror of a writable, clean PTE
  // (hmm_pte_need_fault asks for no fault, mm/hmm.c v6.8), and nothing dirties the page at
  // invalidation (amdgpu_ttm_tt_unpin_userptr v5.4, v6.8: no set_page_dirty; nouveau_svm.c v6.8 and
  // Documentation/vm/hmm.rst v5.4: no mention of dirtying). The model's reading: the data is lost.
  const HMM_MIRRORS = ['hmm-mirror', 'hmm-mirror-no-retry', 'hmm-mirror-set-seq-unlocked', 'amdgpu-userptr@v5.5', 'amdgpu-userptr@v6.6', 'nouveau-svm'];
  const cells = DRIVERS.flatMap((d) => d.eras.map((kernel) => [`${d.name}@${kernel}`, d, kernel] as const));
  it.each(cells)('%s', (label, d, kernel) => {
    const hmm = HMM_MIRRORS.includes(d.name) || HMM_MIRRORS.includes(label);
    for (const threads of [AFTER, BEFORE_AND_AFTER]) {
      const r = runCase({ kernel, driver: d.name, scenario: { threads }, preemptions: [], maxSteps: 3000, invariants: DRIVER_INVARIANTS } as Case, { era: eraByName(kernel), driver: d });
      const lost = r.verdict.kind === 'violation' && r.verdict.invariant === 'no-lost-dirty';
      expect(lost, `${label}: ${JSON.stringify(r.verdict)}`).toBe(hmm);
    }
  });
});

describe("gntdev's grants live in its own VMA", () => {
  it('madvise(MADV_FREE) there is -EINVAL and ksmd never merges it, on every gntdev era; an anonymous VMA (kvm) is freed and merged', () => {
    const scenario = { threads: [{ kind: 'cpu' as const, ops: [{ op: 'access' as const, page: 0, write: true }, { op: 'access' as const, page: 1, write: true }, { op: 'lazyfree' as const, page: 0, pages: 1 }] }, { kind: 'ksmd' as const, ops: [{ op: 'merge' as const, page: 0, with: 1 }] }] };
    for (const d of DRIVERS.filter((x) => x.name === 'xen-gntdev')) {
      for (const kernel of d.eras) {
        const r = runCase({ kernel, driver: d.name, scenario, preemptions: [], maxSteps: 3000 } as Case, { era: eraByName(kernel), driver: d });
        const text = r.trace.map((t) => t.effect.text ?? '').join('\n');
        expect(text, `${kernel}`).toMatch(/!vma_is_anonymous\(vma\): -EINVAL/);
        expect(text, `${kernel}`).toMatch(/ksm_madvise: VM_DONTEXPAND/);
        expect(r.machine.pages.some((pg) => !pg.swapBacked)).toBe(false);
      }
    }
    const kvm = runCase({ kernel: 'v4.13', driver: 'kvm', scenario, preemptions: [], maxSteps: 3000 } as Case);
    expect(kvm.trace.map((t) => t.effect.text ?? '').join('\n')).not.toMatch(/-EINVAL|VM_DONTEXPAND/);
  });
});
