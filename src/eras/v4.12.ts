import { deriveEra } from './era';
import { v4_10 } from './v4.10';

/**
 * v4.11 … v4.13-rc6 (here v4.12): c7ab0d2fdc84 "mm: convert try_to_unmap_one() to use
 * page_vma_mapped_walk()" moved ->invalidate_page inside the walk loop, with the PTL held
 * (mm/rmap.c v4.12 line 1468). Every invalidate_page that sleeps now sleeps in atomic context
 * (reference §3 B2). Landed in the v4.11 merge window (absent in 4.10.17, present in 4.11.0).
 */
export const v4_12 = deriveEra(v4_10, {
  name: 'v4.12',
  // mm/ksm.c cmp_and_merge_page v4.12: no split after a failed merge of two subpages of one THP
  ksmSplitSameCompound: false,
  summary: 'c7ab0d2fdc84: invalidate_page called inside the page_vma_mapped_walk loop, under the PTL (v4.11 to v4.13-rc6)',
  source: 'mm/rmap.c try_to_unmap_one (v4.12)',
  tryToUnmapNotify: 'invalidate-page-under-ptl',
  // mm/huge_memory.c change_huge_pmd v4.12: pmdp_invalidate(vma, addr, pmd) (no notifier), pmd_modify, set_pmd_at
  changeHugePmd: 'pmdp-invalidate',
  // mm/madvise.c mark_page_lazyfree, mm/rmap.c try_to_unmap_one "MADV_FREE page check" (v4.12)
  lazyfree: 'swapbacked',
});
