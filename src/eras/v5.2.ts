import { deriveEra } from './era';
import { v5_0 } from './v5.0';

/**
 * v5.2: d87f055b94ea "mm/mmu_notifier: contextual information for event enums": the range carries
 * an `event` (MMU_NOTIFY_UNMAP for munmap and the OOM reaper, MMU_NOTIFY_CLEAR for zap, reclaim
 * and COW, …) and `flags & MMU_NOTIFIER_RANGE_BLOCKABLE` replaces `blockable` (v5.2.1 snapshot).
 */
export const v5_2 = deriveEra(v5_0, {
  name: 'v5.2',
  // mm/ksm.c cmp_and_merge_page v5.2.1: split_huge_page of the THP both merged pages belong to
  ksmSplitSameCompound: true,
  summary: 'events (MMU_NOTIFY_UNMAP, CLEAR, PROTECTION_*, SOFT_DIRTY) and range flags',
  source: 'include/linux/mmu_notifier.h enum mmu_notifier_event; mm/memory.c, mm/rmap.c, mm/oom_kill.c mmu_notifier_range_init (v5.2.1, v5.7.14)',
  events: true,
  // mm/memory.c do_wp_page v5.2.1: if (PageKsm(page) && (PageSwapCache(page) || page_count(page) != 1)) goto copy; … reuse_ksm_page()
  ksmPageReuse: true,
});
