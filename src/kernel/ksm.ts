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
 * Not modelled: the stable and unstable trees themselves (rmap_items, stable_node chains,
 * stable_tree_insert), the checksum, ksm_use_zero_pages, VM_LOCKED (munlock), THP (try_to_merge_one_page
 * splits a PageTransCompound page: merges are skipped when the scenario has THP), write_protect_page's
 * `mm_tlb_flush_pending(mm)` and protnone/savedwrite cases, v6.8's PageAnonExclusive test
 * (folio_try_share_anon_rmap_pte fails for a possibly pinned page, which the page_count check
 * catches first in the model), and replace_page's try_to_free_swap of a page left unmapped.
 */
import { PAGE_SIZE, ZERO_PFN, addressOf, hex, type Pte } from '../runtime/machine';
import * as p from '../runtime/primitives';
import { PUT_REMOVE_RMAP, type Gen, type PageRef } from '../runtime/primitives';
import { pageCount } from '../runtime/huge-primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { handleMmFault } from './memory';
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
const FLUSH_TLB_MM_RANGE = site('arch/x86/mm/tlb.c', 'flush_tlb_mm_range', 'v6.8');

function same(a: Pte | null, b: Pte | null): boolean {
  if (a === null || b === null) return a === b;
  return a.pfn === b.pfn && a.generation === b.generation && a.swap === b.swap && a.writable === b.writable && !a.huge === !b.huge && !a.migration === !b.migration;
}

/**
 * `follow_page(vma, addr, FOLL_GET)` as KSM uses it, with mmap_sem held for read: under the PTL, the
 * page the PTE maps with a reference taken, or null for no PTE, a swap or migration entry and the
 * zero page (follow_page returns it, but it is not PageAnon: put_page and skip).
 */
function* followPage(vpn: number, at: Site): Gen<PageRef | null> {
  yield* p.spinLock(PTL, at);
  const pte = yield* p.pteRead(vpn, at);
  let page: PageRef | null = null;
  if (pte && !pte.swap && !pte.huge && pte.pfn !== ZERO_PFN) {
    page = { pfn: pte.pfn, generation: pte.generation };
    yield* p.getPage(page, at);
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
  const ok = same(yield* p.pteRead(vpn, REPLACE), orig);
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
 * `try_to_merge_with_ksm_page(rmap_item, page, kpage)` → `try_to_merge_one_page(vma, page, kpage)`:
 * with mmap_sem for read and, by trylock_page ("we don't want to wait here"), the page lock:
 * write_protect_page, then (kpage null) the page becomes the KSM page, or replace_page by kpage.
 */
function* tryToMergeWithKsmPage(kc: KernelContext, vpn: number, page: PageRef, kpage: PageRef | null): Gen<boolean> {
  yield* p.downRead(MMAP_SEM, WITH_KSM);
  let merged = false;
  if (!(yield* findMergeableVma(kc, vpn, WITH_KSM))) {
    yield* p.note('find_mergeable_vma: no VMA any more', WITH_KSM);
  } else if (!(yield* p.trylockPage(page, ONE))) {
    yield* p.note('trylock_page failed: "continue scanning and merging different pages"', ONE);
  } else {
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

/** ksmd merging the page at `vpn` with the page at `withVpn` (see the file comment). */
export function* ksmMerge(kc: KernelContext, vpn: number, withVpn: number): Gen {
  const own = kc.notifiers[0]?.def.device.ownVma;
  if (own !== undefined) {
    yield* p.note(`ksm_madvise: VM_DONTEXPAND: the VMA is never VM_MERGEABLE, ksmd does not scan it (${own})`, site('mm/ksm.c', 'ksm_madvise', 'v4.13'));
    return;
  }
  if (kc.thpOrder) {
    yield* p.note('KSM with transparent huge pages (split_huge_page in try_to_merge_one_page) is not modelled: merge skipped', ONE);
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
    else if (tree) yield* tryToMergeWithKsmPage(kc, vpn, tree, page);
    if (tree) yield* p.putPage(tree, CMP);
  } else {
    const tree = yield* getMergeablePage(kc, vpn, MERGEABLE); // unstable_tree_search_insert: tree_page (memcmp equal)
    if (tree && (tree.pfn !== page.pfn || tree.generation !== page.generation) && !(yield* p.pageFlags(tree, CMP)).ksm) {
      // try_to_merge_two_pages: page becomes the KSM page, then tree_page is replaced by it
      if (yield* tryToMergeWithKsmPage(kc, withVpn, page, null)) {
        if (!(yield* tryToMergeWithKsmPage(kc, vpn, tree, page))) {
          yield* p.note('"If that fails, we have a ksm page with only one pte pointing to it: so break it"', TWO);
          yield* breakCow(kc, withVpn);
        }
      }
    } else if (tree) {
      yield* p.note('tree_page is the same page or a KSM page: no unstable-tree merge', CMP);
    }
    if (tree) yield* p.putPage(tree, site('mm/ksm.c', 'cmp_and_merge_page: put_page(tree_page)', V));
  }
  yield* p.putPage(page, DO_SCAN);
}
