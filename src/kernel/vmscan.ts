/**
 * mm/vmscan.c (v4.13): reclaim of one anonymous page, the path of shrink_page_list that swaps it out.
 */
import { PAGE_SIZE, ZERO_PFN, addressOf, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { tryToUnmap } from './rmap';
import * as h from '../runtime/huge-primitives';
import type { PageRef } from '../runtime/primitives';
import { hpageNr, splitHugePageToList, splitHugePmdAddress } from './huge_memory';
import { ANON_VMA_RWSEM, PTL } from './mm';
import { ALL_END, PAGE_RANGE, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, secondaryTlbInvalidate } from './mmu_notifier';
import { PUT_REMOVE_RMAP } from '../runtime/primitives';
import { tryToUnmapThp } from './rmap-thp';

const PICK = site('mm/vmscan.c', 'shrink_inactive_list', 'v4.13', 'the model picks the page mapped at the given address off the LRU');
const ISOLATE = site('mm/vmscan.c', 'isolate_lru_page', 'v4.13');
const SPL = site('mm/vmscan.c', 'shrink_page_list', 'v4.13');
const ADD_TO_SWAP = site('mm/swap_state.c', 'add_to_swap', 'v4.13');
const FLUSH = site('mm/rmap.c', 'try_to_unmap_flush_dirty', 'v4.13');
const PAGEOUT = site('mm/vmscan.c', 'pageout', 'v4.13', 'writeback completes at once');
const REMOVE = site('mm/vmscan.c', '__remove_mapping', 'v4.13');
const PUTBACK = site('mm/vmscan.c', 'putback_lru_page', 'v4.13');
const LRU_HEAD = site('mm/vmscan.c', 'isolate_lru_pages', 'v4.13', 'a THP is on the LRU by its head');
const SPL_THP = site('mm/vmscan.c', 'shrink_page_list: PageTransHuge(page)', 'v4.13');
const SPL_THP_12 = site('mm/swap_state.c', 'add_to_swap: split_huge_page_to_list', 'v4.12');
const SPL_THP_15 = site('mm/vmscan.c', 'shrink_page_list: flags |= TTU_SPLIT_HUGE_PMD', 'v4.15');
const REMOVE_THP = site('mm/vmscan.c', '__remove_mapping: refcount = 1 + HPAGE_PMD_NR', 'v4.19');
const SPL_LZ_SPLIT = site('mm/vmscan.c', 'shrink_page_list: !PageSwapBacked: else if (PageTransHuge(page)) split_huge_page_to_list ("Split file THP")', 'v4.13');
const SPL_LZ_WHOLE = site('mm/vmscan.c', 'shrink_folio_list: folio_test_pmd_mappable: try_to_unmap(folio, TTU_BATCH_FLUSH | TTU_SPLIT_HUGE_PMD)', 'v6.8');
const TTU_ONE = site('mm/rmap.c', 'try_to_unmap_one', 'v6.8');
const TTU_LZ = site('mm/rmap.c', 'try_to_unmap_one: MADV_FREE page check', 'v6.8');
const TTU_LZ_WALK = site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'v6.8');
const TTU_LZ_RMAP = site('mm/rmap.c', 'rmap_walk_anon', 'v6.8');
const TLBBATCH = site('arch/x86/include/asm/tlbflush.h', 'arch_tlbbatch_add_pending', 'v6.8');
const LZ_FREE_WHOLE = site('mm/vmscan.c', 'shrink_folio_list: folio_test_anon && !folio_test_swapbacked: folio_ref_freeze(folio, 1)', 'v6.8', 'the model also keeps a folio found PageDirty here');
const TAIL = site('mm/vmscan.c', 'shrink_page_list: the tail pages split_huge_page_to_list put on page_list', 'v4.13');

/**
 * Reclaims the anonymous page mapped at `vpn`: isolate it (reclaim's own reference), add it to the
 * swap cache, try_to_unmap it, flush the deferred CPU TLB flush, write it out, and free it in
 * __remove_mapping if page_ref_freeze(page, 2) succeeds (only the isolation and swap-cache
 * references left); otherwise put it back. The page is freed after try_to_unmap_one has returned.
 */
export function* shrinkPage(kc: KernelContext, vpn: number, vmaPages: number): Gen {
  const pte = yield* p.pteRead(vpn, PICK);
  // the zero page and the huge zero page are not on the LRU
  if (pte === null || pte.swap || pte.pfn === ZERO_PFN || pte.hugeZero) {
    yield* p.note(`nothing to reclaim at ${hex(addressOf(vpn))}`, PICK);
    return;
  }
  const page = { pfn: pte.pfn, generation: pte.generation };
  if (kc.thpOrder) {
    const head = yield* h.compoundHead(page, LRU_HEAD);
    if (head === null) return; // freed meanwhile: not on the LRU any more
    if (head.order > 0) return yield* shrinkThp(kc, head, vpn - (page.pfn - head.pfn), vmaPages);
  }
  if (!(yield* p.getPageUnlessZero(page, ISOLATE))) return; // already being freed
  // if (!trylock_page(page)) goto keep;
  if (!(yield* p.trylockPage(page, SPL))) {
    yield* p.putPage(page, PUTBACK);
    return;
  }
  yield* reclaimLocked(kc, page, vpn, vmaPages, false);
}

/**
 * shrink_page_list for an isolated, locked order-0 page: add_to_swap (unless it is in the swap
 * cache already), try_to_unmap, the deferred TLB flush, pageout, __remove_mapping; or put it back.
 */
function* reclaimLocked(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number, inSwapCache: boolean): Gen {
  // if (PageAnon(page) && PageSwapBacked(page) && !PageSwapCache(page)) add_to_swap(page): a lazyfree
  // page (MADV_FREE) is not swapped, it is discarded if still clean after try_to_unmap
  const lazyfree = !(yield* p.pageFlags(page, SPL)).swapBacked;
  if (lazyfree) {
    const unmapped = yield* tryToUnmap(kc, page, vpn, vmaPages);
    if (unmapped) {
      yield* p.tlbFlush(vpn, vpn + 1, FLUSH);
      // if (PageAnon(page) && !PageSwapBacked(page)) { if (!page_ref_freeze(page, 1)) goto keep_locked; if (PageDirty) … }
      if (yield* p.lazyfreeFreeze(page, site('mm/vmscan.c', 'shrink_page_list: lazyfree', 'v4.13'))) return;
    }
    yield* p.unlockPage(page, SPL);
    yield* p.putPage(page, PUTBACK);
    return;
  }
  if (!inSwapCache && kc.era.lazyfree === 'ttu-lzfree') return yield* reclaimTtuLzfree(kc, page, vpn, vmaPages);
  if (!inSwapCache) yield* p.swapCacheAdd(page, ADD_TO_SWAP);
  const unmapped = yield* tryToUnmap(kc, page, vpn, vmaPages);
  if (unmapped) {
    yield* p.tlbFlush(vpn, vpn + 1, FLUSH);
    yield* p.writeback(page, PAGEOUT);
    // __remove_mapping: page_ref_freeze(page, 2) (isolation + swap cache); then __delete_from_swap_cache,
    // __ClearPageLocked and free_hot_cold_page_list, all on a page nobody else can reach
    if (yield* p.pageRefFreeze(page, 2, REMOVE)) return;
  } else {
    yield* p.note('try_to_unmap failed: SWAP_FAIL, keep the page', SPL);
  }
  yield* p.unlockPage(page, SPL);
  yield* p.putPage(page, PUTBACK);
}

const SPL_410 = site('mm/vmscan.c', 'shrink_page_list', 'v4.10');
const ADD_TO_SWAP_410 = site('mm/swap_state.c', 'add_to_swap (no set_page_dirty); lazyfree = true', 'v4.10');
const LZFREE_410 = site('mm/vmscan.c', 'shrink_page_list: SWAP_LZFREE → lazyfree: __remove_mapping(mapping, page, true)', 'v4.10');

/**
 * v4.10's shrink_page_list for an anonymous page not yet in the swap cache (Era.lazyfree
 * 'ttu-lzfree', mm/vmscan.c v4.10.17): `if (PageAnon(page) && !PageSwapCache(page)) { add_to_swap(page,
 * page_list); lazyfree = true; }` — add_to_swap does not dirty the page (mm/swap_state.c v4.10.17) —
 * then `try_to_unmap(page, lazyfree ? (ttu_flags | TTU_BATCH_FLUSH | TTU_LZFREE) : …)`, which discards
 * the mapping of a page still clean after the pte_dirty transfer; SWAP_LZFREE (`rp.lazyfreed &&
 * !PageDirty(page)`) goes to `lazyfree:`, __remove_mapping(mapping, page, true) without pageout
 * (page_ref_freeze(page, 2): isolation and swap cache); a dirty page is swapped out as always. What
 * MADV_FREE did to the page was only ClearPageDirty and a clean PTE (madvise.ts).
 */
function* reclaimTtuLzfree(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number): Gen {
  yield* p.swapCacheAdd(page, ADD_TO_SWAP_410, false);
  const unmapped = yield* tryToUnmap(kc, page, vpn, vmaPages, false, true);
  if (!unmapped) return yield* keep(page, 'try_to_unmap failed: SWAP_FAIL, keep the page', SPL_410);
  yield* p.tlbFlush(vpn, vpn + 1, FLUSH);
  if (!(yield* p.pageFlags(page, SPL_410)).dirty) {
    if (yield* p.lazyfreeFreeze(page, LZFREE_410, 2)) return;
    return yield* keep(page, '__remove_mapping failed (the page is still referenced): keep_locked', LZFREE_410);
  }
  yield* p.writeback(page, PAGEOUT);
  if (yield* p.pageRefFreeze(page, 2, REMOVE)) return;
  yield* p.unlockPage(page, SPL);
  yield* p.putPage(page, PUTBACK);
}

/** Puts back a page reclaim keeps: unlock_page; putback_lru_page. */
function* keep(page: PageRef, why: string, at: typeof SPL): Gen {
  yield* p.note(why, at);
  yield* p.unlockPage(page, SPL);
  yield* p.putPage(page, PUTBACK);
}

/**
 * shrink_page_list for the THP headed at `head`, mapped from `headVpn`, in the era's form
 * (Era.thpReclaim): isolate and lock the head; a THP no PMD maps is split first (v4.13+); then
 * either split it (≤ v4.13, freezing every mapping to a migration entry inside try_to_unmap) and
 * reclaim the head and each tail as order-0 pages, or (v4.15+) unmap it whole with
 * TTU_SPLIT_HUGE_PMD and free it whole.
 */
function* shrinkThp(kc: KernelContext, head: PageRef, headVpn: number, vmaPages: number): Gen {
  const nr = hpageNr(kc);
  const form = kc.era.thpReclaim;
  if (!(yield* p.getPageUnlessZero(head, ISOLATE))) return;
  if (!(yield* p.trylockPage(head, SPL))) {
    yield* p.putPage(head, PUTBACK);
    return;
  }
  // if (PageAnon(page) && PageSwapBacked(page)) { … add_to_swap … } else if (…PageTransHuge(page)) …: a lazyfree
  // (MADV_FREE) THP in the swapbacked design (Era.lazyfreeThpReclaim); v4.10 splits every THP in add_to_swap
  if (kc.era.lazyfree === 'swapbacked' && !(yield* p.pageFlags(head, SPL)).swapBacked) {
    if (kc.era.lazyfreeThpReclaim === 'whole') return yield* reclaimLazyfreeThpWhole(kc, head, headVpn, vmaPages);
    // "Split file THP": if (split_huge_page_to_list(page, page_list)) goto keep_locked (v4.12 … v5.7.14)
    if (!(yield* splitHugePageToList(kc, head, headVpn, 0, vmaPages))) return yield* keep(head, 'split_huge_page_to_list failed: keep_locked', SPL_LZ_SPLIT);
    return yield* reclaimSplit(kc, head, headVpn, vmaPages, false);
  }
  let inSwapCache = false;
  if (form === 'split-in-add-to-swap') {
    // add_to_swap(page, page_list): get_swap_page(); if (PageTransHuge(page)) split_huge_page_to_list(page, list)
    if (!(yield* splitHugePageToList(kc, head, headVpn, 0, vmaPages))) return yield* keep(head, 'add_to_swap: split_huge_page_to_list failed: activate_locked', SPL_THP_12);
  } else {
    const [, , compound] = yield* h.pageCount(head, SPL_THP);
    // "Split pages without a PMD map right away": if (!compound_mapcount(page) && split_huge_page_to_list(page, page_list))
    if (compound === 0) {
      if (!(yield* splitHugePageToList(kc, head, headVpn, 0, vmaPages))) return yield* keep(head, 'split_huge_page_to_list failed: activate_locked', SPL_THP);
    } else {
      yield* p.swapCacheAdd(head, ADD_TO_SWAP); // add_to_swap(page): a THP swap cluster, HPAGE_PMD_NR references
      inSwapCache = true;
      if (form === 'swap-whole') return yield* reclaimWholeThp(kc, head, headVpn, vmaPages);
      // "XXX: We don't support THP writes": split_huge_page_to_list, else delete_from_swap_cache
      if (!(yield* splitHugePageToList(kc, head, headVpn, nr, vmaPages))) return yield* keep(head, 'split_huge_page_to_list failed: delete_from_swap_cache; activate_locked', SPL_THP);
    }
  }
  yield* reclaimSplit(kc, head, headVpn, vmaPages, inSwapCache);
}

/**
 * After split_huge_page_to_list(page, page_list): the head goes on as an order-0 page, and the tails
 * split_huge_page_to_list put on page_list are reclaimed after it (each locked, with the list's reference).
 */
function* reclaimSplit(kc: KernelContext, head: PageRef, headVpn: number, vmaPages: number, inSwapCache: boolean): Gen {
  const nr = hpageNr(kc);
  yield* reclaimLocked(kc, head, headVpn, vmaPages, inSwapCache);
  for (let i = 1; i < nr; i++) {
    const tail = { pfn: head.pfn + i, generation: head.generation };
    if (!(yield* p.trylockPage(tail, TAIL))) {
      yield* p.putPage(tail, PUTBACK);
      continue;
    }
    yield* reclaimLocked(kc, tail, headVpn + i, vmaPages, inSwapCache);
  }
}

/**
 * v4.15+ for a PMD-mapped THP in the swap cache: try_to_unmap(page, flags | TTU_SPLIT_HUGE_PMD)
 * (split_huge_pmd_address, then every subpage PTE in one bracket), try_to_unmap_flush_dirty,
 * pageout, and `__remove_mapping`'s `page_ref_freeze(page, 1 + HPAGE_PMD_NR)` (isolation + one
 * swap-cache reference per subpage) frees the THP whole.
 */
function* reclaimWholeThp(kc: KernelContext, head: PageRef, headVpn: number, vmaPages: number): Gen {
  const nr = hpageNr(kc);
  if (!(yield* tryToUnmapThp(kc, head, headVpn, vmaPages, { migration: false, splitHugePmd: true, rmapLocked: false, batch: true }))) {
    return yield* keep(head, 'try_to_unmap failed: activate_locked', SPL_THP_15);
  }
  yield* p.tlbFlush(headVpn, headVpn + nr, FLUSH);
  yield* p.writeback(head, PAGEOUT);
  if (yield* p.pageRefFreeze(head, 1 + nr, REMOVE_THP)) return;
  yield* keep(head, '__remove_mapping: page_ref_freeze failed (someone holds a reference): keep', REMOVE_THP);
}

/**
 * v6.8's shrink_folio_list for a PMD-mapped lazyfree THP (Era.lazyfreeThpReclaim 'whole'): no split
 * of the folio. try_to_unmap(folio, TTU_BATCH_FLUSH | TTU_SPLIT_HUGE_PMD) → try_to_unmap_one:
 * split_huge_pmd_address(vma, address, false, folio) (its own bracket), range_start over `[address,
 * vma_address_end)`, and per subpage PTE under the PTL: ptep_get_and_clear + set_tlb_ubc_flush_pending
 * (arch_tlbbatch_add_pending: ->arch_invalidate_secondary_tlbs(0, -1UL)), `if (pte_dirty(pteval))
 * folio_mark_dirty(folio)`, then the "MADV_FREE page check": `ref_count == 1 + map_count &&
 * !folio_test_dirty(folio)` → `goto discard` (folio_remove_rmap_pte; folio_put), else set_pte_at(pteval),
 * folio_set_swapbacked, ret = false and the walk stops; range_end. If the folio is still mapped:
 * activate_locked; else (try_to_unmap_flush before the free) folio_ref_freeze(folio, 1) frees it whole
 * (mm/rmap.c, mm/vmscan.c v6.8). Subpages discarded before a redirtied one stay unmapped (their PTEs
 * are gone): the model does not check what a device wrote to those.
 */
function* reclaimLazyfreeThpWhole(kc: KernelContext, head: PageRef, headVpn: number, vmaPages: number): Gen {
  const nr = hpageNr(kc);
  const order = kc.thpOrder ?? 0;
  yield* p.downRead(ANON_VMA_RWSEM, TTU_LZ_RMAP);
  yield* splitHugePmdAddress(kc, headVpn, false, head);
  const address = addressOf(headVpn);
  // range.end = vma_address_end(&pvmw): "For THP, we have to assume the worse case ie pmd for invalidation."
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', address, Math.min(addressOf(vmaPages), address + (PAGE_SIZE << order)));
  yield* invalidateRangeStart(kc, range, TTU_ONE);
  yield* p.spinLock(PTL, TTU_LZ_WALK);
  for (let v = headVpn; v < Math.min(vmaPages, headVpn + nr); v++) {
    const pte = yield* p.pteRead(v, TTU_LZ_WALK);
    if (pte === null || pte.swap || pte.huge || pte.pfn < head.pfn || pte.pfn >= head.pfn + nr || pte.generation !== head.generation) continue;
    const sub = { pfn: pte.pfn, generation: pte.generation };
    const old = yield* p.pteClear(v, false, false, TTU_ONE); // ptep_get_and_clear; set_tlb_ubc_flush_pending
    yield* secondaryTlbInvalidate(kc, kc.era.secondaryTlbs === 'invalidate-range' ? PAGE_RANGE(addressOf(v)) : { start: 0, end: ALL_END }, TTU_ONE, TLBBATCH);
    if (old?.dirty) yield* p.setPageDirty(sub, TTU_ONE); // folio_mark_dirty(folio)
    const [count, mapcount] = yield* h.pageCount(head, TTU_LZ);
    // the PTE is cleared but its rmap not yet removed: map_count still counts it
    if (count === 1 + mapcount && !(yield* p.pageFlags(head, TTU_LZ)).dirty) {
      yield* p.putPage(sub, TTU_LZ, PUT_REMOVE_RMAP); // discard: folio_remove_rmap_pte; folio_put
      continue;
    }
    // "If the folio was redirtied, it cannot be discarded. Remap the page to page table."
    if (old) yield* p.pteRestore(v, old, TTU_LZ);
    yield* p.setSwapBacked(head, TTU_LZ);
    break;
  }
  yield* p.spinUnlock(PTL, TTU_LZ_WALK);
  yield* invalidateRangeEnd(kc, range, TTU_ONE);
  yield* p.upRead(ANON_VMA_RWSEM, TTU_LZ_RMAP);
  // folio_mapped(folio): any subpage still mapped (a walk that stopped at a redirtied subpage left it and those after it)
  if ((yield* h.pageCount(head, SPL_LZ_WHOLE))[1] !== 0) return yield* keep(head, 'folio_mapped(folio): activate_locked', SPL_LZ_WHOLE);
  yield* p.tlbFlush(headVpn, headVpn + nr, FLUSH);
  if (yield* p.lazyfreeFreeze(head, LZ_FREE_WHOLE)) return;
  yield* keep(head, 'folio_ref_freeze(folio, 1) failed: keep_locked', LZ_FREE_WHOLE);
}
