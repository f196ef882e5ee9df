/**
 * mm/hmm.c (v5.7.14): hmm_range_fault() for one page. "This is similar to get_user_pages(), except
 * that it can read the page tables without mutating them (ie causing faults)" — and it takes no
 * page reference: the caller's interval notifier is what keeps its mapping valid.
 */
import { ZERO_PFN, vpnOf } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen, PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { handleMmFault } from './memory';
import { mmuIntervalCheckRetry } from './mmu_interval_notifier';
import { mmUsersGone } from './gup';

const FAULT = site('mm/hmm.c', 'hmm_range_fault', 'v5.7');
const WALK = site('mm/hmm.c', 'hmm_vma_handle_pte', 'v5.7');
const VMA = site('mm/hmm.c', 'hmm_vma_walk_test → walk_page_range', 'v5.7');
const HMM_FAULT = site('mm/hmm.c', 'hmm_vma_fault', 'v5.7');
const HANDLE_PMD = site('mm/hmm.c', 'hmm_vma_handle_pmd', 'v5.7');

export interface HmmPfn {
  /** The page the PTE maps; no reference is held on it. */
  readonly page: PageRef;
  readonly writable: boolean;
}

/** -EBUSY: the range was invalidated since `seq` (mmu_interval_check_retry); -EFAULT: no VMA. */
export type HmmResult = HmmPfn | 'EBUSY' | 'EFAULT';

/**
 * `hmm_range_fault(&range)` with `default_flags = HMM_PFN_VALID (| HMM_PFN_WRITE)` for the page at
 * `address`. The caller holds mmap_sem for read (`lockdep_assert_held(&mm->mmap_sem)`). Loop: if
 * mmu_interval_check_retry(notifier, notifier_seq) return -EBUSY; walk: read the PTE without the
 * PTL (pte_offset_map); if it does not allow the access, hmm_vma_fault → handle_mm_fault and walk
 * again (-EBUSY from the walk restarts it).
 */
export function* hmmRangeFault(kc: KernelContext, address: number, write: boolean, sub: number, seq: number): Gen<HmmResult> {
  // the callers' `if (!mmget_not_zero(mm))` (nouveau_svm.c nouveau_svm_fault, amdgpu_ttm.c v5.7): an exited mm has no pages
  if (yield* mmUsersGone(kc)) return 'EFAULT';
  const vpn = vpnOf(address);
  for (;;) {
    if (yield* mmuIntervalCheckRetry(kc, sub, seq)) return 'EBUSY';
    if (!(yield* p.vmaAllows(vpn, write, VMA))) return 'EFAULT'; // no VMA (-EFAULT) or no VM_WRITE for a write (-EPERM)
    const pte = yield* p.pteRead(vpn, WALK);
    // pte_to_hmm_pfn_flags: "if (pte_none(pte) || !pte_present(pte) || pte_protnone(pte)) return 0" (v5.7.14, v6.8;
    // hmm_vma_handle_pmd likewise for pmd_protnone): a hinting entry is faulted
    if (pte && !pte.swap && !pte.protnone && (!write || pte.writable) && !(write && pte.pfn === ZERO_PFN)) {
      // a huge PMD: hmm_vma_walk_pmd → hmm_vma_handle_pmd: pfn = pmd_pfn(pmd) + ((addr & ~PMD_MASK) >> PAGE_SHIFT)
      if (pte.huge) yield* p.note('hmm_vma_handle_pmd: the subpage of the huge PMD', HANDLE_PMD);
      return { page: { pfn: pte.pfn, generation: pte.generation }, writable: pte.writable };
    }
    if (!(yield* handleMmFault(kc, vpn, write, HMM_FAULT))) return 'EFAULT';
    yield* p.note('hmm_vma_fault: -EBUSY, walk again', FAULT);
  }
}
