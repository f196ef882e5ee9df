/**
 * IB on-demand paging with the interval notifier (f25a546e6529 "RDMA/odp: Use
 * mmu_interval_notifier_insert()", v5.5): each umem embeds a `struct mmu_interval_notifier` over
 * its range, and mlx5's `mlx5_ib_invalidate_range` is its `invalidate`. One ODP MR whose umem covers
 * the modelled VMA; no page reference is kept once a page is DMA-mapped (`mirror`).
 *
 * - `ib-umem-odp` v5.5 (read in v5.7.14): the invalidation returns false when not blockable, else
 *   under `umem_mutex` calls mmu_interval_set_seq, zaps the MTTs (a UMR, waited for) and
 *   `ib_umem_odp_unmap_dma_pages` (set_page_dirty for pages mapped for write). The fault,
 *   mlx5 `pagefault_real_mr`: mmu_interval_read_begin; `ib_umem_odp_map_dma_pages` (get_user_pages_remote
 *   with FOLL_WRITE under mmap_sem, holding page references; under `umem_mutex`
 *   `ib_umem_odp_map_dma_single_page` checks mmu_interval_check_retry, DMA-maps, put_page); then
 *   under `umem_mutex` again mmu_interval_read_retry before mlx5_ib_update_xlt writes the MTTs.
 * - `ib-umem-odp` v6.6 (read in v6.8): `ib_umem_odp_map_dma_and_lock` (36f30e486dce "IB/core:
 *   Improve ODP to use hmm_range_fault()", v5.10 [U]) loops read_begin / hmm_range_fault under
 *   mmap_read_lock / read_retry under `umem_mutex` and returns holding it; `pagefault_real_mr`
 *   writes the MTTs (mlx5r_umr_update_xlt) and unlocks. No page reference is ever taken.
 *
 * Model: `umem_odp->dma_list` is a table holding the page each DMA mapping is of (v6.8 finds that
 * page in `pfn_list`, which hmm_range_fault writes outside umem_mutex; an entry of dma_list is only
 * made under umem_mutex after read_retry, and cleared by every invalidation before the PTE changes,
 * so the two agree whenever dma_list has an entry). Not modelled: implicit ODP, prefetch
 * (MLX5_PF_FLAGS_SNAPSHOT), huge pages (page_shift), `npages == 0` (the zap of an empty range
 * changes nothing), the HMM_RANGE_DEFAULT_TIMEOUT.
 */
import type { DeviceFault, DeviceFaultResult, MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';

const ODP = 'drivers/infiniband/core/umem_odp.c';
const MLX5 = 'drivers/infiniband/hw/mlx5/odp.c';

export interface OdpIntervalState {
  /** `umem_odp->umem_mutex`. */
  readonly umemMutex: number;
  /** `umem_odp->dma_list`: the DMA mappings of the umem's pages (no reference held). */
  readonly dmaList: number;
  /** The HCA's MTTs, what the device translates through. */
  readonly mtt: number;
  /** `umem_odp->notifier`. */
  readonly sub: number;
}

function sites(v: string) {
  return {
    invalidate: site(MLX5, 'mlx5_ib_invalidate_range', v),
    zap: site(MLX5, `mlx5_ib_invalidate_range → ${v === 'v5.7' ? 'mlx5_ib_update_xlt' : 'mlx5r_umr_update_xlt'}(MLX5_IB_UPD_XLT_ZAP)`, v, 'the model zaps the range in one UMR'),
    unmap: site(ODP, 'ib_umem_odp_unmap_dma_pages', v),
    fault: site(MLX5, 'pagefault_real_mr', v),
    mapPages: site(ODP, v === 'v5.7' ? 'ib_umem_odp_map_dma_pages' : 'ib_umem_odp_map_dma_and_lock', v),
    mapDma: site(ODP, 'ib_umem_odp_map_dma_single_page', v),
    xlt: site(MLX5, `pagefault_real_mr → ${v === 'v5.7' ? 'mlx5_ib_update_xlt' : 'mlx5r_umr_update_xlt'}`, v),
  };
}
type Sites = ReturnType<typeof sites>;

function setup(api: SetupApi): OdpIntervalState {
  return Object.freeze({
    umemMutex: api.mutex('umem_odp->umem_mutex'),
    dmaList: api.secondaryTable('umem_odp dma_list'),
    mtt: api.secondaryTable('mlx5 mtt'),
    sub: api.intervalNotifier('umem_odp->notifier'),
  });
}

/**
 * `mlx5_ib_invalidate_range()`: "if (!mmu_notifier_range_blockable(range)) return false;" then under
 * umem_mutex: set_seq, zap the MTTs, and `ib_umem_odp_unmap_dma_pages()`: dma-unmap each page,
 * `set_page_dirty(head_page)` if it was mapped for write ("We rely on the umem_mutex instead to
 * prevent other mmu notifiers from continuing and allowing the page mapping to be removed").
 */
function invalidate(at: Sites) {
  return function* (k: KernelApi, s: OdpIntervalState, sub: number, r: MmuNotifierRange, curSeq: number): Gen<boolean> {
    if (r.blockable === false) return false;
    yield* k.mutexLock(s.umemMutex, at.invalidate);
    yield* k.mmuIntervalSetSeq(sub, curSeq);
    const first = k.vpnOf(r.start);
    const end = k.vpnOf(r.end - 1) + 1;
    yield* k.mightSleep('UMR work request: wait for its completion', at.zap);
    yield* k.spteClearRange(s.mtt, first, end, at.zap);
    for (let vpn = first; vpn < end; vpn++) {
      const e = yield* k.spteRead(s.dmaList, vpn, at.unmap);
      if (!e) continue;
      if (e.writable) yield* k.setPageDirty(e, at.unmap);
      yield* k.spteClearRange(s.dmaList, vpn, vpn + 1, at.unmap);
    }
    yield* k.mutexUnlock(s.umemMutex, at.invalidate);
    return true;
  };
}

/** mlx5_ib_update_xlt from dma_list (caller holds umem_mutex): the MTT maps what dma_list maps. */
function* updateXlt(k: KernelApi, s: OdpIntervalState, vpn: number, at: Sites): Gen {
  const e = yield* k.spteRead(s.dmaList, vpn, at.xlt);
  if (e) yield* k.spteSet(s.mtt, vpn, e, e.writable, at.xlt);
}

/**
 * v5.7 `pagefault_real_mr()` for one page of a writable MR (access_mask has ODP_WRITE_ALLOWED_BIT,
 * so get_user_pages_remote is FOLL_WRITE whatever the access).
 */
function fault57(at: Sites) {
  return function* (k: KernelApi, s: OdpIntervalState, f: DeviceFault): Gen<DeviceFaultResult> {
    const vpn = k.vpnOf(f.address);
    const currentSeq = yield* k.mmuIntervalReadBegin(s.sub);
    // ib_umem_odp_map_dma_pages: down_read(mmap_sem); get_user_pages_remote(FOLL_WRITE); up_read
    const got = yield* k.getUserPagesUnlocked(f.address, true);
    if (!got) return 'error';
    yield* k.mutexLock(s.umemMutex, at.mapPages);
    // ib_umem_odp_map_dma_single_page
    let again = yield* k.mmuIntervalCheckRetry(s.sub, currentSeq);
    if (!again) {
      const old = yield* k.spteRead(s.dmaList, vpn, at.mapDma);
      if (!old) {
        yield* k.spteSet(s.dmaList, vpn, got.page, got.writable, at.mapDma);
      } else if (old.pfn !== got.page.pfn || old.generation !== got.page.generation) {
        yield* k.note('WARN: "Got different pages in IB device and from get_user_pages": -EAGAIN', at.mapDma);
        again = true;
      }
    }
    yield* k.putPage(got.page, at.mapDma); // out: put_page(page), mapped or not
    yield* k.mutexUnlock(s.umemMutex, at.mapPages);
    if (again) return 'retry'; // np < 0: -EAGAIN
    yield* k.mutexLock(s.umemMutex, at.fault);
    if (yield* k.mmuIntervalReadRetry(s.sub, currentSeq)) {
      yield* k.mutexUnlock(s.umemMutex, at.fault);
      return 'retry'; // ret = -EAGAIN
    }
    yield* updateXlt(k, s, vpn, at);
    yield* k.mutexUnlock(s.umemMutex, at.fault);
    return 'mapped';
  };
}

/**
 * v6.8 `pagefault_real_mr()` → `ib_umem_odp_map_dma_and_lock()` (HMM_PFN_REQ_FAULT |
 * HMM_PFN_REQ_WRITE for a writable MR): `retry: read_begin; mmap_read_lock; hmm_range_fault;
 * mmap_read_unlock; -EBUSY: goto retry; mutex_lock(umem_mutex); if (read_retry) { unlock; goto
 * retry; }` then map and return holding umem_mutex; the MTTs are written before the unlock.
 */
function fault68(at: Sites) {
  return function* (k: KernelApi, s: OdpIntervalState, f: DeviceFault): Gen<DeviceFaultResult> {
    const vpn = k.vpnOf(f.address);
    for (;;) {
      const currentSeq = yield* k.mmuIntervalReadBegin(s.sub);
      yield* k.downRead(k.mmapSem, at.mapPages);
      const got = yield* k.hmmRangeFault(f.address, true, s.sub, currentSeq);
      yield* k.upRead(k.mmapSem, at.mapPages);
      if (got === 'EFAULT') return 'error';
      if (got === 'EBUSY') {
        yield* k.cpuRelax(at.mapPages, 'hmm_range_fault: -EBUSY, goto retry', true);
        continue;
      }
      yield* k.mutexLock(s.umemMutex, at.mapPages);
      if (yield* k.mmuIntervalReadRetry(s.sub, currentSeq)) {
        yield* k.mutexUnlock(s.umemMutex, at.mapPages);
        yield* k.cpuRelax(at.mapPages, 'mmu_interval_read_retry: goto retry', true);
        continue;
      }
      // ib_umem_odp_map_dma_single_page: "If the page is already dma mapped it means it went
      // through a non-invalidating trasition, like read-only to writable. Resync the flags."
      const old = yield* k.spteRead(s.dmaList, vpn, at.mapDma);
      yield* k.spteSet(s.dmaList, vpn, old ?? got.page, got.writable, at.mapDma);
      yield* updateXlt(k, s, vpn, at);
      yield* k.mutexUnlock(s.umemMutex, at.fault);
      return 'mapped';
    }
  };
}

const V57 = sites('v5.7');
const V68 = sites('v6.8');

export const ibUmemOdp55: NotifierDefinition<OdpIntervalState> = {
  name: 'ib-umem-odp',
  title: 'IB umem ODP + mlx5 (v5.5, read in v5.7): interval notifier per umem; invalidate returns false when !blockable, set_seq and zap under umem_mutex; the fault does read_retry under umem_mutex',
  contract: 'mirror',
  eras: ['v5.5'],
  source: `${MLX5} mlx5_ib_invalidate_range, pagefault_real_mr; ${ODP} ib_umem_odp_map_dma_pages, ib_umem_odp_map_dma_single_page, ib_umem_odp_unmap_dma_pages (v5.7.14); f25a546e6529 (v5.5)`,
  setup,
  ops: { invalidate: invalidate(V57) },
  device: { table: (s) => s.mtt, fault: fault57(V57) },
};

export const ibUmemOdp66: NotifierDefinition<OdpIntervalState> = {
  name: 'ib-umem-odp',
  title: 'IB umem ODP + mlx5 (v6.6, read in v6.8): as v5.5, the fault through hmm_range_fault (ib_umem_odp_map_dma_and_lock), no page reference taken',
  contract: 'mirror',
  eras: ['v6.6'],
  source: `${MLX5} mlx5_ib_invalidate_range, pagefault_real_mr; ${ODP} ib_umem_odp_map_dma_and_lock, ib_umem_odp_map_dma_single_page, ib_umem_odp_unmap_dma_pages (v6.8)`,
  setup,
  ops: { invalidate: invalidate(V68) },
  device: { table: (s) => s.mtt, fault: fault68(V68) },
};
