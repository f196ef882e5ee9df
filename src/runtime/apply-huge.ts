/**
 * The semantics of the transparent-huge-page effects (effect.ts `AllocHugePage` … `SplitHugePage`),
 * and the compound-page rules the page effects of apply.ts follow:
 *
 * - a THP is 2^thpOrder consecutive pfns; the head carries the refcount (`get_page`/`put_page` go
 *   to `compound_head()`), `PG_locked`, `PG_dirty` and `PG_swapcache` (include/linux/page-flags.h
 *   v4.13: PF_NO_TAIL / PF_HEAD), and `compound_mapcount` (huge PMDs); each subpage has its own
 *   `_mapcount` (PTEs) and generation;
 * - a THP is freed whole: every subpage goes free and gets its generation bumped (`free_compound_page`);
 * - a huge PMD maps the aligned region of 2^thpOrder pages; a page-table read of an address under it
 *   returns its subpage's view (`Pte.huge`); PTE effects on such an address are a checker bug.
 */
import { Op, type Effect } from './effect';
import { InternalError, ModelError } from './errors';
import { ZERO_PFN, isHugeZero, newPage, pageTableEntry, type Machine, type Pmd, type Pte } from './machine';
import { dropRef, mappingChanged, pageOf } from './apply';
import type { PageRef } from './primitives';

/** What `CompoundHead` returns. */
export interface CompoundHeadRef extends PageRef {
  /** `compound_order()` of the head: 0 for an order-0 page. */
  readonly order: number;
}

function region(m: Machine, vpn: number): number {
  if (m.thpOrder === 0) throw new InternalError(`a PMD effect at vpn ${vpn} on a machine without THP`);
  return vpn >> m.thpOrder;
}

/** The subpage view of a huge PMD at `vpn` (no PTE there), or null when no huge PMD maps it. */
export function hugeView(m: Machine, vpn: number): Pte | null {
  return pageTableEntry(m, vpn);
}

/** A PTE effect at `vpn` under a huge PMD: the core-VM model forgot `pmd_trans_huge()` (split or zap the PMD first). */
export function assertNoHugePmd(m: Machine, vpn: number, what: string): void {
  if (m.thpOrder > 0 && m.pmds[vpn >> m.thpOrder]) {
    throw new InternalError(`${what} at vpn ${vpn}, which a huge PMD maps: a call site is not THP-aware (pmd_trans_huge() not checked)`);
  }
}

/** Every subpage of the region's huge PMD changed its mapping (a PMD change is a change of each page it mapped). */
function regionChanged(m: Machine, tid: number, r: number) {
  const nr = 1 << m.thpOrder;
  for (let v = r * nr; v < (r + 1) * nr && v < m.nPages; v++) mappingChanged(m, tid, v);
}

/** `alloc_hugepage_vma()`: a freed THP's pfns again (LIFO), else 2^order new pfns. */
function allocHugePage(m: Machine): PageRef {
  const nr = 1 << m.thpOrder;
  if (m.thpOrder === 0) throw new InternalError('alloc_hugepage_vma on a machine without THP');
  let head = m.freeHuge.pop();
  if (head === undefined) {
    head = m.pages.length;
    for (let i = 0; i < nr; i++) m.pages.push(newPage());
  }
  for (let i = 0; i < nr; i++) {
    const p = m.pages[head + i];
    p.free = false;
    p.refcount = i === 0 ? 1 : 0;
    p.mapcount = 0;
    p.order = i === 0 ? m.thpOrder : 0;
    p.compoundHead = i === 0 ? -1 : head;
    p.compoundMapcount = 0;
  }
  return { pfn: head, generation: m.pages[head].generation };
}

/** What a PMD read or clear returns: the stored PMD, with `zero` (is_huge_zero_pmd) derived from its pfn. */
function pmdView(m: Machine, pmd: Pmd): Pmd {
  return isHugeZero(m, pmd.pfn) ? { ...pmd, zero: true } : { ...pmd };
}

function pmdSet(m: Machine, tid: number, e: Effect) {
  const r = region(m, e.a);
  const { zero: _derived, ...pmd } = e.d as Pmd; // `zero` is not stored: pmdView derives it
  const old = m.pmds[r];
  if (!old && m.pteTables[r]) throw new InternalError(`set_pmd_at over a PTE table at vpn ${e.a}`);
  const present = old !== null && !old.migration;
  if (pmd.migration) {
    // set_pmd_migration_entry: pmdp_invalidate; set_pmd_at(swp_entry_to_pmd(entry)); page_remove_rmap(page, true)
    // (the reference goes in the put_page after it); over a migration entry (mprotect, fork making it read): nothing else
    if (present) {
      m.pages[old.pfn].compoundMapcount--;
      if (!old.protnone) regionChanged(m, tid, r);
    }
    m.pmds[r] = { ...pmd };
    return;
  }
  if (present && old.pfn !== pmd.pfn && !old.protnone) throw new ModelError(`set_pmd_at over a present huge PMD mapping pfn ${old.pfn}`);
  if (isHugeZero(m, pmd.pfn)) {
    // set_huge_zero_page: set_pmd_at(mk_pmd(zero_page)) with no rmap (and mprotect's pmd_modify of it)
    if (present && !isHugeZero(m, old.pfn)) throw new ModelError(`set_pmd_at of the huge zero page over a present huge PMD mapping pfn ${old.pfn}`);
    if (present && old.writable && !pmd.writable) regionChanged(m, tid, r);
    m.pmds[r] = { ...pmd };
    return;
  }
  if (present && isHugeZero(m, old.pfn)) {
    // do_huge_pmd_wp_page on the huge zero page (≤ v5.7): the new THP replaces it (its clear comes first)
    throw new InternalError('set_pmd_at over the huge zero PMD without clearing it');
  }
  if (!present || old.pfn !== pmd.pfn) {
    const head = pageOf(m, pmd.pfn, pmd.generation, 'set_pmd_at');
    if (head.order !== m.thpOrder) throw new InternalError(`set_pmd_at of pfn ${pmd.pfn}, which is not a THP head`);
    head.compoundMapcount++; // page_add_new_anon_rmap(page, vma, haddr, true) (remove_migration_pmd: page_add_anon_rmap)
    // over a NUMA hinting PMD (no CPU or IOMMU walk could use it): the old THP's page_remove_rmap(page, true)
    if (present) m.pages[old.pfn].compoundMapcount--;
  } else if (!old.protnone && (old.generation !== pmd.generation || (old.writable && !pmd.writable) || pmd.protnone)) {
    regionChanged(m, tid, r);
  }
  m.pmds[r] = { ...pmd };
}

function pmdClear(m: Machine, tid: number, e: Effect): Pmd | null {
  const r = region(m, e.a);
  const old = m.pmds[r];
  if (!old) return null;
  m.pmds[r] = null;
  // a PMD migration entry holds no rmap (zap_huge_pmd v4.15+: "flush_needed = 0", no page_remove_rmap)
  if (e.c === 1 && !old.migration && !isHugeZero(m, old.pfn)) m.pages[old.pfn].compoundMapcount--; // page_remove_rmap(page, true)
  if (!old.protnone && !old.migration) regionChanged(m, tid, r);
  return pmdView(m, old);
}

/**
 * `__split_huge_pmd_locked()` (mm/huge_memory.c v4.13) for an anonymous THP: `page_ref_add(page,
 * HPAGE_PMD_NR - 1)`; one PTE per subpage (present with the PMD's write and young bits, or with
 * `freeze` a migration entry), `atomic_inc(&page[i]._mapcount)`, `SetPageDirty` if the PMD was dirty;
 * the compound mapcount goes; `pmd_populate()`; with `freeze`, `page_remove_rmap` + `put_page` per
 * subpage. A split to present PTEs of the same pages changes no mapping; a freeze changes all. A
 * NUMA hinting PMD splits into ordinary PTEs (mk_pte(page + i, vma->vm_page_prot), v4.13 … v6.8).
 */
function pmdSplit(m: Machine, tid: number, e: Effect): boolean {
  const r = region(m, e.a);
  const old = m.pmds[r];
  if (!old) return false; // !pmd_trans_huge(*pmd): goto out
  const nr = 1 << m.thpOrder;
  const head = m.pages[old.pfn];
  if (old.migration) {
    // __split_huge_pmd_locked of a PMD migration entry: a migration entry per subpage (write as the
    // PMD's). v6.8 takes no reference and no mapcount for them; v4.15 … v5.7 also did page_ref_add and
    // a _mapcount per subpage and dropped a compound mapcount the entry no longer held (mended later
    // upstream [U: which commit]): that accounting is not modelled
    for (let i = 0; i < nr; i++) {
      const v = r * nr + i;
      if (m.ptes[v] !== null) throw new InternalError(`__split_huge_pmd_locked: BUG_ON(!pte_none(*pte)) at vpn ${v}`);
      m.ptes[v] = { pfn: old.pfn + i, generation: m.pages[old.pfn + i].generation, writable: old.writable, dirty: false, young: false, swap: true, migration: true };
    }
    m.pmds[r] = null;
    m.pteTables[r] = true;
    return true;
  }
  if (isHugeZero(m, old.pfn)) {
    // __split_huge_zero_page_pmd: pmdp_huge_clear_flush(_notify ≤ v4.13); a special PTE of the (4 KiB) zero
    // page per subpage (pfn_pte(my_zero_pfn(addr)), pte_mkspecial); no rmap, no reference. Zero page for zero
    // page, read-only both: "it is fine if the secondary mmu keeps pointing to the old zero page" (v4.19)
    for (let i = 0; i < nr; i++) {
      const v = r * nr + i;
      if (m.ptes[v] !== null) throw new InternalError(`__split_huge_zero_page_pmd: pte not none at vpn ${v}`);
      m.ptes[v] = { pfn: ZERO_PFN, generation: 0, writable: false, dirty: false, young: false, swap: false };
    }
    m.pmds[r] = null;
    m.pteTables[r] = true;
    return true;
  }
  const freeze = e.b === 1;
  for (let i = 0; i < nr; i++) {
    const v = r * nr + i;
    if (m.ptes[v] !== null) throw new InternalError(`__split_huge_pmd_locked: BUG_ON(!pte_none(*pte)) at vpn ${v}`);
    const pfn = old.pfn + i;
    const generation = m.pages[pfn].generation;
    m.ptes[v] = freeze
      ? { pfn, generation, writable: old.writable, dirty: false, young: false, swap: true, migration: true }
      : { pfn, generation, writable: old.writable, dirty: false, young: old.young, swap: false };
    if (!freeze) m.pages[pfn].mapcount++;
  }
  if (old.dirty) head.dirty = true;
  head.compoundMapcount--;
  m.pmds[r] = null;
  m.pteTables[r] = true;
  if (freeze) {
    if (!old.protnone) regionChanged(m, tid, r);
    dropRef(m, old.pfn); // + (HPAGE_PMD_NR - 1), then one put_page per subpage: the PMD's reference goes
  } else {
    head.refcount += nr - 1; // one reference per PTE instead of one for the PMD
  }
  return true;
}

/** `total_mapcount()` of the THP headed at `head` (no PageDoubleMap: a THP is PMD- or PTE-mapped, not both). */
function totalMapcount(m: Machine, head: number): number {
  const h = m.pages[head];
  let n = h.compoundMapcount;
  for (let i = 0; i < 1 << h.order; i++) n += m.pages[head + i].mapcount;
  return n;
}

/**
 * split_huge_page_to_list (mm/huge_memory.c v4.13): `if (!mapcount && page_ref_freeze(head, 1 +
 * extra_pins))` then `__split_huge_page()`: every subpage becomes an order-0 page; tails inherit
 * PG_swapcache, PG_swapbacked, PG_dirty and PG_locked (`__split_huge_page_tail`) and get `1 + PageSwapCache` from
 * `page_ref_unfreeze` plus the reference `lru_add_page_tail` takes for the reclaim list; the head
 * gets `page_ref_add(head, 2)` in the swap cache, else `page_ref_inc(head)`. The caller remaps the
 * migration entries, then unlocks and puts each tail (the end of __split_huge_page).
 */
function splitHugePage(m: Machine, e: Effect): boolean {
  const h = pageOf(m, e.a, e.b, 'split_huge_page');
  if (h.order === 0 || h.compoundHead >= 0) throw new InternalError(`split_huge_page of pfn ${e.a}, which is not a THP head`);
  if (totalMapcount(m, e.a) !== 0 || h.refcount !== e.c) return false;
  const nr = 1 << h.order;
  const sc = h.swapCache ? 1 : 0;
  for (let i = 1; i < nr; i++) {
    const t = m.pages[e.a + i];
    t.compoundHead = -1;
    t.refcount = 1 + sc + 1;
    t.swapCache = h.swapCache;
    t.dirty = h.dirty;
    // PG_swapbacked too (a lazyfree THP splits into lazyfree pages: __split_huge_page_tail v4.13.19, v6.8);
    // which subpage a device wrote is not tracked, so each inherits the head's no-lost-dirty record
    t.swapBacked = h.swapBacked;
    t.deviceWrote = h.deviceWrote;
    t.lockedBy = h.lockedBy;
  }
  h.order = 0;
  h.refcount = 1 + sc;
  return true;
}

/** Applies a THP effect (the ops after `Note` in effect.ts). */
export function applyHugeEffect(m: Machine, tid: number, e: Effect): unknown {
  switch (e.op) {
    case Op.AllocHugePage: {
      if (e.c !== 2) return allocHugePage(m);
      // mm_get_huge_zero_page → get_huge_zero_page: the first user allocates it (GFP_TRANSHUGE | __GFP_ZERO)
      if (m.hugeZero < 0) m.hugeZero = allocHugePage(m).pfn;
      return { pfn: m.hugeZero, generation: m.pages[m.hugeZero].generation };
    }
    case Op.PmdRead: {
      const r = region(m, e.a);
      const pmd = m.pmds[r];
      return pmd ? pmdView(m, pmd) : m.pteTables[r] ? 'table' : null;
    }
    case Op.PmdSet:
      return pmdSet(m, tid, e);
    case Op.PmdClear:
      return pmdClear(m, tid, e);
    case Op.PmdSplit:
      return pmdSplit(m, tid, e);
    case Op.CompoundHead: {
      // read without a reference (the reclaim pick, off the LRU): a page freed meanwhile gives null
      const pg = m.pages[e.a];
      if (pg === undefined || pg.free || pg.generation !== e.b) return null;
      const head = m.pages[e.a].compoundHead < 0 ? e.a : m.pages[e.a].compoundHead;
      return { pfn: head, generation: m.pages[head].generation, order: m.pages[head].order } satisfies CompoundHeadRef;
    }
    case Op.PageCount: {
      pageOf(m, e.a, e.b, 'page_count');
      const head = m.pages[e.a].compoundHead < 0 ? e.a : m.pages[e.a].compoundHead;
      return [m.pages[head].refcount, totalMapcount(m, head), m.pages[head].compoundMapcount];
    }
    case Op.SplitHugePage:
      return splitHugePage(m, e);
    default:
      throw new InternalError(`applyHugeEffect: op ${e.op} is not a THP effect`);
  }
}
