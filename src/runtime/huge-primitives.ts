/**
 * The transparent-huge-page primitives (mm/huge_memory.c, include/linux/huge_mm.h), as effects:
 * each yields exactly one effect and returns what the runtime sends back, like primitives.ts.
 * Their semantics are in apply-huge.ts; only core-VM code (src/kernel/) uses them.
 */
import type { CompoundHeadRef } from './apply-huge';
import { effect, Op, type Effect } from './effect';
import { addressOf, hex, type Pmd } from './machine';
import type { Gen, PageRef } from './primitives';
import type { Site } from './site';

function* step<T>(e: Effect): Gen<T> {
  return (yield e) as T;
}

/** `alloc_hugepage_vma()` + `prep_transhuge_page()` (`gfpKernel`: may sleep). Returns the head, with one reference. */
export function allocHugePage(gfpKernel: boolean, at: Site): Gen<PageRef> {
  return step(effect(Op.AllocHugePage, at, 0, gfpKernel ? 1 : 0, 0, undefined, `alloc_hugepage_vma(${gfpKernel ? 'GFP_TRANSHUGE' : 'GFP_ATOMIC'}, HPAGE_PMD_ORDER)`));
}

/**
 * `mm_get_huge_zero_page(mm)`: the huge zero page (allocated by its first user, `get_huge_zero_page`:
 * GFP_TRANSHUGE, may sleep), its head.
 */
export function hugeZeroPage(at: Site): Gen<PageRef> {
  return step(effect(Op.AllocHugePage, at, 0, 1, 2, undefined, 'mm_get_huge_zero_page(mm)'));
}

/** The PMD of the region holding `vpn`: its huge PMD, `'table'` (a PTE table) or null (`pmd_none`). */
export function pmdRead(vpn: number, at: Site): Gen<Pmd | 'table' | null> {
  return step(effect(Op.PmdRead, at, vpn, 0, 0, undefined, `read PMD of ${hex(addressOf(vpn))}`));
}

/**
 * `set_pmd_at(mm, haddr, pmd, entry)`; a new mapping is also `page_add_new_anon_rmap(page, vma, haddr, true)`.
 * Over a NUMA hinting PMD of another THP (migrate_misplaced_transhuge_page v4.15+: set_pmd_at over
 * the protnone PMD without clearing it) also `page_add_anon_rmap(new)` and `page_remove_rmap(old)`.
 */
export function pmdSet(vpn: number, pmd: Pmd, at: Site, what = 'set_pmd_at'): Gen {
  const text = pmd.migration
    ? `${what}(${hex(addressOf(vpn))}, PMD migration entry of pfn ${pmd.pfn}/g${pmd.generation}, ${pmd.writable ? 'write' : 'read'})`
    : `${what}(${hex(addressOf(vpn))}, pfn ${pmd.pfn}/g${pmd.generation} huge ${pmd.protnone ? `PROT_NONE${pmd.writable ? ' (saved write)' : ''}` : pmd.writable ? 'rw' : 'ro'}${pmd.dirty ? ' dirty' : ''})`;
  return step(effect(Op.PmdSet, at, vpn, 0, 0, pmd, text));
}

/**
 * `pmdp_huge_get_and_clear[_full]()` (`flush`: `pmdp_huge_clear_flush()`); with `removeRmap` the same
 * step does `page_remove_rmap(page, true)` (both under the PMD lock). Returns the old huge PMD.
 */
export function pmdClear(vpn: number, flush: boolean, removeRmap: boolean, at: Site): Gen<Pmd | null> {
  const text = `${flush ? 'pmdp_huge_clear_flush' : 'pmdp_huge_get_and_clear_full'}(${hex(addressOf(vpn))})${removeRmap ? '; page_remove_rmap(page, true)' : ''}`;
  return step(effect(Op.PmdClear, at, vpn, flush ? 1 : 0, removeRmap ? 1 : 0, undefined, text));
}

/** `__split_huge_pmd_locked(vma, pmd, haddr, freeze)`: whether there was a huge PMD to split. */
export function pmdSplit(vpn: number, freeze: boolean, at: Site): Gen<boolean> {
  const text = `__split_huge_pmd_locked(${hex(addressOf(vpn))}, freeze = ${freeze}): ${freeze ? 'a migration entry' : 'a PTE'} per subpage; pmd_populate`;
  return step(effect(Op.PmdSplit, at, vpn, freeze ? 1 : 0, 0, undefined, text));
}

/** `compound_head(page)` and `compound_order()` of it; null if the page was freed meanwhile (no reference is held). */
export function compoundHead(page: PageRef, at: Site): Gen<CompoundHeadRef | null> {
  return step(effect(Op.CompoundHead, at, page.pfn, page.generation, 0, undefined, `compound_head(pfn ${page.pfn}/g${page.generation}), compound_order()`));
}

/** `[page_count(page), total_mapcount(page), compound_mapcount(page)]` of the page's head. */
export function pageCount(page: PageRef, at: Site): Gen<[number, number, number]> {
  return step(effect(Op.PageCount, at, page.pfn, page.generation, 0, undefined, `page_count(), total_mapcount(pfn ${page.pfn}/g${page.generation})`));
}

/** `if (!total_mapcount(head) && page_ref_freeze(head, expected)) __split_huge_page(...)`: whether the THP was split. */
export function splitHugePage(head: PageRef, expected: number, at: Site): Gen<boolean> {
  const text = `!total_mapcount && page_ref_freeze(pfn ${head.pfn}/g${head.generation}, ${expected}): __split_huge_page`;
  return step(effect(Op.SplitHugePage, at, head.pfn, head.generation, expected, undefined, text));
}
