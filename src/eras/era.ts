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
  | 'invalidate'
  /**
   * `->change_pte(mn, mm, address, pte)`: called by `set_pte_at_notify()` under the PTL (KSM,
   * wp_page_copy), must not sleep (include/linux/mmu_notifier.h v4.10.17 … v6.8 [V]).
   */
  | 'changePte'
  /**
   * `->clear_flush_young(mn, mm, start, end)`: called by ptep_/pmdp_clear_flush_young_notify() under
   * the PTL from page_referenced_one (reclaim's aging), must not sleep; the same signature in
   * include/linux/mmu_notifier.h v4.10.17, v4.13.19, v5.7.14 and v6.8 [V] (`mn` is `subscription` from v5.5).
   */
  | 'clearFlushYoung'
  /** `->release(mn, mm)`: exit_mmap / mmu_notifier_unregister (every modelled era, v4.10 … v6.8). */
  | 'release';

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
  /**
   * try_to_unmap_one (mm/rmap.c) with TTU_MIGRATION, in the `bracket` form: `true`, the walk's
   * `mmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE)` after `discard:` is called for
   * a migration entry too (v4.13.19); `false`, the migration-entry branch says "No need to invalidate
   * here it will synchronize on against the special swap migration pte" and ->invalidate_range only
   * comes from range_end (0f10851ea475 [U id]; read in v4.15.18, v4.19.95, v5.7.14). From v6.6 the
   * ptep_clear_flush → flush_tlb_page of try_to_migrate_one calls ->arch_invalidate_secondary_tlbs
   * whatever this says (mm/rmap.c v6.8).
   */
  readonly migrationEntryInvalidateRange: boolean;
  /**
   * How unmap_and_move (mm/migrate.c) migrates a transparent huge page: `split`, split_huge_page()
   * first and migrate the head as an order-0 page (v4.10.17, v4.12, v4.13.9: `if
   * (unlikely(PageTransHuge(page))) { lock_page(page); rc = split_huge_page(page); … }`); `whole`,
   * THP migration (ARCH_ENABLE_THP_MIGRATION, x86_64 from v4.14: arch/x86/Kconfig v4.15.18; v4.15.18
   * `PageTransHuge(page) && !PageTransHuge(newpage)` splits only when no THP could be allocated;
   * v4.19.95 … v6.8 `!thp_migration_supported()`): migration entries for the whole THP
   * (set_pmd_migration_entry for a PMD mapping) and a new THP.
   */
  readonly thpMigration: 'split' | 'whole';
  /**
   * KSM's write_protect_page and replace_page (mm/ksm.c) clear the PTE with
   * `ptep_clear_flush_notify()` (->invalidate_range under the PTL: v4.10.17, v4.12, v4.13.19 [V]) or
   * with plain `ptep_clear_flush()`, leaving ->invalidate_range to range_end ("See
   * Documentation/vm/mmu_notifier.rst": 0f10851ea475, read in v4.15, v4.19, v5.0.1, v6.8 [V]).
   */
  readonly ksmClearFlushNotify: boolean;
  /**
   * After try_to_merge_two_pages failed on two subpages of one THP (ksmd's two references make
   * split_huge_page fail), cmp_and_merge_page (mm/ksm.c) splits that THP without merging: `split =
   * PageTransCompound(page) && compound_head(page) == compound_head(tree_page); put_page(tree_page);
   * … else if (split) { if (!trylock_page(page)) return; split_huge_page(page); unlock_page(page); }`
   * ("mm/ksm: fix interaction with THP" [U: the commit id]). Absent in v4.10.17, v4.12, v4.13.19;
   * present in v4.15, v4.19, v5.2.1, v5.4, v5.7.14, v6.8 [V] (v5.0.1's mirror has no mm/ksm.c).
   */
  readonly ksmSplitSameCompound: boolean;
  /**
   * page_mkclean_one (mm/rmap.c) in the `bracket` form calls `mmu_notifier_invalidate_range(cstart,
   * cend)` under the PTL after set_pte_at (v4.13.19 [V]); `false`: "No need to call
   * mmu_notifier_invalidate_range() as we are downgrading page table protection not changing it to
   * point to a new page", ->invalidate_range only from range_end (0f10851ea475 [U id]; read in
   * v4.15 (sndrzt mirror), v5.7.14 [V]). From v6.6 ptep_clear_flush → flush_tlb_page calls
   * ->arch_invalidate_secondary_tlbs whatever this says (mm/rmap.c page_vma_mkclean_one v6.8).
   * Not read by the ≤ v4.12 forms (they call invalidate_page).
   */
  readonly mkcleanInvalidateRange: boolean;
  /**
   * do_wp_page (mm/memory.c) on a PageKsm page: `false`, never reused, always copied (v4.10.17 …
   * v5.0.1 `PageAnon(page) && !PageKsm(page)`; v6.8 `folio_test_ksm(folio)` in
   * wp_can_reuse_anon_folio [V]); `true`, reuse_ksm_page() when the page is not in the swap cache and
   * `page_count() == 1` (52d1e606ee73, read in v5.2.1, v5.4, v5.7.14 [V]; removed by v6.8, in v5.10
   * by 1a0cf26323c8 [U]).
   */
  readonly ksmPageReuse: boolean;
  /**
   * What `exit_mmap()` (mm/mmap.c) does between `mmu_notifier_release()` and `remove_vma()`:
   * - `plain` (v4.10.17, v4.13.19): no lock: unmap_vmas(0, -1) (still issuing range_start/end),
   *   free_pgtables, tlb_finish_mmu (the pages are freed), remove_vma;
   * - `oom-victim-fence` (v4.19, v5.0.1, v5.7.14): the same, but an OOM victim's mm is first reaped
   *   by exit_mmap itself (__oom_reap_task_mm), then MMF_OOM_SKIP and down_write/up_write(mmap_sem)
   *   "will guarantee that the oom reaper will not run on this mm again";
   * - `mmap-lock` (v6.8 [V]; v6.6 [U]): unmap_vmas under mmap_read_lock, then MMF_OOM_SKIP and
   *   mmap_write_lock around free_pgtables, tlb_finish_mmu and remove_vma.
   */
  readonly exitMmap: 'plain' | 'oom-victim-fence' | 'mmap-lock';
  /**
   * `clear_refs_write()` for CLEAR_REFS_SOFT_DIRTY (`echo 4 > /proc/pid/clear_refs`,
   * fs/proc/task_mmu.c): the lock, the `[0, -1UL)` bracket and the TLB flush after it.
   * - `read-flush-tlb-mm` (v4.10.17, v4.12 [V]): down_read(mmap_sem) (while some VMA has
   *   VM_SOFTDIRTY: up_read, down_write, clear it on every VMA, downgrade_write); range_start(0, -1);
   *   walk_page_range; range_end(0, -1); flush_tlb_mm(mm);
   * - `read-mmu-gather` (v4.13.19, v4.15, v4.19, v5.0.1, v5.2.1 [V]): the same inside
   *   tlb_gather_mmu(&tlb, mm, 0, -1) … tlb_finish_mmu(&tlb, 0, -1): a fullmm gather
   *   (__tlb_reset_range: start = end = ~0) flushes the CPU TLB and calls
   *   mmu_notifier_invalidate_range(mm, ~0, ~0), an empty range;
   * - `read-mmu-gather-noflush` (v5.7.14 [V]): tlb_flush_mmu_tlbonly returns early when nothing was
   *   gathered (no cleared_ptes …), so tlb_finish_mmu flushes nothing (fixed in v5.10 by 912efa17e512
   *   "mm: proc: Invalidate TLB after clearing soft-dirty page state" [U: commit id not read]);
   * - `write-lock` (v6.8 [V]): mmap_write_lock; VM_SOFTDIRTY cleared; inc_tlb_flush_pending;
   *   range_start(0, -1); walk; range_end; flush_tlb_mm (→ ->arch_invalidate_secondary_tlbs);
   *   dec_tlb_flush_pending; mmap_write_unlock.
   */
  readonly clearRefs: 'read-flush-tlb-mm' | 'read-mmu-gather' | 'read-mmu-gather-noflush' | 'write-lock';
  /**
   * How `change_huge_pmd()` (mm/huge_memory.c, mprotect of a whole huge PMD) rewrites it under the PMD lock:
   * - `get-and-clear-notify` (v4.10.17 [V]): `pmdp_huge_get_and_clear_notify()` (->invalidate_range
   *   under the PMD lock), `pmd_modify(entry, newprot)`, set_pmd_at;
   * - `pmdp-invalidate` (v4.12 … v5.7.14 [V]): `pmdp_invalidate()` (not present + CPU flush, no
   *   notifier), `pmd_modify(entry, newprot)`, set_pmd_at; an anonymous private mapping's
   *   vm_page_prot has no write bit, so the PMD ends read-only even for PROT_WRITE
   *   (`BUG_ON(vma_is_anonymous(vma) && !preserve_write && pmd_write(entry))`);
   * - `try-change-writable` (v6.8 [V]): `pmdp_invalidate_ad()` (x86: no flush), pmd_modify, and with
   *   MM_CP_TRY_CHANGE_WRITABLE (mprotect to a VM_WRITE mapping) `can_change_pmd_writable()`: an
   *   exclusive anonymous THP stays writable.
   */
  readonly changeHugePmd: 'get-and-clear-notify' | 'pmdp-invalidate' | 'try-change-writable';
  /**
   * `do_huge_pmd_wp_page()` (mm/huge_memory.c) on a THP it cannot reuse: `false`, a new THP is
   * allocated and copied inside its own range_start/end, with pmdp_huge_clear_flush_notify under the
   * PMD lock (v4.10.17 … v5.7.14 [V]); `true`, `__split_huge_pmd` and VM_FAULT_FALLBACK, the fault
   * COWs one subpage at the PTE level (3917c80280c9, v5.8 [U: commit id from the reference]; read in v6.8 [V]).
   */
  readonly thpCowSplits: boolean;
  /**
   * MADV_FREE's lazyfree design (mm/madvise.c, mm/vmscan.c shrink_page_list, mm/rmap.c try_to_unmap_one):
   * - `ttu-lzfree` (v4.5 … v4.10.17 [V]): madvise_free_pte_range only ClearPageDirty()s the page and
   *   cleans the PTE (deactivate_page, no page flag marks it); reclaim runs try_to_unmap with
   *   TTU_LZFREE on every anonymous page it has just added to the swap cache (add_to_swap does not
   *   dirty it), and try_to_unmap_one discards the mapping of a page still !PageDirty after the
   *   pte_dirty transfer (`goto discard`), which shrink_page_list then frees from the swap cache
   *   without pageout (SWAP_LZFREE → `lazyfree:` → __remove_mapping);
   * - `swapbacked` (v4.12, v4.13.19 … [V]; the series that introduced it, between v4.10 and v4.12, [U]): mark_page_lazyfree
   *   clears PG_swapbacked; shrink_page_list skips add_to_swap for such a page, try_to_unmap_one
   *   discards it if clean and remaps it (SetPageSwapBacked) if redirtied, and the page is freed by
   *   page_ref_freeze(page, 1).
   */
  readonly lazyfree: 'ttu-lzfree' | 'swapbacked';
  /**
   * What shrink_page_list (mm/vmscan.c) does with a lazyfree (MADV_FREE: PageAnon && !PageSwapBacked)
   * transparent huge page, in the `swapbacked` design (v4.10's `ttu-lzfree` splits every THP in
   * add_to_swap, Era.thpReclaim):
   * - `split` (v4.12, v4.13.19, v4.15, v4.19, v5.4, v5.7.14 [V]): it skips the anonymous branch and
   *   takes `else if (unlikely(PageTransHuge(page))) { "Split file THP": if
   *   (split_huge_page_to_list(page, page_list)) goto keep_locked; }`: head and tails go on as order-0
   *   lazyfree pages (__split_huge_page_tail copies PG_swapbacked and PG_dirty);
   * - `whole` (v6.8 [V]; the commit that narrowed the branch to `folio_test_swapbacked(folio) &&
   *   folio_test_large(folio)` "Split shmem folio" is [U]): no split; try_to_unmap(folio,
   *   TTU_BATCH_FLUSH | TTU_SPLIT_HUGE_PMD) discards each subpage PTE while `ref_count == 1 +
   *   map_count && !folio_test_dirty` (else remaps it, folio_set_swapbacked, fails), and the folio is
   *   freed whole by folio_ref_freeze(folio, 1).
   */
  readonly lazyfreeThpReclaim: 'split' | 'whole';
  /**
   * NUMA balancing's migration of a THP mapped by a hinting (protnone) PMD, from do_huge_pmd_numa_page
   * (src/kernel/numa.ts):
   * - `copy-then-clear-notify` (v4.10.17, v4.12, v4.13.19 [V]): migrate_misplaced_transhuge_page
   *   copies into the new THP first (migrate_page_copy), then range_start, pmd_lock, the recheck,
   *   `pmdp_huge_clear_flush_notify` (->invalidate_range under the PMD lock), set_pmd_at, range_end;
   * - `copy-then-set` (v4.15, v4.19.95 [V]): the same bracket, but set_pmd_at over the hinting PMD
   *   with no clear ("Clearing the pmd here would introduce a race condition against MADV_DONTNEED")
   *   and no ->invalidate_range until range_end;
   * - `fault-invalidates` (v5.0.1 … v5.7.14 [V]): no notifier call in migrate_misplaced_transhuge_page;
   *   do_huge_pmd_numa_page, when `mm_tlb_flush_pending()`, calls flush_tlb_range and
   *   `mmu_notifier_invalidate_range()` under the PMD lock before migrating ("change_huge_pmd()
   *   released the pmd lock before invalidating the secondary MMUs sharing the primary MMU
   *   pagetables"; Andrea Arcangeli's "mm: thp: fix mmu_notifier in migrate_misplaced_transhuge_page()",
   *   7066f0f933a1 [U: the commit id from memory; the change itself read between v4.19.95 and v5.0.1]);
   * - `migrate-pages` (v6.8 [V]): migrate_misplaced_folio → migrate_pages, whose whole-THP migration
   *   of a PMD-mapped THP uses PMD migration entries (not modelled: the THP stays, the PMD is restored).
   */
  readonly numaThpMigration: 'copy-then-clear-notify' | 'copy-then-set' | 'fault-invalidates' | 'migrate-pages';
  /**
   * Which pages change_prot_numa leaves alone beyond the zero page, KSM pages and hinting entries
   * (mm/mprotect.c change_pte_range, mm/huge_memory.c change_huge_pmd with prot_numa): `none`
   * (v4.10.17 … v4.15 [V]); `mapcount` (v4.19.95 … v5.7.14 [V]: "Also skip shared copy-on-write
   * pages", `is_cow_mapping && page_mapcount(page) != 1`); `refcount` (v6.8 [V]: `folio_ref_count(folio) != 1`).
   */
  readonly numaSkipShared: 'none' | 'mapcount' | 'refcount';
  /**
   * do_numa_page (mm/memory.c): `restore-first` (v4.10.17 … v5.7.14 [V]): the hinting PTE is made
   * accessible again under the PTL (pte_modify(vm_page_prot), pte_mkwrite if `pte_savedwrite`, the
   * write bit change_prot_numa kept) before migrate_misplaced_page; `migrate-protnone` (v6.8 [V]):
   * change_prot_numa drops the write bit, the PTE stays PROT_NONE while migrate_misplaced_folio runs
   * and is restored only if it fails (`out_map`), writable if can_change_pte_writable.
   */
  readonly numaFault: 'restore-first' | 'migrate-protnone';
}

/** A new era from `base` with the fields that changed. */
export function deriveEra(base: Era, changes: Partial<Era> & Pick<Era, 'name' | 'summary' | 'source'>): Era {
  return Object.freeze({ ...base, ...changes });
}
