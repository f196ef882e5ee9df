/**
 * Reclaim's aging pass over one anonymous page (mm/vmscan.c shrink_active_list → page_referenced,
 * mm/rmap.c v4.10.17, v4.13.19, v5.7.14, v6.8 [V]): the page is isolated off the active LRU,
 * page_referenced walks its rmap under the anon_vma rwsem (read), and page_referenced_one, with the
 * PTL held, calls `ptep_clear_flush_young_notify()`: ptep_clear_flush_young (on x86
 * ptep_test_and_clear_young with no TLB flush: "clearing the accessed bit without a TLB flush
 * doesn't cause data corruption", arch/x86/mm/pgtable.c v4.13.19, v6.8) ORed with
 * mmu_notifier_clear_flush_young(mm, address, address + PAGE_SIZE). No mapping changes, only the
 * accessed bits. The page goes back on an LRU (putback: the isolation reference dropped).
 *
 * Not modelled: a PMD-mapped THP (pmdp_clear_flush_young_notify: the PMD's accessed bit is not
 * modelled by PteTouch; the pass only notes it), VM_LOCKED / VM_SEQ_READ, test_and_clear_page_young
 * (idle page tracking), and what shrink_active_list does with the answer (executable file pages
 * stay active; every anon page is deactivated whatever the answer).
 */
import { ZERO_PFN, addressOf, hex, PAGE_SIZE } from '../runtime/machine';
import * as p from '../runtime/primitives';
import * as h from '../runtime/huge-primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { ANON_VMA_RWSEM, PTL } from './mm';
import { clearFlushYoung } from './mmu_notifier';

const PICK = site('mm/vmscan.c', 'shrink_active_list', 'v4.13', 'the model picks the page mapped at the given address off the active LRU');
const ISOLATE = site('mm/vmscan.c', 'isolate_lru_pages → __isolate_lru_page: get_page_unless_zero', 'v4.13');
const REFERENCED = site('mm/rmap.c', 'page_referenced(page, 0, …)', 'v4.13', 'an anon page that is not KSM is not locked: the walk takes only the anon_vma lock');
const RMAP_WALK = site('mm/rmap.c', 'rmap_walk_anon → page_lock_anon_vma_read', 'v4.13');
const ONE = site('mm/rmap.c', 'page_referenced_one', 'v4.13');
const WALK_410 = site('mm/rmap.c', 'page_referenced_one → page_check_address_transhuge', 'v4.10');
const WALK = site('mm/page_vma_mapped.c', 'page_referenced_one → page_vma_mapped_walk', 'v4.13');
const YOUNG = site('include/linux/mmu_notifier.h', 'ptep_clear_flush_young_notify → ptep_clear_flush_young → ptep_test_and_clear_young', 'v4.13', 'x86 (arch/x86/mm/pgtable.c): no TLB flush');
const NOTIFY = site('include/linux/mmu_notifier.h', 'ptep_clear_flush_young_notify: __young |= mmu_notifier_clear_flush_young(mm, address, address + PAGE_SIZE)', 'v4.13');
const PUTBACK = site('mm/vmscan.c', 'shrink_active_list → move_active_pages_to_lru: put_page_testzero', 'v4.13');
const THP = site('mm/rmap.c', 'page_referenced_one → pmdp_clear_flush_young_notify', 'v4.13', '[U] not modelled: the PMD accessed bit');

/** The aging pass shrink_active_list makes over the anonymous page mapped at `vpn`; returns page_referenced's answer. */
export function* agePage(kc: KernelContext, vpn: number): Gen<boolean> {
  const pte = yield* p.pteRead(vpn, PICK);
  // the zero page and the huge zero page are not on the LRU
  if (pte === null || pte.swap || pte.pfn === ZERO_PFN || pte.hugeZero) {
    yield* p.note(`nothing on the LRU at ${hex(addressOf(vpn))}`, PICK);
    return false;
  }
  const page = { pfn: pte.pfn, generation: pte.generation };
  if (pte.huge || (kc.thpOrder && ((yield* h.compoundHead(page, PICK))?.order ?? 0) > 0)) {
    yield* p.note('a THP: its aging (pmdp_clear_flush_young_notify) is not modelled', THP);
    return false;
  }
  if (!(yield* p.getPageUnlessZero(page, ISOLATE))) return false; // being freed: not on the LRU
  yield* p.note('page_referenced()', REFERENCED);
  yield* p.downRead(ANON_VMA_RWSEM, RMAP_WALK);
  const walk = kc.era.tryToUnmapNotify === 'invalidate-page-after-ptl' ? WALK_410 : WALK;
  yield* p.spinLock(PTL, walk);
  let referenced = false;
  const cur = yield* p.pteRead(vpn, walk);
  if (cur && !cur.swap && cur.pfn === page.pfn && cur.generation === page.generation) {
    // ptep_clear_flush_young_notify(vma, address, pvmw.pte)
    let young = yield* p.pteTestAndClearYoung(vpn, YOUNG);
    const address = addressOf(vpn);
    if (yield* clearFlushYoung(kc, address, address + PAGE_SIZE, NOTIFY)) young = true;
    referenced = young;
  }
  yield* p.spinUnlock(PTL, walk);
  yield* p.upRead(ANON_VMA_RWSEM, RMAP_WALK);
  yield* p.note(`page_referenced() = ${referenced ? 1 : 0}`, ONE);
  yield* p.putPage(page, PUTBACK);
  return referenced;
}
