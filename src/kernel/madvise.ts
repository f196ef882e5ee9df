/**
 * mm/madvise.c (v4.13): madvise(MADV_DONTNEED) and madvise(MADV_FREE), the latter with its
 * transparent-huge-page forms (mm/huge_memory.c madvise_free_huge_pmd; split_huge_page of a THP the
 * range covers in part or maps by PTEs).
 */
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import * as h from '../runtime/huge-primitives';
import type { PageRef } from '../runtime/primitives';
import { flushPmdTlbRange, haddrVpn, hpageNr, splitHugePage } from './huge_memory';
import { tlbFinishMmu, unmapRange } from './memory';
import { invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';
import { PAGE_SIZE, ZERO_PFN, addressOf } from '../runtime/machine';
import { MMAP_SEM, PTL } from './mm';

const MADVISE = site('mm/madvise.c', 'SYSCALL_DEFINE3(madvise)', 'v4.13');
const DONTNEED = site('mm/madvise.c', 'madvise_dontneed_single_vma', 'v4.13');

/**
 * `madvise(addr, len, MADV_DONTNEED)`: with mmap_sem held for READ (madvise_need_mmap_write is false
 * for DONTNEED), zap_page_range: the same range_start / zap_pte_range / range_end / tlb_finish_mmu as
 * munmap, but the VMA stays and the next access faults a fresh zero-filled page. Event
 * MMU_NOTIFY_CLEAR (v5.2+).
 */
export function* madviseDontneed(kc: KernelContext, vpn: number, n: number): Gen {
  yield* p.downRead(MMAP_SEM, MADVISE);
  yield* p.note('madvise_dontneed_single_vma → zap_page_range', DONTNEED);
  yield* unmapRange(kc, vpn, n, 'MMU_NOTIFY_CLEAR');
  yield* p.upRead(MMAP_SEM, MADVISE);
}

const FREE_VMA = site('mm/madvise.c', 'madvise_free_single_vma', 'v4.13');
const FREE_PTE = site('mm/madvise.c', 'madvise_free_pte_range', 'v4.13');
const FREE_PTE_410 = site('mm/madvise.c', 'madvise_free_pte_range: ClearPageDirty(page)', 'v4.10');
// "Application no longer needs these pages. If the pages are dirty, it's OK to just throw them away."
// (mm/madvise.c v4.13): data written before the call returns may be discarded, later writes must not be
const MADVISE_RETURN = site('mm/madvise.c', 'SYSCALL_DEFINE3(madvise): return', 'v4.13', 'no-lost-dirty bookkeeping: writes racing with the call may be lost');

/**
 * `madvise(addr, len, MADV_FREE)` (the v4.12+ lazyfree design: !PageSwapBacked pages), with mmap_sem
 * for read: range_start; under the PTL, for each present page mapped once (page_mapcount == 1):
 * ClearPageDirty, the PTE re-set old and clean (ptep_get_and_clear_full + set_pte_at), and
 * mark_page_lazyfree (ClearPageSwapBacked); range_end; tlb_finish_mmu. Reclaim then discards such a
 * page unless it was written again (the CPU sets the PTE dirty bit; a device must set_page_dirty).
 * v4.10 (Era.lazyfree 'ttu-lzfree', mm/madvise.c v4.10.17): the same walk with ClearPageDirty and
 * the clean PTE but no mark_page_lazyfree; reclaim's TTU_LZFREE discards any anonymous page it finds
 * clean (vmscan.ts reclaimTtuLzfree). The same notifier calls in both (madvise_free_single_vma
 * v4.10.17: mmu_notifier_invalidate_range_start/end around madvise_free_page_range).
 * Pages in the swap cache are left alone (their try_to_free_swap is not modelled). Event
 * MMU_NOTIFY_CLEAR (v5.2+).
 *
 * With transparent huge pages (kc.thpOrder) the walk goes one PMD at a time (walk_pmd_range →
 * madvise_free_pte_range): a huge PMD is madvise_free_huge_pmd's ({@link madviseFreeHugePmd}), a
 * PTE table is walked as above, except that a PTE mapping a subpage of a THP splits that THP first
 * (split_huge_page) and walks again from the same PTE. Both splits nest try_to_unmap's and
 * __split_huge_pmd's brackets inside madvise_free_single_vma's. `vmaPages`: the VMA's size, for
 * the split's rmap walk.
 */
export function* madviseFree(kc: KernelContext, vpn: number, n: number, vmaPages = vpn + n): Gen {
  yield* p.downRead(MMAP_SEM, MADVISE);
  const own = kc.notifiers[0]?.def.device.ownVma;
  if (own !== undefined) {
    yield* p.note(`madvise_free_single_vma: !vma_is_anonymous(vma): -EINVAL (${own})`, FREE_VMA);
    yield* p.upRead(MMAP_SEM, MADVISE);
    return;
  }
  const start = addressOf(vpn);
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', start, start + n * PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, FREE_VMA);
  if (kc.thpOrder) yield* madviseFreePmdRange(kc, vpn, vpn + n, vmaPages);
  else yield* madviseFreePteRange(kc, vpn, vpn + n, vmaPages);
  yield* invalidateRangeEnd(kc, range, FREE_VMA);
  yield* tlbFinishMmu(kc, vpn, n, []);
  yield* p.upRead(MMAP_SEM, MADVISE);
  yield* p.lazyfreeReturn(vpn, n, MADVISE_RETURN);
}

const FREE_PMD = site('mm/madvise.c', 'madvise_free_pte_range: if (pmd_trans_huge(*pmd)) madvise_free_huge_pmd(tlb, vma, pmd, addr, next)', 'v4.13');
const FREE_UNSTABLE = site('mm/madvise.c', 'madvise_free_pte_range: if (pmd_trans_unstable(pmd)) return 0', 'v4.13');
const FREE_PTE_THP = site('mm/madvise.c', 'madvise_free_pte_range: if (PageTransCompound(page)) split_huge_page(page)', 'v4.13');
const HUGE = site('mm/huge_memory.c', 'madvise_free_huge_pmd', 'v4.13');
const HUGE_LOCK = site('mm/huge_memory.c', 'madvise_free_huge_pmd: ptl = pmd_trans_huge_lock(pmd, vma)', 'v4.13');
const HUGE_MIGRATION = site('mm/huge_memory.c', 'madvise_free_huge_pmd: if (unlikely(!pmd_present(orig_pmd))) goto out', 'v4.19');
const HUGE_ZERO = site('mm/huge_memory.c', 'madvise_free_huge_pmd: is_huge_zero_pmd(orig_pmd): goto out', 'v4.13');
const HUGE_SHARED = site('mm/huge_memory.c', 'madvise_free_huge_pmd: if (page_mapcount(page) != 1) goto out', 'v4.13', 'v6.8: folio_estimated_sharers(folio) != 1, the same page_mapcount of the first page');
const HUGE_SPLIT = site('mm/huge_memory.c', 'madvise_free_huge_pmd: next - addr != HPAGE_PMD_SIZE: get_page; spin_unlock(ptl); split_huge_page(page)', 'v4.13', 'v6.8: split_folio(folio)');
const HUGE_CLEAN = site('mm/huge_memory.c', 'madvise_free_huge_pmd: pmdp_invalidate; set_pmd_at(pmd_mkold(pmd_mkclean(orig_pmd)))', 'v4.13', 'the not-present window of pmdp_invalidate, under the PMD lock, is folded into the set');
const HUGE_INVALIDATE = site('mm/pgtable-generic.c', 'pmdp_invalidate → flush_pmd_tlb_range', 'v4.13');
const HUGE_INVALIDATE_68 = site('arch/x86/mm/tlb.c', 'pmdp_invalidate → flush_pmd_tlb_range → flush_tlb_mm_range', 'v6.8');
const HUGE_LAZYFREE = site('mm/huge_memory.c', 'madvise_free_huge_pmd: ClearPageDirty(page) … mark_page_lazyfree(page)', 'v4.13', 'ClearPageDirty (before unlock_page) is folded into mark_page_lazyfree, all under the PMD lock');
const HUGE_LAZYFREE_410 = site('mm/huge_memory.c', 'madvise_free_huge_pmd: ClearPageDirty(page); deactivate_page(page)', 'v4.10', 'no mark_page_lazyfree in v4.10');

/**
 * The walk of `[from, to)` one PMD at a time (walk_pmd_range: a none PMD is skipped) calling
 * madvise_free_pte_range: `if (pmd_trans_huge(*pmd)) if (madvise_free_huge_pmd(tlb, vma, pmd, addr,
 * next)) goto next;` then `if (pmd_trans_unstable(pmd)) return 0;` (a huge PMD whose split failed, or
 * one another thread made meanwhile) and the PTE loop (mm/madvise.c v4.10.17 … v5.7.14; v6.8 the
 * same without the unstable check, pte_offset_map_lock failing on a huge PMD instead).
 */
function* madviseFreePmdRange(kc: KernelContext, from: number, to: number, vmaPages: number): Gen {
  const nr = hpageNr(kc);
  for (let a = from; a < to; ) {
    const next = Math.min(to, haddrVpn(kc, a) + nr); // pmd_addr_end(addr, end)
    let pmd = yield* h.pmdRead(a, FREE_PMD);
    if (pmd !== null && pmd !== 'table') {
      if (yield* madviseFreeHugePmd(kc, a, next, vmaPages)) {
        a = next;
        continue;
      }
      pmd = yield* h.pmdRead(a, FREE_UNSTABLE);
    }
    if (pmd === 'table') yield* madviseFreePteRange(kc, a, next, vmaPages);
    a = next;
  }
}

/**
 * The PTE loop of madvise_free_pte_range over `[from, to)` under the PTL. A PTE mapping a subpage
 * of a THP (only with kc.thpOrder: PageTransCompound) whose page_mapcount is 1 and whose lock
 * madvise gets: get_page, pte_unmap_unlock, split_huge_page, unlock_page, put_page, and the loop
 * goes on from the same PTE (now an order-0 page's); a THP mapped more than once, locked by
 * someone else, or whose split fails ends the loop (`goto out`).
 * The kernel passes the subpage to split_huge_page (trylock_page and get_page act on its head, and
 * __split_huge_page unlocks and puts every subpage but that one); the model passes the head: the
 * same references and locks end up dropped.
 */
function* madviseFreePteRange(kc: KernelContext, from: number, to: number, vmaPages: number): Gen {
  yield* p.spinLock(PTL, FREE_PTE);
  for (let v = from; v < to; v++) {
    const pte = yield* p.pteRead(v, FREE_PTE);
    if (pte === null || pte.swap || pte.pfn === ZERO_PFN) continue;
    const page = { pfn: pte.pfn, generation: pte.generation };
    if (kc.thpOrder) {
      const head = yield* h.compoundHead(page, FREE_PTE_THP);
      if (head !== null && head.order > 0) {
        if ((yield* p.pageMapcount(page, FREE_PTE_THP)) !== 1) break; // goto out
        yield* p.getPage(head, FREE_PTE_THP);
        if (!(yield* p.trylockPage(head, FREE_PTE_THP))) {
          yield* p.putPage(head, FREE_PTE_THP);
          break;
        }
        yield* p.spinUnlock(PTL, FREE_PTE_THP); // pte_unmap_unlock(orig_pte, ptl)
        const split = yield* splitHugePage(kc, head, v - (page.pfn - head.pfn), 0, vmaPages);
        yield* p.unlockPage(head, FREE_PTE_THP);
        yield* p.putPage(head, FREE_PTE_THP);
        yield* p.spinLock(PTL, FREE_PTE_THP); // pte_offset_map_lock(mm, pmd, addr, &ptl)
        if (!split) break; // goto out
        v--; // pte--; addr -= PAGE_SIZE; continue: the same PTE again, an order-0 page's now
        continue;
      }
    }
    if ((yield* p.pageMapcount(page, FREE_PTE)) !== 1) continue; // shared after fork: skip
    if (pte.young || pte.dirty) {
      // ptep_get_and_clear_full (the model's set_pte_at re-adds the rmap, so the clear takes it: mapcount unchanged)
      yield* p.pteClear(v, false, true, FREE_PTE);
      yield* p.pteSet(v, { ...pte, young: false, dirty: false }, FREE_PTE); // set_pte_at(pte_mkold(pte_mkclean(ptent)))
    }
    // v4.10 (Era.lazyfree 'ttu-lzfree'): ClearPageDirty only, before the PTE is cleaned; then
    // deactivate_page (LRU placement, not modelled) — no page flag marks the page lazyfree
    if (kc.era.lazyfree === 'ttu-lzfree') yield* p.markLazyfree(page, FREE_PTE_410, true);
    else yield* p.markLazyfree(page, FREE_PTE);
  }
  yield* p.spinUnlock(PTL, FREE_PTE);
}

/**
 * `madvise_free_huge_pmd(tlb, vma, pmd, addr, next)` (mm/huge_memory.c; the same steps in v4.10.17,
 * v4.12, v4.13.19, v4.19, v5.7.14 and, with folios, v6.8): under the PMD lock, a THP mapped more than
 * once (`page_mapcount(page) != 1`: after fork) or locked by someone else is left alone; one the
 * range covers in part is split (`get_page`, `spin_unlock(ptl)`, `split_huge_page`, unlock, put) and
 * the PTE walk goes on over the part; one it covers whole gets ClearPageDirty, and if the PMD is young
 * or dirty `pmdp_invalidate` (a CPU TLB flush: no notifier until v6.6, whose arch flush calls
 * ->arch_invalidate_secondary_tlbs) and `set_pmd_at(pmd_mkold(pmd_mkclean()))`, then
 * mark_page_lazyfree (v4.12+; v4.10: ClearPageDirty and deactivate_page only). Returns true when the
 * whole PMD was handled (the caller skips the PTE walk). A PMD migration entry (v4.19+: `!pmd_present`)
 * is left alone. No notifier call of its own: madvise_free_single_vma's bracket covers it.
 */
function* madviseFreeHugePmd(kc: KernelContext, vpn: number, next: number, vmaPages: number): Gen<boolean> {
  const haddr = haddrVpn(kc, vpn);
  yield* p.spinLock(PTL, HUGE_LOCK);
  const pmd = yield* h.pmdRead(vpn, HUGE_LOCK);
  if (pmd === null || pmd === 'table') {
    // __pmd_trans_huge_lock: not huge any more: NULL, goto out_unlocked
    yield* p.spinUnlock(PTL, HUGE_LOCK);
    return false;
  }
  if (pmd.migration) {
    yield* p.note('a PMD migration entry: goto out', HUGE_MIGRATION);
    yield* p.spinUnlock(PTL, HUGE);
    return false;
  }
  if (pmd.zero) {
    // "if (is_huge_zero_pmd(orig_pmd)) goto out" (v4.10.17 … v6.8)
    yield* p.note('the huge zero page: goto out', HUGE_ZERO);
    yield* p.spinUnlock(PTL, HUGE);
    return true;
  }
  const page: PageRef = { pfn: pmd.pfn, generation: pmd.generation };
  if ((yield* p.pageMapcount(page, HUGE_SHARED)) !== 1) {
    yield* p.spinUnlock(PTL, HUGE);
    return false;
  }
  if (!(yield* p.trylockPage(page, HUGE))) {
    yield* p.spinUnlock(PTL, HUGE);
    return false;
  }
  if (next - vpn !== hpageNr(kc)) {
    // "If user want to discard part-pages of THP, split it so MADV_FREE will deactivate only them."
    yield* p.getPage(page, HUGE_SPLIT);
    yield* p.spinUnlock(PTL, HUGE_SPLIT);
    yield* splitHugePage(kc, page, haddr, 0, vmaPages);
    yield* p.unlockPage(page, HUGE_SPLIT);
    yield* p.putPage(page, HUGE_SPLIT);
    return false; // goto out_unlocked
  }
  yield* p.unlockPage(page, HUGE); // if (PageDirty(page)) ClearPageDirty(page); unlock_page(page) (the clear: below)
  if (pmd.young || pmd.dirty) {
    yield* h.pmdSet(haddr, { ...pmd, young: false, dirty: false }, HUGE_CLEAN, 'pmdp_invalidate; set_pmd_at(pmd_mkold(pmd_mkclean))');
    yield* flushPmdTlbRange(kc, haddr, HUGE_INVALIDATE, HUGE_INVALIDATE_68);
  }
  if (kc.era.lazyfree === 'ttu-lzfree') yield* p.markLazyfree(page, HUGE_LAZYFREE_410, true);
  else yield* p.markLazyfree(page, HUGE_LAZYFREE);
  yield* p.spinUnlock(PTL, HUGE);
  return true;
}

/** The sites of this file. */
export const MADVISE_SITES = [MADVISE, DONTNEED, FREE_VMA, FREE_PTE, FREE_PTE_410, MADVISE_RETURN, FREE_PMD, FREE_UNSTABLE, FREE_PTE_THP, HUGE, HUGE_LOCK, HUGE_MIGRATION, HUGE_SHARED, HUGE_SPLIT, HUGE_CLEAN, HUGE_INVALIDATE, HUGE_INVALIDATE_68, HUGE_LAZYFREE, HUGE_LAZYFREE_410];
