/**
 * mm/vmscan.c (v4.13): reclaim of one anonymous page, the path of shrink_page_list that swaps it out.
 */
import { ZERO_PFN, addressOf, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { tryToUnmap } from './rmap';
import * as h from '../runtime/huge-primitives';
import type { PageRef } from '../runtime/primitives';
import { hpageNr, splitHugePageToList } from './huge_memory';
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
const TAIL = site('mm/vmscan.c', 'shrink_page_list: the tail pages split_huge_page_to_list put on page_list', 'v4.13');

/**
 * Reclaims the anonymous page mapped at `vpn`: isolate it (reclaim's own reference), add it to the
 * swap cache, try_to_unmap it, flush the deferred CPU TLB flush, write it out, and free it in
 * __remove_mapping if page_ref_freeze(page, 2) succeeds (only the isolation and swap-cache
 * references left); otherwise put it back. The page is freed after try_to_unmap_one has returned.
 */
export function* shrinkPage(kc: KernelContext, vpn: number, vmaPages: number): Gen {
  const pte = yield* p.pteRead(vpn, PICK);
  if (pte === null || pte.swap || pte.pfn === ZERO_PFN) {
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
  const freeze = (k: KernelContext, pg: PageRef, v: number) => tryToUnmapThp(k, pg, v, vmaPages, { migration: true, splitHugePmd: true, rmapLocked: true, batch: false });
  let inSwapCache = false;
  if (form === 'split-in-add-to-swap') {
    // add_to_swap(page, page_list): get_swap_page(); if (PageTransHuge(page)) split_huge_page_to_list(page, list)
    if (!(yield* splitHugePageToList(kc, head, headVpn, 0, freeze))) return yield* keep(head, 'add_to_swap: split_huge_page_to_list failed: activate_locked', SPL_THP_12);
  } else {
    const [, , compound] = yield* h.pageCount(head, SPL_THP);
    // "Split pages without a PMD map right away": if (!compound_mapcount(page) && split_huge_page_to_list(page, page_list))
    if (compound === 0) {
      if (!(yield* splitHugePageToList(kc, head, headVpn, 0, freeze))) return yield* keep(head, 'split_huge_page_to_list failed: activate_locked', SPL_THP);
    } else {
      yield* p.swapCacheAdd(head, ADD_TO_SWAP); // add_to_swap(page): a THP swap cluster, HPAGE_PMD_NR references
      inSwapCache = true;
      if (form === 'swap-whole') return yield* reclaimWholeThp(kc, head, headVpn, vmaPages);
      // "XXX: We don't support THP writes": split_huge_page_to_list, else delete_from_swap_cache
      if (!(yield* splitHugePageToList(kc, head, headVpn, nr, freeze))) return yield* keep(head, 'split_huge_page_to_list failed: delete_from_swap_cache; activate_locked', SPL_THP);
    }
  }
  // the head goes on as an order-0 page; split_huge_page_to_list put the tails on page_list
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
