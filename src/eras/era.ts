/**
 * An era: the core-VM behaviour of one kernel version, as data (DESIGN §3.2). Call sites read these
 * fields to decide which notifier calls they make, where and under which locks. A new era is a base
 * era plus the fields that changed (see `deriveEra`).
 */

/** Callbacks of `struct mmu_notifier_ops`, camelCased. */
export type CallbackName =
  | 'invalidatePage'
  | 'invalidateRangeStart'
  | 'invalidateRangeEnd'
  | 'invalidateRange'
  | 'archInvalidateSecondaryTlbs'
  /** `struct mmu_interval_notifier_ops.invalidate` (v5.5+). */
  | 'invalidate';

/**
 * How `try_to_unmap_one()` (mm/rmap.c) tells the notifiers about the PTE it cleared:
 * - `invalidate-page-after-ptl`: `->invalidate_page(address)` after `pte_unmap_unlock()` (≤ v4.10);
 * - `invalidate-page-under-ptl`: `->invalidate_page(address)` inside the page_vma_mapped_walk loop,
 *   with the PTL held (c7ab0d2fdc84, v4.11 … v4.13-rc6);
 * - `invalidate-range-after-walk`: no start/end, one bare `mmu_notifier_invalidate_range()` after the
 *   walk (aac2fea94f7a, reverted by 785373b4c387);
 * - `bracket`: `invalidate_range_start/end` around the walk and `->invalidate_range` per PTE under the
 *   PTL (the kill-invalidate_page series, v4.13).
 */
export type TryToUnmapNotify = 'invalidate-page-after-ptl' | 'invalidate-page-under-ptl' | 'invalidate-range-after-walk' | 'bracket';

export interface Era {
  /** Name used on the command line (`--kernel v4.13`). */
  readonly name: string;
  /** One line on what defines it. */
  readonly summary: string;
  /** Where that is visible in the kernel source. */
  readonly source: string;
  /** `__mmu_notifier_invalidate_range_end()` also calls `->invalidate_range()` (≤ v6.5, mm/mmu_notifier.c). */
  readonly rangeEndCallsInvalidateRange: boolean;
  /** Callbacks of `struct mmu_notifier_ops` that exist in this era. */
  readonly callbacks: readonly CallbackName[];
  readonly tryToUnmapNotify: TryToUnmapNotify;
  /**
   * For `invalidate-range-after-walk`: the range aac2fea9 passed, `[address, address + (1UL <<
   * compound_order(page)))` with `address` the last PTE the walk visited. `lengthInPages` is the
   * `1UL << order` bug (Andrea's bug 2), `startAtLastPte` the unaligned start (bug 3).
   */
  readonly rangeAfterWalk?: { readonly lengthInPages: boolean; readonly startAtLastPte: boolean };
  /**
   * wp_page_copy ends its bracket with `mmu_notifier_invalidate_range_only_end()`, since
   * ptep_clear_flush_notify already called ->invalidate_range under the PTL (4645b9fe84bf).
   */
  readonly wpPageCopyOnlyEnd: boolean;
  /**
   * What the OOM reaper (mm/oom_kill.c __oom_reap_task_mm) does about notifiers:
   * - `no-notifiers`: unmap_page_range with no start/end at all (≤ v4.12; fixed by 4d4bbd8526a8
   *   "mm, oom_reaper: skip mm structs with mmu notifiers");
   * - `skip-if-notifiers`: `if (mm_has_notifiers(mm))` the mm is not reaped (v4.13 … v4.18);
   * - `nonblock-start`: `mmu_notifier_invalidate_range_start_nonblock()`; a callback may fail with
   *   -EAGAIN and the VMA is skipped, with no range_end for anyone (v4.19+, until c2655835fd8c).
   */
  readonly oomReaper: 'no-notifiers' | 'skip-if-notifiers' | 'nonblock-start';
  /**
   * `MMU_NOTIFY_*` events in `struct mmu_notifier_range` (d87f055b94ea, v5.2): each call site says
   * why it invalidates (UNMAP, CLEAR, PROTECTION_VMA, PROTECTION_PAGE, SOFT_DIRTY, RELEASE …).
   */
  readonly events: boolean;
  /**
   * Interval notifiers (mm/mmu_notifier.c mn_itree_invalidate, v5.5+): the itree is invalidated
   * before the hlist; an itree callback that cannot block makes range_start return -EAGAIN before
   * any hlist notifier is called, after ending the itree side itself.
   */
  readonly intervalNotifiers: boolean;
  /**
   * How devices that share the CPU page table hear of a change: `invalidate-range` (the core VM
   * calls ->invalidate_range, ≤ v6.5) or `arch-tlb-flush` (->arch_invalidate_secondary_tlbs from
   * the architecture's TLB flush, v6.6+: x86 flush_tlb_mm_range, arch_tlbbatch_add_pending).
   */
  readonly secondaryTlbs: 'invalidate-range' | 'arch-tlb-flush';
  /**
   * After a non-blockable range_start failed, the dispatcher itself calls invalidate_range_end of
   * every hlist notifier that has one, "any that succeeded start are expecting their end to be
   * called", and a notifier whose start can fail may not have an end (c2655835fd8c; read in v6.8
   * mn_hlist_invalidate_range_start). Before it, nobody got an end (reference §3 B12).
   */
  readonly failedStartEndsOthers: boolean;
  /**
   * How shrink_page_list (mm/vmscan.c) reclaims an anonymous transparent huge page:
   * - `split-in-add-to-swap` (≤ v4.12): add_to_swap() splits it (split_huge_page_to_list) before it
   *   enters the swap cache (mm/swap_state.c v4.10.17, v4.12); the head, then each tail, is
   *   reclaimed as an order-0 page;
   * - `split-after-add-to-swap` (v4.13): the THP enters the swap cache whole, then "XXX: We don't
   *   support THP writes" splits it (mm/vmscan.c v4.13.9), and the pages go on as above;
   * - `swap-whole` (v4.15+; mm/vmscan.c v4.15.18, v4.19.95): try_to_unmap(page, flags |
   *   TTU_SPLIT_HUGE_PMD) unmaps every subpage in one bracket, pageout writes the THP and
   *   __remove_mapping freezes `1 + HPAGE_PMD_NR` references and frees it whole.
   * From v4.13 a THP that no PMD maps (`!compound_mapcount(page)`) is split first in every form.
   */
  readonly thpReclaim: 'split-in-add-to-swap' | 'split-after-add-to-swap' | 'swap-whole';
}

/** A new era from `base` with the fields that changed. */
export function deriveEra(base: Era, changes: Partial<Era> & Pick<Era, 'name' | 'summary' | 'source'>): Era {
  return Object.freeze({ ...base, ...changes });
}
