/**
 * The teardown of a page-pinning secondary MMU (DESIGN §3.4 contract `pin`): for each page of
 * [first, last] with an entry, drop the entry, mark a page the device could write dirty, then drop
 * the page reference the entry held. Shared by the synthetic drivers that keep gup's reference while
 * a page is mapped.
 *
 * The dirtying is what the kernel's pinning drivers do at unpin for pages mapped writable:
 * `set_page_dirty(page)` without the page lock (amdgpu_ttm_tt_unpin_userptr: `if (!(gtt->userflags &
 * AMDGPU_GEM_USERPTR_READONLY)) set_page_dirty(page)`, drivers/gpu/drm/amd/amdgpu/amdgpu_ttm.c v4.13;
 * ib_umem_odp_unmap_dma_pages: `set_page_dirty(head_page)` for a write-mapped page, "MMU notifiers are
 * called sometimes with and sometimes without the [page] lock", drivers/infiniband/core/umem_odp.c
 * v4.13). Without it, what the device wrote into a page reclaim then finds clean (a lazyfree page after
 * MADV_FREE) is dropped: no-lost-dirty.
 */
import type { DeviceFault, DeviceFaultResult } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen, TableId } from '../runtime/primitives';
import type { Site } from '../runtime/site';

export function* unpinRange(k: KernelApi, table: TableId, first: number, last: number, at: Site): Gen {
  for (let vpn = first; vpn <= last; vpn++) {
    const old = yield* k.spteRead(table, vpn, at);
    if (!old) continue;
    yield* k.spteClearRange(table, vpn, vpn + 1, at);
    if (old.writable) yield* k.setPageDirty(old, at);
    yield* k.putPage(old, at);
  }
}

/**
 * The device fault of those drivers: get_user_pages (may sleep, takes a reference), then under the
 * driver's mutex replace the entry for the page, the entry keeping gup's reference.
 */
export function* pinningFault(k: KernelApi, table: TableId, lock: number, f: DeviceFault, at: Site): Gen<DeviceFaultResult> {
  const got = yield* k.getUserPagesUnlocked(f.address, f.write);
  if (!got) return 'error';
  const vpn = k.vpnOf(f.address);
  yield* k.mutexLock(lock, at);
  yield* unpinRange(k, table, vpn, vpn, at);
  yield* k.spteSet(table, vpn, got.page, got.writable, at);
  yield* k.mutexUnlock(lock, at);
  return 'mapped';
}
