import { deriveEra } from './era';
import { v4_12 } from './v4.12';

/**
 * aac2fea94f7a "rmap: do not call mmu_notifier_invalidate_page() under ptl" (v4.13-rc, reverted by
 * 785373b4c387): the walk under the PTL calls no notifier; after it, one bare
 * `mmu_notifier_invalidate_range(mm, address, address + (1UL << compound_order(page)))`, with no
 * start/end bracket. Reconstructed from Andrea Arcangeli's review quoted in the revert (the diff
 * itself was not read): bug 1 — start/end users such as KVM get no notification at all; bug 2 —
 * the length is in pages, not bytes; bug 3 — the start is the last PTE the walk visited, not the
 * start of the huge page.
 * The OOM reaper is inherited from v4.12 (no notifier calls); whether 4d4bbd8526a8 (skip mms with
 * notifiers) was already in the tree aac2fea9 was committed to is not verified [U].
 */
export const aac2fea9 = deriveEra(v4_12, {
  name: 'aac2fea9',
  // mm/ksm.c cmp_and_merge_page as v4.12: no split after a failed merge of two subpages of one THP
  ksmSplitSameCompound: false,
  summary: 'the reverted attempt: a bare invalidate_range(addr, addr + (1UL << order)) after the walk, no start/end',
  source: 'aac2fea94f7a mm/rmap.c try_to_unmap_one, as described in the revert 785373b4c387 (diff not read: reconstructed)',
  tryToUnmapNotify: 'invalidate-range-after-walk',
  rangeAfterWalk: { lengthInPages: true, startAtLastPte: true },
  // aac2fea9 was committed to v4.13-rc (Aug 2017), after 38d8b4e6bdc8 "mm, THP, swap: delay
  // splitting THP during swap out" (v4.13-rc1): its shrink_page_list is v4.13's [U: tree not read]
  thpReclaim: 'split-after-add-to-swap',
  // clear_refs_write's tlb_gather_mmu came with the v4.13-rc TLB-batching fixes, before aac2fea9 [U: tree not read]
  clearRefs: 'read-mmu-gather',
});

/**
 * Not kernels: aac2fea9 with one of Andrea Arcangeli's two range bugs fixed, to show that each
 * alone is caught (tests only; not in ERAS, not on the command line). `aac2fea9-bug2-only` keeps
 * `1UL << compound_order(page)` (a length in pages) but starts at the huge page's aligned address;
 * `aac2fea9-bug3-only` uses `PAGE_SIZE << compound_order(page)` but still starts at the last PTE
 * the walk visited.
 */
export const aac2fea9Bug2Only = deriveEra(aac2fea9, {
  name: 'aac2fea9-bug2-only',
  summary: 'NOT A KERNEL (test-only): aac2fea9 with an aligned start; the length is still 1UL << order',
  source: 'aac2fea9 with bug 3 fixed by hand',
  rangeAfterWalk: { lengthInPages: true, startAtLastPte: false },
});

export const aac2fea9Bug3Only = deriveEra(aac2fea9, {
  name: 'aac2fea9-bug3-only',
  summary: 'NOT A KERNEL (test-only): aac2fea9 with PAGE_SIZE << order; the start is still the last PTE visited',
  source: 'aac2fea9 with bug 2 fixed by hand',
  rangeAfterWalk: { lengthInPages: false, startAtLastPte: true },
});
