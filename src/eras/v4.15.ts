import { deriveEra } from './era';
import { v4_13 } from './v4.13';

/**
 * v4.15: 4645b9fe84bf "mm/mmu_notifier: avoid call to invalidate_range() in range_end()" adds
 * `mmu_notifier_invalidate_range_only_end()` for call sites that already called ->invalidate_range
 * under the PTL (wp_page_copy: mm/memory.c line 2602 in v4.19). Present in v4.19, absent in v4.13;
 * v4.15 as the first release is the reference's dating, not verified here [U].
 */
export const v4_15 = deriveEra(v4_13, {
  // mm/migrate.c migrate_misplaced_transhuge_page v4.15: set_pmd_at over the protnone PMD, no pmdp_huge_clear_flush_notify
  numaThpMigration: 'copy-then-set',
  name: 'v4.15',
  summary: 'mmu_notifier_invalidate_range_only_end where the PTL call already happened (wp_page_copy)',
  source: 'mm/memory.c wp_page_copy, mm/mmu_notifier.c __mmu_notifier_invalidate_range_end(only_end) (v4.19; v4.15 [U])',
  wpPageCopyOnlyEnd: true,
  // mm/vmscan.c shrink_page_list v4.15.18: flags |= TTU_SPLIT_HUGE_PMD; __remove_mapping refcount = 1 + HPAGE_PMD_NR
  thpReclaim: 'swap-whole',
  // mm/rmap.c try_to_unmap_one v4.15.18: migration entry, "No need to invalidate here" (range_end does it)
  migrationEntryInvalidateRange: false,
  // mm/migrate.c unmap_and_move v4.15.18, ARCH_ENABLE_THP_MIGRATION arch/x86/Kconfig v4.15.18: THPs migrate whole
  thpMigration: 'whole',
  // mm/ksm.c write_protect_page, replace_page v4.15.18: ptep_clear_flush + set_pte_at_notify, ->invalidate_range at range_end
  ksmClearFlushNotify: false,
  // mm/ksm.c cmp_and_merge_page v4.15: split = PageTransCompound(page) && compound_head(page) == compound_head(tree_page)
  ksmSplitSameCompound: true,
  // mm/rmap.c page_mkclean_one v4.15: "No need to call mmu_notifier_invalidate_range()" (range_end does it)
  mkcleanInvalidateRange: false,
});
