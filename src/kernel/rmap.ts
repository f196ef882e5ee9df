/**
 * mm/rmap.c (v4.13): try_to_unmap() of one anonymous page from the one modelled VMA.
 */
import { PAGE_SIZE, VMA_BASE, addressOf } from '../runtime/machine';
import * as p from '../runtime/primitives';
import { PUT_REMOVE_RMAP, type Gen, type PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { ANON_VMA_RWSEM, PTL } from './mm';
import { PAGE_RANGE, invalidateRange, invalidateRangeEnd, invalidateRangeStart } from './mmu_notifier';

const RMAP_WALK = site('mm/rmap.c', 'rmap_walk_anon', 'v4.13');
const TTU_ONE = site('mm/rmap.c', 'try_to_unmap_one', 'v4.13');
const PVMW = site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'v4.13');

/**
 * `try_to_unmap(page, TTU_UNMAP | TTU_BATCH_FLUSH)` as called from shrink_page_list: rmap_walk_anon
 * holds anon_vma->rwsem for read and calls try_to_unmap_one for the VMA mapping the page at `vpn`.
 * The young-bit test (ptep_clear_flush_young_notify) is taken as passed: the model reclaims a page
 * that a previous LRU pass found unreferenced. Returns whether the page is no longer mapped.
 */
export function* tryToUnmap(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number): Gen<boolean> {
  yield* p.downRead(ANON_VMA_RWSEM, RMAP_WALK);
  const ok = yield* tryToUnmapOne(kc, page, vpn, vmaPages);
  yield* p.upRead(ANON_VMA_RWSEM, RMAP_WALK);
  return ok;
}

/**
 * `try_to_unmap_one()` v4.13 (after the kill-invalidate_page series): range_start for
 * [address, min(vm_end, address + (PAGE_SIZE << compound_order(page)))), then in the
 * page_vma_mapped_walk loop under the PTL: clear the PTE with the CPU TLB flush deferred
 * (should_defer_flush: TTU_BATCH_FLUSH), move the dirty bit to the page, install the swap entry,
 * page_remove_rmap + put_page, and ->invalidate_range for the page; then range_end.
 */
function* tryToUnmapOne(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number): Gen<boolean> {
  const address = addressOf(vpn);
  const vmEnd = VMA_BASE + vmaPages * PAGE_SIZE;
  const range = { start: address, end: Math.min(vmEnd, address + (PAGE_SIZE << 0)) }; // order-0 page
  yield* invalidateRangeStart(kc, range, TTU_ONE);
  // page_vma_mapped_walk(): map_pte() takes the PTL and checks the PTE still maps the page
  yield* p.spinLock(PTL, PVMW);
  const pte = yield* p.pteRead(vpn, PVMW);
  let unmapped = false;
  if (pte && !pte.swap && pte.pfn === page.pfn && pte.generation === page.generation) {
    // ptep_get_and_clear() + set_tlb_ubc_flush_pending(): the CPU TLB flush is deferred
    const old = yield* p.pteClear(vpn, false, false, TTU_ONE);
    if (old?.dirty) yield* p.setPageDirty(page, TTU_ONE);
    // PageAnon: swp_pte = swp_entry_to_pte(entry); set_pte_at()
    yield* p.pteSet(vpn, { pfn: page.pfn, generation: page.generation, writable: false, dirty: false, young: false, swap: true }, TTU_ONE);
    // discard: page_remove_rmap(subpage); put_page(page); mmu_notifier_invalidate_range(address, address + PAGE_SIZE)
    yield* p.putPage(page, TTU_ONE, PUT_REMOVE_RMAP);
    yield* invalidateRange(kc, PAGE_RANGE(address), TTU_ONE);
    unmapped = true;
  }
  yield* p.spinUnlock(PTL, PVMW);
  yield* invalidateRangeEnd(kc, range, TTU_ONE);
  return unmapped;
}
