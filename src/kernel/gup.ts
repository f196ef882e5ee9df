/**
 * mm/gup.c (v4.13): get_user_pages and its lockless fast path. x86 uses the generic
 * __get_user_pages_fast since v4.13 (HAVE_GENERIC_GUP in arch/x86/Kconfig v4.13).
 */
import { ZERO_PFN, vpnOf } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen, PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import { handleMmFault } from './memory';
import { MMAP_SEM, PTL } from './mm';
import type { KernelContext } from './context';

const FAST = site('mm/gup.c', '__get_user_pages_fast', 'v4.13');
const FAST_PTE = site('mm/gup.c', 'gup_pte_range', 'v4.13');
const UNLOCKED = site('mm/gup.c', '__get_user_pages_unlocked', 'v4.13');
const GUP = site('mm/gup.c', '__get_user_pages', 'v4.13');
const FOLLOW = site('mm/gup.c', 'follow_page_pte', 'v4.13');
const FOLLOW_NUMA_68 = site('mm/gup.c', 'follow_page_pte: pte_protnone(pte) && !gup_can_follow_protnone(vma, flags)', 'v6.8');
const FOLLOW_TOUCH = site('mm/gup.c', 'follow_page_pte: FOLL_TOUCH, FOLL_WRITE on a clean pte: set_page_dirty', 'v4.13');
// a huge PMD (transparent huge pages): the reference goes to the THP's head (compound_head)
const FAST_HUGE_GET = site('mm/gup.c', 'gup_huge_pmd: page_cache_add_speculative(head, refs)', 'v4.13');
const FAST_HUGE_RECHECK = site('mm/gup.c', 'gup_huge_pmd: pmd_val(orig) != pmd_val(*pmdp)?', 'v4.13');
const FAST_HUGE_PUT = site('mm/gup.c', 'gup_huge_pmd: PMD changed, put_page(head)', 'v4.13');
const FOLLOW_HUGE = site('mm/huge_memory.c', 'follow_page_mask → follow_trans_huge_pmd: get_page(page)', 'v4.13', 'under pmd_lock, which is the model\'s one ptl');

const MMGET = site('include/linux/sched/mm.h', 'mmget_not_zero(mm)', 'v5.7', 'the drivers\' own checks before gup: get_task_mm() (drivers/infiniband/core/umem_odp.c v4.13), mmget_not_zero() (umem_odp.c v5.7); gup on current->mm needs a live task of the mm');

/**
 * With the mm's lifetime modelled (the scenario can exit): once mmput() dropped mm_users to 0 the
 * mm's pages cannot be looked up any more (`mmget_not_zero()` fails before get_user_pages_remote; a
 * task of the mm, whose current->mm gup would walk, is gone): gup fails.
 */
export function* mmUsersGone(kc: KernelContext | undefined): Gen<boolean> {
  const lt = kc?.lifetime;
  if (!lt) return false;
  if ((yield* p.read(lt.mmUsers, MMGET)) > 0) return false;
  yield* p.note('mm_users == 0 (the mm exited): mmget_not_zero() fails, no page', MMGET);
  return true;
}

export interface GupResult {
  readonly page: PageRef;
  readonly writable: boolean;
}

/**
 * `__get_user_pages_fast(addr, 1, write)`: walks the page table locklessly with interrupts off and
 * takes a speculative reference; fails (null) when the PTE is absent, special (zero page), not
 * writable for a write, or changed under it.
 */
export function* getUserPagesFast(address: number, write: boolean, kc?: KernelContext): Gen<GupResult | null> {
  if (yield* mmUsersGone(kc)) return null;
  const vpn = vpnOf(address);
  yield* p.localIrqDisable(FAST);
  const pte = yield* p.pteRead(vpn, FAST_PTE);
  let result: GupResult | null = null;
  // gup_pte_range / gup_pmd_range: "if (pte_protnone(pte)) goto pte_unmap" (v4.13, v6.8): the slow path decides
  if (pte && !pte.swap && !pte.protnone && pte.pfn !== ZERO_PFN && (!write || pte.writable)) {
    const page = { pfn: pte.pfn, generation: pte.generation };
    if (yield* p.getPageUnlessZero(page, pte.huge ? FAST_HUGE_GET : site('mm/gup.c', 'gup_pte_range: page_cache_get_speculative', 'v4.13'))) {
      const again = yield* p.pteRead(vpn, pte.huge ? FAST_HUGE_RECHECK : site('mm/gup.c', 'gup_pte_range: pte_val(pte) != pte_val(*ptep)?', 'v4.13'));
      if (again && !again.swap && again.pfn === pte.pfn && again.generation === pte.generation && again.writable === pte.writable && !again.huge === !pte.huge) {
        result = { page, writable: pte.writable };
      } else {
        yield* p.putPage(page, pte.huge ? FAST_HUGE_PUT : site('mm/gup.c', 'gup_pte_range: PTE changed, put_page', 'v4.13'));
      }
    }
  }
  yield* p.localIrqEnable(FAST);
  return result;
}

/**
 * `follow_page_pte()` with FOLL_GET: under the PTL, the page mapped at `vpn` if the PTE allows the
 * access, with a reference taken; null otherwise (the caller faults it in and retries).
 */
function* followPage(kc: KernelContext, vpn: number, write: boolean, honorNuma: boolean): Gen<GupResult | null> {
  yield* p.spinLock(PTL, FOLLOW);
  let pte = yield* p.pteRead(vpn, FOLLOW);
  if (pte?.protnone) {
    // a NUMA hinting entry: `(flags & FOLL_NUMA) && pte_protnone(pte)` → no_page (v4.13: FOLL_NUMA unless
    // FOLL_FORCE); v6.8 `pte_protnone(pte) && !gup_can_follow_protnone(vma, flags)`: only FOLL_HONOR_NUMA_FAULT
    // faults it, and a read without it gets the page (the hinting entry has no write bit: writes always fault)
    const follows = kc.era.numaFault === 'migrate-protnone' && !honorNuma && !write;
    if (follows) yield* p.note('gup_can_follow_protnone: no FOLL_HONOR_NUMA_FAULT, the hinting entry is followed', FOLLOW_NUMA_68);
    pte = follows ? { ...pte, writable: false } : null;
  }
  let result: GupResult | null = null;
  if (pte && !pte.swap && (!write || pte.writable)) {
    const page = { pfn: pte.pfn, generation: pte.generation };
    yield* p.getPage(page, pte.huge ? FOLLOW_HUGE : FOLLOW);
    // FOLL_TOUCH (get_user_pages*/_unlocked/_remote add it): if ((flags & FOLL_WRITE) && !pte_dirty(pte)
    // && !PageDirty(page)) set_page_dirty(page) — the pinned page's data is then not dropped as clean
    // (a huge PMD's touch_pmd A/D update is not modelled)
    if (write && !pte.huge && !pte.dirty) yield* p.setPageDirty(page, FOLLOW_TOUCH);
    result = { page, writable: pte.writable };
  }
  yield* p.spinUnlock(PTL, FOLLOW);
  return result;
}

/**
 * `get_user_pages_unlocked(addr, 1, page, write ? FOLL_WRITE : 0)`: takes mmap_sem for read, and
 * for the page: find_extend_vma, follow_page_mask, faultin_page → handle_mm_fault until it is
 * present. Returns null for -EFAULT (no VMA).
 */
export function* getUserPagesUnlocked(kc: KernelContext, address: number, write: boolean, honorNuma = false): Gen<GupResult | null> {
  if (yield* mmUsersGone(kc)) return null;
  const vpn = vpnOf(address);
  yield* p.downRead(MMAP_SEM, UNLOCKED);
  let result: GupResult | null = null;
  // find_extend_vma(); check_vma_flags(): a write needs VM_WRITE (no FOLL_FORCE here)
  if (yield* p.vmaAllows(vpn, write, site('mm/gup.c', '__get_user_pages: find_extend_vma, check_vma_flags', 'v4.13'))) {
    // retry: follow_page_mask, else faultin_page and goto retry (unbounded in the kernel; the step
    // budget bounds it here).
    while (result === null) {
      result = yield* followPage(kc, vpn, write, honorNuma);
      if (result === null && !(yield* handleMmFault(kc, vpn, write, site('mm/gup.c', 'faultin_page', 'v4.13')))) {
        yield* p.note('-EFAULT: handle_mm_fault failed', GUP);
        break;
      }
    }
  } else {
    yield* p.note('-EFAULT: no VMA, or it does not allow the access', GUP);
  }
  yield* p.upRead(MMAP_SEM, UNLOCKED);
  return result;
}
