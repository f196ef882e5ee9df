/**
 * A DAX file (fs/dax.c with CONFIG_FS_DAX_PMD, on pmem) mapped MAP_SHARED with PMD faults: the
 * scenario's `dax` (with `file` and `thp`). Catalogue B3 (reference §3): ≤ v4.12 the writeback of
 * a PMD-mapped extent told the notifiers `mmu_notifier_invalidate_page(mm, address)` — one address
 * for 2^thpOrder pages — and a driver whose ->invalidate_page drops only [address, address +
 * PAGE_SIZE) keeps writable secondary mappings of the other subpages while the CPU PMD is
 * read-only and clean: a later device write is never written back.
 *
 * Verified in fs/dax.c, mm/memory.c and mm/huge_memory.c of 4.10.17, 4.12 and 4.13.19:
 * - the PMD fault: `__handle_mm_fault` → `create_huge_pmd` (pmd_none) or `wp_huge_pmd` (a write to
 *   a read-only huge/devmap PMD) → `vma->vm_ops->huge_fault` → `dax_iomap_pmd_fault`:
 *   `grab_mapping_entry(mapping, pgoff, RADIX_DAX_PMD)` locks the PMD's radix-tree entry;
 *   `dax_pmd_insert_mapping` → `dax_insert_mapping_entry` (the DIRTY tag for a write) →
 *   `vmf_insert_pfn_pmd` → `insert_pfn_pmd`: under `pmd_lock`, `pmd_mkhuge(pfn_t_pmd(pfn, prot))`,
 *   pmd_mkdevmap, for a write pmd_mkyoung(pmd_mkdirty) + maybe_pmd_mkwrite; `set_pmd_at` (over
 *   whatever PMD is there); `put_locked_mapping_entry`. A present PMD and a read (or a write to a
 *   writable one) is `huge_pmd_set_accessed` (mm/memory.c v4.12 __handle_mm_fault).
 * - writeback: `dax_writeback_mapping_range` → `dax_writeback_one` (locks the entry: lock_slot,
 *   clears TOWRITE under tree_lock) → `dax_mapping_entry_mkclean(mapping, index, pfn)`, the
 *   function that write-protects the mappings (NOT mm/rmap.c page_mkclean_one: DAX pages are not in
 *   the page cache and have no rmap): i_mmap_lock_read; for the VMA, `follow_pte_pmd` takes the PMD
 *   lock; `if (!pmd_dirty && !pmd_write) goto unlock_pmd`; pmdp_huge_clear_flush; pmd_wrprotect;
 *   pmd_mkclean; set_pmd_at; spin_unlock(ptl); then
 *   - v4.10.17 and v4.12: `if (changed) mmu_notifier_invalidate_page(vma->vm_mm, address)` AFTER
 *     the PMD lock is dropped (the same in both: fs/dax.c was not touched by c7ab0d2fdc84, whose
 *     invalidate_page-under-PTL is mm/rmap.c's), address = pgoff_address(index) with the index the
 *     PMD entry's (dax_writeback_one: "the 'index' we are given will be aligned to the start
 *     index of the PMD"): the PMD's start;
 *   - v4.13.19: `follow_pte_pmd(mm, address, &start, &end, …)` calls
 *     mmu_notifier_invalidate_range_start(address & PMD_MASK, + PMD_SIZE) before taking the PMD
 *     lock (mm/memory.c __follow_pte_pmd); after set_pmd_at, `mmu_notifier_invalidate_range(start,
 *     end)` under the lock; after it, `mmu_notifier_invalidate_range_end(start, end)` (a4d1a8852513
 *     "dax: update to new mmu_notifier semantic" [U: the commit id is from the series, the tree was
 *     read]).
 *   aac2fea9 changed mm/rmap.c only [U: the diff was not read]: its fs/dax.c is v4.12's.
 *   v4.15, v4.19, v5.7.14 fs/dax.c: the same bracket (follow_pte_pmd opens it), but no
 *   invalidate_range under the lock ("No need to call mmu_notifier_invalidate_range() as we are
 *   downgrading page table protection": Era.mkcleanInvalidateRange false); v6.8: dax_entry_mkclean
 *   → pfn_mkclean_range → mm/rmap.c page_vma_mkclean_one: range_start(MMU_NOTIFY_PROTECTION_PAGE);
 *   pmdp_invalidate (its TLB flush → ->arch_invalidate_secondary_tlbs); pmd_wrprotect; pmd_mkclean;
 *   set_pmd_at; range_end — modelled with the steps above plus that flush (the model's PMD clear is
 *   pmdp_huge_clear_flush; v6.8 pmdp_invalidate leaves an invalid, not a none, PMD: not modelled).
 *
 * Simplifications: the pmem extents are allocated when the execution is built (dax_direct_access
 * always succeeds, one extent of 2^thpOrder pages per aligned region, each a compound page whose one
 * reference is the device's: never freed, no page cache); the radix-tree entry lock is a sleeping
 * lock per region (get_unlocked_mapping_entry waits for it, lock_slot takes it); the DIRTY/TOWRITE
 * tags are not modelled (writeback always calls dax_mapping_entry_mkclean, which skips a clean
 * read-only PMD itself); wb_cache_pmem is one note; munmap, zap and truncation of a DAX PMD are not
 * modelled (the scenario allows only cpu accesses, device threads and writeback with `dax`); the
 * PTE-mapped fallback (dax_iomap_pte_fault) is not modelled: every fault is a PMD fault.
 */
import { PAGE_SIZE, addLock, addressOf, hex, LockKind, newPage, type Machine, type Pmd } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import type { Gen, LockId, PageRef } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { PTL } from './mm';
import { haddrVpn, hpageNr, hugePmdSetAccessed } from './huge_memory';
import { archInvalidateSecondaryTlbs, invalidatePage, invalidateRange, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';

/** The DAX objects (KernelContext.dax), created only for a `dax` scenario. */
export interface DaxMapping {
  /** Per aligned region: the pmem extent backing it (a compound page, never freed). */
  readonly extents: readonly PageRef[];
  /** Per aligned region: the PMD radix-tree entry's lock (grab_mapping_entry / lock_slot). */
  readonly entryLock: readonly LockId[];
}

/**
 * The pmem extents and entry locks, created when the execution is built (after every other object,
 * so that no other id moves): one compound page of 2^order pages per region, its head holding one
 * reference (the device memory's, ZONE_DEVICE pages are never freed to the allocator).
 */
export function buildDax(m: Machine, nPages: number, order: number): DaxMapping {
  const nr = 1 << order;
  const extents: PageRef[] = [];
  const entryLock: LockId[] = [];
  for (let r = 0; r * nr < nPages; r++) {
    const head = m.pages.length;
    for (let i = 0; i < nr; i++) {
      const pg = newPage();
      pg.free = false;
      pg.refcount = i === 0 ? 1 : 0;
      pg.order = i === 0 ? order : 0;
      pg.compoundHead = i === 0 ? -1 : head;
      m.pages.push(pg);
    }
    extents.push({ pfn: head, generation: m.pages[head].generation });
    entryLock.push(addLock(m, LockKind.Mutex, `dax PMD entry ${r} lock (radix tree)`));
  }
  return { extents, entryLock };
}

// --- sites ---------------------------------------------------------------------------------------

const HUGE_FAULT = site('mm/memory.c', '__handle_mm_fault: create_huge_pmd / wp_huge_pmd → vma->vm_ops->huge_fault', 'v4.12');
const PMD_FAULT = site('fs/dax.c', 'dax_iomap_pmd_fault', 'v4.12');
const GRAB = site('fs/dax.c', 'dax_iomap_pmd_fault → grab_mapping_entry(mapping, pgoff, RADIX_DAX_PMD)', 'v4.12', 'the entry lock is a sleeping lock per region');
const INSERT = site('mm/huge_memory.c', 'vmf_insert_pfn_pmd → insert_pfn_pmd: pmd_lock; set_pmd_at', 'v4.12');
const PUT_ENTRY = site('fs/dax.c', 'put_locked_mapping_entry', 'v4.12');
const WB_ONE = site('fs/dax.c', 'dax_writeback_one', 'v4.12', 'the DIRTY/TOWRITE tags are not modelled: the entry is written back whenever writeback runs');
const WB_LOCK = site('fs/dax.c', 'dax_writeback_one: get_unlocked_mapping_entry; lock_slot', 'v4.12');
const WB_CACHE = site('fs/dax.c', 'dax_writeback_one: wb_cache_pmem(kaddr, size)', 'v4.12');
const RMAP = site('fs/dax.c', 'dax_mapping_entry_mkclean: i_mmap_lock_read(mapping)', 'v4.12');

/** dax_mapping_entry_mkclean in each era's form (Era.tryToUnmapNotify: the eras that changed rmap.c changed it too, or not). */
const MKCLEAN: Record<string, Site> = {
  // fs/dax.c v4.10.17: spin_unlock(ptl); … if (changed) mmu_notifier_invalidate_page(vma->vm_mm, address)
  'invalidate-page-after-ptl': site('fs/dax.c', 'dax_mapping_entry_mkclean', 'v4.10'),
  // fs/dax.c v4.12: the same (invalidate_page after spin_unlock(ptl): not under the PMD lock)
  'invalidate-page-under-ptl': site('fs/dax.c', 'dax_mapping_entry_mkclean', 'v4.12', 'invalidate_page after the PMD lock is dropped, as in v4.10'),
  'invalidate-range-after-walk': site('fs/dax.c', 'dax_mapping_entry_mkclean', 'aac2fea9', '[U] aac2fea9 taken to touch mm/rmap.c only: fs/dax.c as in v4.12'),
  // fs/dax.c v4.13.19: follow_pte_pmd(…, &start, &end, …) opens range_start; invalidate_range under the lock; range_end
  bracket: site('fs/dax.c', 'dax_mapping_entry_mkclean', 'v4.13'),
};
const FOLLOW = site('mm/memory.c', 'follow_pte_pmd → __follow_pte_pmd: pmd_lock (pmd_huge)', 'v4.12');
const FLUSH_68 = site('arch/x86/mm/tlb.c', 'pmdp_invalidate → flush_tlb_mm_range', 'v6.8', 'v6.8 fs/dax.c dax_entry_mkclean → pfn_mkclean_range → mm/rmap.c page_vma_mkclean_one: modelled with the v4.13 steps otherwise');
const FOLLOW_413 = site('mm/memory.c', '__follow_pte_pmd: *start = address & PMD_MASK; mmu_notifier_invalidate_range_start', 'v4.13');

/**
 * The PMD level of `__handle_mm_fault()` on the DAX VMA (mm/memory.c v4.12): a none PMD is
 * create_huge_pmd → dax_iomap_pmd_fault; a present one is wp_huge_pmd → dax_iomap_pmd_fault for a
 * write to a read-only PMD, else huge_pmd_set_accessed. Always `'done'` (no PTE fallback here).
 */
export function* daxHugePmdFault(kc: KernelContext, vpn: number, write: boolean): Gen<'done'> {
  const pmd = yield* h.pmdRead(vpn, HUGE_FAULT);
  if (pmd !== null && pmd !== 'table' && !(write && !pmd.writable)) {
    yield* hugePmdSetAccessed(vpn, pmd, write);
    return 'done';
  }
  yield* daxIomapPmdFault(kc, vpn, write);
  return 'done';
}

/**
 * `dax_iomap_pmd_fault()` (fs/dax.c v4.12; v4.10.17 and v4.13.19 the same steps): lock the PMD
 * entry; `dax_pmd_insert_mapping` → `vmf_insert_pfn_pmd(vma, address, pmd, pfn, write)`:
 * insert_pfn_pmd sets the huge devmap PMD under the PMD lock — for a write dirty, young and writable
 * (maybe_pmd_mkwrite: the VMA is VM_WRITE|VM_SHARED), for a read read-only (vm_page_prot of a
 * write-notify VMA) — over whatever PMD is there; unlock the entry.
 */
function* daxIomapPmdFault(kc: KernelContext, vpn: number, write: boolean): Gen {
  const d = kc.dax!;
  const r = Math.floor(vpn / hpageNr(kc));
  const haddr = haddrVpn(kc, vpn);
  const ext = d.extents[r];
  yield* p.note(`vma->vm_ops->huge_fault(vmf, PE_SIZE_PMD) = dax_iomap_pmd_fault(${hex(addressOf(haddr))}, ${write ? 'write' : 'read'})`, PMD_FAULT);
  yield* p.mutexLock(d.entryLock[r], GRAB);
  yield* p.spinLock(PTL, INSERT);
  const entry: Pmd = { pfn: ext.pfn, generation: ext.generation, writable: write, dirty: write, young: write };
  yield* h.pmdSet(haddr, entry, INSERT, 'insert_pfn_pmd: set_pmd_at');
  yield* p.spinUnlock(PTL, INSERT);
  yield* p.mutexUnlock(d.entryLock[r], PUT_ENTRY);
}

/**
 * `dax_mapping_entry_mkclean(mapping, index, pfn)` for the one VMA (the caller holds the entry
 * lock), in the era's form (see the file header). Returns whether the PMD was cleaned.
 */
function* daxMappingEntryMkclean(kc: KernelContext, r: number, vmaPages: number): Gen<boolean> {
  const era = kc.era;
  const at = MKCLEAN[era.tryToUnmapNotify];
  const d = kc.dax!;
  const nr = hpageNr(kc);
  const haddr = r * nr;
  const address = addressOf(haddr); // pgoff_address(index, vma): the PMD entry's index is aligned
  const bracket = era.tryToUnmapNotify === 'bracket';
  yield* p.downRead(kc.file!.iMmapRwsem, RMAP);
  if (haddr + nr > vmaPages) {
    yield* p.upRead(kc.file!.iMmapRwsem, RMAP);
    return false;
  }
  // v4.13: __follow_pte_pmd: *start = address & PMD_MASK; *end = *start + PMD_SIZE; range_start before pmd_lock
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_PROTECTION_PAGE', address, address + nr * PAGE_SIZE);
  if (bracket) yield* invalidateRangeStart(kc, range, FOLLOW_413);
  yield* p.spinLock(PTL, FOLLOW);
  const pmd = yield* h.pmdRead(haddr, at);
  let changed = false;
  const ext = d.extents[r];
  if (pmd !== null && pmd !== 'table' && pmd.pfn === ext.pfn && (pmd.dirty || pmd.writable)) {
    // flush_cache_page; pmd = pmdp_huge_clear_flush; pmd_wrprotect; pmd_mkclean; set_pmd_at
    // (the model's PmdClear with removeRmap and the PmdSet of the same extent keep compound_mapcount right)
    const old = (yield* h.pmdClear(haddr, true, true, at))!;
    // v6.6+: the PMD flush (v6.8 page_vma_mkclean_one: pmdp_invalidate → flush_tlb_mm_range) → ->arch_invalidate_secondary_tlbs
    if (bracket && era.secondaryTlbs === 'arch-tlb-flush') yield* archInvalidateSecondaryTlbs(kc, range, FLUSH_68);
    yield* h.pmdSet(haddr, { ...old, writable: false, dirty: false }, at, 'pmd_wrprotect(pmd_mkclean(pmd)); set_pmd_at');
    changed = true;
    // v4.13: mmu_notifier_invalidate_range(vma->vm_mm, start, end) before spin_unlock(ptl); v4.15 … v5.7 not
    // ("No need to call mmu_notifier_invalidate_range() as we are downgrading page table protection")
    if (bracket && era.secondaryTlbs === 'invalidate-range' && era.mkcleanInvalidateRange) yield* invalidateRange(kc, range, at);
  }
  yield* p.spinUnlock(PTL, at);
  // ≤ v4.12 (and aac2fea9's fs/dax.c): if (changed) mmu_notifier_invalidate_page(vma->vm_mm, address),
  // one address for the whole PMD: the page it names is the 2^order-page extent
  if (changed && !bracket) yield* invalidatePage(kc, address, at, nr * PAGE_SIZE);
  if (bracket) yield* invalidateRangeEnd(kc, range, at);
  yield* p.upRead(kc.file!.iMmapRwsem, RMAP);
  return changed;
}

/**
 * Writeback of the DAX extent holding file page `index` (a `writeback` thread on a `dax`
 * scenario): `dax_writeback_mapping_range` → `dax_writeback_one` (fs/dax.c v4.12): lock the PMD
 * entry, dax_mapping_entry_mkclean, wb_cache_pmem (the CPU caches are written back to pmem: the
 * data as it is now), unlock the entry.
 */
export function* daxWritebackPage(kc: KernelContext, index: number, vmaPages: number): Gen {
  const d = kc.dax!;
  const r = Math.floor(index / hpageNr(kc));
  yield* p.note(`dax_writeback_one(index ${r * hpageNr(kc)}, PMD entry)`, WB_ONE);
  yield* p.mutexLock(d.entryLock[r], WB_LOCK);
  yield* daxMappingEntryMkclean(kc, r, vmaPages);
  yield* p.note(`wb_cache_pmem(${hex(addressOf(r * hpageNr(kc)))}, ${hpageNr(kc) * PAGE_SIZE})`, WB_CACHE);
  yield* p.mutexUnlock(d.entryLock[r], PUT_ENTRY);
}
