/**
 * mm/huge_memory.c (v4.13, with each era's changes where a verdict depends on them): anonymous
 * transparent huge pages — the huge fault, the huge PMD's access and write-protect faults, zap of a
 * huge PMD, `__split_huge_pmd` (its own invalidate_range_start/end bracket, so brackets nest when a
 * zap splits a partly covered PMD: reference S7), and `split_huge_page_to_list` (freeze the THP to
 * migration entries, split the compound page, remap).
 *
 * Simplifications, each stated where it applies: the PMD lock is the model's one `ptl` (pmd_lockptr
 * and pte_lockptr are both `&mm->page_table_lock` without split page-table locks, include/linux/mm.h
 * v4.13 !USE_SPLIT_PMD_PTLOCKS / !USE_SPLIT_PTE_PTLOCKS); the deposited page table, memcg charging
 * and khugepaged are not modelled. A read fault maps the huge zero page (`set_huge_zero_page`,
 * transparent_hugepage/use_zero_page's default), a write to it is a COW (wpHugeZeroPmd).
 */
import { PAGE_SIZE, addressOf, hex, type Pmd } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import type { Gen, PageRef } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { daxHugePmdFault } from './dax';
import { tryToUnmapThp } from './rmap-thp';
import { doHugePmdNumaPage } from './numa';
import { ANON_VMA_RWSEM, PTL } from './mm';
import { archInvalidateSecondaryTlbs, invalidateRange, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, secondaryTlbInvalidate } from './mmu_notifier';

const CREATE = site('mm/memory.c', '__handle_mm_fault: pmd_none(*vmf.pmd) → create_huge_pmd', 'v4.13');
const ANON = site('mm/huge_memory.c', 'do_huge_pmd_anonymous_page', 'v4.13');
const ANON_READ = site('mm/huge_memory.c', 'do_huge_pmd_anonymous_page: a read fault maps the huge zero page', 'v4.13', 'transparent_hugepage_use_zero_page() (the default) and mm_get_huge_zero_page() never failing');
const WP_ZERO = site('mm/huge_memory.c', 'do_huge_pmd_wp_page: is_huge_zero_pmd(orig_pmd): goto alloc', 'v4.13', 'clear_huge_page instead of a copy; no rmap or reference of the zero page to drop');
const WP_ZERO_68 = site('mm/huge_memory.c', 'do_huge_pmd_wp_page: is_huge_zero_pmd(orig_pmd): goto fallback: __split_huge_pmd; VM_FAULT_FALLBACK', 'v6.8');
const NO_LIST = site('mm/swap.c', 'lru_add_page_tail(head, page_tail, lruvec, list == NULL): the tail joins the LRU with no reference of its own', 'v4.13', 'split_huge_page; the split effect gives each tail the reclaim list\'s reference, dropped here');
const SPLIT_ZERO = site('mm/huge_memory.c', '__split_huge_zero_page_pmd: pmdp_huge_clear_flush_notify', 'v4.13');
const ZAP_ZERO = site('mm/huge_memory.c', 'zap_huge_pmd: is_huge_zero_pmd(orig_pmd): tlb_remove_page_size', 'v4.13', 'release_pages skips the huge zero page: nothing is freed');
const ANON_LOCKED = site('mm/huge_memory.c', '__do_huge_pmd_anonymous_page', 'v4.13');
const ACCESSED = site('mm/huge_memory.c', 'huge_pmd_set_accessed', 'v4.13');
const WP = site('mm/huge_memory.c', 'do_huge_pmd_wp_page', 'v4.13', 'reuse when total_mapcount is 1 (page_trans_huge_mapcount); the allocation never fails');
const WP_SPLIT = site('mm/huge_memory.c', 'do_huge_pmd_wp_page: __split_huge_pmd; return VM_FAULT_FALLBACK', 'v6.8', 'since 3917c80280c9 (v5.8) a shared THP is split and COWed per PTE');
const SPLIT = site('mm/huge_memory.c', '__split_huge_pmd', 'v4.13');
const SPLIT_ADDRESS = site('mm/huge_memory.c', 'split_huge_pmd_address', 'v4.13');
const PMDP_INVALIDATE = site('mm/pgtable-generic.c', 'pmdp_invalidate → flush_pmd_tlb_range', 'v4.13');
const PMDP_INVALIDATE_68 = site('arch/x86/mm/tlb.c', 'pmdp_invalidate → flush_tlb_mm_range', 'v6.8');
const VMA_ADJUST = site('mm/huge_memory.c', 'vma_adjust_trans_huge', 'v4.13');
const ZAP_PMD = site('mm/memory.c', 'zap_pmd_range', 'v4.13');
const ZAP_HUGE = site('mm/huge_memory.c', 'zap_huge_pmd', 'v4.13');
const ZAP_HUGE_MIGRATION = site('mm/huge_memory.c', 'zap_huge_pmd: is_pmd_migration_entry(orig_pmd)', 'v4.15');
const SPLIT_PAGE = site('mm/huge_memory.c', 'split_huge_page_to_list', 'v4.13');
const CAN_SPLIT = site('mm/huge_memory.c', 'can_split_huge_page', 'v4.13');
const ANON_VMA_LOCK = site('mm/huge_memory.c', 'split_huge_page_to_list: anon_vma_lock_write', 'v4.13');
const UNFREEZE = site('mm/migrate.c', 'unfreeze_page → remove_migration_ptes → remove_migration_pte', 'v4.13');
const SPLIT_TAIL = site('mm/huge_memory.c', '__split_huge_page: if (subpage == page) continue; unlock_page(subpage); put_page(subpage)', 'v4.13');

/** `HPAGE_PMD_NR` of this execution. */
export function hpageNr(kc: KernelContext): number {
  return 1 << (kc.thpOrder ?? 0);
}

/** The first vpn of the aligned THP region holding `vpn` (`address & HPAGE_PMD_MASK`). */
export function haddrVpn(kc: KernelContext, vpn: number): number {
  return vpn - (vpn % hpageNr(kc));
}

/** The range of a PMD's invalidation: `[haddr, haddr + HPAGE_PMD_SIZE)`. */
function pmdRange(kc: KernelContext, vpn: number) {
  const start = addressOf(haddrVpn(kc, vpn));
  return mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', start, start + hpageNr(kc) * PAGE_SIZE);
}

/** ≤ v6.5 `mmu_notifier_invalidate_range_only_end` exists from v4.15 (0f10851ea475); v6.8 calls the plain end. */
function onlyEnd(kc: KernelContext): boolean {
  return kc.era.wpPageCopyOnlyEnd && kc.era.secondaryTlbs === 'invalidate-range';
}

/**
 * `transhuge_vma_suitable()` / do_huge_pmd_anonymous_page's `haddr < vma->vm_start || haddr +
 * HPAGE_PMD_SIZE > vma->vm_end`: every page of the region lies in the VMA.
 */
function* regionInVma(kc: KernelContext, vpn: number, at: typeof ANON): Gen<boolean> {
  const first = haddrVpn(kc, vpn);
  for (let v = first; v < first + hpageNr(kc); v++) if (!(yield* p.vmaLookup(v, at))) return false;
  return true;
}

/**
 * The PMD level of `__handle_mm_fault()` (mm/memory.c v4.13): a none PMD in a THP-enabled VMA is
 * `create_huge_pmd` → do_huge_pmd_anonymous_page; a huge PMD is `wp_huge_pmd` for a write to a
 * read-only one, else huge_pmd_set_accessed. `'fallback'`: go on with handle_pte_fault.
 */
export function* hugePmdFault(kc: KernelContext, vpn: number, write: boolean): Gen<'done' | 'fallback'> {
  if (kc.dax) return yield* daxHugePmdFault(kc, vpn, write); // the DAX file VMA (kernel/dax.ts)
  const pmd = yield* h.pmdRead(vpn, CREATE); // vmf.pmd = pmd_alloc(mm, vmf.pud, address); *vmf.pmd
  if (pmd === 'table') return 'fallback';
  if (pmd === null) return yield* doHugePmdAnonymousPage(kc, vpn, write);
  // "if (unlikely(is_swap_pmd(orig_pmd))) { … if (is_pmd_migration_entry(orig_pmd)) pmd_migration_entry_wait(mm, vmf.pmd); return 0; }" (v4.15+)
  if (pmd.migration) {
    yield* pmdMigrationEntryWait(vpn, pmd);
    return 'done';
  }
  // "if (pmd_protnone(orig_pmd) && vma_is_accessible(vma)) return do_huge_pmd_numa_page(&vmf, orig_pmd)"
  if (pmd.protnone) return yield* doHugePmdNumaPage(kc, vpn, pmd);
  if (write && !pmd.writable) return yield* wpHugePmd(kc, vpn, pmd);
  yield* hugePmdSetAccessed(vpn, pmd, write);
  return 'done';
}

/**
 * `do_huge_pmd_anonymous_page()` + `__do_huge_pmd_anonymous_page()` for a write fault: a zeroed THP
 * (may sleep), then under the PMD lock, if the PMD is still none, `set_pmd_at(pmd_mkwrite(pmd_mkdirty(
 * mk_huge_pmd(page))))` with `page_add_new_anon_rmap(page, vma, haddr, true)`; else release it.
 */
function* doHugePmdAnonymousPage(kc: KernelContext, vpn: number, write: boolean): Gen<'done' | 'fallback'> {
  if (!(yield* regionInVma(kc, vpn, ANON))) return 'fallback';
  if (!write) {
    // "!(vmf->flags & FAULT_FLAG_WRITE) && !mm_forbids_zeropage(vma->vm_mm) && transparent_hugepage_use_zero_page()"
    const zero = yield* h.hugeZeroPage(ANON_READ); // mm_get_huge_zero_page (may sleep the first time)
    yield* p.spinLock(PTL, ANON_READ); // vmf->ptl = pmd_lock(vma->vm_mm, vmf->pmd)
    if ((yield* h.pmdRead(vpn, ANON_READ)) === null) {
      // set_huge_zero_page: entry = pmd_mkhuge(mk_pmd(zero_page, vma->vm_page_prot)); set_pmd_at (no rmap)
      yield* h.pmdSet(haddrVpn(kc, vpn), { pfn: zero.pfn, generation: zero.generation, writable: false, dirty: false, young: false }, ANON_READ, 'set_huge_zero_page: set_pmd_at');
    }
    yield* p.spinUnlock(PTL, ANON_READ);
    return 'done';
  }
  const page = yield* h.allocHugePage(true, ANON); // alloc_hugepage_vma; clear_huge_page
  const haddr = haddrVpn(kc, vpn);
  yield* p.spinLock(PTL, ANON_LOCKED); // vmf->ptl = pmd_lock(vma->vm_mm, vmf->pmd)
  if ((yield* h.pmdRead(vpn, ANON_LOCKED)) !== null) {
    // unlock_release: someone populated the PMD first
    yield* p.spinUnlock(PTL, ANON_LOCKED);
    yield* p.putPage(page, ANON_LOCKED);
    return 'done';
  }
  yield* h.pmdSet(haddr, { pfn: page.pfn, generation: page.generation, writable: true, dirty: true, young: true }, ANON_LOCKED);
  yield* p.spinUnlock(PTL, ANON_LOCKED);
  return 'done';
}

/** `pmd_same()`: still the huge PMD `b` (the same page, permission, hinting and migration bits). */
export function samePmd(a: Pmd | 'table' | null, b: Pmd): boolean {
  return a !== null && a !== 'table' && a.pfn === b.pfn && a.generation === b.generation && a.writable === b.writable && !a.protnone === !b.protnone && !a.migration === !b.migration;
}

const MIGRATION_WAIT = site('mm/migrate.c', 'pmd_migration_entry_wait', 'v4.15', 'wait_on_page_locked is modelled as lock_page + unlock_page');

/**
 * `pmd_migration_entry_wait()`: under the PMD lock, if it still is a migration entry,
 * get_page_unless_zero of the THP, unlock, `wait_on_page_locked(page)`, put_page; the access then
 * faults again.
 */
function* pmdMigrationEntryWait(vpn: number, orig: Pmd): Gen {
  const page = { pfn: orig.pfn, generation: orig.generation };
  yield* p.spinLock(PTL, MIGRATION_WAIT);
  const got = samePmd(yield* h.pmdRead(vpn, MIGRATION_WAIT), orig) && (yield* p.getPageUnlessZero(page, MIGRATION_WAIT));
  yield* p.spinUnlock(PTL, MIGRATION_WAIT);
  if (!got) return;
  yield* p.lockPage(page, MIGRATION_WAIT);
  yield* p.unlockPage(page, MIGRATION_WAIT);
  yield* p.putPage(page, MIGRATION_WAIT);
}

/** `huge_pmd_set_accessed()`: under the PMD lock, if `pmd_same`, pmd_mkyoung (and pmd_mkdirty for a write). */
export function* hugePmdSetAccessed(vpn: number, orig: Pmd, write: boolean): Gen {
  yield* p.spinLock(PTL, ACCESSED);
  if (samePmd(yield* h.pmdRead(vpn, ACCESSED), orig)) {
    yield* h.pmdSet(vpn, { ...orig, young: true, dirty: orig.dirty || write }, ACCESSED, 'pmdp_set_access_flags');
  }
  yield* p.spinUnlock(PTL, ACCESSED);
}

/**
 * `wp_huge_pmd()` → `do_huge_pmd_wp_page()` (a write to a read-only huge PMD: after fork or
 * mprotect): reused when the THP is mapped once; otherwise ≤ v5.7 a new THP is allocated and copied
 * inside a start/end bracket (pmdp_huge_clear_flush_notify: ->invalidate_range under the PMD lock),
 * and from v5.8 (the v6.6 era here, read in v6.8) the PMD is split and the fault falls back to the PTE
 * level (do_wp_page per subpage).
 */
function* wpHugePmd(kc: KernelContext, vpn: number, orig: Pmd): Gen<'done' | 'fallback'> {
  if (orig.zero) return yield* wpHugeZeroPmd(kc, vpn, orig);
  const haddr = haddrVpn(kc, vpn);
  const page: PageRef = { pfn: orig.pfn, generation: orig.generation };
  yield* p.spinLock(PTL, WP);
  if (!samePmd(yield* h.pmdRead(vpn, WP), orig)) {
    yield* p.spinUnlock(PTL, WP);
    return 'done';
  }
  const [, mapcount] = yield* h.pageCount(page, WP);
  if (mapcount === 1) {
    // reuse: entry = maybe_pmd_mkwrite(pmd_mkdirty(pmd_mkyoung(orig_pmd))); pmdp_set_access_flags
    yield* h.pmdSet(haddr, { ...orig, writable: true, dirty: true, young: true }, WP, 'pmdp_set_access_flags');
    yield* p.spinUnlock(PTL, WP);
    return 'done';
  }
  if (kc.era.thpCowSplits) {
    yield* p.spinUnlock(PTL, WP_SPLIT);
    yield* splitHugePmd(kc, vpn, false, null);
    return 'fallback';
  }
  yield* p.getPage(page, WP);
  yield* p.spinUnlock(PTL, WP);
  const fresh = yield* h.allocHugePage(true, WP); // alloc_hugepage_vma; copy_user_huge_page
  const range = pmdRange(kc, vpn);
  yield* invalidateRangeStart(kc, range, WP);
  yield* p.spinLock(PTL, WP);
  yield* p.putPage(page, WP);
  if (!samePmd(yield* h.pmdRead(vpn, WP), orig)) {
    yield* p.spinUnlock(PTL, WP);
    yield* p.putPage(fresh, WP); // mem_cgroup_cancel_charge; put_page(new_page)
  } else {
    // pmdp_huge_clear_flush_notify(vma, haddr, vmf->pmd): ->invalidate_range under the PMD lock (≤ v6.5)
    yield* h.pmdClear(haddr, true, true, WP);
    yield* secondaryTlbInvalidate(kc, range, WP, PMDP_INVALIDATE_68);
    yield* h.pmdSet(haddr, { pfn: fresh.pfn, generation: fresh.generation, writable: true, dirty: true, young: true }, WP);
    yield* p.putPage(page, WP); // page_remove_rmap(page, true) was the clear's; put_page(page)
    yield* p.spinUnlock(PTL, WP);
  }
  yield* invalidateRangeEnd(kc, range, WP, onlyEnd(kc));
  return 'done';
}

/**
 * do_huge_pmd_wp_page on the huge zero PMD: ≤ v5.7 `goto alloc`: a new zeroed THP
 * (clear_huge_page), range_start, under the PMD lock if pmd_same `pmdp_huge_clear_flush_notify` and
 * set_pmd_at of the new THP (no page_remove_rmap: "if (!page) add_mm_counter"), range_end; from
 * v5.8 (v6.8) `goto fallback`: __split_huge_pmd (the zero page's PTEs) and the fault goes on at the
 * PTE level (do_wp_page → wp_page_copy of the zero page).
 */
function* wpHugeZeroPmd(kc: KernelContext, vpn: number, orig: Pmd): Gen<'done' | 'fallback'> {
  const haddr = haddrVpn(kc, vpn);
  if (kc.era.thpCowSplits) {
    yield* p.note('the huge zero page: fallback', WP_ZERO_68);
    yield* splitHugePmd(kc, vpn, false, null);
    return 'fallback';
  }
  const fresh = yield* h.allocHugePage(true, WP_ZERO); // alloc_hugepage_vma; clear_huge_page
  const range = pmdRange(kc, vpn);
  yield* invalidateRangeStart(kc, range, WP_ZERO);
  yield* p.spinLock(PTL, WP_ZERO);
  if (!samePmd(yield* h.pmdRead(vpn, WP_ZERO), orig)) {
    yield* p.spinUnlock(PTL, WP_ZERO);
    yield* p.putPage(fresh, WP_ZERO);
  } else {
    yield* h.pmdClear(haddr, true, false, WP_ZERO); // pmdp_huge_clear_flush_notify: ->invalidate_range under the PMD lock (≤ v6.5)
    yield* secondaryTlbInvalidate(kc, range, WP_ZERO, PMDP_INVALIDATE_68);
    yield* h.pmdSet(haddr, { pfn: fresh.pfn, generation: fresh.generation, writable: true, dirty: true, young: true }, WP_ZERO);
    yield* p.spinUnlock(PTL, WP_ZERO);
  }
  yield* invalidateRangeEnd(kc, range, WP_ZERO, onlyEnd(kc));
  return 'done';
}

/**
 * `__split_huge_pmd(vma, pmd, address, freeze, page)`: its own `invalidate_range_start/end` over the
 * huge page (so inside a zap it nests in the zap's bracket), and under the PMD lock, if the PMD is
 * still huge (and maps `page`, when given), `__split_huge_pmd_locked`. `pmdp_invalidate` flushes the
 * CPU TLB only (no notifier: the PTEs map the same pages) until v6.6, where the arch flush also
 * calls ->arch_invalidate_secondary_tlbs (v6.8). From v4.15 the end is
 * `mmu_notifier_invalidate_range_only_end` ("No need to double call mmu_notifier->invalidate_range()",
 * v4.19): a freeze, whose migration entries do change the mappings, then tells no ->invalidate_range
 * user (read in v4.19.95 and v5.7.14).
 */
export function* splitHugePmd(kc: KernelContext, vpn: number, freeze: boolean, page: PageRef | null): Gen<boolean> {
  const range = pmdRange(kc, vpn);
  const haddr = haddrVpn(kc, vpn);
  yield* invalidateRangeStart(kc, range, SPLIT);
  yield* p.spinLock(PTL, SPLIT); // ptl = pmd_lock(vma->vm_mm, pmd)
  const pmd = yield* h.pmdRead(vpn, SPLIT);
  let split = false;
  // if (page && page != pmd_page(*pmd)) goto out; if (pmd_trans_huge(*pmd)) ... else goto out
  if (pmd !== null && pmd !== 'table' && (page === null || (pmd.pfn === page.pfn && pmd.generation === page.generation))) {
    split = yield* h.pmdSplit(haddr, freeze, SPLIT);
    // __split_huge_zero_page_pmd: pmdp_huge_clear_flush_notify up to v4.13 (->invalidate_range under the PMD
    // lock), pmdp_huge_clear_flush from v4.15 ("fine to delay notification until mmu_notifier_invalidate_range_end")
    if (pmd.zero && !kc.era.wpPageCopyOnlyEnd && kc.era.secondaryTlbs === 'invalidate-range') yield* invalidateRange(kc, range, SPLIT_ZERO);
    yield* flushPmdTlbRange(kc, haddr);
  }
  yield* p.spinUnlock(PTL, SPLIT);
  yield* invalidateRangeEnd(kc, range, SPLIT, onlyEnd(kc));
  return split;
}

/** `split_huge_pmd_address(vma, address, freeze, page)`: `__split_huge_pmd` on the PMD of `address` (its bracket even when nothing is huge). */
export function* splitHugePmdAddress(kc: KernelContext, vpn: number, freeze: boolean, page: PageRef | null): Gen<boolean> {
  yield* p.note(`split_huge_pmd_address(${hex(addressOf(vpn))}, freeze = ${freeze})`, SPLIT_ADDRESS);
  return yield* splitHugePmd(kc, vpn, freeze, page);
}

/**
 * `vma_adjust_trans_huge()` for the VMA split of munmap(`vpn`, `n`) (`__split_vma` → `__vma_adjust`):
 * a new VMA boundary that is not huge-page aligned inside a region the VMA covers splits that PMD,
 * before the range is detached and zapped.
 */
export function* vmaAdjustTransHuge(kc: KernelContext, vpn: number, n: number): Gen {
  const nr = hpageNr(kc);
  for (const boundary of [vpn, vpn + n]) {
    if (boundary % nr === 0) continue;
    if (yield* regionInVma(kc, boundary, VMA_ADJUST)) yield* splitHugePmdAddress(kc, boundary, false, null);
  }
}

/**
 * `zap_huge_pmd()`: under the PMD lock (`__pmd_trans_huge_lock`: 0 if no longer huge),
 * `pmdp_huge_get_and_clear_full` + `page_remove_rmap(page, true)`, then `tlb_remove_page_size(tlb,
 * page, HPAGE_PMD_SIZE)`: the THP's reference moves to the mmu_gather batch, freed after range_end.
 */
function* zapHugePmd(vpn: number, batch: PageRef[]): Gen<boolean> {
  yield* p.spinLock(PTL, ZAP_HUGE);
  const old = yield* h.pmdClear(vpn, false, true, ZAP_HUGE);
  yield* p.spinUnlock(PTL, ZAP_HUGE);
  if (old === null) return false;
  // a PMD migration entry (v4.15+ "else if (thp_migration_supported())"): no page to remove or free
  if (old.migration) yield* p.note('zap_huge_pmd: a PMD migration entry: flush_needed = 0, no page_remove_rmap, no tlb_remove_page', ZAP_HUGE_MIGRATION);
  else if (old.zero) yield* p.note('zap_huge_pmd: the huge zero page: no rmap; release_pages skips it', ZAP_ZERO);
  else batch.push({ pfn: old.pfn, generation: old.generation });
  return true;
}

/**
 * `zap_pmd_range()` over `[vpn, vpn + n)`, one PMD (THP region) at a time: a huge PMD the range
 * covers whole is zap_huge_pmd'ed; one it covers in part is split first (`__split_huge_pmd`, whose
 * bracket nests in the caller's: reference §3 B14's path) and its PTEs zapped; `zapPte` zaps the PTEs
 * of a PTE table.
 */
export function* zapPmdRange(kc: KernelContext, vpn: number, n: number, batch: PageRef[], zapPte: (vpn: number, n: number, batch: PageRef[]) => Gen): Gen {
  const nr = hpageNr(kc);
  for (let a = vpn; a < vpn + n; ) {
    const next = Math.min(vpn + n, haddrVpn(kc, a) + nr); // pmd_addr_end(addr, end)
    let pmd = yield* h.pmdRead(a, ZAP_PMD);
    if (pmd !== null && pmd !== 'table') {
      if (next - a !== nr) {
        yield* splitHugePmd(kc, a, false, null);
      } else if (yield* zapHugePmd(a, batch)) {
        a = next;
        continue;
      }
      pmd = yield* h.pmdRead(a, ZAP_PMD); // pmd_none_or_trans_huge_or_clear_bad(pmd)
    }
    if (pmd === 'table') yield* zapPte(a, next - a, batch);
    a = next;
  }
}

/**
 * `remove_migration_ptes()` for the THP's subpages (unfreeze_page): under the PTL every migration
 * entry of a subpage becomes a present PTE again (`get_page(new)`, `pte_mkold(mk_pte())`,
 * `maybe_mkwrite` for a write migration entry; "No need to invalidate - it was non-present before").
 */
function* unfreezePage(head: PageRef, headVpn: number, nr: number): Gen {
  yield* p.spinLock(PTL, UNFREEZE);
  for (let i = 0; i < nr; i++) {
    const pte = yield* p.pteRead(headVpn + i, UNFREEZE);
    if (!pte || !pte.migration || pte.pfn !== head.pfn + i) continue;
    const sub = { pfn: pte.pfn, generation: pte.generation };
    yield* p.getPage(sub, UNFREEZE);
    yield* p.pteSet(headVpn + i, { pfn: sub.pfn, generation: sub.generation, writable: pte.writable, dirty: false, young: false, swap: false }, UNFREEZE);
  }
  yield* p.spinUnlock(PTL, UNFREEZE);
}

/**
 * `split_huge_page_to_list(page, list)` of the locked THP `head` mapped from `headVpn`, with
 * `extraPins` swap-cache references (`can_split_huge_page`: HPAGE_PMD_NR in the swap cache, else 0):
 * anon_vma_lock_write; `total_mapcount(page) == page_count(page) - extra_pins - 1` or -EBUSY;
 * freeze_page (every mapping becomes a migration entry: try_to_unmap with TTU_MIGRATION |
 * TTU_SPLIT_HUGE_PMD, the anon_vma already locked, over the VMA of `vmaPages`); `if (!mapcount &&
 * page_ref_freeze(head, 1 + extra_pins))` __split_huge_page, else -EBUSY; either way the migration
 * entries are made present again; after a split every subpage but `kept` (the page the caller passed:
 * the head for unmap_and_move and reclaim, the subpage it found for ksmd) is unlocked and put, each
 * tail having the reclaim list's reference. Returns whether the THP was split.
 */
export function* splitHugePageToList(kc: KernelContext, head: PageRef, headVpn: number, extraPins: number, vmaPages: number, kept: PageRef = head): Gen<boolean> {
  const nr = hpageNr(kc);
  yield* p.downWrite(ANON_VMA_RWSEM, ANON_VMA_LOCK);
  const [count, mapcount] = yield* h.pageCount(head, CAN_SPLIT);
  if (mapcount !== count - extraPins - 1) {
    yield* p.note(`can_split_huge_page: total_mapcount ${mapcount} != page_count ${count} - ${extraPins} - 1: -EBUSY`, CAN_SPLIT);
    yield* p.upWrite(ANON_VMA_RWSEM, SPLIT_PAGE);
    return false;
  }
  yield* tryToUnmapThp(kc, head, headVpn, vmaPages, { migration: true, splitHugePmd: true, rmapLocked: true, batch: false });
  const split = yield* h.splitHugePage(head, 1 + extraPins, SPLIT_PAGE);
  yield* unfreezePage(head, headVpn, nr);
  if (split) {
    for (let i = 0; i < nr; i++) {
      const sub = { pfn: head.pfn + i, generation: head.generation };
      if (sub.pfn === kept.pfn) continue;
      yield* p.unlockPage(sub, SPLIT_TAIL);
      yield* p.putPage(sub, SPLIT_TAIL);
    }
  } else {
    yield* p.note('total_mapcount != 0 or page_ref_freeze failed: unfreeze_page; -EBUSY', SPLIT_PAGE);
  }
  yield* p.upWrite(ANON_VMA_RWSEM, SPLIT_PAGE);
  return split;
}

/**
 * `split_huge_page(page)` = split_huge_page_to_list(page, NULL), `page` being `kept` (the head unless
 * the caller passed a subpage): with no list, lru_add_page_tail gives a tail no reference of its own,
 * where the split effect gave it the reclaim list's, which is dropped here.
 */
export function* splitHugePage(kc: KernelContext, head: PageRef, headVpn: number, extraPins: number, vmaPages: number, kept: PageRef = head): Gen<boolean> {
  const split = yield* splitHugePageToList(kc, head, headVpn, extraPins, vmaPages, kept);
  if (split) for (let i = 1; i < hpageNr(kc); i++) yield* p.putPage({ pfn: head.pfn + i, generation: head.generation }, NO_LIST);
  return split;
}

/**
 * pmdp_invalidate's `flush_pmd_tlb_range()` of the huge PMD at `haddr`: the CPU TLB, and from v6.6
 * (the arch flush, flush_tlb_mm_range v6.8) ->arch_invalidate_secondary_tlbs too. `at` / `at68` are
 * the caller's sites for the two.
 */
export function* flushPmdTlbRange(kc: KernelContext, haddr: number, at: Site = PMDP_INVALIDATE, at68: Site = PMDP_INVALIDATE_68): Gen {
  const nr = hpageNr(kc);
  yield* p.tlbFlush(haddr, haddr + nr, at);
  if (kc.era.secondaryTlbs === 'arch-tlb-flush') {
    const start = addressOf(haddr);
    yield* archInvalidateSecondaryTlbs(kc, { start, end: start + nr * PAGE_SIZE }, at68);
  }
}
