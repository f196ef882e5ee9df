/**
 * NUMA balancing (CONFIG_NUMA_BALANCING): the scanner that makes PTEs and huge PMDs PROT_NONE
 * hinting entries, the hinting faults that follow, and the migrations they start. Read in v4.10.17,
 * v4.12, v4.13.19, v4.15, v4.19.95, v5.0.1, v5.2.1, v5.7.14 and v6.8 (kernel/sched/fair.c
 * task_numa_work, mm/mempolicy.c change_prot_numa, mm/mprotect.c, mm/memory.c do_numa_page,
 * mm/huge_memory.c do_huge_pmd_numa_page, mm/migrate.c migrate_misplaced_page and
 * migrate_misplaced_transhuge_page).
 *
 * 1. **Scan** (`task_numa_work`, task work of a thread of the process returning to user space):
 *    down_read_trylock(mmap_sem) (v6.8 mmap_read_trylock), then per VMA `change_prot_numa` →
 *    change_protection(prot_numa) (src/kernel/mprotect.ts): the usual range_start … range_end
 *    bracket (MMU_NOTIFY_PROTECTION_VMA from v5.2), each present PTE `pte_modify(PAGE_NONE)`, each
 *    whole huge PMD `change_huge_pmd(prot_numa)` in the era's form, the CPU TLB flushed after
 *    range_end, with `mm->tlb_flush_pending` raised around all of it.
 * 2. **Hinting fault on a PTE** (`do_numa_page`, from handle_pte_fault: `pte_protnone(vmf->orig_pte)
 *    && vma_is_accessible(vma)`): up to v5.7 the PTE is made accessible again under the PTL (with
 *    its saved write bit) and then `migrate_misplaced_page` runs on the page, which goes through
 *    migrate_pages (MIGRATE_ASYNC) like any migration: try_to_unmap with the era's notifier calls,
 *    migration entries, the copy, remove_migration_ptes (src/kernel/migrate.ts). v6.8 leaves the
 *    PTE PROT_NONE while migrate_misplaced_folio runs and restores it (read-only) only if that fails.
 *    A PTE-mapped THP is not migrated ("TODO: handle PTE-mapped THP").
 * 3. **Hinting fault on a huge PMD** (`do_huge_pmd_numa_page`): up to v5.7 the THP is locked and
 *    migrated by `migrate_misplaced_transhuge_page`, which copies it into the new THP while the old
 *    PMD is still the hinting one, then installs the new PMD in the era's form (Era.numaThpMigration).
 *    v6.8 migrates it whole through migrate_pages and a PMD migration entry.
 *    That ordering is what made v4.12 … v4.19 lose data written by a device that shares the CPU
 *    page table (an ->invalidate_range user): change_huge_pmd no longer calls ->invalidate_range
 *    under the PMD lock (pmdp_invalidate from v4.12), so between the scanner's unlock and its
 *    range_end the IOTLB still holds a writable translation, a hinting fault on another CPU can
 *    copy the page, and the device's write lands in the copied-from page (no-lost-write). v5.0's
 *    fix is the explicit `mmu_notifier_invalidate_range()` in do_huge_pmd_numa_page when a TLB
 *    flush is pending.
 *
 * Simplifications, each stated where it applies: every page is misplaced (mpol_misplaced /
 * numa_migrate_prep always return another node, and change_prot_numa's "already on the node a
 * single-threaded process is running on" never holds), the migration rate limit never applies and
 * the target node always has room; the task's scan offset is the operation's range, aligned to
 * huge pages at its end as task_numa_work aligns it; the last_cpupid / task_numa_fault accounting is
 * not modelled; change_huge_pmd skips the huge zero page.
 */
import { PAGE_SIZE, ZERO_PFN, addressOf, hex, type Pmd, type Pte } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import type { Gen, PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { haddrVpn, hpageNr, samePmd } from './huge_memory';
import { ANON_VMA_RWSEM, MMAP_SEM, PTL } from './mm';
import { invalidateRange, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';
import { changeProtection } from './mprotect';
import { samePte } from './memory';
import { unmapAndMove } from './migrate';

const WORK = site('kernel/sched/fair.c', 'task_numa_work', 'v4.13');
const WORK_TRYLOCK = site('kernel/sched/fair.c', 'task_numa_work: if (!down_read_trylock(&mm->mmap_sem)) return', 'v4.13', 'v6.8: mmap_read_trylock');
const WORK_MIXEDMAP = site('kernel/sched/fair.c', 'task_numa_work: !vma_migratable(vma) || … || (vma->vm_flags & VM_MIXEDMAP): continue', 'v4.13');
const WORK_RANGE = site('kernel/sched/fair.c', 'task_numa_work: end = ALIGN(start + (pages << PAGE_SHIFT), HPAGE_SIZE); end = min(end, vma->vm_end); change_prot_numa(vma, start, end)', 'v4.13');
const PROT_NUMA = site('mm/mempolicy.c', 'change_prot_numa → change_protection(vma, addr, end, PAGE_NONE, 0, 1)', 'v4.13', 'v6.8: tlb_gather_mmu; change_protection(&tlb, vma, addr, end, MM_CP_PROT_NUMA); tlb_finish_mmu');
const NUMA_PAGE = site('mm/memory.c', 'do_numa_page', 'v4.13');
const NUMA_PAGE_68 = site('mm/memory.c', 'do_numa_page', 'v6.8');
const NUMA_RESTORE = site('mm/memory.c', 'do_numa_page: ptep_modify_prot_start; pte_modify(pte, vma->vm_page_prot); pte_mkyoung; if (was_writable) pte_mkwrite; ptep_modify_prot_commit', 'v4.13', 'was_writable = pte_savedwrite(vmf->orig_pte) (v4.10.17: pte_write)');
const NUMA_OUT_MAP = site('mm/memory.c', 'do_numa_page: out_map: pte_modify(old_pte, vma->vm_page_prot); pte_mkyoung; if (writable) pte_mkwrite', 'v6.8', 'writable: pte_write || can_change_pte_writable (PageAnonExclusive, approximated as page_mapcount == 1 and not KSM); false after a failed migration');
const NUMA_COMPOUND = site('mm/memory.c', 'do_numa_page: "TODO: handle PTE-mapped THP": if (PageCompound(page))', 'v4.13', 'v6.8: folio_test_large(folio) → out_map');
const NUMA_PREP = site('mm/mempolicy.c', 'numa_migrate_prep: get_page(page); mpol_misplaced()', 'v4.13', 'the model\'s pages are always misplaced');
const MISPLACED = site('mm/migrate.c', 'migrate_misplaced_page', 'v4.13', 'v6.8: migrate_misplaced_folio; the rate limit never applies');
const ISOLATE = site('mm/migrate.c', 'numamigrate_isolate_page: isolate_lru_page(page); put_page(page) ("Isolating the page has taken another reference")', 'v4.13');
const ISOLATE_THP = site('mm/migrate.c', 'numamigrate_isolate_page: PageTransHuge(page) && page_count(page) != 3: putback_lru_page; return 0', 'v4.13', '"a GUP pin, or any other pin, prevents migration"');
const DST_PAGE = site('mm/migrate.c', 'alloc_misplaced_dst_page: (GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN) & ~__GFP_RECLAIM', 'v4.13', 'no reclaim: does not sleep');
const HUGE_NUMA = site('mm/huge_memory.c', 'do_huge_pmd_numa_page', 'v4.13');
const HUGE_NUMA_68 = site('mm/huge_memory.c', 'do_huge_pmd_numa_page', 'v6.8');
const HUGE_LOCKED = site('mm/huge_memory.c', 'do_huge_pmd_numa_page: page_locked = trylock_page(page); !page_locked: wait_on_page_locked(page)', 'v4.13', 'pmd_trans_migrating (PageLocked) and the trylock are one check here; the wait is lock_page + unlock_page');
const HUGE_ANON_VMA = site('mm/huge_memory.c', 'do_huge_pmd_numa_page: anon_vma = page_lock_anon_vma_read(page)', 'v4.13', '"Acquire anon_vma to serialises splits"');
const HUGE_FLUSH = site('mm/huge_memory.c', 'do_huge_pmd_numa_page: if (mm_tlb_flush_pending(vma->vm_mm)) flush_tlb_range(vma, haddr, haddr + HPAGE_PMD_SIZE)', 'v4.13', 'v4.10.17, v4.12: the same check and flush in migrate_misplaced_transhuge_page, before the copy');
const HUGE_FLUSH_INVALIDATE = site('mm/huge_memory.c', 'do_huge_pmd_numa_page: mm_tlb_flush_pending: flush_tlb_range; mmu_notifier_invalidate_range(vma->vm_mm, haddr, haddr + HPAGE_PMD_SIZE)', 'v5.0', '"change_huge_pmd() released the pmd lock before invalidating the secondary MMUs sharing the primary MMU pagetables (with ->invalidate_range())"');
const HUGE_CLEAR = site('mm/huge_memory.c', 'do_huge_pmd_numa_page: clear_pmdnuma / out_map: pmd_modify(pmd, vma->vm_page_prot); pmd_mkyoung; set_pmd_at', 'v4.13');
const HUGE_PMD_MIGRATION = site('mm/migrate.c', 'migrate_misplaced_folio → numamigrate_isolate_folio; migrate_pages', 'v6.8', 'alloc_misplaced_dst_folio: a THP for a THP, without reclaim');
const MMTHP = site('mm/migrate.c', 'migrate_misplaced_transhuge_page', 'v4.13');
const MMTHP_415 = site('mm/migrate.c', 'migrate_misplaced_transhuge_page', 'v4.15');
const MMTHP_50 = site('mm/migrate.c', 'migrate_misplaced_transhuge_page', 'v5.0');
const MMTHP_ALLOC = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: alloc_pages_node(node, GFP_TRANSHUGE_LIGHT | __GFP_THISNODE, HPAGE_PMD_ORDER)', 'v4.13', 'GFP_TRANSHUGE_LIGHT: no direct reclaim, does not sleep; the allocation never fails');
const MMTHP_COPY = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: migrate_page_copy(new_page, page)', 'v4.13', 'before any notifier call: the old PMD is the hinting one');
const MMTHP_RECHECK = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: pmd_lock; !pmd_same(*pmd, entry) || !page_ref_freeze(page, 2)', 'v4.13', 'v4.10.17, v4.12: page_count(page) != 2; the freeze and unfreeze are one check under the PMD lock (gup-fast never takes a hinting PMD)');
const MMTHP_FAIL = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: fail_putback: "Reverse changes made by migrate_page_copy()"; put_page(new_page); get_page(page); putback_lru_page(page); out_unlock: unlock_page(page); put_page(page)', 'v4.13');
const MMTHP_CLEAR = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: page_add_anon_rmap(new_page); pmdp_huge_clear_flush_notify; set_pmd_at; page_remove_rmap(page, true)', 'v4.13', 'the clear takes the old rmap in the same step; v4.10.17/v4.12\'s page_count recheck after set_pmd_at cannot fail with the count checked under the lock');
const MMTHP_SET = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: page_add_anon_rmap(new_page); set_pmd_at(mm, haddr, pmd, entry) over the protnone PMD; page_remove_rmap(page, true)', 'v4.15', '"Clearing the pmd here would introduce a race condition against MADV_DONTNEED"');
const MMTHP_DONE = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: get_page(new_page); putback_lru_page(new_page); unlock_page(new_page); unlock_page(page); put_page(page) ×2', 'v4.13', '"Drop the rmap reference", "Drop the LRU isolation reference"');
const MMTHP_DROPREF = site('mm/migrate.c', 'migrate_misplaced_transhuge_page: out_dropref: pmd_lock; if (pmd_same(*pmd, entry)) set_pmd_at(pmd_modify(entry, vma->vm_page_prot)); unlock_page(page); put_page(page)', 'v4.13');

/**
 * `task_numa_work()` scanning `[vpn, vpn + n)` of the VMA: with mmap_sem taken by trylock (a scan
 * that cannot get it is skipped), `change_prot_numa` over each run of the range that still lies in
 * the VMA, its end aligned up to a huge page as task_numa_work aligns it.
 */
export function* taskNumaWork(kc: KernelContext, vpn: number, n: number, vmaPages: number): Gen {
  if (!(yield* p.downReadTrylock(MMAP_SEM, WORK_TRYLOCK))) {
    yield* p.note('mmap_sem is taken: no scan this time', WORK_TRYLOCK);
    return;
  }
  const own = kc.notifiers[0]?.def.device.ownVma;
  if (own !== undefined) {
    // gntdev_mmap: vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP | VM_MIXEDMAP (drivers/xen/gntdev.c v4.13)
    yield* p.note(`VM_MIXEDMAP: the scanner skips the VMA (${own})`, WORK_MIXEDMAP);
    yield* p.upRead(MMAP_SEM, WORK);
    return;
  }
  const nr = kc.thpOrder ? hpageNr(kc) : 1;
  const end = Math.min(vmaPages, Math.ceil((vpn + n) / nr) * nr);
  let first = -1;
  for (let v = vpn; v <= end; v++) {
    const inVma = v < end && (yield* p.vmaLookup(v, WORK_RANGE));
    if (inVma && first < 0) first = v;
    if (!inVma && first >= 0) {
      yield* p.note(`change_prot_numa(${hex(addressOf(first))}, ${hex(addressOf(v))})`, PROT_NUMA);
      yield* changeProtection(kc, first, v - first, { numa: true });
      first = -1;
    }
  }
  yield* p.upRead(MMAP_SEM, WORK);
}

/** `can_change_pte_writable()` for a private anonymous page (v6.8): PageAnonExclusive, approximated as mapped once and not KSM. */
function* canChangeWritable(kc: KernelContext, vpn: number, page: PageRef, at: typeof NUMA_OUT_MAP): Gen<boolean> {
  if (!(yield* p.vmaAllows(vpn, true, at))) return false; // vma_wants_manual_pte_write_upgrade: VM_WRITE
  if (kc.ksm && (yield* p.pageFlags(page, at)).ksm) return false;
  return (yield* p.pageMapcount(page, at)) === 1;
}

/**
 * `do_numa_page()` for the hinting PTE `orig` at `vpn` (the caller holds mmap_sem for read, not the
 * PTL). Returns true: the access retries.
 */
export function* doNumaPage(kc: KernelContext, vpn: number, orig: Pte): Gen<boolean> {
  const v68 = kc.era.numaFault === 'migrate-protnone';
  const at = v68 ? NUMA_PAGE_68 : NUMA_PAGE;
  yield* p.spinLock(PTL, at);
  if (!samePte(yield* p.pteRead(vpn, at), orig)) {
    yield* p.spinUnlock(PTL, at);
    return true;
  }
  const page = { pfn: orig.pfn, generation: orig.generation };
  const accessible: Pte = { ...orig, young: true };
  delete accessible.protnone;
  if (!v68) {
    // the PTE is usable again before the migration starts; the saved write bit comes back
    yield* p.pteSet(vpn, accessible, NUMA_RESTORE);
  }
  const writable = v68 && (orig.writable || (yield* canChangeWritable(kc, vpn, page, NUMA_OUT_MAP)));
  if (orig.pfn === ZERO_PFN || (kc.thpOrder && ((yield* h.compoundHead(page, NUMA_COMPOUND))?.order ?? 0) > 0)) {
    // vm_normal_page() is NULL, or a PTE-mapped THP: not migrated
    if (v68) yield* p.pteSet(vpn, { ...accessible, writable }, NUMA_OUT_MAP);
    yield* p.spinUnlock(PTL, at);
    return true;
  }
  yield* p.getPage(page, NUMA_PREP); // numa_migrate_prep: the page is misplaced
  yield* p.spinUnlock(PTL, at);
  const vmaPages = kc.numa?.vmaPages ?? 0;
  if (yield* migrateMisplacedPage(kc, page, vpn, vmaPages)) return true;
  if (v68) {
    // migration failed: if the PTE is still the hinting one, out_map with writable = false
    yield* p.spinLock(PTL, at);
    if (samePte(yield* p.pteRead(vpn, at), orig)) yield* p.pteSet(vpn, { ...accessible, writable: false }, NUMA_OUT_MAP);
    yield* p.spinUnlock(PTL, at);
  }
  return true;
}

/**
 * `migrate_misplaced_page(page, vma, node)` with the reference numa_migrate_prep took:
 * numamigrate_isolate_page (isolate_lru_page's reference, then the caller's put), a destination
 * page, and migrate_pages(MIGRATE_ASYNC) → unmap_and_move (src/kernel/migrate.ts). Whether it
 * migrated.
 */
function* migrateMisplacedPage(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number): Gen<boolean> {
  yield* p.note('migrate_misplaced_page: migrate_pages(MIGRATE_ASYNC, MR_NUMA_MISPLACED)', MISPLACED);
  yield* p.getPage(page, ISOLATE); // isolate_lru_page
  yield* p.putPage(page, ISOLATE); // the caller's reference
  const newpage = yield* p.allocPage(false, DST_PAGE);
  return yield* unmapAndMove(kc, page, newpage, vpn, 1, vmaPages);
}

/**
 * `do_huge_pmd_numa_page()` for the hinting huge PMD `orig` over `vpn` (mmap_sem held for read).
 * Up to v5.7: under the PMD lock, trylock the THP (a THP being migrated: wait for its lock and
 * retry), take a reference, drop the lock for page_lock_anon_vma_read, recheck, flush a pending TLB
 * flush (v5.0+: and call ->invalidate_range), then migrate_misplaced_transhuge_page. v6.8: the
 * reference, then migrate_misplaced_folio (not modelled for a PMD-mapped THP: see HUGE_PMD_MIGRATION)
 * and out_map.
 */
export function* doHugePmdNumaPage(kc: KernelContext, vpn: number, orig: Pmd): Gen<'done'> {
  const haddr = haddrVpn(kc, vpn);
  const head = { pfn: orig.pfn, generation: orig.generation };
  if (kc.era.numaThpMigration === 'migrate-pages') return yield* doHugePmdNumaPage68(kc, haddr, orig);
  yield* p.spinLock(PTL, HUGE_NUMA);
  if (!samePmd(yield* h.pmdRead(haddr, HUGE_NUMA), orig)) {
    yield* p.spinUnlock(PTL, HUGE_NUMA);
    return 'done';
  }
  if (!(yield* p.trylockPage(head, HUGE_LOCKED))) {
    // "Migration could have started since the pmd_trans_migrating check": get_page_unless_zero;
    // spin_unlock; wait_on_page_locked(page); put_page(page)
    const got = yield* p.getPageUnlessZero(head, HUGE_LOCKED);
    yield* p.spinUnlock(PTL, HUGE_NUMA);
    if (got) {
      yield* p.lockPage(head, HUGE_LOCKED);
      yield* p.unlockPage(head, HUGE_LOCKED);
      yield* p.putPage(head, HUGE_LOCKED);
    }
    return 'done';
  }
  // "Page is misplaced. Page lock serialises migrations. Acquire anon_vma to serialises splits"
  yield* p.getPage(head, HUGE_NUMA);
  yield* p.spinUnlock(PTL, HUGE_NUMA);
  yield* p.downRead(ANON_VMA_RWSEM, HUGE_ANON_VMA);
  yield* p.spinLock(PTL, HUGE_NUMA);
  if (!samePmd(yield* h.pmdRead(haddr, HUGE_NUMA), orig)) {
    // "Confirm the PMD did not change while page_table_lock was released"
    yield* p.unlockPage(head, HUGE_NUMA);
    yield* p.putPage(head, HUGE_NUMA);
    yield* p.spinUnlock(PTL, HUGE_NUMA);
    yield* p.upRead(ANON_VMA_RWSEM, HUGE_ANON_VMA);
    return 'done';
  }
  const pending = kc.numa ? yield* p.read(kc.numa.tlbFlushPending, HUGE_FLUSH) : 0;
  if (pending > 0) {
    const invalidates = kc.era.numaThpMigration === 'fault-invalidates';
    yield* p.tlbFlush(haddr, haddr + hpageNr(kc), invalidates ? HUGE_FLUSH_INVALIDATE : HUGE_FLUSH);
    if (invalidates) {
      const start = addressOf(haddr);
      yield* invalidateRange(kc, { start, end: start + hpageNr(kc) * PAGE_SIZE }, HUGE_FLUSH_INVALIDATE);
    }
  }
  yield* p.spinUnlock(PTL, HUGE_NUMA);
  yield* migrateMisplacedTranshugePage(kc, haddr, orig, head);
  yield* p.upRead(ANON_VMA_RWSEM, HUGE_ANON_VMA);
  return 'done';
}

/**
 * v6.8's do_huge_pmd_numa_page: numa_migrate_prep's reference, then migrate_misplaced_folio, which
 * migrates the THP whole through migrate_pages (try_to_migrate_one → set_pmd_migration_entry over
 * the hinting PMD, src/kernel/rmap-thp.ts; remove_migration_pmd); if that fails, out_map (writable =
 * false).
 */
function* doHugePmdNumaPage68(kc: KernelContext, haddr: number, orig: Pmd): Gen<'done'> {
  yield* p.spinLock(PTL, HUGE_NUMA_68);
  if (!samePmd(yield* h.pmdRead(haddr, HUGE_NUMA_68), orig)) {
    yield* p.spinUnlock(PTL, HUGE_NUMA_68);
    return 'done';
  }
  const head = { pfn: orig.pfn, generation: orig.generation };
  yield* p.getPage(head, NUMA_PREP);
  yield* p.spinUnlock(PTL, HUGE_NUMA_68);
  yield* p.note(`migrate_misplaced_folio(THP at ${hex(addressOf(haddr))}): migrate_pages(MIGRATE_ASYNC, MR_NUMA_MISPLACED)`, HUGE_PMD_MIGRATION);
  yield* p.getPage(head, ISOLATE); // folio_isolate_lru
  yield* p.putPage(head, ISOLATE); // the caller's reference
  const newpage = yield* h.allocHugePage(false, DST_PAGE);
  if (yield* unmapAndMove(kc, head, newpage, haddr, hpageNr(kc), kc.numa?.vmaPages ?? 0)) return 'done';
  yield* p.spinLock(PTL, HUGE_NUMA_68);
  if (samePmd(yield* h.pmdRead(haddr, HUGE_NUMA_68), orig)) {
    const entry: Pmd = { ...orig, young: true, writable: false }; // writable = false after the failed migration
    delete entry.protnone;
    yield* h.pmdSet(haddr, entry, HUGE_CLEAR, 'out_map: set_pmd_at(pmd_modify(oldpmd, vma->vm_page_prot))');
  }
  yield* p.spinUnlock(PTL, HUGE_NUMA_68);
  return 'done';
}

/**
 * `migrate_misplaced_transhuge_page()` (≤ v5.7) of the locked THP `head` mapped by the hinting PMD
 * `entry` at `haddr`, with the caller's reference: isolate, copy, then under the PMD lock recheck
 * and install the new THP in the era's form (Era.numaThpMigration); on failure, out_dropref /
 * fail_putback. Returns with the THP unlocked and the caller's reference dropped.
 */
function* migrateMisplacedTranshugePage(kc: KernelContext, haddr: number, entry: Pmd, head: PageRef): Gen {
  const form = kc.era.numaThpMigration;
  const at = form === 'copy-then-set' ? MMTHP_415 : form === 'fault-invalidates' ? MMTHP_50 : MMTHP;
  const newpage = yield* h.allocHugePage(false, MMTHP_ALLOC);
  // numamigrate_isolate_page: isolate_lru_page, "The expected page count is 3", put_page(page)
  yield* p.getPage(head, ISOLATE);
  const [count] = yield* h.pageCount(head, ISOLATE_THP);
  if (count !== 3) {
    yield* p.putPage(head, ISOLATE_THP); // putback_lru_page
    yield* p.putPage(newpage, ISOLATE_THP);
    yield* outDropref(haddr, entry, head);
    return;
  }
  yield* p.putPage(head, ISOLATE);
  yield* p.trylockPage(newpage, at); // __SetPageLocked(new_page)
  const flags = yield* p.pageFlags(head, MMTHP_COPY);
  yield* p.pageCopy(head, true, MMTHP_COPY);
  if (flags.dirty) yield* p.setPageDirty(newpage, MMTHP_COPY);
  const start = addressOf(haddr);
  const nr = hpageNr(kc);
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', start, start + nr * PAGE_SIZE);
  const bracket = form !== 'fault-invalidates';
  if (bracket) yield* invalidateRangeStart(kc, range, at);
  yield* p.spinLock(PTL, MMTHP_RECHECK);
  const cur = yield* h.pmdRead(haddr, MMTHP_RECHECK);
  const same = samePmd(cur, entry) && (yield* h.pageCount(head, MMTHP_RECHECK))[0] === 2;
  if (!same) {
    yield* p.spinUnlock(PTL, MMTHP_RECHECK);
    if (bracket) yield* invalidateRangeEnd(kc, range, at);
    yield* p.pageCopy(head, false, MMTHP_FAIL);
    yield* p.unlockPage(newpage, MMTHP_FAIL);
    yield* p.putPage(newpage, MMTHP_FAIL); // "Free it"
    // get_page(page); putback_lru_page(page) (the isolation reference): one reference, as before
    yield* p.unlockPage(head, MMTHP_FAIL);
    yield* p.putPage(head, MMTHP_FAIL);
    return;
  }
  // entry = mk_huge_pmd(new_page, vma->vm_page_prot); maybe_pmd_mkwrite(pmd_mkdirty(entry), vma)
  const writable = yield* p.vmaAllows(haddr, true, at);
  const next: Pmd = { pfn: newpage.pfn, generation: newpage.generation, writable, dirty: true, young: true };
  if (form === 'copy-then-clear-notify') {
    yield* h.pmdClear(haddr, true, true, MMTHP_CLEAR);
    yield* invalidateRange(kc, range, MMTHP_CLEAR);
    yield* h.pmdSet(haddr, next, MMTHP_CLEAR);
  } else {
    yield* h.pmdSet(haddr, next, MMTHP_SET, 'set_pmd_at over the PROT_NONE PMD');
  }
  yield* p.spinUnlock(PTL, at);
  if (bracket) yield* invalidateRangeEnd(kc, range, at);
  // the new THP's allocation reference is the new PMD's; the old one's two references go
  yield* p.unlockPage(newpage, MMTHP_DONE);
  yield* p.unlockPage(head, MMTHP_DONE);
  yield* p.putPage(head, MMTHP_DONE); // "Drop the rmap reference"
  yield* p.putPage(head, MMTHP_DONE); // "Drop the LRU isolation reference"
}

/** out_dropref: the hinting PMD made accessible again if it is unchanged (read-only: pmd_modify with vm_page_prot), then unlock and put the THP. */
function* outDropref(haddr: number, entry: Pmd, head: PageRef): Gen {
  yield* p.spinLock(PTL, MMTHP_DROPREF);
  if (samePmd(yield* h.pmdRead(haddr, MMTHP_DROPREF), entry)) {
    const restored: Pmd = { ...entry, writable: false };
    delete restored.protnone;
    yield* h.pmdSet(haddr, restored, MMTHP_DROPREF, 'set_pmd_at(pmd_modify(entry, vma->vm_page_prot))');
  }
  yield* p.spinUnlock(PTL, MMTHP_DROPREF);
  yield* p.unlockPage(head, MMTHP_DROPREF);
  yield* p.putPage(head, MMTHP_DROPREF);
}

/** The sites of this file, for the sources test. */
export const NUMA_SITES = [WORK, WORK_TRYLOCK, WORK_MIXEDMAP, WORK_RANGE, PROT_NUMA, NUMA_PAGE, NUMA_PAGE_68, NUMA_RESTORE, NUMA_OUT_MAP, NUMA_COMPOUND, NUMA_PREP, MISPLACED, ISOLATE, ISOLATE_THP, DST_PAGE, HUGE_NUMA, HUGE_NUMA_68, HUGE_LOCKED, HUGE_ANON_VMA, HUGE_FLUSH, HUGE_FLUSH_INVALIDATE, HUGE_CLEAR, HUGE_PMD_MIGRATION, MMTHP, MMTHP_415, MMTHP_50, MMTHP_ALLOC, MMTHP_COPY, MMTHP_RECHECK, MMTHP_FAIL, MMTHP_CLEAR, MMTHP_SET, MMTHP_DONE, MMTHP_DROPREF];
