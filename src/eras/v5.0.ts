import { deriveEra } from './era';
import { v4_19 } from './v4.19';

/**
 * v5.0: 5d6527a784f7 "mm/mmu_notifier: use structure for invalidate_range_start/end callback"
 * (seeds/05): start/end take `const struct mmu_notifier_range *` with `blockable`. No functional
 * change ("No functional changes with this patch").
 */
export const v5_0 = deriveEra(v4_19, {
  name: 'v5.0',
  summary: 'struct mmu_notifier_range {mm, start, end, blockable}: the same protocol as v4.19 in one argument',
  source: 'include/linux/mmu_notifier.h, mm/mmu_notifier.c (v5.0.1); commit 5d6527a784f7',
});
