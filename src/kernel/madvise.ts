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

/**
 * `madvise(addr, len, MADV_FREE)` (the v4.12+ lazyfree design: !PageSwapBacked pages), with mmap_sem
 * for read: range_start; under the PTL, for each present page mapped once (page_mapcount == 1):
 * ClearPageDirty, the PTE re-set old and clean (ptep_get_and_clear_full + set_pte_at), and
 * mark_page_lazyfree (ClearPageSwapBacked); range_end; tlb_finish_mmu. Reclaim then discards such a
 * page unless it was written again (the CPU sets the PTE dirty bit; a device must set_page_dirty).
 * Pages in the swap cache are left alone (their try_to_free_swap is not modelled). Event
 * MMU_NOTIFY_CLEAR (v5.2+).
 */
export function* madviseFree(kc: KernelContext, vpn: number, n: number): Gen {
  yield* p.downRead(MMAP_SEM, MADVISE);
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
      yield* p.pteClear(v, false, false, FREE_PTE); // ptep_get_and_clear_full
      yield* p.pteSet(v, { ...pte, young: false, dirty: false }, FREE_PTE); // set_pte_at(pte_mkold(pte_mkclean(ptent)))
    }
    yield* p.markLazyfree(page, FREE_PTE);
  }
  yield* p.spinUnlock(PTL, FREE_PTE);
  yield* invalidateRangeEnd(kc, range, FREE_VMA);
  yield* tlbFinishMmu(kc, vpn, n, []);
  yield* p.upRead(MMAP_SEM, MADVISE);
}
