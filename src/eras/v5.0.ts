import { deriveEra } from './era';
import { v4_19 } from './v4.19';

/**
 * v5.0: 5d6527a784f7 "mm/mmu_notifier: use structure for invalidate_range_start/end callback"
 * (seeds/05): start/end take `const struct mmu_notifier_range *` with `blockable`. No functional
 * change ("No functional changes with this patch").
 */
export const v5_0 = deriveEra(v4_19, {
  // mm/huge_memory.c do_huge_pmd_numa_page v5.0.1: mm_tlb_flush_pending → flush_tlb_range + mmu_notifier_invalidate_range;
  // mm/migrate.c migrate_misplaced_transhuge_page v5.0.1: no notifier call
  numaThpMigration: 'fault-invalidates',
  name: 'v5.0',
  // mm/ksm.c cmp_and_merge_page v4.19 and v5.2.1 (the v5.0.1 mirror has no mm/ksm.c) [U]
  ksmSplitSameCompound: true,
  summary: 'struct mmu_notifier_range {mm, start, end, blockable}: the same protocol as v4.19 in one argument',
  source: 'include/linux/mmu_notifier.h, mm/mmu_notifier.c (v5.0.1); commit 5d6527a784f7',
});
