/**
 * mm/mprotect.c (v4.13): mprotect() of part of the modelled VMA, and change_protection's prot_numa
 * form, which NUMA balancing's scanner uses to make PTEs and huge PMDs PROT_NONE hinting entries
 * (change_prot_numa, src/kernel/numa.ts).
 */
import { PAGE_SIZE, ZERO_PFN, addressOf, type Pmd, type Pte } from '../runtime/machine';
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
const TRY_WRITABLE = site('mm/mprotect.c', 'change_pte_range: MM_CP_TRY_CHANGE_WRITABLE && can_change_pte_writable', 'v6.8', 'an exclusive anonymous page mapped writable stays writable; a read-only one is left read-only (its upgrade, which no invariant reads, is not modelled)');
const NUMA_SKIP = site('mm/mprotect.c', 'change_pte_range: if (prot_numa)', 'v4.13', 'the page is always on another node than the scanner\'s (target_node never matches): every other page is made a hinting entry');
const NUMA_SKIP_SHARED = site('mm/mprotect.c', 'change_pte_range: "Also skip shared copy-on-write pages": is_cow_mapping && page_mapcount(page) != 1', 'v4.19');
const NUMA_SKIP_REF = site('mm/mprotect.c', 'change_pte_range: is_cow_mapping(vma->vm_flags) && folio_ref_count(folio) != 1', 'v6.8');
const NUMA_PTE = site('mm/mprotect.c', 'change_pte_range: ptep_modify_prot_start; pte_modify(oldpte, PAGE_NONE); preserve_write: pte_mk_savedwrite; ptep_modify_prot_commit', 'v4.13');
const NUMA_PTE_68 = site('mm/mprotect.c', 'change_pte_range: ptep_modify_prot_start; pte_modify(oldpte, PAGE_NONE); ptep_modify_prot_commit', 'v6.8', 'no saved write: do_numa_page decides it again (can_change_pte_writable)');
const FLUSH_PENDING = site('mm/mprotect.c', 'change_protection_range: inc_tlb_flush_pending(mm) … flush_tlb_range; dec_tlb_flush_pending(mm)', 'v4.13', 'v4.10: set_/clear_tlb_flush_pending; v6.8: tlb_gather_mmu / tlb_finish_mmu');
const CHANGE_HUGE = site('mm/huge_memory.c', 'change_huge_pmd', 'v4.13');
const CHANGE_HUGE_410 = site('mm/huge_memory.c', 'change_huge_pmd', 'v4.10');
const CHANGE_HUGE_68 = site('mm/huge_memory.c', 'change_huge_pmd', 'v6.8', 'can_change_pmd_writable: a writable exclusive anonymous THP stays writable; a read-only one is left read-only (its upgrade, which no invariant reads, is not modelled)');
const CHANGE_HUGE_MIGRATION = site('mm/huge_memory.c', 'change_huge_pmd: is_swap_pmd(*pmd): is_write_migration_entry → make_migration_entry_read', 'v4.15');
const PMDP_INVALIDATE = site('mm/pgtable-generic.c', 'pmdp_invalidate → flush_pmd_tlb_range', 'v4.13');
const CLEAR_NOTIFY = site('include/linux/mmu_notifier.h', 'pmdp_huge_get_and_clear_notify → mmu_notifier_invalidate_range(haddr, haddr + HPAGE_PMD_SIZE)', 'v4.10');

/**
 * What change_protection does to each entry: mprotect's new VM_WRITE (`pte_modify(oldpte,
 * vm_page_prot)`), or NUMA balancing's `prot_numa` (`pte_modify(oldpte, PAGE_NONE)`: a hinting entry).
 */
export type ProtChange = { readonly numa: false; readonly writable: boolean } | { readonly numa: true };

/**
 * `mprotect(addr, len, prot)`: down_write(mmap_sem); mprotect_fixup sets the VMA's VM_WRITE;
 * change_protection (below) rewrites the PTEs and huge PMDs inside its bracket and flushes the CPU
 * TLB after range_end.
 */
export function* mprotect(kc: KernelContext, vpn: number, n: number, writable: boolean): Gen {
  yield* p.downWrite(MMAP_SEM, DO_MPROTECT);
  yield* p.vmaProtect(vpn, n, writable, FIXUP);
  yield* changeProtection(kc, vpn, n, { numa: false, writable });
  yield* p.upWrite(MMAP_SEM, DO_MPROTECT);
}

/**
 * `change_protection()` → `change_protection_range()` of `[vpn, vpn + n)`: change_pmd_range takes
 * range_start lazily at the first present PMD (the model's bracket covers the range from the start),
 * change_pte_range / change_huge_pmd under the page-table lock, range_end; then the CPU TLB flush,
 * after range_end (v6.8: tlb_finish_mmu → flush_tlb_mm_range). For prot_numa the caller holds
 * mmap_sem for read only, so a hinting fault can run beside it: `mm_tlb_flush_pending()` tells it
 * that the flush has not happened yet (inc_tlb_flush_pending before the walk, dec after the flush;
 * modelled for prot_numa, the only caller a fault can overlap: mprotect holds mmap_sem for write).
 */
export function* changeProtection(kc: KernelContext, vpn: number, n: number, change: ProtChange): Gen {
  const pending = change.numa ? kc.numa?.tlbFlushPending : undefined;
  if (pending !== undefined) yield* p.add(pending, 1, FLUSH_PENDING);
  const start = addressOf(vpn);
  // v5.2+: mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_VMA, ...)
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_PROTECTION_VMA', start, start + n * PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, PMD_RANGE);
  if (kc.thpOrder) yield* changePmdRange(kc, vpn, n, change);
  else yield* changePteRange(kc, vpn, n, change);
  yield* invalidateRangeEnd(kc, range, PMD_RANGE);
  // flush_tlb_range(vma, start, end), after range_end (v6.8: tlb_finish_mmu → flush_tlb_mm_range)
  yield* flushTlb(kc, vpn, vpn + n, PROT_RANGE);
  if (pending !== undefined) yield* p.add(pending, -1, FLUSH_PENDING);
}

/**
 * `change_pte_range()` of `[vpn, vpn + n)` (one PTE table): under the PTL each present PTE rewritten
 * (ptep_modify_prot_start clears it, ptep_modify_prot_commit sets it: one step in the model, the
 * rmap untouched). mprotect: `pte_modify(oldpte, vm_page_prot)` — a private mapping's vm_page_prot
 * has no write bit (PAGE_COPY) and dirty_accountable is 0, so the PTE ends read-only even for
 * PROT_WRITE (the next write faults and do_wp_page reuses the page), and a hinting entry becomes an
 * ordinary one; v6.8's MM_CP_TRY_CHANGE_WRITABLE keeps a writable exclusive page writable. prot_numa:
 * see numaPte.
 */
function* changePteRange(kc: KernelContext, vpn: number, n: number, change: ProtChange): Gen {
  yield* p.spinLock(PTL, PTE_RANGE);
  for (let v = vpn; v < vpn + n; v++) {
    const pte = yield* p.pteRead(v, PTE_RANGE);
    if (pte === null || pte.swap) continue;
    if (change.numa) {
      const entry = yield* numaPte(kc, pte);
      if (entry !== null) yield* p.pteSet(v, entry, kc.era.numaFault === 'restore-first' ? NUMA_PTE : NUMA_PTE_68);
      continue;
    }
    const keepWrite = change.writable && pte.writable && kc.era.changeHugePmd === 'try-change-writable';
    if (pte.writable === keepWrite && !pte.protnone) continue; // nothing changes
    const entry: Pte = { ...pte, writable: keepWrite };
    delete entry.protnone; // pte_modify(oldpte, newprot): newprot is present
    yield* p.pteSet(v, entry, keepWrite ? TRY_WRITABLE : MODIFY_PROT);
  }
  yield* p.spinUnlock(PTL, PTE_RANGE);
}

/**
 * change_pte_range's prot_numa branch for one present PTE, under the PTL: skips the zero page
 * (vm_normal_page is NULL), KSM pages, entries that are hinting ones already, and per era shared
 * copy-on-write pages (Era.numaSkipShared); otherwise the hinting entry, `pte_modify(oldpte,
 * PAGE_NONE)` with the write bit kept as `pte_savedwrite` (≤ v5.7, `preserve_write`) or dropped
 * (v6.8). Null: leave it.
 */
function* numaPte(kc: KernelContext, pte: Pte): Gen<Pte | null> {
  if (pte.protnone || pte.pfn === ZERO_PFN) return null;
  const page = { pfn: pte.pfn, generation: pte.generation };
  if (kc.ksm && (yield* p.pageFlags(page, NUMA_SKIP)).ksm) return null;
  const shared = kc.era.numaSkipShared;
  if (shared === 'mapcount' && (yield* p.pageMapcount(page, NUMA_SKIP_SHARED)) !== 1) return null;
  if (shared === 'refcount' && (yield* h.pageCount(page, NUMA_SKIP_REF))[0] !== 1) return null;
  return { ...pte, protnone: true, writable: kc.era.numaFault === 'restore-first' && pte.writable };
}

/**
 * `change_pmd_range()` with transparent huge pages (mm/mprotect.c v4.13, the same in v6.8), inside
 * the caller's bracket: per PMD, a huge PMD the range covers whole is `change_huge_pmd`'ed; one it
 * covers in part is split first (`__split_huge_pmd`, its own bracket nested in mprotect's) and its
 * PTEs changed by change_pte_range; a PTE table is change_pte_range'd; a none PMD is skipped. (The
 * kernel takes range_start lazily at the first populated PMD; the model's bracket covers the whole
 * range from the start, as without THP.)
 */
function* changePmdRange(kc: KernelContext, vpn: number, n: number, change: ProtChange): Gen {
  const nr = hpageNr(kc);
  for (let a = vpn; a < vpn + n; ) {
    const next = Math.min(vpn + n, haddrVpn(kc, a) + nr); // pmd_addr_end(addr, end)
    let pmd = yield* h.pmdRead(a, PMD_RANGE);
    if (pmd !== null && pmd !== 'table') {
      if (next - a !== nr) {
        yield* splitHugePmd(kc, a, false, null);
      } else if (yield* changeHugePmd(kc, a, change)) {
        a = next; // huge pmd was handled
        continue;
      }
      pmd = yield* h.pmdRead(a, PMD_RANGE); // fall through, the trans huge pmd just split
    }
    if (pmd === 'table') yield* changePteRange(kc, a, next - a, change);
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
 * the PMD lock. With prot_numa (`pmd_modify(entry, PAGE_NONE)`) the same forms make a hinting PMD;
 * one that already is one is left alone.
 */
function* changeHugePmd(kc: KernelContext, vpn: number, change: ProtChange): Gen<boolean> {
  const form = kc.era.changeHugePmd;
  const at = form === 'get-and-clear-notify' ? CHANGE_HUGE_410 : form === 'try-change-writable' ? CHANGE_HUGE_68 : CHANGE_HUGE;
  const haddr = haddrVpn(kc, vpn);
  yield* p.spinLock(PTL, at);
  const pmd = yield* h.pmdRead(haddr, at);
  if (pmd === null || pmd === 'table') {
    yield* p.spinUnlock(PTL, at);
    return false;
  }
  let entry: Pmd;
  if (pmd.migration) {
    // "if (is_swap_pmd(*pmd))": a write migration entry becomes a read one (make_migration_entry_read), for
    // any new protection (v4.15 … v6.8), then goto unlock
    if (pmd.writable) yield* h.pmdSet(haddr, { ...pmd, writable: false }, CHANGE_HUGE_MIGRATION, 'set_pmd_at(swp_entry_to_pmd(make_migration_entry_read))');
    yield* p.spinUnlock(PTL, at);
    return true;
  }
  if (change.numa) {
    // `if (prot_numa && pmd_protnone(*pmd)) goto unlock`, and the huge zero page;
    // preserve_write = prot_numa && pmd_write(*pmd): pmd_mk_savedwrite (≤ v5.7); v6.8 keeps no write bit
    // "if (prot_numa && is_huge_zero_pmd(*pmd)) goto unlock" ("Avoid trapping faults against the zero page")
    if (pmd.protnone || pmd.zero) {
      yield* p.spinUnlock(PTL, at);
      return true;
    }
    entry = { ...pmd, protnone: true, writable: kc.era.numaFault === 'restore-first' && pmd.writable };
  } else {
    entry = { ...pmd, writable: form === 'try-change-writable' && change.writable && pmd.writable };
    delete entry.protnone; // pmd_modify(entry, newprot): newprot is present
  }
  const newprot = change.numa ? 'PAGE_NONE' : 'newprot';
  if (form === 'get-and-clear-notify') {
    yield* h.pmdSet(haddr, entry, at, `pmdp_huge_get_and_clear_notify; set_pmd_at(pmd_modify(entry, ${newprot}))`);
    const start = addressOf(haddr);
    yield* invalidateRange(kc, { start, end: start + hpageNr(kc) * PAGE_SIZE }, CLEAR_NOTIFY);
  } else if (form === 'pmdp-invalidate') {
    yield* h.pmdSet(haddr, entry, at, `pmdp_invalidate; set_pmd_at(pmd_modify(entry, ${newprot}))`);
    yield* p.tlbFlush(haddr, haddr + hpageNr(kc), PMDP_INVALIDATE);
  } else {
    yield* h.pmdSet(haddr, entry, at, `pmdp_invalidate_ad; set_pmd_at(pmd_modify(oldpmd, ${newprot}))`);
  }
  yield* p.spinUnlock(PTL, at);
  return true;
}
