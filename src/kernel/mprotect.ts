/**
 * mm/mprotect.c (v4.13): mprotect() of part of the modelled VMA.
 */
import { PAGE_SIZE, addressOf } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { MMAP_SEM, PTL } from './mm';
import { flushTlb, invalidateRange, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';
import { haddrVpn, hpageNr, splitHugePmd } from './huge_memory';

const DO_MPROTECT = site('mm/mprotect.c', 'do_mprotect_pkey', 'v4.13');
const FIXUP = site('mm/mprotect.c', 'mprotect_fixup', 'v4.13');
const PMD_RANGE = site('mm/mprotect.c', 'change_pmd_range', 'v4.13');
const PTE_RANGE = site('mm/mprotect.c', 'change_pte_range', 'v4.13');
const PROT_RANGE = site('mm/mprotect.c', 'change_protection_range', 'v4.13');
const MODIFY_PROT = site('arch/x86/include/asm/pgtable.h', 'ptep_modify_prot_start + ptep_modify_prot_commit', 'v4.13', 'one step under the PTL: the PTE is none in between (x86 ptep_get_and_clear), seen only by lockless walks, which then fault and wait for the PTL');
const CHANGE_HUGE = site('mm/huge_memory.c', 'change_huge_pmd', 'v4.13');
const CHANGE_HUGE_410 = site('mm/huge_memory.c', 'change_huge_pmd', 'v4.10');
const CHANGE_HUGE_68 = site('mm/huge_memory.c', 'change_huge_pmd', 'v6.8', 'can_change_pmd_writable: a writable exclusive anonymous THP stays writable; a read-only one is left read-only (its upgrade, which no invariant reads, is not modelled)');
const PMDP_INVALIDATE = site('mm/pgtable-generic.c', 'pmdp_invalidate → flush_pmd_tlb_range', 'v4.13');
const CLEAR_NOTIFY = site('include/linux/mmu_notifier.h', 'pmdp_huge_get_and_clear_notify → mmu_notifier_invalidate_range(haddr, haddr + HPAGE_PMD_SIZE)', 'v4.10');

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
  if (kc.thpOrder) yield* changePmdRange(kc, vpn, n, writable);
  else yield* changePteRange(vpn, n, writable);
  yield* invalidateRangeEnd(kc, range, PMD_RANGE);
  // flush_tlb_range(vma, start, end), after range_end (v6.8: tlb_finish_mmu → flush_tlb_mm_range)
  yield* flushTlb(kc, vpn, vpn + n, PROT_RANGE);
  yield* p.upWrite(MMAP_SEM, DO_MPROTECT);
}

/** `change_pte_range()` of `[vpn, vpn + n)` (one PTE table): under the PTL each present PTE rewritten with the new protection. */
function* changePteRange(vpn: number, n: number, writable: boolean): Gen {
  yield* p.spinLock(PTL, PTE_RANGE);
  for (let v = vpn; v < vpn + n; v++) {
    const pte = yield* p.pteRead(v, PTE_RANGE);
    if (pte === null || pte.swap) continue;
    if (writable || !pte.writable) continue; // nothing to write-protect
    // ptent = ptep_modify_prot_start(); pte_modify(ptent, newprot); ptep_modify_prot_commit(): one step
    // under the PTL (the rmap is untouched: a clear without page_remove_rmap then a set would count the
    // mapping twice)
    yield* p.pteSet(v, { ...pte, writable: false }, MODIFY_PROT);
  }
  yield* p.spinUnlock(PTL, PTE_RANGE);
}

/**
 * `change_pmd_range()` with transparent huge pages (mm/mprotect.c v4.13, the same in v6.8), inside
 * the caller's bracket: per PMD, a huge PMD the range covers whole is `change_huge_pmd`'ed; one it
 * covers in part is split first (`__split_huge_pmd`, its own bracket nested in mprotect's) and its
 * PTEs changed by change_pte_range; a PTE table is change_pte_range'd; a none PMD is skipped. (The
 * kernel takes range_start lazily at the first populated PMD; the model's bracket covers the whole
 * range from the start, as without THP.)
 */
function* changePmdRange(kc: KernelContext, vpn: number, n: number, writable: boolean): Gen {
  const nr = hpageNr(kc);
  for (let a = vpn; a < vpn + n; ) {
    const next = Math.min(vpn + n, haddrVpn(kc, a) + nr); // pmd_addr_end(addr, end)
    let pmd = yield* h.pmdRead(a, PMD_RANGE);
    if (pmd !== null && pmd !== 'table') {
      if (next - a !== nr) {
        yield* splitHugePmd(kc, a, false, null);
      } else if (yield* changeHugePmd(kc, a, writable)) {
        a = next; // huge pmd was handled
        continue;
      }
      pmd = yield* h.pmdRead(a, PMD_RANGE); // fall through, the trans huge pmd just split
    }
    if (pmd === 'table') yield* changePteRange(a, next - a, writable);
    a = next;
  }
}

/**
 * `change_huge_pmd(vma, pmd, addr, newprot, prot_numa = 0)` in the era's form (Era.changeHugePmd),
 * under the PMD lock (`__pmd_trans_huge_lock`: false if the PMD is no longer huge). `pmd_modify(entry,
 * newprot)` with a private mapping's vm_page_prot leaves the PMD read-only, even for PROT_WRITE (v4.13
 * `BUG_ON(vma_is_anonymous(vma) && !preserve_write && pmd_write(entry))`); the next write faults and
 * do_huge_pmd_wp_page reuses the THP. v6.8 keeps an exclusive anonymous THP writable
 * (MM_CP_TRY_CHANGE_WRITABLE). v4.10 clears the PMD with `pmdp_huge_get_and_clear_notify`, calling
 * ->invalidate_range under the PMD lock; from v4.12 `pmdp_invalidate` flushes the CPU TLB only (v6.8
 * `pmdp_invalidate_ad`: no flush on x86; the mmu_gather flushes at the end of mprotect). The cleared
 * (v4.10) or not-present (pmdp_invalidate) PMD and the new one are one step in the model, the
 * notifier call or flush after it, still under the lock: a lockless walk in between would wait for
 * the PMD lock.
 */
function* changeHugePmd(kc: KernelContext, vpn: number, writable: boolean): Gen<boolean> {
  const form = kc.era.changeHugePmd;
  const at = form === 'get-and-clear-notify' ? CHANGE_HUGE_410 : form === 'try-change-writable' ? CHANGE_HUGE_68 : CHANGE_HUGE;
  const haddr = haddrVpn(kc, vpn);
  yield* p.spinLock(PTL, at);
  const pmd = yield* h.pmdRead(haddr, at);
  if (pmd === null || pmd === 'table') {
    yield* p.spinUnlock(PTL, at);
    return false;
  }
  const keepWrite = form === 'try-change-writable' && writable && pmd.writable;
  const entry = { ...pmd, writable: keepWrite };
  if (form === 'get-and-clear-notify') {
    yield* h.pmdSet(haddr, entry, at, 'pmdp_huge_get_and_clear_notify; set_pmd_at(pmd_modify(entry, newprot))');
    const start = addressOf(haddr);
    yield* invalidateRange(kc, { start, end: start + hpageNr(kc) * PAGE_SIZE }, CLEAR_NOTIFY);
  } else if (form === 'pmdp-invalidate') {
    yield* h.pmdSet(haddr, entry, at, 'pmdp_invalidate; set_pmd_at(pmd_modify(entry, newprot))');
    yield* p.tlbFlush(haddr, haddr + hpageNr(kc), PMDP_INVALIDATE);
  } else {
    yield* h.pmdSet(haddr, entry, at, 'pmdp_invalidate_ad; set_pmd_at(pmd_modify(oldpmd, newprot))');
  }
  yield* p.spinUnlock(PTL, at);
  return true;
}
