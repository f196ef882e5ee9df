/**
 * mm/mprotect.c (v4.13): mprotect() of part of the modelled VMA.
 */
import { PAGE_SIZE, addressOf } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { MMAP_SEM, PTL } from './mm';
import { flushTlb, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';

const DO_MPROTECT = site('mm/mprotect.c', 'do_mprotect_pkey', 'v4.13');
const FIXUP = site('mm/mprotect.c', 'mprotect_fixup', 'v4.13');
const PMD_RANGE = site('mm/mprotect.c', 'change_pmd_range', 'v4.13');
const PTE_RANGE = site('mm/mprotect.c', 'change_pte_range', 'v4.13');
const PROT_RANGE = site('mm/mprotect.c', 'change_protection_range', 'v4.13');

/**
 * `mprotect(addr, len, prot)`: down_write(mmap_sem); mprotect_fixup sets the VMA's VM_WRITE;
 * change_protection → change_pmd_range takes range_start lazily at the first present PMD, then
 * change_pte_range under the PTL rewrites each present PTE (ptep_modify_prot_start clears it,
 * ptep_modify_prot_commit sets it with the new protection: write-protected, or left read-only for a
 * private mapping made writable: dirty_accountable is 0, the next write faults and reuses the
 * page), range_end; then change_protection_range flushes the CPU TLB, after range_end.
 */
export function* mprotect(kc: KernelContext, vpn: number, n: number, writable: boolean): Gen {
  yield* p.downWrite(MMAP_SEM, DO_MPROTECT);
  yield* p.vmaProtect(vpn, n, writable, FIXUP);
  const start = addressOf(vpn);
  // v5.2+: mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_VMA, ...)
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_PROTECTION_VMA', start, start + n * PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, PMD_RANGE);
  yield* p.spinLock(PTL, PTE_RANGE);
  for (let v = vpn; v < vpn + n; v++) {
    const pte = yield* p.pteRead(v, PTE_RANGE);
    if (pte === null || pte.swap) continue;
    if (writable || !pte.writable) continue; // nothing to write-protect
    yield* p.pteClear(v, false, false, site('arch/x86/include/asm/pgtable.h', 'ptep_modify_prot_start', 'v4.13'));
    yield* p.pteSet(v, { ...pte, writable: false }, site('arch/x86/include/asm/pgtable.h', 'ptep_modify_prot_commit', 'v4.13'));
  }
  yield* p.spinUnlock(PTL, PTE_RANGE);
  yield* invalidateRangeEnd(kc, range, PMD_RANGE);
  // flush_tlb_range(vma, start, end), after range_end (v6.8: tlb_finish_mmu → flush_tlb_mm_range)
  yield* flushTlb(kc, vpn, vpn + n, PROT_RANGE);
  yield* p.upWrite(MMAP_SEM, DO_MPROTECT);
}
