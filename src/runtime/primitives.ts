/**
 * The kernel's primitive operations as effects. Each function is a generator that yields exactly one
 * {@link Effect} and returns what the runtime sends back, so callers write
 * `const seq = yield* read(kvm.seq, AT)` and get a typed value.
 *
 * The core VM (src/kernel/) and every notifier (src/drivers/, and users' own modules) are written
 * with these and nothing else: code between two yields touches only thread-local variables.
 */
import { effect, Op, type Effect } from './effect';
import type { Pte, Spte } from './machine';
import type { Site } from './site';

/** What a thread body or a callback is: a generator of effects returning T. */
export type Gen<T = void> = Generator<Effect, T, unknown>;

/** A counted reference to a page, as `get_page`/`gup` hand out: pfn plus the generation it was taken at. */
export interface PageRef {
  readonly pfn: number;
  readonly generation: number;
}

/** Handle types: plain numbers, named for readability. */
export type LockId = number;
export type CounterId = number;
export type TableId = number;

function* step<T>(e: Effect): Gen<T> {
  return (yield e) as T;
}

// --- locks -------------------------------------------------------------------------------------

/** `spin_lock()`: spins while contended; the holder is in atomic context until `spin_unlock()`. */
export function spinLock(lock: LockId, at: Site): Gen {
  return step(effect(Op.SpinLock, at, lock));
}
export function spinUnlock(lock: LockId, at: Site): Gen {
  return step(effect(Op.SpinUnlock, at, lock));
}
/** `mutex_lock()`: may sleep. */
export function mutexLock(lock: LockId, at: Site): Gen {
  return step(effect(Op.MutexLock, at, lock));
}
export function mutexUnlock(lock: LockId, at: Site): Gen {
  return step(effect(Op.MutexUnlock, at, lock));
}
/**
 * `down_read()`: may sleep. `recursive`: a driver's own recursion count lets a thread that already
 * holds the read side go on without taking it again (amdgpu_mn_read_lock v4.19: only the first of
 * nested brackets calls down_read_non_owner), so it neither waits behind a queued writer nor is
 * lockdep's recursive read.
 */
export function downRead(sem: LockId, at: Site, recursive = false): Gen {
  return step(recursive ? effect(Op.DownRead, at, sem, 0, 1) : effect(Op.DownRead, at, sem));
}
export function upRead(sem: LockId, at: Site): Gen {
  return step(effect(Op.UpRead, at, sem));
}
/** `down_write()`: may sleep. */
export function downWrite(sem: LockId, at: Site): Gen {
  return step(effect(Op.DownWrite, at, sem));
}
export function upWrite(sem: LockId, at: Site): Gen {
  return step(effect(Op.UpWrite, at, sem));
}

/** `down_read_trylock()`. */
export function downReadTrylock(sem: LockId, at: Site): Gen<boolean> {
  return step(effect(Op.DownReadTrylock, at, sem));
}
/** `mutex_trylock()`: does not sleep. */
export function mutexTrylock(lock: LockId, at: Site): Gen<boolean> {
  return step(effect(Op.MutexTrylock, at, lock));
}

// --- context -----------------------------------------------------------------------------------

/** Enters / leaves a non-blockable invalidation (callbacks must not sleep: `blockable == false`). */
export function nonBlockStart(at: Site): Gen {
  return step(effect(Op.NonBlockStart, at));
}
export function nonBlockEnd(at: Site): Gen {
  return step(effect(Op.NonBlockEnd, at));
}
export function localIrqDisable(at: Site): Gen {
  return step(effect(Op.LocalIrqDisable, at));
}
export function localIrqEnable(at: Site): Gen {
  return step(effect(Op.LocalIrqEnable, at));
}
/** A sleeping point: `might_sleep()`, a `GFP_KERNEL` allocation, waiting for a fence. `what` names it. */
export function mightSleep(what: string, at: Site): Gen {
  return step(effect(Op.MightSleep, at, 0, 0, 0, undefined, what));
}
/**
 * `cpu_relax()` / back to a retry loop (re-entering the guest): lets the other threads run. With
 * `retry`, it counts as one more retry of a loop waiting for another thread (the `progress`
 * invariant bounds them).
 */
export function cpuRelax(at: Site, what?: string, retry = false): Gen {
  return step(effect(Op.CpuRelax, at, retry ? 1 : 0, 0, 0, undefined, what));
}
/** The notifier-chain calls of the core VM, as recorded by {@link notify}. */
export const NOTIFY_START = 0;
export const NOTIFY_END = 1;
export const NOTIFY_RANGE = 2;
export const NOTIFY_PAGE = 3;
/** The notifier call over [start, end) has returned: every callback is done. */
export const NOTIFY_DONE = 4;
/** The core VM calls into the notifier chain (`kind`: NOTIFY_*), for the byte range [start, end). */
export function notify(kind: number, start: number, end: number, text: string, at: Site, endCallsInvalidateRange = false): Gen {
  return step(effect(Op.Notify, at, kind, start, end, endCallsInvalidateRange, text));
}
/** Dispatcher bookkeeping: `notifier`'s range_start of [start, end) succeeded / its range_end is called. */
export function bracketOpen(notifier: string, start: number, end: number, at: Site): Gen {
  return step(effect(Op.BracketOpen, at, 0, start, end, notifier));
}
export function bracketClose(notifier: string, start: number, end: number, at: Site): Gen {
  return step(effect(Op.BracketClose, at, 0, start, end, notifier));
}
/** Records a decision taken on thread-local values (no shared state is touched). */
export function note(text: string, at: Site): Gen {
  return step(effect(Op.Note, at, 0, 0, 0, undefined, text));
}

/**
 * `wait_event(wq, cond)` / `wait_for_completion()` on a counter: sleeps until `counter == value`
 * (the thread is blocked, not spinning, until another thread makes it so).
 */
export function waitCounter(counter: CounterId, value: number, at: Site, what?: string): Gen {
  return step(effect(Op.WaitCounter, at, counter, value, 0, undefined, what));
}

/** `wait_event(wq, READ_ONCE(counter) != value)`: sleeps until the counter has moved on from `value`. */
export function waitCounterChange(counter: CounterId, value: number, at: Site, what?: string): Gen {
  return step(effect(Op.WaitCounterChange, at, counter, value, 0, undefined, what));
}

// --- shared variables --------------------------------------------------------------------------

export function read(counter: CounterId, at: Site): Gen<number> {
  return step(effect(Op.Read, at, counter));
}
export function write(counter: CounterId, value: number, at: Site): Gen {
  return step(effect(Op.Write, at, counter, value));
}
/** Adds `delta` and returns the new value. */
export function add(counter: CounterId, delta: number, at: Site): Gen<number> {
  return step(effect(Op.Add, at, counter, delta));
}

// --- pages -------------------------------------------------------------------------------------

/** `alloc_page()`: `gfpKernel` allocations may sleep. Returns the new page with one reference. */
export function allocPage(gfpKernel: boolean, at: Site): Gen<PageRef> {
  return step(effect(Op.AllocPage, at, 0, gfpKernel ? 1 : 0));
}
/** `get_page()`: the caller already holds a reference (or the PTL with the page mapped). */
export function getPage(page: PageRef, at: Site): Gen {
  return step(effect(Op.GetPage, at, page.pfn, page.generation));
}
/**
 * `get_page()` + `page_dup_rmap(page, compound)`: a mapping of the page in another mm (the fork
 * child's); `compound`: a huge PMD's mapping of a THP head (copy_huge_pmd), counted in its
 * compound_mapcount.
 */
export function dupMapping(page: PageRef, at: Site, compound = false): Gen {
  return step(compound ? effect(Op.DupMapping, at, page.pfn, page.generation, 1) : effect(Op.DupMapping, at, page.pfn, page.generation));
}
/** `get_page_unless_zero()` / `page_cache_get_speculative()`: fails on a page being freed. */
export function getPageUnlessZero(page: PageRef, at: Site): Gen<boolean> {
  return step(effect(Op.GetPageUnlessZero, at, page.pfn, page.generation));
}
/** Flags for {@link putPage}: also `page_remove_rmap()`, also drop the swap cache's reference (`free_swap_cache`: only if the page lock is free). */
export const PUT_REMOVE_RMAP = 1;
export const PUT_FREE_SWAP_CACHE = 2;
/** `put_page()`: the page is freed when the last reference goes. */
export function putPage(page: PageRef, at: Site, flags = 0): Gen {
  return step(effect(Op.PutPage, at, page.pfn, page.generation, flags));
}
/** `set_page_dirty()`. */
export function setPageDirty(page: PageRef, at: Site): Gen {
  return step(effect(Op.SetPageDirty, at, page.pfn, page.generation));
}
/** `lock_page()`: may sleep waiting for PG_locked. */
export function lockPage(page: PageRef, at: Site): Gen<boolean> {
  return step(effect(Op.LockPage, at, page.pfn, page.generation));
}
/** `trylock_page()`: whether PG_locked was taken. */
export function trylockPage(page: PageRef, at: Site): Gen<boolean> {
  return step(effect(Op.TrylockPage, at, page.pfn, page.generation));
}
export function unlockPage(page: PageRef, at: Site): Gen {
  return step(effect(Op.UnlockPage, at, page.pfn, page.generation));
}
/** `mark_page_lazyfree()` with the ClearPageDirty before it (MADV_FREE); `clearDirtyOnly`: v4.10's ClearPageDirty alone. */
export function markLazyfree(page: PageRef, at: Site, clearDirtyOnly = false): Gen {
  return step(effect(Op.MarkLazyfree, at, page.pfn, page.generation, clearDirtyOnly ? 1 : 0));
}
/** `set_page_stable_node()` (`ksm` true: the page becomes PageKsm) or `page_move_anon_rmap()` (false: anonymous again). */
export function setPageKsm(page: PageRef, ksm: boolean, at: Site): Gen {
  return step(effect(Op.SetPageKsm, at, page.pfn, page.generation, ksm ? 1 : 0));
}
/** `migrate_page_copy(newpage, page)` (`copied` true), or the migration giving up after it (false). */
export function pageCopy(page: PageRef, copied: boolean, at: Site): Gen {
  return step(effect(Op.PageCopy, at, page.pfn, page.generation, copied ? 1 : 0));
}
/** `SetPageSwapBacked()`. */
export function setSwapBacked(page: PageRef, at: Site): Gen {
  return step(effect(Op.SetSwapBacked, at, page.pfn, page.generation));
}
/** Reads PG_dirty, PG_swapbacked, PG_swapcache and PageKsm of the page (its head). */
export function pageFlags(page: PageRef, at: Site): Gen<{ dirty: boolean; swapBacked: boolean; swapCache: boolean; ksm: boolean }> {
  return step(effect(Op.PageFlags, at, page.pfn, page.generation));
}
/** shrink_page_list's lazyfree discard: `page_ref_freeze(page, expected)` unless PageDirty; frees the page (v4.10: 2, from the swap cache). */
export function lazyfreeFreeze(page: PageRef, at: Site, expected = 1): Gen<boolean> {
  return step(effect(Op.LazyfreeFreeze, at, page.pfn, page.generation, expected));
}
/** madvise(MADV_FREE) of `n` pages at `vpn` returns: device writes during the call may be lost (no-lost-dirty bookkeeping). */
export function lazyfreeReturn(vpn: number, n: number, at: Site): Gen {
  return step(effect(Op.LazyfreeReturn, at, vpn, n));
}
/** `page_ref_freeze(page, expected)`; on success the page leaves the swap cache and is freed. */
export function pageRefFreeze(page: PageRef, expected: number, at: Site): Gen<boolean> {
  return step(effect(Op.PageRefFreeze, at, page.pfn, page.generation, expected));
}
/** `add_to_swap()`: the swap cache takes a reference and (v4.13+, `dirty`) the page is dirtied for pageout. */
export function swapCacheAdd(page: PageRef, at: Site, dirty = true): Gen<boolean> {
  return step(effect(Op.SwapCacheAdd, at, page.pfn, page.generation, dirty ? 0 : 1));
}
/** `pageout()`: write the dirty page back (to swap) and clear PG_dirty; `text` labels another user of the same step (cancel_dirty_page). */
export function writeback(page: PageRef, at: Site, text?: string): Gen<boolean> {
  return step(effect(Op.Writeback, at, page.pfn, page.generation, 0, undefined, text));
}

// --- primary page table ------------------------------------------------------------------------

/** Reads the PTE of virtual page `vpn` (a copy; null when none). */
export function pteRead(vpn: number, at: Site): Gen<Pte | null> {
  return step(effect(Op.PteRead, at, vpn));
}
/** A CPU access through the MMU: true if the PTE allows it (the hardware then sets the accessed/dirty bits). */
/** `ptep_test_and_clear_young()` under the PTL: the old accessed bit of the PTE at `vpn`, now cleared (false for none or swap). */
export function pteTestAndClearYoung(vpn: number, at: Site): Gen<boolean> {
  return step(effect(Op.PteTouch, at, vpn, 0, 2));
}
export function pteTouch(vpn: number, write: boolean, at: Site): Gen<boolean> {
  return step(effect(Op.PteTouch, at, vpn, write ? 1 : 0));
}
/**
 * An IOMMU's ATS translation for a device sharing the process page table (AMD IOMMUv2, Intel SVM, the
 * powernv nest MMU): one atomic walk that, like the CPU's, sets the accessed bit and, for a write
 * translation, the dirty bit of a PTE that allows the access; returns that PTE, or null when the walk
 * denies it (the device then raises a page request).
 */
export function pteTranslate(vpn: number, write: boolean, at: Site): Gen<Pte | null> {
  return step(effect(Op.PteTouch, at, vpn, write ? 1 : 0, 1));
}
/** `set_pte_at()`. */
export function pteSet(vpn: number, pte: Pte, at: Site): Gen {
  return step(effect(Op.PteSet, at, vpn, 0, 0, pte));
}
/**
 * `set_pte_at()` of the entry the same thread cleared with `pteClear(…, removeRmap = false)`: its
 * rmap never went, and, told to nobody yet, the change is undone (nothing to notify).
 */
export function pteRestore(vpn: number, pte: Pte, at: Site): Gen {
  return step(effect(Op.PteSet, at, vpn, 1, 0, pte));
}
/**
 * `ptep_get_and_clear()` (flush = false) or `ptep_clear_flush()` (flush = true). Returns the old PTE.
 * With `removeRmap`, the same step does `page_remove_rmap()` for the page it mapped (both happen
 * under the PTL, where no other thread of the model can observe the gap).
 */
export function pteClear(vpn: number, flush: boolean, removeRmap: boolean, at: Site): Gen<Pte | null> {
  return step(effect(Op.PteClear, at, vpn, flush ? 1 : 0, removeRmap ? 1 : 0));
}
/** CPU TLB flush of `[startVpn, endVpn)` (`flush_tlb_range`, `try_to_unmap_flush`, `tlb_flush`). */
export function tlbFlush(startVpn: number, endVpn: number, at: Site): Gen {
  return step(effect(Op.TlbFlush, at, startVpn, endVpn));
}
/** `find_vma()`: whether `vpn` lies in a VMA. */
export function vmaLookup(vpn: number, at: Site): Gen<boolean> {
  return step(effect(Op.VmaLookup, at, vpn));
}
/** `find_vma()` and the access check (`access_error()`, `check_vma_flags()`): in a VMA that allows a read / write. */
export function vmaAllows(vpn: number, write: boolean, at: Site): Gen<boolean> {
  return step(effect(Op.VmaAllows, at, vpn, write ? 1 : 0));
}
/** `mprotect_fixup()`: VM_WRITE of [vpn, vpn + n) becomes `writable`. */
export function vmaProtect(vpn: number, n: number, writable: boolean, at: Site): Gen {
  return step(effect(Op.VmaProtect, at, vpn, n, writable ? 1 : 0));
}
/** `page_mapcount()`. */
export function pageMapcount(page: PageRef, at: Site): Gen<number> {
  return step(effect(Op.PageMapcount, at, page.pfn, page.generation));
}
/** `detach_vmas_to_be_unmapped()`: `[vpn, vpn + n)` leaves the VMA list. */
export function vmaDetach(vpn: number, n: number, at: Site): Gen {
  return step(effect(Op.VmaDetach, at, vpn, n));
}

// --- secondary MMU -----------------------------------------------------------------------------

export function spteRead(table: TableId, vpn: number, at: Site): Gen<Spte | null> {
  return step(effect(Op.SpteRead, at, table, vpn));
}
/** Installs an spte for `vpn` mapping `page` (the generation recorded is the one of `page`). */
export function spteSet(table: TableId, vpn: number, page: PageRef, writable: boolean, at: Site): Gen {
  return step(effect(Op.SpteSet, at, table, vpn, writable ? 1 : 0, page));
}
/**
 * Clears every spte in `[startVpn, endVpn)`; returns how many were present. With `transferDirty`,
 * a writable entry's page is marked dirty as it goes (KVM's mmu_spte_clear_track_bits →
 * kvm_set_pfn_dirty), so what the device wrote is not lost.
 */
export function spteClearRange(table: TableId, startVpn: number, endVpn: number, at: Site, transferDirty = false): Gen<number> {
  return step(effect(Op.SpteClearRange, at, table, startVpn, endVpn, transferDirty ? 'dirty' : undefined));
}
/**
 * Test-and-clears the accessed bit of every spte in `[startVpn, endVpn)` (KVM's kvm_age_rmapp →
 * mmu_spte_age with A/D bits); returns how many were young. The entries stay.
 */
export function spteClearYoung(table: TableId, startVpn: number, endVpn: number, at: Site): Gen<number> {
  return step(effect(Op.SpteClearRange, at, table, startVpn, endVpn, 'young'));
}
/** The device reads or writes memory through its table: true if the translation hit, false on a miss. */
export function deviceAccess(table: TableId, vpn: number, isWrite: boolean, at: Site): Gen<boolean> {
  return step(effect(Op.DeviceAccess, at, table, vpn, isWrite ? 1 : 0));
}
