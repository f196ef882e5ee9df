import { deriveEra } from './era';
import { v4_13 } from './v4.13';

/**
 * ≤ v4.10: try_to_unmap_one (page_check_address, one PTE) calls ->invalidate_page(mm, address)
 * after pte_unmap_unlock(), with no spinlock held (mm/rmap.c v4.10.17 lines 1582–1586: `out_unmap:
 * pte_unmap_unlock(pte, ptl); if (ret != SWAP_FAIL && ...) mmu_notifier_invalidate_page(mm,
 * address);`). No start/end bracket in try_to_unmap_one.
 */
export const v4_10 = deriveEra(v4_13, {
  name: 'v4.10',
  // mm/ksm.c cmp_and_merge_page v4.10.17: no split after a failed merge of two subpages of one THP
  ksmSplitSameCompound: false,
  summary: 'invalidate_page called after the PTL is released in try_to_unmap_one (may sleep); no start/end bracket there',
  source: 'mm/rmap.c try_to_unmap_one, mm/mmu_notifier.c __mmu_notifier_invalidate_page (v4.10.17)',
  callbacks: ['invalidatePage', 'invalidateRangeStart', 'invalidateRangeEnd', 'invalidateRange', 'release', 'changePte', 'clearFlushYoung'],
  tryToUnmapNotify: 'invalidate-page-after-ptl',
  // mm/oom_kill.c __oom_reap_task_mm v4.10.17: unmap_page_range() with no notifier call
  oomReaper: 'no-notifiers',
  // mm/swap_state.c add_to_swap v4.10.17 and v4.12: split_huge_page_to_list before add_to_swap_cache
  thpReclaim: 'split-in-add-to-swap',
  // fs/proc/task_mmu.c clear_refs_write v4.10.17 and v4.12: no mmu_gather, flush_tlb_mm(mm) after range_end
  clearRefs: 'read-flush-tlb-mm',
  // mm/huge_memory.c change_huge_pmd v4.10.17: entry = pmdp_huge_get_and_clear_notify(mm, addr, pmd)
  changeHugePmd: 'get-and-clear-notify',
  // mm/madvise.c madvise_free_pte_range (ClearPageDirty, no mark_page_lazyfree), mm/vmscan.c
  // shrink_page_list (TTU_LZFREE after add_to_swap), mm/rmap.c try_to_unmap_one (v4.10.17)
  lazyfree: 'ttu-lzfree',
});
