/**
 * kernel/fork.c dup_mmap and mm/memory.c copy_page_range (v4.13): fork write-protects the parent's
 * private anonymous PTEs (COW), bracketed by invalidate_range_start/end on the parent's mm. The
 * child's mm is not modelled beyond the references its mappings hold: every page the parent maps
 * gets a reference and a mapcount for the child, which keeps it alive (the child never exits here).
 */
import { ZERO_PFN, addressOf, PAGE_SIZE } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { MMAP_SEM, PTL } from './mm';
import { flushTlb, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';
import { haddrVpn, hpageNr } from './huge_memory';

const DUP_MMAP = site('kernel/fork.c', 'dup_mmap', 'v4.13');
const COPY_PAGE_RANGE = site('mm/memory.c', 'copy_page_range', 'v4.13');
const COPY_ONE_PTE = site('mm/memory.c', 'copy_one_pte', 'v4.13');
const COPY_PMD_RANGE = site('mm/memory.c', 'copy_pmd_range', 'v4.13');
const COPY_HUGE_ZERO = site('mm/huge_memory.c', 'copy_huge_pmd: is_huge_zero_pmd(pmd): mm_get_huge_zero_page(dst_mm); set_huge_zero_page', 'v4.13');
const COPY_HUGE_MIGRATION = site('mm/huge_memory.c', 'copy_huge_pmd: is_swap_pmd(pmd): is_write_migration_entry → make_migration_entry_read; set_pmd_at(src), set_pmd_at(dst)', 'v4.15');
const COPY_HUGE = site('mm/huge_memory.c', 'copy_huge_pmd', 'v4.13', 'pte_alloc_one for the deposited table is not modelled; v6.8 folio_try_dup_anon_rmap_pmd fails only for a maybe-DMA-pinned THP (FOLL_PIN: no modelled driver)');

/**
 * `fork()` of the modelled process: down_write(&oldmm->mmap_sem) (dup_mmap); for the VMA (a private
 * anonymous mapping: is_cow_mapping) copy_page_range takes range_start over it, then under the PTL
 * for each present PTE: ptep_set_wrprotect(src) and, for a normal page, get_page + page_dup_rmap for
 * the child's copy; range_end. Swap entries get swap_duplicate (the model keeps no swap counts).
 */
export function* fork(kc: KernelContext, nPages: number): Gen {
  yield* p.downWrite(MMAP_SEM, DUP_MMAP);
  const start = addressOf(0);
  // mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_PAGE, 0, src_vma, src_mm, addr, end) (v5.7)
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_PROTECTION_PAGE', start, start + nPages * PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, COPY_PAGE_RANGE);
  if (kc.thpOrder) yield* copyPmdRange(kc, nPages);
  else yield* copyPteRange(0, nPages);
  yield* invalidateRangeEnd(kc, range, COPY_PAGE_RANGE);
  yield* flushTlb(kc, 0, nPages, site('kernel/fork.c', 'dup_mmap: flush_tlb_mm(oldmm)', 'v4.13'));
  yield* p.upWrite(MMAP_SEM, DUP_MMAP);
}

/** `copy_pte_range()` of `[vpn, vpn + n)` (one PTE table): under the PTLs, copy_one_pte for each PTE. */
function* copyPteRange(vpn: number, n: number): Gen {
  yield* p.spinLock(PTL, COPY_PAGE_RANGE);
  for (let v = vpn; v < vpn + n; v++) {
    const pte = yield* p.pteRead(v, COPY_ONE_PTE);
    if (pte === null || pte.swap) continue;
    // if (is_cow_mapping(vm_flags)) { ptep_set_wrprotect(src_mm, addr, src_pte); pte = pte_wrprotect(pte); }
    if (pte.writable) yield* p.pteSet(v, { ...pte, writable: false }, COPY_ONE_PTE);
    if (pte.pfn === ZERO_PFN) continue; // vm_normal_page() == NULL
    // get_page(page); page_dup_rmap(page, false): the child's mapping
    yield* p.dupMapping({ pfn: pte.pfn, generation: pte.generation }, COPY_ONE_PTE);
  }
  yield* p.spinUnlock(PTL, COPY_PAGE_RANGE);
}

/**
 * `copy_pmd_range()` with transparent huge pages (mm/memory.c v4.13; v6.8 the same for anonymous
 * memory): a huge PMD is `copy_huge_pmd`'ed (VM_BUG_ON if the VMA does not cover it whole); if it
 * stopped being huge meanwhile (-EAGAIN), or the PMD is a PTE table, copy_pte_range; none: skipped.
 */
function* copyPmdRange(kc: KernelContext, nPages: number): Gen {
  const nr = hpageNr(kc);
  for (let a = 0; a < nPages; a += nr) {
    let pmd = yield* h.pmdRead(a, COPY_PMD_RANGE);
    if (pmd !== null && pmd !== 'table') {
      if (yield* copyHugePmd(kc, a)) continue;
      pmd = yield* h.pmdRead(a, COPY_PMD_RANGE);
    }
    if (pmd === 'table') yield* copyPteRange(a, Math.min(nr, nPages - a));
  }
}

/**
 * `copy_huge_pmd()` (mm/huge_memory.c v4.10.17 … v6.8): under the child's and the parent's PMD
 * locks (one lock in the model), if the PMD is still huge: `get_page(src_page); page_dup_rmap(src_page,
 * true)` (the child's huge PMD: one more compound mapcount, so the THP is no longer exclusive and the
 * next write COWs it), `pmdp_set_wrprotect(src_mm, addr, src_pmd)` (the parent's PMD read-only in
 * place: no TLB flush and no notifier under the lock; fork's bracket and its flush_tlb_mm cover it),
 * then the child's `set_pmd_at(pmd_mkold(pmd_wrprotect(pmd)))`. The huge zero page is shared with
 * set_huge_zero_page (no reference, no rmap).
 */
function* copyHugePmd(kc: KernelContext, vpn: number): Gen<boolean> {
  const haddr = haddrVpn(kc, vpn);
  yield* p.spinLock(PTL, COPY_HUGE); // dst_ptl = pmd_lock(dst_mm, dst_pmd); spin_lock_nested(src_ptl)
  const pmd = yield* h.pmdRead(haddr, COPY_HUGE);
  if (pmd === null || pmd === 'table') {
    yield* p.spinUnlock(PTL, COPY_HUGE); // ret = -EAGAIN: !pmd_trans_huge(pmd)
    return false;
  }
  if (pmd.zero) {
    // "if (is_huge_zero_pmd(pmd))": mm_get_huge_zero_page(dst_mm); set_huge_zero_page in the child (no
    // reference, no rmap: nothing the model's child keeps); the parent's PMD is read-only already
    yield* p.note('the huge zero page: set_huge_zero_page(child)', COPY_HUGE_ZERO);
    yield* p.spinUnlock(PTL, COPY_HUGE);
    return true;
  }
  if (pmd.migration) {
    // "if (unlikely(is_swap_pmd(pmd)))" (v4.15+): a write migration entry becomes read in the parent and the child
    // gets a copy of it; the child's entry holds no reference, and its later remove_migration_pmd (a reference
    // and a mapping of the new THP in the child) is not modelled, as for the child's PTE migration entries
    if (pmd.writable) yield* h.pmdSet(haddr, { ...pmd, writable: false }, COPY_HUGE_MIGRATION, 'set_pmd_at(make_migration_entry_read)');
    yield* p.spinUnlock(PTL, COPY_HUGE);
    return true;
  }
  yield* p.dupMapping({ pfn: pmd.pfn, generation: pmd.generation }, COPY_HUGE, true);
  if (pmd.writable) yield* h.pmdSet(haddr, { ...pmd, writable: false }, COPY_HUGE, 'pmdp_set_wrprotect');
  yield* p.spinUnlock(PTL, COPY_HUGE);
  return true;
}
