/**
 * mm/madvise.c (v4.13): madvise(MADV_DONTNEED).
 */
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { tlbFinishMmu, unmapRange } from './memory';
import { invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';
import { PAGE_SIZE, ZERO_PFN, addressOf } from '../runtime/machine';
import { MMAP_SEM, PTL } from './mm';

const MADVISE = site('mm/madvise.c', 'SYSCALL_DEFINE3(madvise)', 'v4.13');
const DONTNEED = site('mm/madvise.c', 'madvise_dontneed_single_vma', 'v4.13');

/**
 * `madvise(addr, len, MADV_DONTNEED)`: with mmap_sem held for READ (madvise_need_mmap_write is false
 * for DONTNEED), zap_page_range: the same range_start / zap_pte_range / range_end / tlb_finish_mmu as
 * munmap, but the VMA stays and the next access faults a fresh zero-filled page. Event
 * MMU_NOTIFY_CLEAR (v5.2+).
 */
export function* madviseDontneed(kc: KernelContext, vpn: number, n: number): Gen {
  yield* p.downRead(MMAP_SEM, MADVISE);
  yield* p.note('madvise_dontneed_single_vma → zap_page_range', DONTNEED);
  yield* unmapRange(kc, vpn, n, 'MMU_NOTIFY_CLEAR');
  yield* p.upRead(MMAP_SEM, MADVISE);
}

const FREE_VMA = site('mm/madvise.c', 'madvise_free_single_vma', 'v4.13');
const FREE_PTE = site('mm/madvise.c', 'madvise_free_pte_range', 'v4.13');
const FREE_PTE_410 = site('mm/madvise.c', 'madvise_free_pte_range: ClearPageDirty(page)', 'v4.10');
// "Application no longer needs these pages. If the pages are dirty, it's OK to just throw them away."
// (mm/madvise.c v4.13): data written before the call returns may be discarded, later writes must not be
const MADVISE_RETURN = site('mm/madvise.c', 'SYSCALL_DEFINE3(madvise): return', 'v4.13', 'no-lost-dirty bookkeeping: writes racing with the call may be lost');

/**
 * `madvise(addr, len, MADV_FREE)` (the v4.12+ lazyfree design: !PageSwapBacked pages), with mmap_sem
 * for read: range_start; under the PTL, for each present page mapped once (page_mapcount == 1):
 * ClearPageDirty, the PTE re-set old and clean (ptep_get_and_clear_full + set_pte_at), and
 * mark_page_lazyfree (ClearPageSwapBacked); range_end; tlb_finish_mmu. Reclaim then discards such a
 * page unless it was written again (the CPU sets the PTE dirty bit; a device must set_page_dirty).
 * v4.10 (Era.lazyfree 'ttu-lzfree', mm/madvise.c v4.10.17): the same walk with ClearPageDirty and
 * the clean PTE but no mark_page_lazyfree; reclaim's TTU_LZFREE discards any anonymous page it finds
 * clean (vmscan.ts reclaimTtuLzfree). The same notifier calls in both (madvise_free_single_vma
 * v4.10.17: mmu_notifier_invalidate_range_start/end around madvise_free_page_range).
 * Pages in the swap cache are left alone (their try_to_free_swap is not modelled). Event
 * MMU_NOTIFY_CLEAR (v5.2+).
 */
export function* madviseFree(kc: KernelContext, vpn: number, n: number): Gen {
  yield* p.downRead(MMAP_SEM, MADVISE);
  const own = kc.notifiers[0]?.def.device.ownVma;
  if (own !== undefined) {
    yield* p.note(`madvise_free_single_vma: !vma_is_anonymous(vma): -EINVAL (${own})`, FREE_VMA);
    yield* p.upRead(MMAP_SEM, MADVISE);
    return;
  }
  const start = addressOf(vpn);
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', start, start + n * PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, FREE_VMA);
  yield* p.spinLock(PTL, FREE_PTE);
  for (let v = vpn; v < vpn + n; v++) {
    const pte = yield* p.pteRead(v, FREE_PTE);
    if (pte === null || pte.swap || pte.pfn === ZERO_PFN) continue;
    const page = { pfn: pte.pfn, generation: pte.generation };
    if ((yield* p.pageMapcount(page, FREE_PTE)) !== 1) continue; // shared after fork: skip
    if (pte.young || pte.dirty) {
      // ptep_get_and_clear_full (the model's set_pte_at re-adds the rmap, so the clear takes it: mapcount unchanged)
      yield* p.pteClear(v, false, true, FREE_PTE);
      yield* p.pteSet(v, { ...pte, young: false, dirty: false }, FREE_PTE); // set_pte_at(pte_mkold(pte_mkclean(ptent)))
    }
    // v4.10 (Era.lazyfree 'ttu-lzfree'): ClearPageDirty only, before the PTE is cleaned; then
    // deactivate_page (LRU placement, not modelled) — no page flag marks the page lazyfree
    if (kc.era.lazyfree === 'ttu-lzfree') yield* p.markLazyfree(page, FREE_PTE_410, true);
    else yield* p.markLazyfree(page, FREE_PTE);
  }
  yield* p.spinUnlock(PTL, FREE_PTE);
  yield* invalidateRangeEnd(kc, range, FREE_VMA);
  yield* tlbFinishMmu(kc, vpn, n, []);
  yield* p.upRead(MMAP_SEM, MADVISE);
  yield* p.lazyfreeReturn(vpn, n, MADVISE_RETURN);
}
