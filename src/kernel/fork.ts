/**
 * kernel/fork.c dup_mmap and mm/memory.c copy_page_range (v4.13): fork write-protects the parent's
 * private anonymous PTEs (COW), bracketed by invalidate_range_start/end on the parent's mm. The
 * child's mm is not modelled beyond the references its mappings hold: every page the parent maps
 * gets a reference and a mapcount for the child, which keeps it alive (the child never exits here).
 */
import { ZERO_PFN, addressOf, PAGE_SIZE } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { MMAP_SEM, PTL } from './mm';
import { flushTlb, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';

const DUP_MMAP = site('kernel/fork.c', 'dup_mmap', 'v4.13');
const COPY_PAGE_RANGE = site('mm/memory.c', 'copy_page_range', 'v4.13');
const COPY_ONE_PTE = site('mm/memory.c', 'copy_one_pte', 'v4.13');

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
  yield* p.spinLock(PTL, COPY_PAGE_RANGE);
  for (let v = 0; v < nPages; v++) {
    const pte = yield* p.pteRead(v, COPY_ONE_PTE);
    if (pte === null || pte.swap) continue;
    // if (is_cow_mapping(vm_flags)) { ptep_set_wrprotect(src_mm, addr, src_pte); pte = pte_wrprotect(pte); }
    if (pte.writable) yield* p.pteSet(v, { ...pte, writable: false }, COPY_ONE_PTE);
    if (pte.pfn === ZERO_PFN) continue; // vm_normal_page() == NULL
    // get_page(page); page_dup_rmap(page, false): the child's mapping
    yield* p.dupMapping({ pfn: pte.pfn, generation: pte.generation }, COPY_ONE_PTE);
  }
  yield* p.spinUnlock(PTL, COPY_PAGE_RANGE);
  yield* invalidateRangeEnd(kc, range, COPY_PAGE_RANGE);
  yield* flushTlb(kc, 0, nPages, site('kernel/fork.c', 'dup_mmap: flush_tlb_mm(oldmm)', 'v4.13'));
  yield* p.upWrite(MMAP_SEM, DUP_MMAP);
}
