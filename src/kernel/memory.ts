/**
 * mm/memory.c (v4.13): the anonymous fault paths and the zap of a range.
 *
 * Simplifications, each stated where it applies: one PTE table (one PTL) covers the modelled VMA;
 * memcg charging, LRU insertion and rss counters are not modelled (they touch no state the
 * invariants read); the page lock is not modelled.
 */
import { PAGE_SIZE, ZERO_PFN, addressOf, type Pte } from '../runtime/machine';
import * as p from '../runtime/primitives';
import { PUT_FREE_SWAP_CACHE, PUT_REMOVE_RMAP, type Gen, type PageRef } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import type { MmuNotifyEvent } from '../notifier/definition';
import { PTL } from './mm';
import { changePte, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, secondaryTlbInvalidate } from './mmu_notifier';
import { pageCount } from '../runtime/huge-primitives';
import { hugePmdFault, zapPmdRange } from './huge_memory';
import { doFileFault, wpPageShared } from './writeback';
import { doNumaPage } from './numa';

const HANDLE = site('mm/memory.c', 'handle_pte_fault', 'v4.13');
const ANON = site('mm/memory.c', 'do_anonymous_page', 'v4.13');
const WP = site('mm/memory.c', 'do_wp_page', 'v4.13');
const WP_REUSE = site('mm/memory.c', 'wp_page_reuse', 'v4.13');
const WP_KSM = site('mm/memory.c', 'do_wp_page: PageKsm(vmf->page)', 'v4.13');
const WP_COPY = site('mm/memory.c', 'wp_page_copy', 'v4.13');
const SWAP = site('mm/memory.c', 'do_swap_page', 'v4.13', 'swap-cache hit maps the cached page; a miss reads into a new page that is not kept in the swap cache');
const ZAP = site('mm/memory.c', 'zap_pte_range', 'v4.13');
const UNMAP_VMAS = site('mm/memory.c', 'unmap_vmas', 'v4.13');
const FLUSH_ONLY = site('mm/memory.c', 'tlb_finish_mmu → tlb_flush_mmu_tlbonly', 'v4.13');
const FLUSH_FREE = site('mm/memory.c', 'tlb_flush_mmu_free', 'v4.13');
const FLUSH_TLB_MM_RANGE = site('arch/x86/mm/tlb.c', 'flush_tlb_mm_range', 'v6.8');
const ZAP_FILE_DIRTY = site('mm/memory.c', 'zap_pte_range: !PageAnon(page) && pte_dirty(ptent): set_page_dirty(page)', 'v4.13');
const FREE_SWAP = site('mm/swapfile.c', 'free_swap_and_cache', 'v4.13');
const UNSTABLE = site('mm/memory.c', 'handle_pte_fault: pmd_devmap_trans_unstable(vmf->pmd): return 0', 'v4.13');
const MIGRATION_WAIT = site('mm/migrate.c', '__migration_entry_wait', 'v4.13', 'wait_on_page_locked is modelled as lock_page + unlock_page');

/** `pte_same()`: the PTE read is still `b` (page, permission, and the swap, migration, hinting and huge bits). */
export function samePte(a: Pte | null, b: Pte | null): boolean {
  if (a === null || b === null) return a === b;
  return a.pfn === b.pfn && a.generation === b.generation && a.swap === b.swap && a.writable === b.writable && !a.huge === !b.huge && !a.migration === !b.migration && !a.protnone === !b.protnone;
}

/**
 * `handle_mm_fault()` → `__handle_mm_fault()` → `handle_pte_fault()` for one anonymous page.
 * The caller holds mmap_sem for read. Returns false for VM_FAULT_ERROR.
 */
export function* handleMmFault(kc: KernelContext, vpn: number, write: boolean, caller: Site): Gen<boolean> {
  yield* p.note(`handle_mm_fault(${'0x' + addressOf(vpn).toString(16)}, ${write ? 'FAULT_FLAG_WRITE' : 'read'})`, caller);
  // __handle_mm_fault: the PMD level first when transparent huge pages are on (huge_memory.ts)
  if (kc.thpOrder && (yield* hugePmdFault(kc, vpn, write)) === 'done') return true;
  // vmf->orig_pte = *vmf->pte, read without the PTL
  const orig = yield* p.pteRead(vpn, HANDLE);
  if (orig === null) return kc.file ? yield* doFileFault(kc, vpn, write) : yield* doAnonymousPage(vpn, write);
  if (orig.huge) {
    yield* p.note('a huge PMD appeared meanwhile: retry the access', UNSTABLE);
    return true;
  }
  if (orig.migration) return yield* migrationEntryWait(vpn, orig);
  // "if (pte_protnone(vmf->orig_pte) && vma_is_accessible(vmf->vma)) return do_numa_page(vmf)"
  if (orig.protnone) return yield* doNumaPage(kc, vpn, orig);
  if (orig.swap) return yield* doSwapPage(vpn, write, orig);
  yield* p.spinLock(PTL, HANDLE);
  const cur = yield* p.pteRead(vpn, HANDLE);
  if (!samePte(cur, orig)) {
    yield* p.spinUnlock(PTL, HANDLE);
    return true; // someone else changed it: return and let the access retry
  }
  if (write && !orig.writable) return yield* doWpPage(kc, vpn, orig);
  // pte_mkyoung / pte_mkdirty; ptep_set_access_flags
  yield* p.pteSet(vpn, { ...orig, young: true, dirty: orig.dirty || write }, HANDLE);
  yield* p.spinUnlock(PTL, HANDLE);
  return true;
}

/**
 * do_swap_page on a migration entry (a THP being split): `migration_entry_wait()` →
 * `__migration_entry_wait`: under the PTL, if the entry is still there, get_page_unless_zero, drop
 * the PTL, `wait_on_page_locked(page)`, put_page; the access then faults again.
 */
function* migrationEntryWait(vpn: number, orig: Pte): Gen<boolean> {
  const page = { pfn: orig.pfn, generation: orig.generation };
  yield* p.spinLock(PTL, MIGRATION_WAIT);
  const got = samePte(yield* p.pteRead(vpn, MIGRATION_WAIT), orig) && (yield* p.getPageUnlessZero(page, MIGRATION_WAIT));
  yield* p.spinUnlock(PTL, MIGRATION_WAIT);
  if (!got) return true;
  yield* p.lockPage(page, MIGRATION_WAIT);
  yield* p.unlockPage(page, MIGRATION_WAIT);
  yield* p.putPage(page, MIGRATION_WAIT);
  return true;
}

/** `do_anonymous_page()`: the zero page for reads, a new zeroed page for writes. */
function* doAnonymousPage(vpn: number, write: boolean): Gen<boolean> {
  if (!write) {
    // entry = pte_mkspecial(pfn_pte(my_zero_pfn(vmf->address), vma->vm_page_prot))
    yield* p.spinLock(PTL, ANON);
    if ((yield* p.pteRead(vpn, ANON)) === null) {
      yield* p.pteSet(vpn, { pfn: ZERO_PFN, generation: 0, writable: false, dirty: false, young: true, swap: false }, ANON);
    }
    yield* p.spinUnlock(PTL, ANON);
    return true;
  }
  // alloc_zeroed_user_highpage_movable(): GFP_HIGHUSER_MOVABLE, may sleep
  const page = yield* p.allocPage(true, ANON);
  yield* p.spinLock(PTL, ANON);
  if ((yield* p.pteRead(vpn, ANON)) !== null) {
    // goto release: someone mapped it first
    yield* p.spinUnlock(PTL, ANON);
    yield* p.putPage(page, ANON);
    return true;
  }
  // page_add_new_anon_rmap(); set_pte_at(entry = pte_mkwrite(pte_mkdirty(entry)))
  yield* p.pteSet(vpn, { pfn: page.pfn, generation: page.generation, writable: true, dirty: true, young: true, swap: false }, ANON);
  yield* p.spinUnlock(PTL, ANON);
  return true;
}

/**
 * `do_wp_page()`, entered with the PTL held: the zero page is copied (wp_page_copy); an anonymous
 * page mapped once is reused (wp_page_reuse: the model has one mm, so reuse_swap_page() succeeds).
 */
function* doWpPage(kc: KernelContext, vpn: number, orig: Pte): Gen<boolean> {
  // the shared file VMA (VM_WRITE|VM_SHARED, !PageAnon): wp_page_shared, no copy (writeback.ts)
  if (kc.file) return yield* wpPageShared(kc, vpn, orig);
  if (orig.pfn === ZERO_PFN) {
    // vm_normal_page() is NULL for the zero page: pte_unmap_unlock(); return wp_page_copy(vmf)
    yield* p.spinUnlock(PTL, WP);
    return yield* wpPageCopy(kc, vpn, orig);
  }
  // PageAnon: reuse_swap_page() is true when page_mapcount(page) <= 1 (the model keeps no swap counts;
  // the trylock_page dance around it is not modelled)
  const page = { pfn: orig.pfn, generation: orig.generation };
  if (kc.ksm) {
    // PageKsm pages are not reused (v4.10.17 … v5.0.1 `if (PageAnon(vmf->page) && !PageKsm(vmf->page))`;
    // v6.8 wp_can_reuse_anon_folio: folio_test_ksm) but copied; v5.1 … v5.9 reuse_ksm_page() when
    // `!PageSwapCache && page_count == 1`, whose page_move_anon_rmap ends PageKsm (Era.ksmPageReuse)
    const flags = yield* p.pageFlags(page, WP_KSM);
    if (flags.ksm) {
      const reuse = kc.era.ksmPageReuse && !flags.swapCache && (yield* pageCount(page, WP_KSM))[0] === 1;
      if (!reuse) {
        yield* p.getPage(page, WP);
        yield* p.spinUnlock(PTL, WP);
        return yield* wpPageCopy(kc, vpn, orig);
      }
      // reuse_ksm_page: page_ref_freeze(page, 1) (the model reads page_count under the PTL; the page lock is not modelled)
      yield* p.setPageKsm(page, false, site('mm/ksm.c', 'reuse_ksm_page: page_move_anon_rmap', 'v5.2'));
      yield* p.pteSet(vpn, { ...orig, writable: true, dirty: true, young: true }, WP_REUSE);
      yield* p.spinUnlock(PTL, WP_REUSE);
      return true;
    }
  }
  if ((yield* p.pageMapcount(page, WP)) <= 1) {
    // wp_page_reuse(): entry = maybe_mkwrite(pte_mkdirty(pte_mkyoung(orig_pte)))
    yield* p.pteSet(vpn, { ...orig, writable: true, dirty: true, young: true }, WP_REUSE);
    yield* p.spinUnlock(PTL, WP_REUSE);
    return true;
  }
  // shared with a child after fork: get_page(vmf->page); pte_unmap_unlock(); return wp_page_copy(vmf)
  yield* p.getPage(page, WP);
  yield* p.spinUnlock(PTL, WP);
  return yield* wpPageCopy(kc, vpn, orig);
}

/**
 * `wp_page_copy()`: a new page (zeroed for the zero page, a copy of the old one otherwise; may
 * sleep), invalidate_range_start of the one page, under the PTL ptep_clear_flush_notify
 * (→ ->invalidate_range, ≤ v6.5) and set_pte_at_notify (→ ->change_pte), page_remove_rmap of the old page, then invalidate_range_end and the put of the
 * reference do_wp_page took. `orig` maps the zero page or an anonymous page shared after fork.
 */
function* wpPageCopy(kc: KernelContext, vpn: number, orig: Pte): Gen<boolean> {
  const address = addressOf(vpn);
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', address, address + PAGE_SIZE);
  const old: PageRef | null = orig.pfn === ZERO_PFN ? null : { pfn: orig.pfn, generation: orig.generation };
  const page = yield* p.allocPage(true, WP_COPY); // alloc_zeroed_user_highpage_movable / alloc_page_vma + cow_user_page
  yield* invalidateRangeStart(kc, range, WP_COPY);
  yield* p.spinLock(PTL, WP_COPY);
  const cur = yield* p.pteRead(vpn, WP_COPY);
  let unused: PageRef | null = page;
  if (samePte(cur, orig)) {
    // ptep_clear_flush_notify (≤ v6.5: ->invalidate_range under the PTL); v6.6: ptep_clear_flush →
    // flush_tlb_page → flush_tlb_mm_range → ->arch_invalidate_secondary_tlbs
    yield* p.pteClear(vpn, true, false, WP_COPY);
    yield* secondaryTlbInvalidate(kc, range, WP_COPY, FLUSH_TLB_MM_RANGE);
    // set_pte_at_notify(mm, address, pte, entry): ->change_pte with the new writable PTE, then set_pte_at
    // (mm/memory.c wp_page_copy v4.10.17 … v6.8; include/linux/mmu_notifier.h set_pte_at_notify)
    yield* changePte(kc, address, { pfn: page.pfn, generation: page.generation, writable: true }, WP_COPY);
    yield* p.pteSet(vpn, { pfn: page.pfn, generation: page.generation, writable: true, dirty: true, young: true, swap: false }, WP_COPY);
    // if (old_page) page_remove_rmap(old_page); new_page = old_page: the mapping's reference is put below
    unused = old;
    if (old) yield* p.putPage(old, WP_COPY, PUT_REMOVE_RMAP);
  } else if (unused) {
    yield* p.putPage(unused, WP_COPY); // mem_cgroup_cancel_charge; put_page(new_page)
  }
  yield* p.spinUnlock(PTL, WP_COPY);
  yield* invalidateRangeEnd(kc, range, WP_COPY, kc.era.wpPageCopyOnlyEnd);
  if (old) yield* p.putPage(old, WP_COPY); // the reference do_wp_page took
  return true;
}

/** `do_swap_page()`: the page is found in the swap cache (if reclaim has not freed it yet) or read anew. */
function* doSwapPage(vpn: number, write: boolean, orig: Pte): Gen<boolean> {
  const cached = { pfn: orig.pfn, generation: orig.generation };
  // lookup_swap_cache(): find_get_page() takes a reference if the page is still in the swap cache
  let page: PageRef;
  const hit = yield* p.getPageUnlessZero(cached, site('mm/swap_state.c', 'lookup_swap_cache', 'v4.13'));
  if (hit) {
    page = cached;
    // locked = lock_page_or_retry(page, ...): waits while reclaim holds the page lock
    yield* p.lockPage(page, SWAP);
  } else {
    // swapin_readahead(): a new page, read from swap (may sleep)
    page = yield* p.allocPage(true, SWAP);
  }
  yield* p.spinLock(PTL, SWAP);
  const cur = yield* p.pteRead(vpn, SWAP);
  const ok = samePte(cur, orig);
  // pte = mk_pte(page); if (write && reuse_swap_page()) pte = maybe_mkwrite(pte_mkdirty(pte))
  if (ok) yield* p.pteSet(vpn, { pfn: page.pfn, generation: page.generation, writable: write, dirty: write, young: true, swap: false }, SWAP);
  yield* p.spinUnlock(PTL, SWAP);
  if (hit) yield* p.unlockPage(page, SWAP);
  if (!ok) yield* p.putPage(page, SWAP); // out_nomap: someone else mapped it
  return true;
}

/**
 * `zap_pte_range()` for `[vpn, vpn + n)`: under the PTL each PTE is cleared (ptep_get_and_clear_full)
 * and its page queued in the mmu_gather batch (__tlb_remove_page: the mapping's reference moves to
 * the batch); swap entries release their swap-cache page (free_swap_and_cache). The batch never
 * fills with the modelled sizes, so force_flush is not reached and no page is freed here.
 */
export function* zapPteRange(vpn: number, n: number, batch: PageRef[], file = false): Gen {
  yield* p.spinLock(PTL, ZAP);
  for (let v = vpn; v < vpn + n; v++) {
    const old = yield* p.pteClear(v, false, true, ZAP);
    if (old === null) continue;
    const page = { pfn: old.pfn, generation: old.generation };
    if (old.migration) continue; // a migration entry: no reference of its own (zap_pte_range: is_migration_entry)
    if (old.swap) {
      // free_swap_and_cache(entry): drop the swap cache's page if it is still there (trylock_page)
      if (yield* p.getPageUnlessZero(page, FREE_SWAP)) yield* p.putPage(page, FREE_SWAP, PUT_FREE_SWAP_CACHE);
      continue;
    }
    if (old.pfn === ZERO_PFN) continue; // vm_normal_page() == NULL
    // !PageAnon(page) (the shared file VMA): if (pte_dirty(ptent)) { force_flush = 1; set_page_dirty(page); }
    // (mm/memory.c zap_pte_range v4.10.17, v4.13.19; v6.8 folio_mark_dirty). The early
    // tlb_flush_mmu_tlbonly under the PTL that force_flush causes is not modelled [simplification]
    if (file && old.dirty) yield* p.setPageDirty(page, ZAP_FILE_DIRTY);
    batch.push(page);
  }
  yield* p.spinUnlock(PTL, ZAP);
}

/**
 * `tlb_finish_mmu()` → `tlb_flush_mmu()`: `tlb_flush_mmu_tlbonly` flushes the CPU TLB and calls
 * `mmu_notifier_invalidate_range()` for the gathered range, then `tlb_flush_mmu_free` frees the
 * batch (free_pages_and_swap_cache: free_swap_cache, then put_page).
 */
export function* tlbFinishMmu(kc: KernelContext, vpn: number, n: number, batch: readonly PageRef[]): Gen {
  const start = addressOf(vpn);
  yield* p.tlbFlush(vpn, vpn + n, FLUSH_ONLY);
  yield* secondaryTlbInvalidate(kc, { start, end: start + n * PAGE_SIZE }, FLUSH_ONLY, FLUSH_TLB_MM_RANGE);
  for (const page of batch) yield* p.putPage(page, FLUSH_FREE, PUT_FREE_SWAP_CACHE);
}

/**
 * `unmap_vmas()` + `tlb_finish_mmu()` for `[vpn, vpn + n)` (the part of unmap_region and
 * zap_page_range that touches PTEs): range_start; zap_pte_range; range_end; then tlb_finish_mmu
 * frees the gathered pages, after range_end.
 */
export function* unmapRange(kc: KernelContext, vpn: number, n: number, event: MmuNotifyEvent = 'MMU_NOTIFY_UNMAP'): Gen {
  const start = addressOf(vpn);
  // mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, vma, vma->vm_mm, start_addr, end_addr) (v5.7 unmap_vmas)
  const range = mmuNotifierRange(kc, event, start, start + n * PAGE_SIZE);
  const batch: PageRef[] = [];
  yield* invalidateRangeStart(kc, range, UNMAP_VMAS);
  yield* unmapPageRange(kc, vpn, n, batch);
  yield* invalidateRangeEnd(kc, range, UNMAP_VMAS);
  yield* tlbFinishMmu(kc, vpn, n, batch);
}

/**
 * `unmap_page_range()` of `[vpn, vpn + n)` into the mmu_gather `batch`: with transparent huge pages,
 * zap_pmd_range (huge PMDs zapped whole or split first: huge_memory.ts); else zap_pte_range.
 */
export function* unmapPageRange(kc: KernelContext, vpn: number, n: number, batch: PageRef[]): Gen {
  if (kc.thpOrder) yield* zapPmdRange(kc, vpn, n, batch, zapPteRange);
  else yield* zapPteRange(vpn, n, batch, kc.file !== undefined);
}
