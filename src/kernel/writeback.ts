/**
 * A MAP_SHARED file mapping (the scenario's `file`) and its writeback: the page-cache fault paths
 * of mm/memory.c (do_read_fault, do_shared_fault, wp_page_shared) with mm/filemap.c's
 * filemap_fault and filemap_page_mkwrite as the file's vm_ops, and mm/page-writeback.c
 * write_cache_pages → clear_page_dirty_for_io → page_mkclean (mm/rmap.c) in each era's form.
 *
 * The file is mapped at offset 0, so the page at `vpn` is the file's page `vpn`. Its page-cache
 * pages hold one reference each (the page cache's); a hole punch (src/kernel/truncate.ts) deletes a
 * page from the cache, and the fault, page_mkwrite and writeback paths recheck `page->mapping`
 * under the page lock. File reclaim is not modelled. Not modelled (each a simplification stated where it
 * applies): fault-around (->map_pages), the read I/O (readpage: the page is up to date at once),
 * PG_writeback and the I/O of writepage (end_page_writeback is at once), balance_dirty_pages,
 * wait_for_stable_page, the page-cache radix tree's RCU (the lookup is one step).
 *
 * page_mkclean is a permission downgrade: after it the device must not keep a writable secondary
 * mapping, or a later device write neither faults nor dirties the page and writeback never writes
 * it (reference §1.d, §5.2 rule 6).
 */
import { PAGE_SIZE, VMA_BASE, addressOf, hex, type Pte } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { CounterId, Gen, LockId, PageRef } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { PTL } from './mm';
import { daxWritebackPage } from './dax';
import { PAGE_RANGE, invalidatePage, invalidateRange, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, secondaryTlbInvalidate } from './mmu_notifier';

/** The shared file mapping's objects (KernelContext.file), created only for a `file` scenario. */
export interface FileMapping {
  /** `mapping->i_mmap_rwsem`: rmap_walk_file takes it for read (i_mmap_lock_read). */
  readonly iMmapRwsem: LockId;
  /** `mapping->tree_lock` (v4.10 … v4.19; `i_pages` xa_lock later): serialises page-cache insertion. */
  readonly treeLock: LockId;
  /** Per file page: the page-cache page's pfn + 1 (0: not cached) and its generation. */
  readonly cachePfn: readonly CounterId[];
  readonly cacheGen: readonly CounterId[];
}

// --- sites ---------------------------------------------------------------------------------------

const FILEMAP_FAULT = site('mm/filemap.c', 'filemap_fault', 'v4.13');
const FIND_GET_PAGE = site('mm/filemap.c', 'filemap_fault → find_get_page (page_cache_get_speculative)', 'v4.13');
const PAGE_CACHE_READ = site('mm/filemap.c', 'page_cache_read: __page_cache_alloc', 'v4.13', 'readpage is not modelled: the page is up to date at once');
const ADD_TO_PAGE_CACHE = site('mm/filemap.c', 'add_to_page_cache_lru → __add_to_page_cache_locked: get_page; radix_tree_insert under tree_lock', 'v4.13');
const PAGE_CACHE_READ_PUT = site('mm/filemap.c', 'page_cache_read: put_page(page) (-EEXIST: another fault added it)', 'v4.13');
const FAULT_TRUNCATED = site('mm/filemap.c', 'filemap_fault: "Did it get truncated?" page->mapping != mapping: unlock_page; put_page; goto retry_find', 'v4.13');
const WCP_TRUNCATED = site('mm/page-writeback.c', 'write_cache_pages: page->mapping != mapping: continue_unlock', 'v4.13');
const FAULT_LOCK = site('mm/filemap.c', 'filemap_fault: lock_page_or_retry → VM_FAULT_LOCKED', 'v4.13');
const DO_READ_FAULT = site('mm/memory.c', 'do_read_fault', 'v4.13', 'do_fault_around (->map_pages) is not modelled');
const DO_SHARED_FAULT = site('mm/memory.c', 'do_shared_fault', 'v4.13');
const ALLOC_SET_PTE = site('mm/memory.c', 'finish_fault → alloc_set_pte: page_add_file_rmap; set_pte_at', 'v4.13');
const PAGE_MKWRITE = site('mm/filemap.c', 'filemap_page_mkwrite', 'v4.13', 'wait_for_stable_page and file_update_time are not modelled');
const DO_PAGE_MKWRITE = site('mm/memory.c', 'do_page_mkwrite', 'v4.13');
const FAULT_DIRTY = site('mm/memory.c', 'fault_dirty_shared_page', 'v4.13', 'balance_dirty_pages_ratelimited is not modelled');
const WP_SHARED = site('mm/memory.c', 'wp_page_shared', 'v4.13');
const FINISH_MKWRITE = site('mm/memory.c', 'finish_mkwrite_fault → wp_page_reuse', 'v4.13');
const WCP = site('mm/page-writeback.c', 'write_cache_pages', 'v4.13');
const WCP_LOOKUP = site('mm/page-writeback.c', 'write_cache_pages → pagevec_lookup_tag(PAGECACHE_TAG_DIRTY)', 'v4.13', 'the model looks the one page up');
const CPDFIO = site('mm/page-writeback.c', 'clear_page_dirty_for_io', 'v4.13');
const TEST_CLEAR = site('mm/page-writeback.c', 'clear_page_dirty_for_io: TestClearPageDirty(page)', 'v4.13');
const WRITEPAGE = site('mm/page-writeback.c', 'write_cache_pages → __writepage → ->writepage', 'v4.13', 'set_page_writeback, the I/O and end_page_writeback happen at once, with the data as it is now');
const PAGE_MKCLEAN = site('mm/rmap.c', 'page_mkclean', 'v4.13');
const RMAP_WALK_FILE = site('mm/rmap.c', 'rmap_walk_file: i_mmap_lock_read(mapping)', 'v4.13');
const FLUSH_PAGE = site('arch/x86/mm/tlb.c', 'ptep_clear_flush → flush_tlb_page → flush_tlb_mm_range', 'v6.8');

/** page_mkclean_one and its walk in each form of Era.tryToUnmapNotify (the same eras changed both functions). */
const MKCLEAN_SITES: Record<string, { one: Site; walk: Site }> = {
  // v4.10.17 mm/rmap.c: page_check_address(); … pte_unmap_unlock(pte, ptl); if (ret) mmu_notifier_invalidate_page(mm, address)
  'invalidate-page-after-ptl': { one: site('mm/rmap.c', 'page_mkclean_one', 'v4.10'), walk: site('mm/rmap.c', 'page_check_address', 'v4.10') },
  // v4.12 mm/rmap.c: while (page_vma_mapped_walk(&pvmw)) { … if (ret) { mmu_notifier_invalidate_page(vma->vm_mm, address); … } }
  'invalidate-page-under-ptl': { one: site('mm/rmap.c', 'page_mkclean_one', 'v4.12'), walk: site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'v4.12') },
  'invalidate-range-after-walk': {
    one: site('mm/rmap.c', 'page_mkclean_one', 'aac2fea9', '[U] the diff was not read: taken to do as its try_to_unmap_one did (a bare invalidate_range after the walk)'),
    walk: site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'aac2fea9'),
  },
  // v4.13.19 … v6.8 mm/rmap.c: range_start(address, min(vm_end, address + PAGE_SIZE << order)); walk; range_end
  bracket: { one: site('mm/rmap.c', 'page_mkclean_one', 'v4.13'), walk: site('mm/page_vma_mapped.c', 'page_vma_mapped_walk', 'v4.13') },
};

function pteSame(a: Pte | null, b: Pte): boolean {
  return a !== null && !a.swap && a.pfn === b.pfn && a.generation === b.generation && a.writable === b.writable;
}

// --- the page cache --------------------------------------------------------------------------------

/** `find_get_page(mapping, index)`: the cached page with a reference taken, or null. */
function* findGetPage(f: FileMapping, index: number, at: Site): Gen<PageRef | null> {
  const pfn1 = yield* p.read(f.cachePfn[index], at);
  if (pfn1 === 0) return null;
  const page = { pfn: pfn1 - 1, generation: yield* p.read(f.cacheGen[index], at) };
  return (yield* p.getPageUnlessZero(page, at)) ? page : null;
}

/**
 * `page->mapping == mapping` for the locked page at file `index`: it is still the page cache's page
 * there, not truncated meanwhile (src/kernel/truncate.ts deletes it from the cache under its lock).
 */
export function* stillCached(f: FileMapping, index: number, page: PageRef, at: Site): Gen<boolean> {
  const pfn1 = yield* p.read(f.cachePfn[index], at);
  return pfn1 === page.pfn + 1 && (yield* p.read(f.cacheGen[index], at)) === page.generation;
}

/**
 * `filemap_fault()` (mm/filemap.c v4.13.19): find_get_page; on a miss page_cache_read allocates a
 * page, add_to_page_cache_lru inserts it (the page cache's reference) unless another fault did
 * first (-EEXIST), put_page drops the allocation's reference, and the lookup is retried; then
 * lock_page_or_retry and "Did it get truncated?" (page->mapping != mapping: unlock, put, retry_find).
 * Returns the page locked, with the fault's reference (VM_FAULT_LOCKED).
 */
function* filemapFault(f: FileMapping, index: number): Gen<PageRef> {
  for (;;) {
    const page = yield* filemapFind(f, index);
    yield* p.lockPage(page, FAULT_LOCK);
    if (yield* stillCached(f, index, page, FAULT_TRUNCATED)) return page;
    yield* p.unlockPage(page, FAULT_TRUNCATED);
    yield* p.putPage(page, FAULT_TRUNCATED);
  }
}

/** filemap_fault's find_get_page, with page_cache_read on a miss: the cached page, with a reference. */
function* filemapFind(f: FileMapping, index: number): Gen<PageRef> {
  let page: PageRef | null;
  while ((page = yield* findGetPage(f, index, FIND_GET_PAGE)) === null) {
    const fresh = yield* p.allocPage(true, PAGE_CACHE_READ); // __page_cache_alloc(gfp_mask|__GFP_COLD): may sleep
    yield* p.spinLock(f.treeLock, ADD_TO_PAGE_CACHE);
    if ((yield* p.read(f.cachePfn[index], ADD_TO_PAGE_CACHE)) === 0) {
      yield* p.getPage(fresh, ADD_TO_PAGE_CACHE); // the page cache's reference
      yield* p.write(f.cacheGen[index], fresh.generation, ADD_TO_PAGE_CACHE);
      yield* p.write(f.cachePfn[index], fresh.pfn + 1, ADD_TO_PAGE_CACHE);
    }
    yield* p.spinUnlock(f.treeLock, ADD_TO_PAGE_CACHE);
    yield* p.putPage(fresh, PAGE_CACHE_READ_PUT);
  }
  return page;
}

/**
 * `filemap_page_mkwrite()` via `do_page_mkwrite()`: lock_page; `if (page->mapping !=
 * inode->i_mapping) { unlock_page(page); ret = VM_FAULT_NOPAGE; }` (truncated: the fault is retried);
 * else set_page_dirty ("so that when freeze is in progress, we are guaranteed that writeback during
 * freezing will see the dirty page and writeprotect it again") and VM_FAULT_LOCKED. Returns whether
 * the page is still the file's (locked).
 */
function* doPageMkwrite(f: FileMapping, index: number, page: PageRef): Gen<boolean> {
  yield* p.note('vmf->vma->vm_ops->page_mkwrite(vmf) = filemap_page_mkwrite', DO_PAGE_MKWRITE);
  yield* p.lockPage(page, PAGE_MKWRITE);
  if (!(yield* stillCached(f, index, page, PAGE_MKWRITE))) {
    yield* p.unlockPage(page, PAGE_MKWRITE);
    return false;
  }
  yield* p.setPageDirty(page, PAGE_MKWRITE);
  return true;
}

/** `fault_dirty_shared_page()`: set_page_dirty; unlock_page (then balance_dirty_pages, not modelled). */
function* faultDirtySharedPage(page: PageRef): Gen {
  yield* p.setPageDirty(page, FAULT_DIRTY);
  yield* p.unlockPage(page, FAULT_DIRTY);
}

/**
 * `do_fault()` of the shared file VMA at `vpn` (pte_none; mm/memory.c v4.13.19, the same shape in
 * v4.10.17): a read is do_read_fault, a write do_shared_fault. The PTE a read maps is read-only:
 * the mapping wants write notification (vma_wants_writenotify: the file has ->page_mkwrite), so
 * vm_page_prot has no write bit and the first write goes through do_wp_page → wp_page_shared.
 */
export function* doFileFault(kc: KernelContext, vpn: number, write: boolean): Gen<boolean> {
  const f = kc.file!;
  const at = write ? DO_SHARED_FAULT : DO_READ_FAULT;
  yield* p.note(`__do_fault → vma->vm_ops->fault = filemap_fault (file page ${vpn})`, FILEMAP_FAULT);
  const page = yield* filemapFault(f, vpn);
  if (write) {
    // do_shared_fault: if (vma->vm_ops->page_mkwrite) { unlock_page(vmf->page); tmp = do_page_mkwrite(vmf);
    // if (unlikely(!tmp || (tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)))) { put_page(vmf->page); return tmp; } }
    yield* p.unlockPage(page, at);
    if (!(yield* doPageMkwrite(f, vpn, page))) {
      yield* p.putPage(page, at);
      return true;
    }
  }
  // finish_fault → alloc_set_pte: under the PTL, `if (!pte_none(*vmf->pte)) return VM_FAULT_NOPAGE`;
  // entry = mk_pte(page, vma->vm_page_prot); if (write) entry = maybe_mkwrite(pte_mkdirty(entry));
  // page_add_file_rmap(page, false); set_pte_at
  yield* p.spinLock(PTL, ALLOC_SET_PTE);
  const mapped = (yield* p.pteRead(vpn, ALLOC_SET_PTE)) === null;
  if (mapped) yield* p.pteSet(vpn, { pfn: page.pfn, generation: page.generation, writable: write, dirty: write, young: true, swap: false }, ALLOC_SET_PTE);
  yield* p.spinUnlock(PTL, ALLOC_SET_PTE);
  if (!mapped) {
    // VM_FAULT_NOPAGE: unlock_page(vmf->page); put_page(vmf->page)
    yield* p.unlockPage(page, at);
    yield* p.putPage(page, at);
    return true;
  }
  // the fault's reference is now the mapping's
  if (write) yield* faultDirtySharedPage(page);
  else yield* p.unlockPage(page, at);
  return true;
}

/**
 * `do_wp_page()` on the shared file VMA (VM_WRITE|VM_SHARED, not PageAnon): `wp_page_shared()`,
 * entered with the PTL held and `orig` the read-only PTE (mm/memory.c v4.10.17, v4.13.19; v6.8
 * the same with vmf_can_call_fault first): get_page; pte_unmap_unlock; do_page_mkwrite;
 * finish_mkwrite_fault re-takes the PTL and, if the PTE is unchanged, wp_page_reuse makes it
 * writable and dirty (no copy); fault_dirty_shared_page; put_page.
 */
export function* wpPageShared(kc: KernelContext, vpn: number, orig: Pte): Gen<boolean> {
  const page = { pfn: orig.pfn, generation: orig.generation };
  yield* p.getPage(page, WP_SHARED);
  yield* p.spinUnlock(PTL, WP_SHARED);
  if (!(yield* doPageMkwrite(kc.file!, vpn, page))) {
    // tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE): put_page(vmf->page); return tmp
    yield* p.putPage(page, WP_SHARED);
    return true;
  }
  yield* p.spinLock(PTL, FINISH_MKWRITE);
  if (!pteSame(yield* p.pteRead(vpn, FINISH_MKWRITE), orig)) {
    // "We might have raced with another page fault while we released the pte_offset_map_lock."
    yield* p.spinUnlock(PTL, FINISH_MKWRITE);
    yield* p.unlockPage(page, WP_SHARED);
    yield* p.putPage(page, WP_SHARED);
    return true;
  }
  // wp_page_reuse: entry = maybe_mkwrite(pte_mkdirty(pte_mkyoung(vmf->orig_pte))); ptep_set_access_flags
  yield* p.pteSet(vpn, { ...orig, writable: true, dirty: true, young: true }, FINISH_MKWRITE);
  yield* p.spinUnlock(PTL, FINISH_MKWRITE);
  yield* faultDirtySharedPage(page);
  yield* p.putPage(page, WP_SHARED);
  return true;
}

// --- page_mkclean -------------------------------------------------------------------------------------

/**
 * The walk's body for the one PTE (every era: `if (!pte_dirty(*pte) && !pte_write(*pte)) continue;
 * flush_cache_page; entry = ptep_clear_flush(vma, address, pte); entry = pte_wrprotect(entry);
 * entry = pte_mkclean(entry); set_pte_at(mm, address, pte, entry)`). The caller holds the PTL.
 * Returns whether the PTE was cleaned (`ret = 1`). `flushed` runs inside ptep_clear_flush, after
 * the CPU TLB flush (v6.6+: flush_tlb_page → ->arch_invalidate_secondary_tlbs).
 */
function* mkcleanPte(page: PageRef, vpn: number, at: Site, walk: Site, flushed: (() => Gen) | null): Gen<boolean> {
  const pte = yield* p.pteRead(vpn, walk);
  if (pte === null || pte.swap || pte.pfn !== page.pfn || pte.generation !== page.generation) return false; // not mapped here
  if (!pte.dirty && !pte.writable) return false;
  // ptep_clear_flush: the CPU TLB is flushed at once (the model's PteClear with removeRmap keeps the
  // mapcount right across the clear and the set_pte_at of the same page; no rmap changes in the kernel)
  const old = (yield* p.pteClear(vpn, true, true, at))!;
  if (flushed) yield* flushed();
  yield* p.pteSet(vpn, { ...old, writable: false, dirty: false }, at);
  return true;
}

/**
 * `page_mkclean_one()` for the one VMA (mm/rmap.c), in the era's form:
 * - v4.10 (`invalidate-page-after-ptl`, v4.10.17 [V]): page_check_address takes the PTL; after
 *   pte_unmap_unlock, `if (ret) mmu_notifier_invalidate_page(mm, address)`;
 * - v4.12 (`invalidate-page-under-ptl`, c7ab0d2fdc84; v4.12 [V]): `mmu_notifier_invalidate_page`
 *   inside the page_vma_mapped_walk loop, with the walk's PTL held;
 * - aac2fea9 (`invalidate-range-after-walk`) [U: the diff was not read]: no call in the loop, one
 *   bare mmu_notifier_invalidate_range after it, in the range shape of its try_to_unmap_one;
 * - v4.13+ (`bracket`, v4.13.19, v4.15, v5.7.14, v6.8 [V]): invalidate_range_start(address,
 *   min(vm_end, address + (PAGE_SIZE << compound_order(page)))) (v5.2+: MMU_NOTIFY_PROTECTION_PAGE);
 *   under the PTL after set_pte_at, v4.13 calls `mmu_notifier_invalidate_range(cstart, cend)`
 *   (Era.mkcleanInvalidateRange); v4.15 … v6.5 none ("No need to call
 *   mmu_notifier_invalidate_range() as we are downgrading page table protection"); v6.6+
 *   ptep_clear_flush → flush_tlb_page → ->arch_invalidate_secondary_tlbs; then range_end (not
 *   only_end: ≤ v6.5 it calls ->invalidate_range).
 */
function* pageMkcleanOne(kc: KernelContext, page: PageRef, vpn: number, vmaPages: number): Gen<boolean> {
  const era = kc.era;
  const { one, walk } = MKCLEAN_SITES[era.tryToUnmapNotify];
  const address = addressOf(vpn);
  const order = 0; // compound_order(page): page-cache pages are order 0 here
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_PROTECTION_PAGE', address, Math.min(VMA_BASE + vmaPages * PAGE_SIZE, address + (PAGE_SIZE << order)));
  if (era.tryToUnmapNotify === 'bracket') yield* invalidateRangeStart(kc, range, one);
  yield* p.spinLock(PTL, walk);
  // v6.6+: ptep_clear_flush → flush_tlb_page → flush_tlb_mm_range → ->arch_invalidate_secondary_tlbs
  const arch = era.tryToUnmapNotify === 'bracket' && era.secondaryTlbs === 'arch-tlb-flush' ? () => secondaryTlbInvalidate(kc, PAGE_RANGE(address), one, FLUSH_PAGE) : null;
  const cleaned = yield* mkcleanPte(page, vpn, one, walk, arch);
  // v4.13: after set_pte_at, mmu_notifier_invalidate_range(vma->vm_mm, cstart, cend) under the PTL
  if (cleaned && era.tryToUnmapNotify === 'bracket' && era.secondaryTlbs === 'invalidate-range' && era.mkcleanInvalidateRange) {
    yield* invalidateRange(kc, PAGE_RANGE(address), one);
  }
  if (cleaned && era.tryToUnmapNotify === 'invalidate-page-under-ptl') yield* invalidatePage(kc, address, one);
  yield* p.spinUnlock(PTL, walk);
  if (cleaned && era.tryToUnmapNotify === 'invalidate-page-after-ptl') yield* invalidatePage(kc, address, one);
  if (cleaned && era.tryToUnmapNotify === 'invalidate-range-after-walk') {
    const shape = era.rangeAfterWalk ?? { lengthInPages: false, startAtLastPte: false };
    const len = shape.lengthInPages ? 1 << order : PAGE_SIZE << order;
    const start = shape.startAtLastPte ? address : address & ~((PAGE_SIZE << order) - 1);
    yield* invalidateRange(kc, { start, end: start + len }, one);
  }
  if (era.tryToUnmapNotify === 'bracket') yield* invalidateRangeEnd(kc, range, one);
  return cleaned;
}

/**
 * `page_mkclean(page)` (the page locked): `if (!page_mapped(page)) return 0`; rmap_walk_file under
 * i_mmap_lock_read(mapping), page_mkclean_one for each VMA mapping it (here the one VMA, if it still
 * maps page `index`; a munmapped VMA's PTE is gone and the walk finds nothing). Returns `cleaned`.
 */
function* pageMkclean(kc: KernelContext, page: PageRef, index: number, vmaPages: number): Gen<boolean> {
  const f = kc.file!;
  if ((yield* p.pageMapcount(page, PAGE_MKCLEAN)) === 0) return false;
  yield* p.downRead(f.iMmapRwsem, RMAP_WALK_FILE);
  const cleaned = yield* pageMkcleanOne(kc, page, index, vmaPages);
  yield* p.upRead(f.iMmapRwsem, RMAP_WALK_FILE);
  return cleaned;
}

/**
 * Writeback of file page `index` (a `writeback` thread: the flusher's wb_writeback →
 * do_writepages → write_cache_pages, mm/page-writeback.c v4.13.19): look the page up (a reference),
 * lock_page, skip it unless PageDirty; clear_page_dirty_for_io: `if (page_mkclean(page))
 * set_page_dirty(page)`, then `TestClearPageDirty(page)`; if it was dirty, ->writepage writes it
 * (with what the CPU and devices wrote so far) and unlocks it; else unlock_page. The reference is
 * dropped (pagevec_release).
 */
export function* writebackPage(kc: KernelContext, index: number, vmaPages: number): Gen {
  if (kc.dax) return yield* daxWritebackPage(kc, index, vmaPages); // a DAX file: dax_writeback_one (kernel/dax.ts)
  const f = kc.file!;
  const page = yield* findGetPage(f, index, WCP_LOOKUP);
  if (page === null) {
    yield* p.note(`file page ${index} is not in the page cache: nothing to write`, WCP_LOOKUP);
    return;
  }
  yield* p.lockPage(page, WCP);
  if (!(yield* stillCached(f, index, page, WCP_TRUNCATED))) {
    // "if (unlikely(page->mapping != mapping)) { continue_unlock: unlock_page(page); continue; }"
    yield* p.unlockPage(page, WCP_TRUNCATED);
    yield* p.putPage(page, WCP);
    return;
  }
  if (!(yield* p.pageFlags(page, WCP)).dirty) {
    yield* p.note('!PageDirty(page): someone wrote it for us', WCP);
    yield* p.unlockPage(page, WCP);
    yield* p.putPage(page, WCP);
    return;
  }
  // PageWriteback is not modelled: every writepage here has completed (end_page_writeback at once)
  yield* p.note(`clear_page_dirty_for_io(page of ${hex(addressOf(index))})`, CPDFIO);
  if (yield* pageMkclean(kc, page, index, vmaPages)) yield* p.setPageDirty(page, CPDFIO);
  const wasDirty = yield* p.writeback(page, TEST_CLEAR);
  if (wasDirty) yield* p.note('->writepage: set_page_writeback, unlock_page, I/O, end_page_writeback', WRITEPAGE);
  yield* p.unlockPage(page, wasDirty ? WRITEPAGE : WCP);
  yield* p.putPage(page, WCP);
}
