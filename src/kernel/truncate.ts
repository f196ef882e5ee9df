/**
 * mm/truncate.c: a hole punched in the shared file mapping (`fallocate(FALLOC_FL_PUNCH_HOLE)` of one
 * page: the filesystem's ->fallocate, e.g. shmem_fallocate or ext4_punch_hole, calls
 * `truncate_pagecache_range`), read in v4.13.19 and v6.8 (mm/truncate.c, mm/memory.c, mm/filemap.c):
 *
 * 1. `unmap_mapping_range(mapping, start, PAGE_SIZE, 0)`: under `i_mmap_lock_write(mapping)`, for
 *    each VMA mapping the page, `zap_page_range_single` — tlb_gather_mmu, range_start
 *    (MMU_NOTIFY_CLEAR from v5.2), zap_pte_range (a dirty PTE dirties the page; the mapping's
 *    reference goes to the mmu_gather), range_end, tlb_finish_mmu (the CPU TLB flush and, up to
 *    v6.5, ->invalidate_range; the mapping's reference dropped). No mmap_sem.
 * 2. `truncate_inode_pages_range`: the cached page looked up and locked (trylock_page, lock_page on
 *    the second pass; v6.8 find_lock_entries), then `truncate_inode_page` (v6.8
 *    truncate_inode_folio): if still mapped (a fault raced in), `unmap_mapping_range` of that page
 *    again; cancel_dirty_page; `delete_from_page_cache` (out of the tree under its lock, the page
 *    cache's reference dropped); unlock. The page is freed with its last reference: a driver that
 *    still reaches it without a reference maps a freed page.
 *
 * The faults that race with it find the page truncated under the page lock (filemap_fault's "Did it
 * get truncated?", filemap_page_mkwrite's page->mapping check: src/kernel/writeback.ts). Not
 * modelled: the inode lock and the filesystem's own locks (i_rwsem, i_mmap_sem / invalidate_lock),
 * which order the punch against write(2) and other fallocate calls, not against faults in the model;
 * PageWriteback (writeback completes at once here); partial pages (the hole is whole pages).
 */
import { PAGE_SIZE, addressOf, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen, PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { tlbFinishMmu, zapPteRange } from './memory';
import { invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';
import { stillCached } from './writeback';

const PUNCH = site('mm/truncate.c', 'truncate_pagecache_range', 'v4.13', 'from ->fallocate(FALLOC_FL_PUNCH_HOLE) of one page');
const UNMAP_RANGE = site('mm/memory.c', 'unmap_mapping_range: i_mmap_lock_write(mapping); unmap_mapping_range_tree', 'v4.13', 'v6.8: unmap_mapping_pages');
const ZAP_SINGLE = site('mm/memory.c', 'zap_page_range_single', 'v4.13');
const TRUNCATE_RANGE = site('mm/truncate.c', 'truncate_inode_pages_range: find_get_page; lock_page', 'v4.13', 'the trylock_page pass and the lock_page pass are one lock_page; v6.8 find_lock_entries');
const TRUNCATE_PAGE = site('mm/truncate.c', 'truncate_inode_page: if (page_mapped(page)) unmap_mapping_range(mapping, index << PAGE_SHIFT, PAGE_SIZE, 0)', 'v4.13', 'v6.8 truncate_inode_folio → truncate_cleanup_folio: unmap_mapping_folio');
const CANCEL_DIRTY = site('mm/truncate.c', 'truncate_complete_page: cancel_dirty_page', 'v4.13');
const DELETE = site('mm/filemap.c', 'delete_from_page_cache: __delete_from_page_cache under tree_lock; put_page (the page cache\'s reference)', 'v4.13', 'v6.8 filemap_remove_folio / delete_from_page_cache_batch');
const UNLOCK = site('mm/truncate.c', 'truncate_inode_pages_range: unlock_page; pagevec_release', 'v4.13');

/** The hole punch of file page `index` (the scenario's `punch`). */
export function* punchHole(kc: KernelContext, index: number): Gen {
  const f = kc.file!;
  yield* p.note(`fallocate(FALLOC_FL_PUNCH_HOLE, ${hex(index * PAGE_SIZE)}, ${hex(PAGE_SIZE)}) → truncate_pagecache_range`, PUNCH);
  yield* unmapMappingRange(kc, index);
  // truncate_inode_pages_range
  const pfn1 = yield* p.read(f.cachePfn[index], TRUNCATE_RANGE);
  if (pfn1 === 0) {
    yield* p.note(`file page ${index} is not cached: nothing to truncate`, TRUNCATE_RANGE);
    return;
  }
  const page: PageRef = { pfn: pfn1 - 1, generation: yield* p.read(f.cacheGen[index], TRUNCATE_RANGE) };
  if (!(yield* p.getPageUnlessZero(page, TRUNCATE_RANGE))) return;
  yield* p.lockPage(page, TRUNCATE_RANGE);
  if (yield* stillCached(f, index, page, TRUNCATE_RANGE)) {
    // truncate_inode_page: a fault may have mapped it again since the first unmap
    if ((yield* p.pageMapcount(page, TRUNCATE_PAGE)) > 0) yield* unmapMappingRange(kc, index);
    // cancel_dirty_page: PG_dirty cleared, the data thrown away (not written: the hole reads as zeroes)
    yield* p.writeback(page, CANCEL_DIRTY, `cancel_dirty_page(pfn ${page.pfn}/g${page.generation})`);
    yield* p.spinLock(f.treeLock, DELETE);
    yield* p.write(f.cachePfn[index], 0, DELETE);
    yield* p.spinUnlock(f.treeLock, DELETE);
    yield* p.putPage(page, DELETE);
  }
  yield* p.unlockPage(page, UNLOCK);
  yield* p.putPage(page, UNLOCK);
}

/**
 * `unmap_mapping_range(mapping, index << PAGE_SHIFT, PAGE_SIZE, 0)` for the one VMA (the file is
 * mapped at offset 0): under i_mmap_rwsem for write, `zap_page_range_single` of the page if the VMA
 * still covers it.
 */
function* unmapMappingRange(kc: KernelContext, index: number): Gen {
  const f = kc.file!;
  yield* p.downWrite(f.iMmapRwsem, UNMAP_RANGE);
  if (yield* p.vmaLookup(index, UNMAP_RANGE)) {
    const start = addressOf(index);
    const range = mmuNotifierRange(kc, 'MMU_NOTIFY_CLEAR', start, start + PAGE_SIZE);
    const batch: PageRef[] = [];
    yield* invalidateRangeStart(kc, range, ZAP_SINGLE);
    yield* zapPteRange(index, 1, batch, true);
    yield* invalidateRangeEnd(kc, range, ZAP_SINGLE);
    yield* tlbFinishMmu(kc, index, 1, batch);
  } else {
    yield* p.note('no VMA maps the page any more (munmap)', UNMAP_RANGE);
  }
  yield* p.upWrite(f.iMmapRwsem, UNMAP_RANGE);
}

/** The sites of this file, for the sources test. */
export const TRUNCATE_SITES = [PUNCH, UNMAP_RANGE, ZAP_SINGLE, TRUNCATE_RANGE, TRUNCATE_PAGE, CANCEL_DIRTY, DELETE, UNLOCK];
