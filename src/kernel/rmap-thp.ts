/**
 * mm/rmap.c: try_to_unmap() of a transparent huge page, in each era's form (Era.tryToUnmapNotify),
 * as rmap.ts does for an order-0 page. The walk (page_vma_mapped_walk, v4.11+) visits every PTE that
 * maps a subpage of the THP, under the PTL, with `address = pvmw.address` each time; the range
 * arithmetic is generic in compound_order(page):
 * - v4.10: freeze_page calls try_to_unmap(page + i) per subpage, each a page_check_address of one
 *   PTE and `invalidate_page(address)` of that subpage's address after the PTL;
 * - v4.12: `mmu_notifier_invalidate_page(mm, address)` per PTE, under the PTL, each with its own
 *   address (mm/rmap.c v4.12 lines 1340, 1468): a 4 KiB-per-call invalidate_page user hears of
 *   every subpage;
 * - aac2fea9: after the walk, one `mmu_notifier_invalidate_range(mm, address, address + (1UL <<
 *   compound_order(page)))`, `address` the last PTE visited (Andrea Arcangeli's bugs 2 and 3);
 * - v4.13+: `start = address` (the rmap walk's, `vma_address()`), `end = min(vma->vm_end, start +
 *   (PAGE_SIZE << compound_order(page)))`, range_start, ->invalidate_range per PTE, range_end.
 * From v5.11 split_huge_page freezes through try_to_migrate() → try_to_migrate_one() (mm/rmap.c,
 * mm/huge_memory.c unmap_folio v6.8, with TTU_BATCH_FLUSH); the v6.6 era keeps try_to_unmap_one's
 * bracket and a flush per PTE for it, which tells the notifiers the same ranges [U: the two were not
 * compared line by line].
 */
import { PAGE_SIZE, addressOf, hex } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import { PUT_REMOVE_RMAP, type Gen, type PageRef } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { flushPmdTlbRange, haddrVpn, hpageNr, splitHugePmdAddress } from './huge_memory';
import { ANON_VMA_RWSEM, PTL } from './mm';
import { ALL_END, PAGE_RANGE, invalidatePage, invalidateRange, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, secondaryTlbInvalidate } from './mmu_notifier';
import { TRY_TO_UNMAP_SITES } from './rmap';

const RMAP_WALK = site('mm/rmap.c', 'rmap_walk_anon: anon_vma_interval_tree_foreach → vma_address', 'v4.13');
const TLBBATCH = site('arch/x86/include/asm/tlbflush.h', 'arch_tlbbatch_add_pending', 'v6.8');
const FLUSH_PAGE = site('arch/x86/mm/tlb.c', 'ptep_clear_flush → flush_tlb_page → flush_tlb_mm_range', 'v6.8');

/** The try_to_unmap flags the THP paths use. */
export interface TtuFlags {
  /** TTU_MIGRATION (v4.19: TTU_SPLIT_FREEZE): migration entries instead of swap entries; split PMDs with freeze. */
  readonly migration: boolean;
  /** TTU_SPLIT_HUGE_PMD: split a huge PMD first (split_huge_pmd_address, with its own bracket). */
  readonly splitHugePmd: boolean;
  /** TTU_RMAP_LOCKED: the caller holds the anon_vma lock (split_huge_page_to_list holds it for write). */
  readonly rmapLocked: boolean;
  /** TTU_BATCH_FLUSH (reclaim): the CPU TLB flush is deferred (set_tlb_ubc_flush_pending). */
  readonly batch: boolean;
}

/** A VMA mapping part of the THP: the vpns `[first, end)` of its subpages it holds, and its `vm_end`. */
interface VmaPart {
  readonly first: number;
  readonly end: number;
  readonly vmEnd: number;
}

/**
 * rmap_walk_anon's VMAs for the THP at `headVpn`: runs of the subpages' vpns that lie in a VMA, each
 * with `vma->vm_end` (looked up to `first + HPAGE_PMD_NR`, as far as `end` can reach).
 */
function* vmaParts(kc: KernelContext, headVpn: number, vmaPages: number): Gen<VmaPart[]> {
  const nr = hpageNr(kc);
  const parts: VmaPart[] = [];
  let first = -1;
  for (let v = headVpn; v <= headVpn + nr; v++) {
    const inVma = v < Math.min(vmaPages, headVpn + nr) && (yield* p.vmaLookup(v, RMAP_WALK));
    if (inVma && first < 0) first = v;
    if (!inVma && first >= 0) {
      let vmEnd = v;
      if (v === headVpn + nr) while (vmEnd < Math.min(vmaPages, first + nr) && (yield* p.vmaLookup(vmEnd, RMAP_WALK))) vmEnd++;
      parts.push({ first, end: v, vmEnd });
      first = -1;
    }
  }
  return parts;
}

/**
 * One PTE of the THP, under the PTL: clear it (deferred CPU flush in reclaim, ptep_clear_flush
 * otherwise), the dirty bit to the THP, a swap entry (`page_private(subpage)`) or a migration entry
 * (`make_migration_entry(subpage, pte_write(pteval))`), `page_remove_rmap(subpage)` + `put_page(page)`.
 */
function* unmapSubpage(sub: PageRef, vpn: number, flags: TtuFlags, at: Site): Gen {
  const old = yield* p.pteClear(vpn, !flags.batch, false, at);
  if (old?.dirty) yield* p.setPageDirty(sub, at); // set_page_dirty(page): PG_dirty is the head's
  const entry = flags.migration
    ? { pfn: sub.pfn, generation: sub.generation, writable: old?.writable ?? false, dirty: false, young: false, swap: true, migration: true }
    : { pfn: sub.pfn, generation: sub.generation, writable: false, dirty: false, young: false, swap: true };
  yield* p.pteSet(vpn, entry, at);
  yield* p.putPage(sub, at, PUT_REMOVE_RMAP);
}

const SET_PMD_MIGRATION = site('mm/huge_memory.c', 'set_pmd_migration_entry', 'v4.19', 'v6.8 the same with folio_try_share_anon_rmap_pmd, which fails only for a maybe-DMA-pinned THP (FOLL_PIN: no modelled driver)');
const SET_PMD_FLUSH = site('mm/pgtable-generic.c', 'set_pmd_migration_entry → pmdp_invalidate → flush_pmd_tlb_range', 'v4.19');
const SET_PMD_FLUSH_68 = site('arch/x86/mm/tlb.c', 'pmdp_invalidate → flush_pmd_tlb_range → flush_tlb_mm_range', 'v6.8');

/**
 * `set_pmd_migration_entry(pvmw, page)` under the PMD lock, if the PMD still maps the THP: pmdp_invalidate
 * (the CPU TLB flush; from v6.6 also ->arch_invalidate_secondary_tlbs; no ->invalidate_range: that is
 * range_end's), the dirty bit to the THP, `set_pmd_at(swp_entry_to_pmd(make_migration_entry(page,
 * pmd_write(pmdval))))`, page_remove_rmap(page, true), put_page(page). The model sets the entry first,
 * then flushes (a lockless walk in between waits for the PMD lock).
 */
function* setPmdMigrationEntry(kc: KernelContext, head: PageRef, vpn: number): Gen {
  const pmd = yield* h.pmdRead(vpn, SET_PMD_MIGRATION);
  if (pmd === null || pmd === 'table' || pmd.migration || pmd.pfn !== head.pfn || pmd.generation !== head.generation) return;
  yield* h.pmdSet(vpn, { pfn: head.pfn, generation: head.generation, writable: pmd.writable, dirty: false, young: false, migration: true }, SET_PMD_MIGRATION, 'pmdp_invalidate; set_pmd_at');
  yield* flushPmdTlbRange(kc, haddrVpn(kc, vpn), SET_PMD_FLUSH, SET_PMD_FLUSH_68);
  if (pmd.dirty) yield* p.setPageDirty(head, SET_PMD_MIGRATION);
  yield* p.putPage(head, SET_PMD_MIGRATION); // page_remove_rmap(page, true) was the set's; put_page(page)
}

/** The PTE at `vpn` maps a subpage of the THP `head` (page_vma_mapped_walk's check_pte): that subpage. */
function* mappedSubpage(head: PageRef, nr: number, vpn: number, at: Site): Gen<PageRef | null> {
  const pte = yield* p.pteRead(vpn, at);
  if (pte === null || pte.swap || pte.huge || pte.pfn < head.pfn || pte.pfn >= head.pfn + nr || pte.generation !== head.generation) return null;
  return { pfn: pte.pfn, generation: pte.generation };
}

/**
 * `try_to_unmap(page, flags)` of the THP `head` mapped from `headVpn`: rmap_walk_anon (anon_vma
 * rwsem for read, unless the caller holds it) calls try_to_unmap_one for each VMA part. Returns
 * `!page_mapcount(page)`.
 */
export function* tryToUnmapThp(kc: KernelContext, head: PageRef, headVpn: number, vmaPages: number, flags: TtuFlags): Gen<boolean> {
  if (!flags.rmapLocked) yield* p.downRead(ANON_VMA_RWSEM, RMAP_WALK);
  for (const part of yield* vmaParts(kc, headVpn, vmaPages)) yield* tryToUnmapOneThp(kc, head, headVpn, part, flags);
  if (!flags.rmapLocked) yield* p.upRead(ANON_VMA_RWSEM, RMAP_WALK);
  return (yield* p.pageMapcount(head, RMAP_WALK)) === 0;
}

function* tryToUnmapOneThp(kc: KernelContext, head: PageRef, headVpn: number, part: VmaPart, flags: TtuFlags): Gen {
  const era = kc.era;
  const { ttu, walk } = TRY_TO_UNMAP_SITES[era.tryToUnmapNotify];
  const nr = hpageNr(kc);
  const order = kc.thpOrder ?? 0;
  // rmap_walk_anon: address = vma_address(page, vma) = max(head's address, vma->vm_start)
  const address = addressOf(part.first);
  if (flags.splitHugePmd) yield* splitHugePmdAddress(kc, part.first, flags.migration, head);
  if (era.tryToUnmapNotify === 'invalidate-page-after-ptl') {
    // v4.10 freeze_page: try_to_unmap(page + i) per subpage; try_to_unmap_one: page_check_address
    // (one PTE), unmap under the PTL, pte_unmap_unlock, mmu_notifier_invalidate_page(mm, address)
    for (let v = part.first; v < part.end; v++) {
      yield* p.spinLock(PTL, walk);
      const sub = yield* mappedSubpage(head, nr, v, walk);
      if (sub) yield* unmapSubpage(sub, v, flags, ttu);
      yield* p.spinUnlock(PTL, walk);
      if (sub) yield* invalidatePage(kc, addressOf(v), ttu);
    }
    return;
  }
  // v4.13: "We have to assume the worse case ie pmd for invalidation."
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', address, Math.min(addressOf(part.vmEnd), address + (PAGE_SIZE << order)));
  if (era.tryToUnmapNotify === 'bracket') yield* invalidateRangeStart(kc, range, ttu);
  yield* p.spinLock(PTL, walk);
  // a PMD mapping of the THP (page_vma_mapped_walk: pvmw.pmd && !pvmw.pte), met only by a whole-THP
  // migration (v4.15+: every other caller splits the PMD first): set_pmd_migration_entry
  if (flags.migration && era.thpMigration === 'whole') yield* setPmdMigrationEntry(kc, head, part.first);
  let last = -1; // pvmw.address of the last PTE the walk unmapped
  for (let v = part.first; v < part.end; v++) {
    const sub = yield* mappedSubpage(head, nr, v, walk);
    if (!sub) continue;
    yield* unmapSubpage(sub, v, flags, ttu);
    last = addressOf(v);
    // a migration entry (TTU_MIGRATION, v4.19 TTU_SPLIT_FREEZE): v4.15 … v6.5 "No need to invalidate here
    // it will synchronize on against the special swap migration pte" (Era.migrationEntryInvalidateRange)
    const skip = flags.migration && !era.migrationEntryInvalidateRange && era.secondaryTlbs === 'invalidate-range';
    if (era.tryToUnmapNotify === 'bracket' && !skip) {
      // v4.13 … v6.5: mmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE) under the PTL;
      // v6.6+: arch_tlbbatch_add_pending (0, -1UL) in reclaim, flush_tlb_page otherwise
      const r = era.secondaryTlbs === 'invalidate-range' || !flags.batch ? PAGE_RANGE(last) : { start: 0, end: ALL_END };
      yield* secondaryTlbInvalidate(kc, r, ttu, flags.batch ? TLBBATCH : FLUSH_PAGE);
    }
    if (era.tryToUnmapNotify === 'invalidate-page-under-ptl') yield* invalidatePage(kc, last, ttu);
  }
  yield* p.spinUnlock(PTL, walk);
  if (era.tryToUnmapNotify === 'invalidate-range-after-walk' && last >= 0) {
    // if (invalidation_needed) mmu_notifier_invalidate_range(mm, address, address + (1UL << compound_order(page)))
    const shape = era.rangeAfterWalk ?? { lengthInPages: false, startAtLastPte: false };
    const size = PAGE_SIZE << order;
    const len = shape.lengthInPages ? 1 << order : size;
    const start = shape.startAtLastPte ? last : last & ~(size - 1); // the aligned start Andrea asked for
    yield* p.note(`the walk ended at ${hex(last)}: invalidate [${hex(start)}, ${hex(start + len)})`, ttu);
    yield* invalidateRange(kc, { start, end: start + len }, ttu);
  }
  if (era.tryToUnmapNotify === 'bracket') yield* invalidateRangeEnd(kc, range, ttu);
}
