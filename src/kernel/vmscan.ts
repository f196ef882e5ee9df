/**
 * mm/vmscan.c (v4.13): reclaim of one anonymous page, the path of shrink_page_list that swaps it out.
 */
import { ZERO_PFN, addressOf, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { tryToUnmap } from './rmap';

const PICK = site('mm/vmscan.c', 'shrink_inactive_list', 'v4.13', 'the model picks the page mapped at the given address off the LRU');
const ISOLATE = site('mm/vmscan.c', 'isolate_lru_page', 'v4.13');
const SPL = site('mm/vmscan.c', 'shrink_page_list', 'v4.13');
const ADD_TO_SWAP = site('mm/swap_state.c', 'add_to_swap', 'v4.13');
const FLUSH = site('mm/rmap.c', 'try_to_unmap_flush_dirty', 'v4.13');
const PAGEOUT = site('mm/vmscan.c', 'pageout', 'v4.13', 'writeback completes at once');
const REMOVE = site('mm/vmscan.c', '__remove_mapping', 'v4.13');
const PUTBACK = site('mm/vmscan.c', 'putback_lru_page', 'v4.13');

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
  if (!(yield* p.getPageUnlessZero(page, ISOLATE))) return; // already being freed
  // if (!trylock_page(page)) goto keep;
  if (!(yield* p.trylockPage(page, SPL))) {
    yield* p.putPage(page, PUTBACK);
    return;
  }
  yield* p.swapCacheAdd(page, ADD_TO_SWAP);
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
