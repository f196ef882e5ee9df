import { deriveEra } from './era';
import { v5_2 } from './v5.2';

/**
 * v5.5: 99cb252f5e68 "mm/mmu_notifier: add an interval tree notifier": mmu_interval_notifier_insert,
 * ops->invalidate(sub, range, cur_seq), mmu_interval_read_begin / read_retry / set_seq, the mm's
 * invalidate_seq (odd while an invalidation of a subscribed range is running) and
 * active_invalidate_ranges; the itree is invalidated before the hlist, and an itree callback that
 * returns false in a non-blockable context ends the itree side and fails the start before any hlist
 * notifier runs (mm/mmu_notifier.c mn_itree_invalidate, v5.7.14). The release tag is the
 * reference's [U] (the code was read in v5.7.14; absent in v5.4).
 */
export const v5_5 = deriveEra(v5_2, {
  name: 'v5.5',
  // mm/ksm.c cmp_and_merge_page v5.4, v5.7.14: split_huge_page of the THP both merged pages belong to
  ksmSplitSameCompound: true,
  summary: 'interval notifiers: mmu_interval_read_begin/read_retry/set_seq, invalidate_seq, itree before hlist',
  source: 'mm/mmu_notifier.c mn_itree_invalidate, mn_itree_inv_end, mmu_interval_read_begin (v5.7.14); 99cb252f5e68',
  callbacks: ['invalidateRangeStart', 'invalidateRangeEnd', 'invalidateRange', 'invalidate', 'release', 'changePte', 'clearFlushYoung'],
  intervalNotifiers: true,
  // include/asm-generic/tlb.h tlb_flush_mmu_tlbonly v5.7.14: returns unless something was gathered, so
  // clear_refs_write's tlb_finish_mmu flushes nothing (v5.2.1 still flushed: `if (!tlb->end) return;`)
  clearRefs: 'read-mmu-gather-noflush',
});
