/**
 * mm/migrate.c: migration of the anonymous page mapped at one address (reference S6), as
 * `migrate_pages(MIGRATE_SYNC)` → `unmap_and_move()` → `__unmap_and_move()` runs it for a page
 * taken off the LRU by isolate_lru_page, as memory hot-remove does (do_migrate_range, mm/memory_hotplug.c
 * v4.13.9: any LRU page, a THP by its head; compaction's isolate_migratepages_block skips compound
 * pages, and move_pages splits a THP with FOLL_SPLIT in v4.13). Read in v4.10.17, v4.12, v4.13.9, v4.15.18, v4.19.95, v5.7.14 and v6.8 (mm/migrate.c,
 * mm/rmap.c); the order of the steps is the same in all of them:
 *
 * 1. isolate (the isolation reference); `get_new_page` (may sleep); `page_count(page) == 1`: freed
 *    from under us;
 * 2. `trylock_page(page)` (the first passes of migrate_pages do not force: -EAGAIN);
 * 3. `trylock_page(newpage)`; if `page_mapped(page)`: `try_to_unmap(page, TTU_MIGRATION |
 *    TTU_IGNORE_MLOCK | TTU_IGNORE_ACCESS)` — try_to_unmap_one in the era's notifier form (rmap.ts:
 *    invalidate_page after / under the PTL, aac2fea9's bare invalidate_range, or the start/end
 *    bracket; v6.8 try_to_migrate_one, the same bracket) installing migration entries;
 * 4. `if (!page_mapped(page))` move_to_new_page → migrate_page → migrate_page_move_mapping: the
 *    anonymous page's `page_count(page) != expected_count` (1, the isolation reference; 2 in the
 *    swap cache, with page_ref_freeze) is -EAGAIN: a page pinned by a device (get_user_pages) is not
 *    migrated; otherwise migrate_page_copy (PG_dirty goes to the new page);
 * 5. `remove_migration_ptes(page, rc == MIGRATEPAGE_SUCCESS ? newpage : page)`: under the PTL each
 *    migration entry becomes a present PTE of the new page (or of the old one again) with
 *    set_pte_at and **no notifier** ("No need to invalidate - it was non-present before"): a
 *    secondary MMU re-faults;
 * 6. unlock both; on success putback_lru_page(newpage) and put_page(page) — the old page is freed
 *    with its last reference; on -EAGAIN the new page is put and the old one put back.
 *
 * A THP (Era.thpMigration): ≤ v4.13 unmap_and_move splits it (split_huge_page: freeze to migration
 * entries through try_to_unmap, split, remap) and migrates the head as an order-0 page; from v4.14
 * (x86_64 ARCH_ENABLE_THP_MIGRATION) it is migrated whole into a new THP: a PTE-mapped one through
 * PTE migration entries, a PMD-mapped one through a PMD migration entry (try_to_unmap_one →
 * set_pmd_migration_entry: pmdp_invalidate, no ->invalidate_range until range_end; remove_migration_pmd
 * with no notifier), which every PMD walker then meets (pmd_migration_entry_wait in the fault path,
 * zap_huge_pmd, change_huge_pmd and copy_huge_pmd making a write entry read, __split_huge_pmd into PTE
 * migration entries). NUMA hinting-fault migration (migrate_misplaced_page,
 * migrate_misplaced_transhuge_page, v6.8's migrate_misplaced_folio) is src/kernel/numa.ts; its
 * per-era sequence: v4.10.17 … v4.13.9 copy into the new THP first (migrate_page_copy), then
 * range_start(haddr, +HPAGE_PMD_SIZE), pmd_lock, `!pmd_same || !page_ref_freeze(page, 2)` → undo,
 * else page_add_anon_rmap(new), pmdp_huge_clear_flush_notify (->invalidate_range under the PMD
 * lock), set_pmd_at, page_ref_unfreeze, page_remove_rmap(old), unlock, range_end; v4.15.18 and
 * v4.19.95 keep the bracket but set_pmd_at over the protnone PMD with no clear and no
 * ->invalidate_range ("Clearing the pmd here would introduce a race condition against
 * MADV_DONTNEED"); v5.0.1 … v5.7.14 have no notifier call in it at all; v6.8 has no such function (a THP
 * goes through migrate_misplaced_folio → migrate_pages).
 *
 * Simplifications, each stated where it applies: one pass of migrate_pages (its retries of -EAGAIN,
 * up to 10 passes, are not modelled); isolation is the reference `isolate_lru_page` takes (PG_lru is
 * not modelled, so a page reclaim has isolated can be picked too: its extra reference then fails the
 * expected-count check); the anon_vma reference (page_get_anon_vma) is not modelled (the one anon_vma
 * lives as long as the mm); page contents are not modelled, only PG_dirty is copied.
 */
import { ZERO_PFN, addressOf, hex } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import { PUT_FREE_SWAP_CACHE, type Gen, type PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { hpageNr, splitHugePage } from './huge_memory';
import { ANON_VMA_RWSEM, PTL } from './mm';
import { tryToUnmap } from './rmap';
import { tryToUnmapThp } from './rmap-thp';

const PICK = site('mm/memory_hotplug.c', 'do_migrate_range', 'v4.13', 'the model picks the page mapped at the given address: get_page_unless_zero, isolate_lru_page, migrate_pages(MIGRATE_SYNC)');
const ISOLATE = site('mm/vmscan.c', 'isolate_lru_page', 'v4.13');
const GET_NEW = site('mm/migrate.c', 'unmap_and_move: newpage = get_new_page(page, private, &result)', 'v4.13', 'new_node_page → new_page_nodemask: an order-0 page (include/linux/migrate.h v4.13.9), may sleep');
const GET_NEW_THP = site('include/linux/migrate.h', 'new_page_nodemask: thp_migration_supported() && PageTransHuge(page): __alloc_pages_nodemask(GFP_TRANSHUGE, HPAGE_PMD_ORDER)', 'v4.15');
const FREED = site('mm/migrate.c', 'unmap_and_move: page_count(page) == 1', 'v4.13');
const UAM = site('mm/migrate.c', 'unmap_and_move', 'v4.13');
const UAM_SPLIT = site('mm/migrate.c', 'unmap_and_move: PageTransHuge(page): lock_page; split_huge_page', 'v4.13');
const UAM_WHOLE = site('mm/migrate.c', 'unmap_and_move: thp_migration_supported()', 'v4.19');
const LOCK = site('mm/migrate.c', '__unmap_and_move: trylock_page(page)', 'v4.13');
const LOCK_NEW = site('mm/migrate.c', '__unmap_and_move: trylock_page(newpage)', 'v4.13');
const MAPPED = site('mm/migrate.c', '__unmap_and_move: page_mapped(page)', 'v4.13');
const TRY_TO_UNMAP = site('mm/migrate.c', '__unmap_and_move: try_to_unmap(page, TTU_MIGRATION|TTU_IGNORE_MLOCK|TTU_IGNORE_ACCESS)', 'v4.13');
const MOVE_MAPPING = site('mm/migrate.c', 'migrate_page_move_mapping', 'v4.13');
const COPY = site('mm/migrate.c', 'migrate_page_copy', 'v4.13', 'page contents are not modelled: PG_dirty moves to the new page');
const REMOVE = site('mm/migrate.c', 'remove_migration_ptes → remove_migration_pte', 'v4.13');
const RMAP_WALK = site('mm/rmap.c', 'rmap_walk_anon', 'v4.13');
const REMOVE_PMD = site('mm/huge_memory.c', 'remove_migration_ptes → remove_migration_pte → remove_migration_pmd', 'v4.19', 'no notifier: the PMD was not present before');
const UNLOCK = site('mm/migrate.c', '__unmap_and_move: out_unlock_both', 'v4.13');
const PUTBACK_NEW = site('mm/migrate.c', '__unmap_and_move: putback_lru_page(newpage)', 'v4.13');
const PUT_OLD = site('mm/migrate.c', 'unmap_and_move: put_page(page) (the isolation reference)', 'v4.13');
const PUT_NEW = site('mm/migrate.c', 'unmap_and_move: put_new: put_page(newpage)', 'v4.13');
const PUTBACK = site('mm/migrate.c', 'putback_movable_pages → putback_lru_page', 'v4.13', 'migrate_pages gives up after one pass (its retries are not modelled)');

/**
 * Migrates the anonymous page mapped at `vpn`: the page an isolation pass took off the LRU, then
 * migrate_pages for it. Nothing to do for no page, a swap or migration entry, or the zero page.
 */
export function* migratePageAt(kc: KernelContext, vpn: number, vmaPages: number): Gen {
  const pte = yield* p.pteRead(vpn, PICK);
  // the zero page and the huge zero page are not on the LRU (isolate_lru_page fails)
  if (pte === null || pte.swap || pte.pfn === ZERO_PFN || pte.hugeZero) {
    yield* p.note(`nothing to migrate at ${hex(addressOf(vpn))}`, PICK);
    return;
  }
  const page = { pfn: pte.pfn, generation: pte.generation };
  if (kc.thpOrder) {
    const head = yield* h.compoundHead(page, PICK);
    if (head === null) return; // freed meanwhile: not on the LRU any more
    if (head.order > 0) return yield* migrateThp(kc, head, vpn - (page.pfn - head.pfn), vmaPages);
  }
  if (!(yield* p.getPageUnlessZero(page, ISOLATE))) return; // already being freed
  const newpage = yield* p.allocPage(true, GET_NEW);
  yield* unmapAndMove(kc, page, newpage, vpn, 1, vmaPages);
}

/**
 * `unmap_and_move()` of the isolated page `page` (`nr` pages from `vpn`: 1, or a whole THP) into
 * `newpage`: the freed-from-under-us check, `__unmap_and_move`, then the references: on success
 * the isolation reference of the old page goes (freeing it unless someone else holds one), on
 * failure the new page is freed and the old one put back.
 */
export function* unmapAndMove(kc: KernelContext, page: PageRef, newpage: PageRef, vpn: number, nr: number, vmaPages: number): Gen<boolean> {
  const [count] = yield* h.pageCount(page, FREED);
  if (count === 1) {
    // "page was freed from under us. So we are done.": rc = MIGRATEPAGE_SUCCESS; put_page(newpage); put_page(page)
    yield* p.putPage(newpage, PUT_NEW);
    yield* p.putPage(page, PUT_OLD);
    return false;
  }
  const { ok, swapCache } = yield* unmapAndMoveLocked(kc, page, newpage, vpn, nr, vmaPages);
  if (ok) {
    // the swap cache's reference moved to newpage in migrate_page_move_mapping (ClearPageSwapCache in
    // migrate_page_copy): the model drops it here, with the isolation reference, after unlock_page
    yield* p.putPage(page, PUT_OLD, swapCache ? PUT_FREE_SWAP_CACHE : 0);
    return true;
  }
  yield* p.putPage(newpage, PUT_NEW);
  yield* p.putPage(page, PUTBACK);
  return false;
}

/**
 * `__unmap_and_move()`: lock both pages, replace every mapping by a migration entry, move, and
 * remove the migration entries (to the new page, or back to the old one).
 */
function* unmapAndMoveLocked(kc: KernelContext, page: PageRef, newpage: PageRef, vpn: number, nr: number, vmaPages: number): Gen<{ ok: boolean; swapCache: boolean }> {
  if (!(yield* p.trylockPage(page, LOCK))) {
    // if (!force || mode == MIGRATE_ASYNC) goto out: -EAGAIN, retried by a later pass (not modelled)
    yield* p.note('trylock_page failed: -EAGAIN', LOCK);
    return { ok: false, swapCache: false };
  }
  // "We used to have a BUG here if trylock_page(newpage) fails": nobody else knows the new page
  yield* p.trylockPage(newpage, LOCK_NEW);
  let wasMapped = false;
  if ((yield* mapcount(page, nr, MAPPED)) > 0) {
    if (nr === 1) yield* tryToUnmap(kc, page, vpn, vmaPages, true);
    else yield* tryToUnmapThp(kc, page, vpn, vmaPages, { migration: true, splitHugePmd: false, rmapLocked: false, batch: false });
    wasMapped = true;
  } else {
    yield* p.note('page_mapped(page) is false: no migration entries to install', TRY_TO_UNMAP);
  }
  let ok = false;
  let swapCache = false;
  if ((yield* mapcount(page, nr, MAPPED)) === 0) [ok, swapCache] = yield* moveToNewPage(page, newpage, nr);
  else yield* p.note('still mapped after try_to_unmap: -EAGAIN', MAPPED);
  if (wasMapped) yield* removeMigrationPtes(page, ok ? newpage : page, vpn, nr);
  yield* p.unlockPage(newpage, UNLOCK);
  yield* p.unlockPage(page, UNLOCK);
  if (ok) yield* p.putPage(newpage, PUTBACK_NEW); // putback_lru_page: the mappings hold the new page now
  return { ok, swapCache };
}

/** `page_mapped(page)`: the page's mapcount (order 0) or total_mapcount of the THP. */
function* mapcount(page: PageRef, nr: number, at: typeof MAPPED): Gen<number> {
  if (nr === 1) return yield* p.pageMapcount(page, at);
  const [, total] = yield* h.pageCount(page, at);
  return total;
}

/**
 * `move_to_new_page()` → `migrate_page()` → `migrate_page_move_mapping()` for an anonymous page:
 * without a mapping, `if (page_count(page) != expected_count) return -EAGAIN` with `expected_count
 * = 1` (the isolation reference: mm/migrate.c v4.13.9, v5.7.14; folio_migrate_mapping v6.8); in the
 * swap cache, `1 + hpage_nr_pages(page) + page_has_private(page)` (v4.19.95; `1 + 1 + …` for the
 * order-0 pages of v4.13.9) checked and frozen under the tree lock, and the new
 * page takes the swap-cache slot (SetPageSwapCache(newpage), the cache's reference). Then
 * migrate_page_copy: `if (PageDirty(page)) SetPageDirty(newpage)`. Returns [success, in the swap cache].
 */
function* moveToNewPage(page: PageRef, newpage: PageRef, nr: number): Gen<[boolean, boolean]> {
  const flags = yield* p.pageFlags(page, MOVE_MAPPING);
  const expected = 1 + (flags.swapCache ? nr : 0);
  const [count] = yield* h.pageCount(page, MOVE_MAPPING);
  if (count !== expected) {
    yield* p.note(`page_count ${count} != expected_count ${expected} (someone holds a reference: a pin): -EAGAIN`, MOVE_MAPPING);
    return [false, false];
  }
  if (flags.swapCache) yield* p.swapCacheAdd(newpage, MOVE_MAPPING); // SetPageSwapCache(newpage); the radix tree slot's reference (also dirties it)
  yield* p.pageCopy(page, true, COPY); // copy_highpage: a write to the old page from here on is lost
  if (flags.dirty) yield* p.setPageDirty(newpage, COPY);
  return [true, flags.swapCache];
}

/**
 * `remove_migration_ptes(old, new, false)`: rmap_walk (anon_vma rwsem for read) →
 * remove_migration_pte: under the PTL, each migration entry of `old` (`nr` subpages from `vpn`)
 * becomes `pte_mkold(mk_pte(new))`, writable if the entry was a write migration entry and the VMA
 * still has VM_WRITE (`maybe_mkwrite`: mprotect may have run meanwhile), with get_page(new) and
 * page_add_anon_rmap; no notifier ("No need to invalidate - it was non-present before"). An entry
 * zapped meanwhile (munmap) is not there any more.
 */
function* removeMigrationPtes(old: PageRef, to: PageRef, vpn: number, pages: number): Gen {
  let nr = pages;
  yield* p.downRead(ANON_VMA_RWSEM, RMAP_WALK);
  yield* p.spinLock(PTL, REMOVE);
  if (nr > 1) {
    // a PMD migration entry of the THP (whole-THP migration, v4.15+): remove_migration_pmd
    const pmd = yield* h.pmdRead(vpn, REMOVE_PMD);
    if (pmd !== null && pmd !== 'table' && pmd.migration && pmd.pfn === old.pfn && pmd.generation === old.generation) {
      // get_page(new); pmde = pmd_mkold(mk_huge_pmd(new, vma->vm_page_prot)); if write entry maybe_pmd_mkwrite;
      // page_add_anon_rmap(new, vma, mmun_start, true); set_pmd_at
      const writable = pmd.writable && (yield* p.vmaAllows(vpn, true, REMOVE_PMD));
      yield* p.getPage(to, REMOVE_PMD);
      yield* h.pmdSet(vpn, { pfn: to.pfn, generation: to.generation, writable, dirty: false, young: false }, REMOVE_PMD, 'page_add_anon_rmap(new, true); set_pmd_at');
      nr = 0; // a THP is PMD- or PTE-mapped, not both (no PageDoubleMap in the model): no PTE to visit
    }
  }
  for (let i = 0; i < nr; i++) {
    const pte = yield* p.pteRead(vpn + i, REMOVE);
    if (!pte || !pte.migration || pte.pfn !== old.pfn + i || pte.generation !== old.generation) continue;
    const sub = { pfn: to.pfn + i, generation: to.generation };
    const writable = pte.writable && (yield* p.vmaAllows(vpn + i, true, REMOVE));
    yield* p.getPage(sub, REMOVE);
    yield* p.pteSet(vpn + i, { pfn: sub.pfn, generation: sub.generation, writable, dirty: false, young: false, swap: false }, REMOVE);
  }
  yield* p.spinUnlock(PTL, REMOVE);
  yield* p.upRead(ANON_VMA_RWSEM, RMAP_WALK);
}

/**
 * unmap_and_move for the THP headed at `head`, mapped from `headVpn`, in the era's form
 * (Era.thpMigration).
 */
function* migrateThp(kc: KernelContext, head: PageRef, headVpn: number, vmaPages: number): Gen {
  const nr = hpageNr(kc);
  if (kc.era.thpMigration === 'whole') {
    // PMD-mapped or PTE-mapped, the THP is migrated whole: try_to_unmap_one installs a PMD migration entry
    // (set_pmd_migration_entry) or PTE migration entries, and remove_migration_ptes maps the new THP the same way
    if (!(yield* p.getPageUnlessZero(head, ISOLATE))) return;
    const newpage = yield* h.allocHugePage(true, GET_NEW_THP); // new_node_page → new_page_nodemask
    yield* p.note('a THP for a THP: migrated whole', UAM_WHOLE);
    yield* unmapAndMove(kc, head, newpage, headVpn, nr, vmaPages);
    return;
  }
  if (!(yield* p.getPageUnlessZero(head, ISOLATE))) return;
  const newpage = yield* p.allocPage(true, GET_NEW);
  const [count] = yield* h.pageCount(head, FREED);
  if (count === 1) {
    yield* p.putPage(newpage, PUT_NEW);
    yield* p.putPage(head, PUT_OLD);
    return;
  }
  // if (unlikely(PageTransHuge(page))) { lock_page(page); rc = split_huge_page(page); unlock_page(page); if (rc) goto out; }
  yield* p.lockPage(head, UAM_SPLIT);
  // can_split_huge_page: extra_pins = PageSwapCache(page) ? HPAGE_PMD_NR : 0
  const extraPins = (yield* p.pageFlags(head, UAM_SPLIT)).swapCache ? nr : 0;
  const split = yield* splitHugePage(kc, head, headVpn, extraPins, vmaPages);
  yield* p.unlockPage(head, UAM_SPLIT);
  if (!split) {
    // rc = -EBUSY: putback_lru_page(page); put_new: put_page(newpage)
    yield* p.note('split_huge_page failed: -EBUSY', UAM_SPLIT);
    yield* p.putPage(head, PUTBACK);
    yield* p.putPage(newpage, PUT_NEW);
    return;
  }
  // the head goes on as an order-0 page; the tails went back to the LRU (not migrated in this pass)
  yield* unmapAndMoveHead(kc, head, newpage, headVpn, vmaPages);
}

/** `__unmap_and_move` + the end of unmap_and_move for the split THP's head (an order-0 page now). */
function* unmapAndMoveHead(kc: KernelContext, head: PageRef, newpage: PageRef, vpn: number, vmaPages: number): Gen {
  const { ok, swapCache } = yield* unmapAndMoveLocked(kc, head, newpage, vpn, 1, vmaPages);
  if (ok) return yield* p.putPage(head, PUT_OLD, swapCache ? PUT_FREE_SWAP_CACHE : 0);
  yield* p.putPage(newpage, PUT_NEW);
  yield* p.putPage(head, PUTBACK);
}

/** The sites of this file, for the sources test. */
export const MIGRATE_SITES = [PICK, ISOLATE, GET_NEW, GET_NEW_THP, FREED, UAM, UAM_SPLIT, UAM_WHOLE, LOCK, LOCK_NEW, MAPPED, TRY_TO_UNMAP, MOVE_MAPPING, COPY, REMOVE, UNLOCK, PUTBACK_NEW, PUT_OLD, PUT_NEW, PUTBACK, REMOVE_PMD];
