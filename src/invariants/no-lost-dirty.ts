import { K_PAGE } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';

/**
 * Data a device wrote through its mapping reaches the page's dirty state before the page is
 * discarded: a lazyfree page (MADV_FREE) that reclaim finds clean is dropped without writeback, so a
 * driver that lets the device write it must set_page_dirty() (KVM does in mmu_spte_clear_track_bits;
 * ODP in its unmap) or keep the CPU PTE dirty.
 */
export const noLostDirty: StateInvariant = {
  kind: 'state',
  name: 'no-lost-dirty',
  title: 'no device-written data is lost',
  rule:
    'invalidate_page "If required set_page_dirty has to be called internally to this method" (include/linux/mmu_notifier.h ' +
    'v4.12); reclaim discards a clean lazyfree page (mm/vmscan.c shrink_page_list v4.13: PageAnon && !PageSwapBacked, ' +
    'page_ref_freeze(page, 1) unless PageDirty), so writes the device made must mark it dirty (reference §5.2 rule 7).',
  watches: K_PAGE,
  check(m: Machine): string | null {
    return m.lostDirty;
  },
};
