/**
 * mm/rmap.c: try_to_unmap() of one anonymous page from the one modelled VMA, in each era's form
 * (Era.tryToUnmapNotify): v4.10 (page_check_address, invalidate_page after the PTL), v4.12
 * (page_vma_mapped_walk, invalidate_page under the PTL), aac2fea9 (a bare invalidate_range after
 * the walk) and v4.13 (start/end bracket, invalidate_range per PTE under the PTL).
 */
import { PAGE_SIZE, VMA_BASE, addressOf } from '../runtime/machine';
import * as p from '../runtime/primitives';
import { PUT_REMOVE_RMAP, type Gen, type PageRef } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { ANON_VMA_RWSEM, PTL } from './mm';
import { ALL_END, PAGE_RANGE, invalidatePage, invalidateRange, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, secondaryTlbInvalidate } from './mmu_notifier';

const RMAP_WALK = site('mm/rmap.c', 'rmap_walk_anon', 'v4.13');
const TLBBATCH = site('arch/x86/include/asm/tlbflush.h', 'arch_tlbbatch_add_pending', 'v6.8');
const FLUSH_PAGE = site('arch/x86/mm/tlb.c', 'ptep_clear_flush → flush_tlb_page → flush_tlb_mm_range', 'v6.8');
const TRY_TO_MIGRATE = site('mm/rmap.c', 'try_to_migrate_one', 'v6.8');

interface EraSites {
  readonly ttu: Site;
  readonly walk: Site;
}

/** The try_to_unmap_one and walk sites of each era (rmap-thp.ts shares them). */
export const TRY_TO_UNMAP_SITES: Record<string, EraSites> = {
  'invalidate-page-after-ptl': { ttu: site('mm/rmap.c', 'try_to_unmap_one', 'v4.10'), walk: site('mm/rmap.c', 'page_check_address', 'v4.10') },
  'invalidate-page-under-ptl': { ttu: site('mm/rmap.c', 'try_to_unmap_one', 'v4.12'), walk: site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'v4.12') },
  'invalidate-range-after-walk': {
    ttu: site('mm/rmap.c', 'try_to_unmap_one', 'aac2fea9', 'reconstructed from the revert message 785373b4c387'),
    walk: site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'aac2fea9'),
  },
  bracket: { ttu: site('mm/rmap.c', 'try_to_unmap_one', 'v4.13'), walk: site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'v4.13') },
};

/**
 * `try_to_unmap(page, TTU_UNMAP | TTU_BATCH_FLUSH)` as called from shrink_page_list: rmap_walk_anon
 * holds anon_vma->rwsem for read and calls try_to_unmap_one for the VMA mapping the page at `vpn`.
 * The young-bit test (ptep_clear_flush_young_notify) is taken as passed: the model reclaims a page
 * that a previous LRU pass found unreferenced. Returns whether the page is no longer mapped.
 */
export function* tryToUnmap(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number, migration = false, lzfree = false): Gen<boolean> {
  yield* p.downRead(ANON_VMA_RWSEM, RMAP_WALK);
  const ok = yield* tryToUnmapOne(kc, page, vpn, vmaPages, migration, lzfree);
  yield* p.upRead(ANON_VMA_RWSEM, RMAP_WALK);
  return ok;
}

/**
 * The walk's body for one PTE, the same in every modelled era (mm/rmap.c v4.10 … v4.13): clear the
 * PTE with the CPU TLB flush deferred (ptep_get_and_clear + set_tlb_ubc_flush_pending, since
 * should_defer_flush holds for TTU_BATCH_FLUSH), move the dirty bit to the page, install the swap
 * entry, page_remove_rmap + put_page. The caller holds the PTL.
 */
function* unmapPte(page: PageRef, vpn: number, at: Site, lzfree = false): Gen<boolean> {
  const old = yield* p.pteClear(vpn, false, false, at);
  if (old?.dirty) yield* p.setPageDirty(page, at);
  if (lzfree && !(yield* p.pageFlags(page, at)).dirty) {
    // v4.10 (Era.lazyfree 'ttu-lzfree'): if (!PageDirty(page) && (flags & TTU_LZFREE)) { /* It's a freeable
    // page by MADV_FREE */ dec_mm_counter(mm, MM_ANONPAGES); rp->lazyfreed++; goto discard; } (mm/rmap.c v4.10.17)
    yield* p.putPage(page, LZFREE_DISCARD, PUT_REMOVE_RMAP); // discard: page_remove_rmap; put_page
    return true;
  }
  // v4.13+ "MADV_FREE page check": if (!PageSwapBacked(page)) { if (!PageDirty(page)) goto discard;
  // /* redirtied: remap */ set_pte_at(pteval); SetPageSwapBacked(page); ret = false; break; }
  const flags = yield* p.pageFlags(page, at);
  if (!flags.swapBacked) {
    if (flags.dirty && old) {
      yield* p.pteRestore(vpn, old, at);
      yield* p.setSwapBacked(page, at);
      return false;
    }
    yield* p.putPage(page, at, PUT_REMOVE_RMAP); // discard: dec_mm_counter; page_remove_rmap; put_page
    return true;
  }
  yield* p.pteSet(vpn, { pfn: page.pfn, generation: page.generation, writable: false, dirty: false, young: false, swap: true }, at);
  yield* p.putPage(page, at, PUT_REMOVE_RMAP);
  return true;
}

/**
 * The walk's body for one PTE with `TTU_MIGRATION|TTU_IGNORE_MLOCK|TTU_IGNORE_ACCESS` (migration:
 * __unmap_and_move, mm/migrate.c): no TTU_BATCH_FLUSH, so `ptep_clear_flush()` flushes the CPU TLB
 * at once; the dirty bit to the page; `make_migration_entry(subpage, pte_write(pteval))` installed
 * with set_pte_at (the branch comes before the anonymous/MADV_FREE one: mm/rmap.c v4.10.17 …
 * v5.7.14, try_to_migrate_one v6.8); page_remove_rmap + put_page. The caller holds the PTL.
 */
function* unmapPteMigration(page: PageRef, vpn: number, at: Site): Gen<boolean> {
  const old = yield* p.pteClear(vpn, true, false, at);
  if (old?.dirty) yield* p.setPageDirty(page, at);
  yield* p.pteSet(vpn, { pfn: page.pfn, generation: page.generation, writable: old?.writable ?? false, dirty: false, young: false, swap: true, migration: true }, at);
  yield* p.putPage(page, at, PUT_REMOVE_RMAP);
  return true;
}

/** The PTE at `vpn` still maps `page` (page_check_address / map_pte + check_pte). */
function* mapped(page: PageRef, vpn: number, at: Site): Gen<boolean> {
  const pte = yield* p.pteRead(vpn, at);
  return pte !== null && !pte.swap && pte.pfn === page.pfn && pte.generation === page.generation;
}

const LZFREE_DISCARD = site('mm/rmap.c', 'try_to_unmap_one: !PageDirty && TTU_LZFREE: discard', 'v4.10');

function* tryToUnmapOne(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number, migration: boolean, lzfree = false): Gen<boolean> {
  const era = kc.era;
  const { ttu: unmapSite, walk } = TRY_TO_UNMAP_SITES[era.tryToUnmapNotify];
  // the v6.6 era's migration goes through try_to_migrate() → try_to_migrate_one() (mm/rmap.c v6.8): the same bracket
  const ttu = migration && era.secondaryTlbs === 'arch-tlb-flush' ? TRY_TO_MIGRATE : unmapSite;
  const address = addressOf(vpn);
  const order = 0; // compound_order(page): an order-0 page here (a THP goes through rmap-thp.ts)
  const vmEnd = VMA_BASE + vmaPages * PAGE_SIZE;
  // v4.13: "We have to assume the worse case ie pmd for invalidation."
  // mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma, vma->vm_mm, address, ...) (v5.7)
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', address, Math.min(vmEnd, address + (PAGE_SIZE << order)));
  if (era.tryToUnmapNotify === 'bracket') yield* invalidateRangeStart(kc, range, ttu);
  yield* p.spinLock(PTL, walk);
  let unmapped = false;
  if ((yield* mapped(page, vpn, walk)) && (migration ? yield* unmapPteMigration(page, vpn, ttu) : yield* unmapPte(page, vpn, ttu, lzfree))) {
    unmapped = true;
    // v4.13 … v6.5: mmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE) under the PTL;
    // v6.6+: set_tlb_ubc_flush_pending → arch_tlbbatch_add_pending → (0, -1UL) at the PTE clear
    if (era.tryToUnmapNotify === 'bracket' && !migration) yield* secondaryTlbInvalidate(kc, era.secondaryTlbs === 'invalidate-range' ? PAGE_RANGE(address) : { start: 0, end: ALL_END }, ttu, TLBBATCH);
    // migration: v4.13 the same ->invalidate_range; v4.15 … v6.5 none ("No need to invalidate here",
    // Era.migrationEntryInvalidateRange); v6.6+ ptep_clear_flush → flush_tlb_page → ->arch_invalidate_secondary_tlbs
    if (era.tryToUnmapNotify === 'bracket' && migration && (era.secondaryTlbs === 'arch-tlb-flush' || era.migrationEntryInvalidateRange)) {
      yield* secondaryTlbInvalidate(kc, PAGE_RANGE(address), ttu, FLUSH_PAGE);
    }
    if (era.tryToUnmapNotify === 'invalidate-page-under-ptl') yield* invalidatePage(kc, address, ttu);
  }
  yield* p.spinUnlock(PTL, walk);
  if (!unmapped) {
    if (era.tryToUnmapNotify === 'bracket') yield* invalidateRangeEnd(kc, range, ttu);
    return false;
  }
  switch (era.tryToUnmapNotify) {
    case 'invalidate-page-after-ptl':
      // out_unmap: pte_unmap_unlock(pte, ptl); if (ret != SWAP_FAIL ...) mmu_notifier_invalidate_page(mm, address)
      yield* invalidatePage(kc, address, ttu);
      break;
    case 'invalidate-range-after-walk': {
      // if (invalidation_needed) mmu_notifier_invalidate_range(mm, address, address + (1UL << compound_order(page)))
      const shape = era.rangeAfterWalk ?? { lengthInPages: false, startAtLastPte: false };
      const len = shape.lengthInPages ? 1 << order : PAGE_SIZE << order;
      const start = shape.startAtLastPte ? address : address & ~((PAGE_SIZE << order) - 1);
      yield* invalidateRange(kc, { start, end: start + len }, ttu);
      break;
    }
    case 'bracket':
      yield* invalidateRangeEnd(kc, range, ttu);
      break;
    case 'invalidate-page-under-ptl':
      break;
  }
  return true;
}
