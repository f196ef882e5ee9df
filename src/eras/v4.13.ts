import type { Era } from './era';

/**
 * v4.13: after the kill-invalidate_page series (5f32b265400d and siblings, merge ea25c431).
 * try_to_unmap_one brackets the walk with invalidate_range_start/end and calls ->invalidate_range
 * per PTE under the PTL; range_end also calls ->invalidate_range (mm/mmu_notifier.c v4.13). The OOM
 * reaper skips mms with notifiers (mm/oom_kill.c __oom_reap_task_mm v4.13: `if (mm_has_notifiers(mm))`).
 */
const era: Era = {
  name: 'v4.13',
  summary: 'kill-invalidate_page: start/end bracket in try_to_unmap_one, ->invalidate_range per PTE under the PTL, range_end also calls ->invalidate_range',
  source: 'mm/rmap.c try_to_unmap_one, mm/mmu_notifier.c __mmu_notifier_invalidate_range_end (v4.13)',
  rangeEndCallsInvalidateRange: true,
  callbacks: ['invalidateRangeStart', 'invalidateRangeEnd', 'invalidateRange', 'release', 'changePte', 'clearFlushYoung'],
  tryToUnmapNotify: 'bracket',
  wpPageCopyOnlyEnd: false,
  oomReaper: 'skip-if-notifiers',
  events: false,
  intervalNotifiers: false,
  secondaryTlbs: 'invalidate-range',
  failedStartEndsOthers: false,
  thpReclaim: 'split-after-add-to-swap',
  // mm/rmap.c try_to_unmap_one v4.13.19: mmu_notifier_invalidate_range(address, +PAGE_SIZE) after discard: for every entry kind
  migrationEntryInvalidateRange: true,
  // mm/migrate.c unmap_and_move v4.13.9 (also v4.10.17, v4.12): split_huge_page(page) before __unmap_and_move
  thpMigration: 'split',
  // mm/ksm.c write_protect_page, replace_page v4.13.19: ptep_clear_flush_notify
  ksmClearFlushNotify: true,
  // mm/ksm.c cmp_and_merge_page v4.13.19: no split of a THP both merged pages belong to
  ksmSplitSameCompound: false,
  // mm/rmap.c page_mkclean_one v4.13.19: mmu_notifier_invalidate_range(vma->vm_mm, cstart, cend) under the PTL
  mkcleanInvalidateRange: true,
  // mm/memory.c do_wp_page v4.13.19: if (PageAnon(vmf->page) && !PageKsm(vmf->page)) … reuse
  ksmPageReuse: false,
  // mm/mmap.c exit_mmap v4.13.19: mmu_notifier_release, unmap_vmas, free_pgtables, tlb_finish_mmu, remove_vma; no lock
  exitMmap: 'plain',
  // fs/proc/task_mmu.c clear_refs_write v4.13.19: tlb_gather_mmu(&tlb, mm, 0, -1) … tlb_finish_mmu(&tlb, 0, -1)
  clearRefs: 'read-mmu-gather',
  // mm/huge_memory.c change_huge_pmd v4.13.19: pmdp_invalidate; pmd_modify; set_pmd_at
  changeHugePmd: 'pmdp-invalidate',
  // mm/huge_memory.c do_huge_pmd_wp_page v4.13.19: alloc_hugepage_vma, copy_user_huge_page, pmdp_huge_clear_flush_notify
  thpCowSplits: false,
  // mm/madvise.c mark_page_lazyfree, mm/rmap.c try_to_unmap_one "MADV_FREE page check" (v4.13.19)
  lazyfree: 'swapbacked',
  // mm/vmscan.c shrink_page_list v4.13.19: a !PageSwapBacked THP takes the "Split file THP" branch (split_huge_page_to_list)
  lazyfreeThpReclaim: 'split',
  // mm/migrate.c migrate_misplaced_transhuge_page v4.13.19: migrate_page_copy; range_start; pmdp_huge_clear_flush_notify; set_pmd_at; range_end
  numaThpMigration: 'copy-then-clear-notify',
  // mm/mprotect.c change_pte_range v4.13.19: prot_numa skips !page, PageKsm, pte_protnone, target_node only
  numaSkipShared: 'none',
  // mm/memory.c do_numa_page v4.13.19: ptep_modify_prot_start; pte_modify; pte_mkwrite if was_writable; commit; then migrate_misplaced_page
  numaFault: 'restore-first',
};

export const v4_13: Era = Object.freeze(era);
