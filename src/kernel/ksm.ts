/**
 * mm/ksm.c: ksmd merging two identical anonymous pages of the modelled mm (reference S8).
 *
 * One `merge(page, with)` is the unstable-tree path of cmp_and_merge_page (v4.13.19): ksmd's scan
 * finds the page at `with` (scan_get_next_rmap_item: follow_page(FOLL_GET)), the unstable tree
 * gives it the page at `page` (unstable_tree_search_insert → get_mergeable_page, the memcmp is
 * assumed equal), and try_to_merge_two_pages:
 *   1. try_to_merge_with_ksm_page(rmap_item, with's page, NULL): write_protect_page, then the page
 *      becomes the KSM page (set_page_stable_node, SetPageDirty);
 *   2. try_to_merge_with_ksm_page(tree_rmap_item, page's page, kpage): write_protect_page, then
 *      replace_page maps kpage at `page` and drops the mapping's reference of the old page;
 *   3. if 2 failed, break_cow(rmap_item) undoes 1 with a write fault (break_ksm).
 * ksmd then drops its own references (put_page(tree_page) in cmp_and_merge_page, put_page(page) in
 * ksm_do_scan): the last one frees the replaced page, after every notifier bracket has ended.
 * When the page at `with` is already a KSM page, the stable-tree path is taken instead
 * (stable_tree_search found it: try_to_merge_with_ksm_page(rmap_item, page, kpage) only).
 *
 * A transparent huge page (read in mm/ksm.c v4.10.17, v4.12, v4.13.19, v4.15, v4.19, v5.2.1, v5.4,
 * v5.7.14, v6.8; mm/huge_memory.c v4.10.17, v4.13.19, v4.19, v5.7.14, v6.8): follow_page(FOLL_GET)
 * of an address under a huge PMD is follow_trans_huge_pmd under the PMD lock, the subpage with a
 * reference on the THP; try_to_merge_one_page then, with the page (the THP's) lock taken by
 * trylock_page, does `if (PageTransCompound(page)) { if (split_huge_page(page)) goto out_unlock; }`
 * (the same form in every era read; v4.10.17 `err = split_huge_page(page); if (err) goto out_unlock`),
 * and goes on with the subpage as an order-0 page (`splitHugePage` below). A page pinned by a device,
 * or the two pages of one merge being subpages of the same THP (ksmd holds two references), fails
 * can_split_huge_page: no merge. From v4.15 (Era.ksmSplitSameCompound) cmp_and_merge_page then splits
 * that THP once ksmd has put tree_page, without merging.
 *
 * Not modelled: the stable and unstable trees themselves (rmap_items, stable_node chains,
 * stable_tree_insert), the checksum, ksm_use_zero_pages, VM_LOCKED (munlock), write_protect_page's
 * `mm_tlb_flush_pending(mm)` and protnone/savedwrite cases, v6.8's PageAnonExclusive test
 * (folio_try_share_anon_rmap_pte fails for a possibly pinned page, which the page_count check
 * catches first in the model), and replace_page's try_to_free_swap of a page left unmapped.
 */
import { PAGE_SIZE, ZERO_PFN, addressOf, hex, type Pte } from '../runtime/machine';
import * as p from '../runtime/primitives';
import { PUT_REMOVE_RMAP, type Gen, type PageRef } from '../runtime/primitives';
import * as h from '../runtime/huge-primitives';
import { pageCount } from '../runtime/huge-primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { hpageNr, splitHugePage as splitHugePageKeeping } from './huge_memory';
import { handleMmFault, samePte } from './memory';
import { MMAP_SEM, PTL } from './mm';
import { changePte, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, secondaryTlbInvalidate } from './mmu_notifier';

const V = 'v4.13';
const SCAN = site('mm/ksm.c', 'scan_get_next_rmap_item: follow_page(vma, address, FOLL_GET)', V);
// the page at `with` is the scanned one (unstable path) or the stable tree's KSM page (get_ksm_page)
const SCAN_OR_STABLE = site('mm/ksm.c', 'scan_get_next_rmap_item / stable_tree_search: the page at `with` (follow_page FOLL_GET)', V);
const MERGEABLE = site('mm/ksm.c', 'get_mergeable_page: follow_page(vma, addr, FOLL_GET)', V);
const CMP = site('mm/ksm.c', 'cmp_and_merge_page', V);
const TWO = site('mm/ksm.c', 'try_to_merge_two_pages', V);
const WITH_KSM = site('mm/ksm.c', 'try_to_merge_with_ksm_page', V);
const ONE = site('mm/ksm.c', 'try_to_merge_one_page', V);
const WP = site('mm/ksm.c', 'write_protect_page', V);
const REPLACE = site('mm/ksm.c', 'replace_page', V);
const BREAK_COW = site('mm/ksm.c', 'break_cow', V);
const BREAK_KSM = site('mm/ksm.c', 'break_ksm', V);
const DO_SCAN = site('mm/ksm.c', 'ksm_do_scan: put_page(page)', V);
const PUT_TREE = site('mm/ksm.c', 'cmp_and_merge_page: put_page(tree_page)', V);
const FLUSH_TLB_MM_RANGE = site('arch/x86/mm/tlb.c', 'flush_tlb_mm_range', 'v6.8');
const FOLLOW_THP = site('mm/huge_memory.c', 'follow_trans_huge_pmd: page += (addr & ~HPAGE_PMD_MASK) >> PAGE_SHIFT; get_page(page)', V);
const ONE_SPLIT = site('mm/ksm.c', 'try_to_merge_one_page: if (PageTransCompound(page)) { if (split_huge_page(page)) goto out_unlock; }', V);
const CMP_SPLIT = site('mm/ksm.c', 'cmp_and_merge_page: split = PageTransCompound(page) && compound_head(page) == compound_head(tree_page)', 'v4.15');
const CMP_SPLIT_LOCK = site('mm/ksm.c', 'cmp_and_merge_page: if (!trylock_page(page)) return; split_huge_page(page); unlock_page(page)', 'v4.15');
const CAN_SPLIT = site('mm/huge_memory.c', 'can_split_huge_page', V, 'v6.8 can_split_folio: the same count, -EAGAIN');


/**
 * `follow_page(vma, addr, FOLL_GET)` as KSM uses it, with mmap_sem held for read: under the PTL, the
 * page the PTE maps with a reference taken, or null for no PTE, a swap or migration entry and the
 * zero page (follow_page returns it, but it is not PageAnon: put_page and skip).
 */
function* followPage(vpn: number, at: Site): Gen<PageRef | null> {
  yield* p.spinLock(PTL, at);
  const pte = yield* p.pteRead(vpn, at);
  let page: PageRef | null = null;
  // a huge PMD (follow_pmd_mask: pmd_trans_huge → follow_trans_huge_pmd under pmd_lock, the model's
  // one PTL): the subpage at the address, with a reference on the THP; a PMD migration entry (v4.15+,
  // no FOLL_MIGRATION) is no_page_table; the huge zero page, like the zero page, is returned but not
  // PageAnon (get_mergeable_page, scan_get_next_rmap_item: put_page and skip)
  if (pte && !pte.swap && pte.pfn !== ZERO_PFN && !pte.hugeZero) {
    page = { pfn: pte.pfn, generation: pte.generation };
    yield* p.getPage(page, pte.huge ? FOLLOW_THP : at);
  }
  yield* p.spinUnlock(PTL, at);
  return page;
}

/**
 * `find_mergeable_vma(mm, addr)`: NULL once `ksm_test_exit(mm)` (mm_users == 0: the mm is exiting,
 * read when the scenario models the mm's lifetime) or when no VMA covers the address (every modelled
 * VMA is VM_MERGEABLE with an anon_vma).
 */
function* findMergeableVma(kc: KernelContext, vpn: number, at: Site): Gen<boolean> {
  if (kc.lifetime && (yield* p.read(kc.lifetime.mmUsers, at)) === 0) {
    yield* p.note('ksm_test_exit(mm): mm_users == 0', at);
    return false;
  }
  return yield* p.vmaLookup(vpn, at);
}

/** ksmd's lookup of the page mapped at `vpn`: down_read(mmap_sem), find_mergeable_vma, follow_page, up_read. */
function* getMergeablePage(kc: KernelContext, vpn: number, at: Site): Gen<PageRef | null> {
  yield* p.downRead(MMAP_SEM, at);
  const page = (yield* findMergeableVma(kc, vpn, at)) ? yield* followPage(vpn, at) : null;
  yield* p.upRead(MMAP_SEM, at);
  return page;
}

/**
 * The range_start/end bracket's TLB side for the PTE just cleared: `ptep_clear_flush_notify()`
 * calls ->invalidate_range under the PTL (≤ v4.13, Era.ksmClearFlushNotify); from v4.15 plain
 * `ptep_clear_flush()` leaves it to range_end, except that from v6.6 the arch TLB flush itself calls
 * ->arch_invalidate_secondary_tlbs.
 */
function* clearFlushNotify(kc: KernelContext, address: number, at: Site): Gen {
  const range = { start: address, end: address + PAGE_SIZE };
  if (kc.era.ksmClearFlushNotify || kc.era.secondaryTlbs === 'arch-tlb-flush') yield* secondaryTlbInvalidate(kc, range, at, FLUSH_TLB_MM_RANGE);
}

/**
 * `write_protect_page(vma, page, &orig_pte)` (mm/ksm.c v4.13.19; v4.10.17 with page_check_address,
 * the same steps): range_start of the page; under the PTL, a writable or dirty PTE is cleared and
 * flushed (ptep_clear_flush_notify ≤ v4.13, ptep_clear_flush from v4.15), then "Check that no
 * O_DIRECT or similar I/O is in progress on the page": `page_mapcount(page) + 1 + swapped !=
 * page_count(page)` (the 1 is ksmd's own reference) restores the PTE and fails; else the page is
 * dirtied if the PTE was and the clean, write-protected PTE goes back with set_pte_at_notify
 * (->change_pte). range_end. Returns the PTE it leaves (orig_pte), or null (-EFAULT).
 */
function* writeProtectPage(kc: KernelContext, vpn: number, page: PageRef): Gen<Pte | null> {
  const address = addressOf(vpn);
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', address, address + PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, WP);
  // page_vma_mapped_walk(): map_pte → spin_lock(ptl); check_pte: does the PTE still map the page?
  yield* p.spinLock(PTL, WP);
  const pte = yield* p.pteRead(vpn, WP);
  let orig: Pte | null = null;
  if (!pte || pte.swap || pte.huge || pte.pfn !== page.pfn || pte.generation !== page.generation) {
    yield* p.note(`page_vma_mapped_walk: ${hex(address)} no longer maps pfn ${page.pfn}: goto out_mn (-EFAULT)`, WP);
  } else if (pte.writable || pte.dirty) {
    const { swapCache } = yield* p.pageFlags(page, WP); // swapped = PageSwapCache(page)
    // entry = ptep_clear_flush{_notify}(vma, addr, ptep): "we clear the pte and flush the tlb before the
    // check: this assure us that no O_DIRECT can happen after the check or in the middle of the check"
    const entry = (yield* p.pteClear(vpn, true, true, WP)) as Pte;
    yield* clearFlushNotify(kc, address, WP);
    const [count, mapcount] = yield* pageCount(page, WP);
    // the model's ptep_clear_flush took the PTE's rmap with it (set_pte_at puts it back): the kernel's
    // page_mapcount() here still counts this PTE
    const kernelMapcount = mapcount + 1;
    if (kernelMapcount + 1 + (swapCache ? 1 : 0) !== count) {
      yield* p.note(`page_mapcount ${kernelMapcount} + 1 + swapped ${swapCache ? 1 : 0} != page_count ${count}: a GUP pin or I/O in flight, restore the PTE`, WP);
      yield* p.pteSet(vpn, entry, WP); // set_pte_at(mm, addr, ptep, entry): no notifier
    } else {
      if (entry.dirty) yield* p.setPageDirty(page, WP); // if (pte_dirty(entry)) set_page_dirty(page)
      // entry = pte_mkclean(pte_wrprotect(entry)); set_pte_at_notify(mm, addr, ptep, entry)
      orig = { ...entry, writable: false, dirty: false };
      yield* changePte(kc, address, { pfn: orig.pfn, generation: orig.generation, writable: false }, WP);
      yield* p.pteSet(vpn, orig, WP);
    }
  } else {
    orig = pte; // already read-only and clean (e.g. shared after fork): *orig_pte = *pvmw.pte
  }
  yield* p.spinUnlock(PTL, WP);
  yield* invalidateRangeEnd(kc, range, WP);
  return orig;
}

/**
 * `replace_page(vma, page, kpage, orig_pte)` (mm/ksm.c v4.13.19): range_start; under the PTL, if
 * the PTE is still `orig_pte`: get_page(kpage), page_add_anon_rmap(kpage), ptep_clear_flush{_notify},
 * set_pte_at_notify(mk_pte(kpage, vma->vm_page_prot)) (read-only: ->change_pte), page_remove_rmap
 * and put_page of the old page (ksmd still holds its own reference); range_end. Whether it replaced.
 */
function* replacePage(kc: KernelContext, vpn: number, page: PageRef, kpage: PageRef, orig: Pte): Gen<boolean> {
  const address = addressOf(vpn);
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', address, address + PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, REPLACE);
  yield* p.spinLock(PTL, REPLACE);
  const ok = samePte(yield* p.pteRead(vpn, REPLACE), orig);
  if (!ok) {
    yield* p.note(`!pte_same(*ptep, orig_pte): ${hex(address)} changed since write_protect_page: goto out_mn`, REPLACE);
  } else {
    yield* p.getPage(kpage, REPLACE); // get_page(kpage); page_add_anon_rmap (with the set_pte_at below)
    yield* p.pteClear(vpn, true, false, REPLACE); // ptep_clear_flush{_notify}(vma, addr, ptep)
    yield* clearFlushNotify(kc, address, REPLACE);
    // newpte = mk_pte(kpage, vma->vm_page_prot): a private mapping's vm_page_prot is read-only
    yield* changePte(kc, address, { pfn: kpage.pfn, generation: kpage.generation, writable: false }, REPLACE);
    yield* p.pteSet(vpn, { pfn: kpage.pfn, generation: kpage.generation, writable: false, dirty: false, young: false, swap: false }, REPLACE);
    yield* p.putPage(page, REPLACE, PUT_REMOVE_RMAP); // page_remove_rmap(page, false); put_page(page)
  }
  yield* p.spinUnlock(PTL, REPLACE);
  yield* invalidateRangeEnd(kc, range, REPLACE);
  return ok;
}

/**
 * `split_huge_page(page)` = `split_huge_page_to_list(page, NULL)` of the subpage `page` of the THP
 * headed at `head` (mapped from `headVpn`), which ksmd has locked and holds a reference on:
 * anon_vma_lock_write; can_split_huge_page (`total_mapcount == page_count - extra_pins - 1`, else
 * -EBUSY: a device's pin, or ksmd's second reference when both pages of the merge are subpages of
 * this THP); freeze_page (try_to_unmap with TTU_SPLIT_HUGE_PMD: a PMD mapping is split by
 * __split_huge_pmd(freeze) inside its own range_start/end; every PTE becomes a migration entry in
 * the era's try_to_unmap_one form, rmap-thp.ts); `!total_mapcount && page_ref_freeze(head, 1 +
 * extra_pins)` → __split_huge_page; the migration entries become present PTEs again (unfreeze); at
 * the end of __split_huge_page every subpage but `page` is unlocked and put, so `page` stays locked
 * and keeps the caller's reference (huge_memory.ts splitHugePage's `kept`: ksmd passes the subpage it
 * found, where unmap_and_move and reclaim pass the head) [v6.8: can_split_folio, unmap_folio,
 * folio_ref_freeze, -EAGAIN: the same steps].
 */
function* splitHugePage(kc: KernelContext, page: PageRef, head: PageRef, headVpn: number, vmaPages: number): Gen<boolean> {
  const nr = hpageNr(kc);
  // can_split_huge_page: extra_pins = PageSwapCache(page) ? HPAGE_PMD_NR : 0 (v4.10.17: 0 for an anonymous THP, never in the swap cache then)
  const extraPins = (yield* p.pageFlags(head, CAN_SPLIT)).swapCache ? nr : 0;
  return yield* splitHugePageKeeping(kc, head, headVpn, extraPins, vmaPages, page);
}

/**
 * The THP `page` is a subpage of, when it is one: `PageTransCompound(page)` and `compound_head(page)`
 * (read with a reference held), with the vpn of the head.
 */
function* thpOf(kc: KernelContext, vpn: number, page: PageRef, at: Site): Gen<{ head: PageRef; headVpn: number } | null> {
  if (!kc.thpOrder) return null;
  const head = yield* h.compoundHead(page, at);
  if (head === null || head.order === 0) return null;
  return { head: { pfn: head.pfn, generation: head.generation }, headVpn: vpn - (page.pfn - head.pfn) };
}

/**
 * `try_to_merge_with_ksm_page(rmap_item, page, kpage)` → `try_to_merge_one_page(vma, page, kpage)`:
 * with mmap_sem for read and, by trylock_page ("we don't want to wait here"), the page lock: a
 * subpage of a THP splits it first (split_huge_page, or out_unlock), then write_protect_page, then
 * (kpage null) the page becomes the KSM page, or replace_page by kpage.
 */
function* tryToMergeWithKsmPage(kc: KernelContext, vpn: number, page: PageRef, kpage: PageRef | null, vmaPages: number): Gen<boolean> {
  yield* p.downRead(MMAP_SEM, WITH_KSM);
  let merged = false;
  if (!(yield* findMergeableVma(kc, vpn, WITH_KSM))) {
    yield* p.note('find_mergeable_vma: no VMA any more', WITH_KSM);
  } else if (!(yield* p.trylockPage(page, ONE))) {
    yield* p.note('trylock_page failed: "continue scanning and merging different pages"', ONE);
  } else {
    const thp = yield* thpOf(kc, vpn, page, ONE_SPLIT);
    if (thp && !(yield* splitHugePage(kc, page, thp.head, thp.headVpn, vmaPages))) {
      yield* p.note('split_huge_page failed: goto out_unlock (no merge)', ONE_SPLIT);
      yield* p.unlockPage(page, ONE);
      yield* p.upRead(MMAP_SEM, WITH_KSM);
      return false;
    }
    const orig = yield* writeProtectPage(kc, vpn, page);
    if (orig && !kpage) {
      // set_page_stable_node(page, NULL): PageKsm; "make sure that the ksm page would be swapped"
      yield* p.setPageKsm(page, true, ONE);
      if (!(yield* p.pageFlags(page, ONE)).dirty) yield* p.setPageDirty(page, ONE);
      merged = true;
    } else if (orig && kpage) {
      merged = yield* replacePage(kc, vpn, page, kpage, orig); // pages_identical(page, kpage) assumed
    }
    yield* p.unlockPage(page, ONE);
  }
  yield* p.upRead(MMAP_SEM, WITH_KSM);
  return merged;
}

/**
 * `break_cow(rmap_item)` → `break_ksm(vma, addr)`: with mmap_sem for read, fault the KSM page at
 * `vpn` for writing until it is not a KSM page any more (do_wp_page copies it), at most twice here.
 */
function* breakCow(kc: KernelContext, vpn: number): Gen {
  yield* p.downRead(MMAP_SEM, BREAK_COW);
  if (yield* findMergeableVma(kc, vpn, BREAK_COW)) {
    for (let i = 0; i < 2; i++) {
      const page = yield* followPage(vpn, BREAK_KSM); // FOLL_GET | FOLL_MIGRATION | FOLL_REMOTE
      if (!page) break;
      const { ksm } = yield* p.pageFlags(page, BREAK_KSM);
      if (ksm) yield* handleMmFault(kc, vpn, true, BREAK_KSM); // FAULT_FLAG_WRITE | FAULT_FLAG_REMOTE
      yield* p.putPage(page, BREAK_KSM);
      if (!ksm) break;
    }
  }
  yield* p.upRead(MMAP_SEM, BREAK_COW);
}

/** `PageTransCompound(page) && compound_head(page) == compound_head(tree_page)` (both referenced by ksmd). */
function* sameCompound(kc: KernelContext, page: PageRef, tree: PageRef): Gen<boolean> {
  if (!kc.thpOrder) return false;
  const a = yield* h.compoundHead(page, CMP_SPLIT);
  if (a === null || a.order === 0) return false;
  const b = yield* h.compoundHead(tree, CMP_SPLIT);
  return b !== null && b.pfn === a.pfn;
}

/**
 * cmp_and_merge_page after a failed merge of two subpages of one THP (v4.15+, once tree_page is put):
 * "We will split the page now, but no merging will take place": `if (!trylock_page(page)) return;
 * split_huge_page(page); unlock_page(page);`. The kernel does not test PageTransCompound again under
 * the lock (split_huge_page_to_list's VM_BUG_ON_PAGE(!PageCompound(page)) is CONFIG_DEBUG_VM only); the
 * model skips a page someone else split meanwhile [U: that window is not discussed upstream].
 */
function* splitSameCompound(kc: KernelContext, vpn: number, page: PageRef, vmaPages: number): Gen {
  if (!(yield* p.trylockPage(page, CMP_SPLIT_LOCK))) {
    yield* p.note('trylock_page failed: "it is better to skip it and perhaps try again later"', CMP_SPLIT_LOCK);
    return;
  }
  const thp = yield* thpOf(kc, vpn, page, CMP_SPLIT_LOCK);
  if (thp) yield* splitHugePage(kc, page, thp.head, thp.headVpn, vmaPages);
  else yield* p.note('no longer PageTransCompound (split meanwhile): nothing to split [U]', CMP_SPLIT_LOCK);
  yield* p.unlockPage(page, CMP_SPLIT_LOCK);
}

/** ksmd merging the page at `vpn` with the page at `withVpn` (see the file comment); `vmaPages`: the VMA's size, for the rmap walk of a THP split. */
export function* ksmMerge(kc: KernelContext, vpn: number, withVpn: number, vmaPages: number): Gen {
  const own = kc.notifiers[0]?.def.device.ownVma;
  if (own !== undefined) {
    yield* p.note(`ksm_madvise: VM_DONTEXPAND: the VMA is never VM_MERGEABLE, ksmd does not scan it (${own})`, site('mm/ksm.c', 'ksm_madvise', 'v4.13'));
    return;
  }
  if (vpn === withVpn) {
    yield* p.note('the same rmap_item: nothing to merge', CMP);
    return;
  }
  const page = yield* getMergeablePage(kc, withVpn, SCAN_OR_STABLE); // the page ksmd's scan found (rmap_item), or the stable tree's
  if (!page) {
    yield* p.note(`scan: no anonymous page at ${hex(addressOf(withVpn))}`, SCAN_OR_STABLE);
    return;
  }
  if ((yield* p.pageFlags(page, CMP)).ksm) {
    // kpage = stable_tree_search(page): already a KSM page, merge the scanned page into it
    const tree = yield* getMergeablePage(kc, vpn, SCAN);
    if (tree && tree.pfn === page.pfn && tree.generation === page.generation) yield* p.note('already merged', CMP);
    else if (tree) yield* tryToMergeWithKsmPage(kc, vpn, tree, page, vmaPages);
    if (tree) yield* p.putPage(tree, CMP);
  } else {
    const tree = yield* getMergeablePage(kc, vpn, MERGEABLE); // unstable_tree_search_insert: tree_page (memcmp equal)
    if (tree && (tree.pfn !== page.pfn || tree.generation !== page.generation) && !(yield* p.pageFlags(tree, CMP)).ksm) {
      // try_to_merge_two_pages: page becomes the KSM page, then tree_page is replaced by it
      let kpage = false;
      if (yield* tryToMergeWithKsmPage(kc, withVpn, page, null, vmaPages)) {
        kpage = yield* tryToMergeWithKsmPage(kc, vpn, tree, page, vmaPages);
        if (!kpage) {
          yield* p.note('"If that fails, we have a ksm page with only one pte pointing to it: so break it"', TWO);
          yield* breakCow(kc, withVpn);
        }
      }
      // v4.15+: "If both pages we tried to merge belong to the same compound page, ... split_huge_page failed"
      const split = !kpage && kc.era.ksmSplitSameCompound && (yield* sameCompound(kc, page, tree));
      yield* p.putPage(tree, PUT_TREE);
      if (split) yield* splitSameCompound(kc, withVpn, page, vmaPages);
      yield* p.putPage(page, DO_SCAN);
      return;
    } else if (tree) {
      yield* p.note('tree_page is the same page or a KSM page: no unstable-tree merge', CMP);
    }
    if (tree) yield* p.putPage(tree, PUT_TREE);
  }
  yield* p.putPage(page, DO_SCAN);
}
