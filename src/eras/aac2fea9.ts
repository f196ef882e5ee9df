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
  summary: 'the reverted attempt: a bare invalidate_range(addr, addr + (1UL << order)) after the walk, no start/end',
  source: 'aac2fea94f7a mm/rmap.c try_to_unmap_one, as described in the revert 785373b4c387 (diff not read: reconstructed)',
  tryToUnmapNotify: 'invalidate-range-after-walk',
  rangeAfterWalk: { lengthInPages: true, startAtLastPte: true },
});
