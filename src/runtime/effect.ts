import type { Site } from './site';

/**
 * The closed set of atomic steps a thread can take on the shared machine state.
 *
 * A thread is a generator that yields {@link Effect}s; the runtime applies each one atomically and
 * sends its result back. Because the set is closed, every effect's footprint (the objects it reads
 * and writes, and whether it may block or sleep) is known to the runtime: see `footprint.ts`.
 */
export const enum Op {
  // --- locks (include/linux/spinlock.h, mutex.h, rwsem.h) ---
  SpinLock,
  SpinUnlock,
  MutexLock,
  MutexUnlock,
  DownRead,
  UpRead,
  DownWrite,
  UpWrite,
  /** `down_read_trylock()`: never blocks; returns whether it took the lock. */
  DownReadTrylock,
  /** `mutex_trylock()`: never blocks (and does not sleep); returns whether it took the lock. */
  MutexTrylock,
  // --- execution context ---
  LocalIrqDisable,
  LocalIrqEnable,
  /** Entering a non-blockable invalidation (`blockable == false`): nothing in it may sleep. */
  NonBlockStart,
  NonBlockEnd,
  /** A point that may sleep: `might_sleep()`, a `GFP_KERNEL` allocation, `wait_event`. */
  MightSleep,
  /** `cpu_relax()` / returning to a retry loop: the thread lets others run (a free context switch). */
  CpuRelax,
  /**
   * `wait_event(wq, counter == b)` / `wait_for_completion()`: sleeps, and blocks until counter `a`
   * equals `b`.
   */
  WaitCounter,
  /** `wait_event(wq, counter != b)`: sleeps, and blocks until counter `a` differs from `b`. */
  WaitCounterChange,
  // --- plain shared variables (sequence counts, in-progress counts) ---
  Read,
  Write,
  Add,
  // --- pages (mm/page_alloc.c, include/linux/mm.h, mm/swap_state.c) ---
  AllocPage,
  GetPage,
  GetPageUnlessZero,
  PutPage,
  /** `get_page()` + `page_dup_rmap()`: another mm (the fork child) maps the page too. */
  DupMapping,
  SetPageDirty,
  /** `lock_page()`: sleeps while PG_locked is set by another thread. */
  LockPage,
  /** `trylock_page()`: never blocks; returns whether it took PG_locked. */
  TrylockPage,
  UnlockPage,
  /** `mark_page_lazyfree()` (MADV_FREE): ClearPageDirty + ClearPageSwapBacked. */
  MarkLazyfree,
  /** `SetPageSwapBacked()`: a redirtied lazyfree page goes back to normal reclaim. */
  SetSwapBacked,
  /** Reads PG_dirty and PG_swapbacked. */
  PageFlags,
  /** shrink_page_list's lazyfree path: `page_ref_freeze(page, 1)` and discard unless PageDirty. */
  LazyfreeFreeze,
  /**
   * madvise(MADV_FREE) of [a, a + b) returns (no kernel state): what a device wrote into its lazyfree
   * pages during the call is the application's to lose; no-lost-dirty watches the writes after it.
   */
  LazyfreeReturn,
  /** `page_ref_freeze(page, n)` in `__remove_mapping`: on success the page leaves the swap cache and is freed. */
  PageRefFreeze,
  SwapCacheAdd,
  Writeback,
  // --- primary page table ---
  PteRead,
  /**
   * A CPU access through the MMU: hits if the PTE allows it, and the hardware sets the accessed (and, for
   * a write, dirty) bit. With c = 1 an IOMMU's ATS translation: the same walk, returning the PTE or null.
   */
  PteTouch,
  PteSet,
  PteClear,
  TlbFlush,
  VmaLookup,
  VmaDetach,
  /** `find_vma()` + the access check of the fault/gup paths: the page is in a VMA that allows the access (b = 1: write). */
  VmaAllows,
  /** `mprotect_fixup()`: VM_WRITE of the VMA over [a, a + b) set to c. */
  VmaProtect,
  /** `page_mapcount()`: how many PTEs map the page (reuse_swap_page reads it). */
  PageMapcount,
  // --- secondary MMU ---
  SpteRead,
  SpteSet,
  SpteClearRange,
  DeviceAccess,
  /**
   * A core-VM call into the notifier chain: `a` = 0 range_start, 1 range_end, 2 invalidate_range,
   * 3 invalidate_page; `[b, c)` the byte range. Records what the secondary MMUs were told, for
   * full-range-invalidated.
   */
  Notify,
  /** Bookkeeping of the notifier dispatcher: notifier `a` returned from a successful range_start of [b, c). */
  BracketOpen,
  /** Notifier `a` is about to get the range_end of [b, c). */
  BracketClose,
  /** Pure annotation of a decision the thread made from values it already read (no shared state). */
  Note,
  // --- transparent huge pages (mm/huge_memory.c; applied by runtime/apply-huge.ts) ---
  /** `alloc_hugepage_vma()` + `prep_transhuge_page()`: a THP of the machine's order; returns its head. */
  AllocHugePage,
  /** Reads the PMD of the region holding vpn `a`: its huge PMD, `'table'` (a PTE table) or null (pmd_none). */
  PmdRead,
  /** `set_pmd_at()` of the region at vpn `a` (d: the Pmd); a new mapping also does `page_add_new_anon_rmap(compound)`. */
  PmdSet,
  /** `pmdp_huge_get_and_clear()` (b = 1: `pmdp_huge_clear_flush`); c = 1 also `page_remove_rmap(page, true)`. Returns the old Pmd. */
  PmdClear,
  /** `__split_huge_pmd_locked()` of the region at vpn `a` (b = 1: freeze, migration entries): the PMD becomes a PTE table. */
  PmdSplit,
  /** `compound_head()` + `compound_order()` of page `a` (generation `b`): `{pfn, generation, order}` of its head. */
  CompoundHead,
  /** `page_count()` of the (head) page, its `total_mapcount()` and `compound_mapcount()`: `[refcount, mapcount, compound]`. */
  PageCount,
  /**
   * split_huge_page_to_list's `if (!mapcount && page_ref_freeze(head, c))` then `__split_huge_page()`:
   * the THP at `a` becomes order-0 pages. Returns whether it did.
   */
  SplitHugePage,
  /**
   * `migrate_page_copy()` of page `a` (generation `b`) into its replacement (c = 1), or the migration
   * giving up after the copy (c = 0: "Reverse changes made by migrate_page_copy()"): no-lost-write
   * watches writes to the source in between.
   */
  PageCopy,
  // --- KSM (mm/ksm.c) ---
  /** c = 1: `set_page_stable_node()` makes page `a` PageKsm (try_to_merge_one_page); c = 0: `page_move_anon_rmap()` makes it anonymous again (reuse_ksm_page). */
  SetPageKsm,
}

/** An effect: one atomic step. `a`, `b`, `c`, `d` are the op's operands (handles or values). */
export interface Effect {
  readonly op: Op;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: unknown;
  readonly at: Site;
  /** Optional text shown instead of the derived label (e.g. `mmu_notifier_retry() == 1: retry`). */
  readonly text?: string;
}

export function effect(op: Op, at: Site, a = 0, b = 0, c = 0, d: unknown = undefined, text?: string): Effect {
  return text === undefined ? { op, a, b, c, d, at } : { op, a, b, c, d, at, text };
}

/** Effects that may sleep; flagged when issued in atomic context (CONFIG_DEBUG_ATOMIC_SLEEP). */
export function mightSleep(e: Effect): boolean {
  switch (e.op) {
    case Op.MutexLock:
    case Op.DownRead:
    case Op.DownWrite:
    case Op.MightSleep:
    case Op.LockPage:
    case Op.WaitCounter:
    case Op.WaitCounterChange:
      return true;
    case Op.AllocPage:
    case Op.AllocHugePage:
      return e.b !== 0; // b = 1: GFP_KERNEL (may sleep), 0: GFP_ATOMIC
    default:
      return false;
  }
}
