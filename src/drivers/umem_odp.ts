/**
 * IB on-demand paging (drivers/infiniband/core/umem_odp.c with the mlx5 fault and invalidation
 * paths of drivers/infiniband/hw/mlx5/odp.c), one ODP MR whose umem covers the modelled VMA.
 *
 * The protocol is KVM's, per umem and under `umem_mutex`: range_start raises `notifiers_count`,
 * zaps the MTTs and unmaps the DMA pages; range_end bumps `notifiers_seq`, drops the count and
 * completes `notifier_completion`; the fault samples the sequence before get_user_pages and, under
 * `umem_mutex`, maps nothing if `ib_umem_mmu_notifier_retry()` says so, then waits for the
 * completion and retries. ODP keeps no page reference (`put_page` after mapping): a `mirror`.
 *
 * Definitions, one per era group (umem_odp.c has the same notifier in v4.10.17 and v4.12; v4.15 is
 * taken to be v4.13's, since v4.13.9 and v4.19.95 differ only by the blockable change of v4.19 — no
 * v4.15 snapshot read holds umem_odp.c):
 * - `ib-umem-odp` ≤ v4.12: also `->invalidate_page` (a start/end pair of one page under
 *   `down_read(umem_rwsem)`): a sleep under the PTL from v4.11 (reference §3 B2);
 * - `ib-umem-odp` v4.13/v4.15: start/end only;
 * - `ib-umem-odp` v4.19: `blockable`: `down_read_trylock`, and -EAGAIN whenever a umem overlaps the
 *   range (rbt_ib_umem_for_each_in_range v4.19);
 * - `ib-umem-odp` v5.0/v5.2: ca748c39ea3f "RDMA/umem: Get rid of per_mm->notifier_count" (v5.0)
 *   holds `per_mm->umem_rwsem` for read from range_start to range_end, and a non-blockable start
 *   that fails returns -EAGAIN still holding it: no range_end comes to release it (fixed by "RDMA/odp:
 *   Fix missed unlock in non-blocking invalidate_start", Jason Gunthorpe, June 2019, Fixes:
 *   ca748c39ea3f; in v5.4.0, backported to 5.2-stable). The OOM reaper's thread then ends with the
 *   read side held, which the runtime reports as a `model-error` ("finished holding");
 * - `ib-umem-odp-rwsem-held` v5.0/v5.2: the same with that fix (the v5.4.0 code): it still holds the
 *   lock across the bracket, so nested brackets on one thread (THP split inside zap) deadlock behind a
 *   queued writer (MR registration) — reference §3 B14, fixed by f25a546e6529 (v5.5). The model has
 *   neither call site yet (test/drivers/umem_odp.test.ts drives them by hand).
 *
 * Not modelled: `context->notifier_count` and the `no_private_counters` list (they only matter for a
 * umem registered while an invalidation runs; the model registers its one umem before anything
 * runs, so `mn_counters_active` is always true), implicit ODP. `->release` is modelled (start_account without end_account, dying).
 */
import { EAGAIN, type MmuNotifierRange, type NotifierDefinition, type SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import { MAX_PAGES } from '../scenario/scenario';

export interface OdpState {
  /** `context->umem_rwsem` (`per_mm->umem_rwsem` from v4.20). */
  readonly umemRwsem: number;
  /** `umem->odp_data->umem_mutex`. */
  readonly umemMutex: number;
  readonly notifiersSeq: number;
  /** `notifiers_count`; `notifier_completion` is done exactly when it is 0. */
  readonly notifiersCount: number;
  /** `odp_data->page_list` / `dma_list`: the DMA mappings of the umem's pages (no reference held). */
  readonly dmaList: number;
  /** The HCA's MTTs, what the device translates through. */
  readonly mtt: number;
  /** `odp_data->notifier_completion`: 1 when done (complete_all), 0 after reinit_completion. */
  readonly completion: number;
  /** `odp_data->dying`: set by ->release; the fault then kills the QP instead of waiting. */
  readonly dying: number;
}

const ODP = 'drivers/infiniband/core/umem_odp.c';
const MLX5 = 'drivers/infiniband/hw/mlx5/odp.c';

function sites(v: string) {
  return {
    start: site(ODP, 'ib_umem_notifier_invalidate_range_start', v),
    end: site(ODP, 'ib_umem_notifier_invalidate_range_end', v),
    page: site(ODP, 'ib_umem_notifier_invalidate_page', v),
    startAccount: site(ODP, 'ib_umem_notifier_start_account', v),
    endAccount: site(ODP, 'ib_umem_notifier_end_account', v),
    zap: site(MLX5, 'mlx5_ib_invalidate_range → mlx5_ib_update_xlt(MLX5_IB_UPD_XLT_ZAP)', v, 'the model zaps the range in one UMR'),
    unmap: site(ODP, 'ib_umem_odp_unmap_dma_pages', v),
    fault: site(MLX5, 'pagefault_mr', v),
    mapDma: site(ODP, 'ib_umem_odp_map_dma_single_page', v),
    mapPages: site(ODP, 'ib_umem_odp_map_dma_pages', v),
    retry: site('include/rdma/ib_umem_odp.h', 'ib_umem_mmu_notifier_retry', v),
    xlt: site(MLX5, 'pagefault_mr → mlx5_ib_update_xlt', v),
    wait: site(MLX5, 'pagefault_mr: wait_for_completion_timeout(&odp->notifier_completion)', v, 'the MMU_NOTIFIER_TIMEOUT is not modelled'),
    dying: site(MLX5, 'pagefault_mr: if (mr->parent || !odp->dying) wait; else ret = -EFAULT', v),
    release: site(ODP, 'ib_umem_notifier_release → ib_umem_notifier_release_trampoline', v),
  };
}
type Sites = ReturnType<typeof sites>;

export function odpSetup(api: SetupApi): OdpState {
  return Object.freeze({
    umemRwsem: api.rwsem('context->umem_rwsem'),
    umemMutex: api.mutex('odp_data->umem_mutex'),
    notifiersSeq: api.counter('odp_data->notifiers_seq'),
    notifiersCount: api.counter('odp_data->notifiers_count'),
    dmaList: api.secondaryTable('umem_odp dma_list'),
    mtt: api.secondaryTable('mlx5 mtt'),
    completion: api.counter('odp_data->notifier_completion (done)', 1),
    dying: api.counter('odp_data->dying'),
  });
}

function vpns(k: KernelApi, r: MmuNotifierRange): [number, number] {
  return [k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1];
}

/** `ib_umem_notifier_start_account()`: `notifiers_count++` under umem_mutex (reinit_completion on 0 → 1). */
function* startAccount(k: KernelApi, s: OdpState, at: Sites): Gen {
  yield* k.mutexLock(s.umemMutex, at.startAccount);
  // "Initialize the completion object for waiting on notifiers. Since notifier_count is zero, no one should be waiting right now."
  if ((yield* k.add(s.notifiersCount, 1, at.startAccount)) === 1) yield* k.write(s.completion, 0, at.startAccount);
  yield* k.mutexUnlock(s.umemMutex, at.startAccount);
}

/** `ib_umem_notifier_end_account()`: `++notifiers_seq`; `if (--notifiers_count == 0) complete_all()`. */
function* endAccount(k: KernelApi, s: OdpState, at: Sites): Gen {
  yield* k.mutexLock(s.umemMutex, at.endAccount);
  // "This sequence increase will notify the QP page fault that the page that is going to be mapped
  // in the spte could have been freed."
  yield* k.add(s.notifiersSeq, 1, at.endAccount);
  if ((yield* k.add(s.notifiersCount, -1, at.endAccount)) === 0) yield* k.write(s.completion, 1, at.endAccount); // complete_all
  yield* k.mutexUnlock(s.umemMutex, at.endAccount);
}

/**
 * `ib_umem_notifier_release()` (umem_odp.c v4.10.17, v4.13.19, v4.19.95, v5.0.1; v5.4.0 the same per
 * umem): `down_read(umem_rwsem)`, then for the umem ("Increase the number of notifiers running, to
 * prevent any further fault handling on this MR") start_account, `dying = 1`, smp_wmb, complete_all
 * (waiting faults wake up and see dying), and the driver's invalidate_range over the whole umem;
 * up_read. It never calls end_account: the umem stays "in an invalidation" for good (reference
 * §1 S12). context->notifier_count (v4.x ib_ucontext_notifier_start_account) is not modelled.
 */
function release(at: Sites) {
  return function* (k: KernelApi, s: OdpState): Gen {
    yield* k.downRead(s.umemRwsem, at.release);
    yield* startAccount(k, s, at);
    yield* k.write(s.dying, 1, at.release);
    yield* k.write(s.completion, 1, at.release); // complete_all(&notifier_completion)
    // invalidate_range(item, ib_umem_start(item), ib_umem_end(item)): the umem covers the modelled VMA (at most MAX_PAGES pages)
    yield* invalidateUmem(k, s, { start: k.addressOf(0), end: k.addressOf(MAX_PAGES) }, at);
    yield* k.upRead(s.umemRwsem, at.release);
  };
}

/**
 * `mlx5_ib_invalidate_range()`: zap the MTTs (a UMR work request, waited for), then
 * `ib_umem_odp_unmap_dma_pages()`: under umem_mutex, `set_page_dirty(head_page)` for pages mapped
 * for write and clear page_list/dma_list (no put_page: "on demand pinning support" only).
 */
function* invalidateUmem(k: KernelApi, s: OdpState, r: MmuNotifierRange, at: Sites): Gen {
  const [first, end] = vpns(k, r);
  yield* k.mightSleep('mlx5_ib_post_send_wait: wait_for_completion (UMR)', at.zap);
  yield* k.spteClearRange(s.mtt, first, end, at.zap);
  yield* k.mutexLock(s.umemMutex, at.unmap);
  for (let vpn = first; vpn < end; vpn++) {
    const e = yield* k.spteRead(s.dmaList, vpn, at.unmap);
    if (!e) continue;
    if (e.writable) yield* k.setPageDirty(e, at.unmap);
    yield* k.spteClearRange(s.dmaList, vpn, vpn + 1, at.unmap);
  }
  yield* k.mutexUnlock(s.umemMutex, at.unmap);
}

/** `invalidate_range_start_trampoline()`: start_account, then the driver's invalidate_range. */
function* startTrampoline(k: KernelApi, s: OdpState, r: MmuNotifierRange, at: Sites): Gen {
  yield* startAccount(k, s, at);
  yield* invalidateUmem(k, s, r, at);
}

/** `ib_umem_mmu_notifier_retry()` (caller holds umem_mutex): a count in progress or a newer sequence. */
function* mmuNotifierRetry(k: KernelApi, s: OdpState, currentSeq: number, at: Sites): Gen<boolean> {
  const count = yield* k.read(s.notifiersCount, at.retry);
  if (count !== 0) return true;
  return (yield* k.read(s.notifiersSeq, at.retry)) !== currentSeq;
}

/**
 * The device's page fault, mlx5 `pagefault_mr()` → `ib_umem_odp_map_dma_pages()` for one page. The
 * MR is writable, so access_mask has ODP_WRITE_ALLOWED_BIT and get_user_pages is FOLL_WRITE
 * whatever the access.
 */
function* pagefaultMr(k: KernelApi, s: OdpState, address: number, at: Sites): Gen<'mapped' | 'retry' | 'error'> {
  const vpn = k.vpnOf(address);
  // current_seq = READ_ONCE(odp->notifiers_seq); smp_rmb();
  const currentSeq = yield* k.read(s.notifiersSeq, at.fault);
  // down_read(mmap_sem); get_user_pages_remote(..., FOLL_WRITE, ...); up_read(mmap_sem)
  const got = yield* k.getUserPagesUnlocked(address, true);
  if (!got) return 'error';
  yield* k.mutexLock(s.umemMutex, at.mapPages);
  let again = yield* mmuNotifierRetry(k, s, currentSeq, at);
  if (!again) {
    const old = yield* k.spteRead(s.dmaList, vpn, at.mapDma);
    if (!old) {
      yield* k.spteSet(s.dmaList, vpn, got.page, true, at.mapDma);
    } else if (old.pfn !== got.page.pfn || old.generation !== got.page.generation) {
      // "got different pages in IB device and from get_user_pages": remove_existing_mapping →
      // invalidate_page_trampoline(), whose start_account takes umem_mutex, which this thread holds.
      yield* k.note('different pages in IB device and from get_user_pages: invalidate_page_trampoline()', at.mapDma);
      yield* startAccount(k, s, at);
    }
  }
  // "On Demand Paging - avoid pinning the page": put_page whether it was stored or not
  yield* k.putPage(got.page, at.mapDma);
  yield* k.mutexUnlock(s.umemMutex, at.mapPages);
  if (!again) {
    yield* k.mutexLock(s.umemMutex, at.fault);
    again = yield* mmuNotifierRetry(k, s, currentSeq, at);
    if (!again) {
      const e = yield* k.spteRead(s.dmaList, vpn, at.xlt);
      if (e) yield* k.spteSet(s.mtt, vpn, e, e.writable, at.xlt);
      else again = true;
    }
    yield* k.mutexUnlock(s.umemMutex, at.fault);
  }
  if (!again) return 'mapped';
  // out: ret == -EAGAIN: "The MR is being killed, kill the QP as well" once ->release set dying
  if ((yield* k.read(s.dying, at.dying)) === 1) return 'error';
  // else wait_for_completion_timeout(&odp->notifier_completion, timeout)
  yield* k.waitCounter(s.completion, 1, at.wait, 'notifier_completion');
  return 'retry';
}

/** ≤ v4.12 ->invalidate_page: the start and end accounting of one page under umem_rwsem. */
function invalidatePage(at: Sites) {
  return function* (k: KernelApi, s: OdpState, address: number): Gen {
    // ib_ucontext_notifier_start_account(context) (context->notifier_count: not modelled)
    yield* k.downRead(s.umemRwsem, at.page);
    yield* startAccount(k, s, at);
    yield* invalidateUmem(k, s, { start: address, end: address + k.PAGE_SIZE }, at);
    yield* endAccount(k, s, at);
    yield* k.upRead(s.umemRwsem, at.page);
  };
}

/** ≤ v4.15 start: down_read(umem_rwsem) for the walk of the umem tree only. */
function rangeStart(at: Sites) {
  return function* (k: KernelApi, s: OdpState, r: MmuNotifierRange): Gen {
    yield* k.downRead(s.umemRwsem, at.start);
    yield* startTrampoline(k, s, r, at);
    yield* k.upRead(s.umemRwsem, at.start);
  };
}

function rangeEnd(at: Sites, rwsemHeld = false) {
  return function* (k: KernelApi, s: OdpState): Gen {
    if (!rwsemHeld) yield* k.downRead(s.umemRwsem, at.end);
    yield* endAccount(k, s, at);
    yield* k.upRead(s.umemRwsem, at.end);
  };
}

/**
 * v4.19 start: `if (blockable) down_read(); else if (!down_read_trylock()) return -EAGAIN;` then
 * rbt_ib_umem_for_each_in_range returns -EAGAIN at the first overlapping umem when !blockable (the
 * model's umem covers the VMA, so a non-blockable start always fails). With `rwsemHeld`
 * (ca748c39ea3f, v5.0+), the read side stays held until range_end; `missedUnlock` is v5.0–v5.2,
 * which returns that -EAGAIN without up_read.
 */
function rangeStart419(at: Sites, rwsemHeld: boolean, missedUnlock = false) {
  return function* (k: KernelApi, s: OdpState, r: MmuNotifierRange): Gen<number> {
    if (r.blockable !== false) yield* k.downRead(s.umemRwsem, at.start);
    else if (!(yield* k.downReadTrylock(s.umemRwsem, at.start))) return EAGAIN;
    if (r.blockable === false) {
      // "TODO move the blockable decision up to the callback": return -EAGAIN (v4.19: context's
      // notifier_count stays raised, not modelled; v5.0–v5.2: umem_rwsem stays held)
      if (!missedUnlock) yield* k.upRead(s.umemRwsem, at.start);
      return EAGAIN;
    }
    yield* startTrampoline(k, s, r, at);
    if (!rwsemHeld) yield* k.upRead(s.umemRwsem, at.start);
    return 0;
  };
}

const LEGACY = sites('v4.12');
const V413 = sites('v4.13');
const V419 = sites('v4.19');
const V50 = sites('v5.0');
const V54 = sites('v5.4');

function device(at: Sites): NotifierDefinition<OdpState>['device'] {
  return { table: (s) => s.mtt, fault: (k, s, f) => pagefaultMr(k, s, f.address, at) };
}

export const ibUmemOdpLegacy: NotifierDefinition<OdpState> = {
  name: 'ib-umem-odp',
  title: 'IB umem ODP + mlx5 (v4.10/v4.12): notifiers_seq/notifiers_count under umem_mutex; invalidate_page takes umem_rwsem (sleeps under the PTL from v4.11, B2)',
  contract: 'mirror',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: `${ODP} ib_umem_notifier_invalidate_page/range_start/range_end, ${MLX5} pagefault_mr, mlx5_ib_invalidate_range (v4.12; identical ops in v4.10.17)`,
  setup: odpSetup,
  ops: { invalidatePage: invalidatePage(LEGACY), invalidateRangeStart: rangeStart(LEGACY), invalidateRangeEnd: rangeEnd(LEGACY), release: release(LEGACY) },
  device: device(LEGACY),
};

export const ibUmemOdp: NotifierDefinition<OdpState> = {
  name: 'ib-umem-odp',
  title: 'IB umem ODP + mlx5 (v4.13): notifiers_seq/notifiers_count under umem_mutex, fault retries and waits for notifier_completion',
  contract: 'mirror',
  eras: ['v4.13', 'v4.15'],
  source: `${ODP} ib_umem_notifier_invalidate_range_start/end, ${MLX5} pagefault_mr (v4.13.9; v4.15 assumed identical [U])`,
  setup: odpSetup,
  ops: { invalidateRangeStart: rangeStart(V413), invalidateRangeEnd: rangeEnd(V413), release: release(V413) },
  device: device(V413),
};

export const ibUmemOdp419: NotifierDefinition<OdpState> = {
  name: 'ib-umem-odp',
  title: 'IB umem ODP + mlx5 (v4.19): as v4.13; a non-blockable start trylocks umem_rwsem and fails with -EAGAIN on any overlapping umem',
  contract: 'mirror',
  eras: ['v4.19'],
  source: `${ODP} ib_umem_notifier_invalidate_range_start(blockable), rbt_ib_umem_for_each_in_range (v4.19.95)`,
  setup: odpSetup,
  ops: { invalidateRangeStart: rangeStart419(V419, false), invalidateRangeEnd: rangeEnd(V419), release: release(V419) },
  device: device(V419),
};

export const ibUmemOdp50: NotifierDefinition<OdpState> = {
  name: 'ib-umem-odp',
  title: 'IB umem ODP + mlx5 (v5.0/v5.2): umem_rwsem held across the bracket (ca748c39ea3f); a failed non-blockable start keeps it (missed unlock)',
  contract: 'mirror',
  eras: ['v5.0', 'v5.2'],
  source: `${ODP} ib_umem_notifier_invalidate_range_start/end (v5.0.1, v5.2.1); fixed by "RDMA/odp: Fix missed unlock in non-blocking invalidate_start" (June 2019, v5.4.0 has it)`,
  setup: odpSetup,
  ops: { invalidateRangeStart: rangeStart419(V50, true, true), invalidateRangeEnd: rangeEnd(V50, true), release: release(V50) },
  device: device(V50),
};

export const ibUmemOdpRwsemHeld: NotifierDefinition<OdpState> = {
  name: 'ib-umem-odp-rwsem-held',
  title: 'IB umem ODP as in v5.4 (missed unlock fixed) on v5.0/v5.2: umem_rwsem read side held from range_start to range_end (reference §3 B14: deadlocks with nested brackets and a queued writer)',
  contract: 'mirror',
  eras: ['v5.0', 'v5.2'],
  source: `${ODP} ib_umem_notifier_invalidate_range_start/end (v5.4.0) on the v5.0/v5.2 callbacks; reference §3 B14 (ca748c39ea3f), fixed by f25a546e6529 (v5.5)`,
  setup: odpSetup,
  ops: { invalidateRangeStart: rangeStart419(V54, true), invalidateRangeEnd: rangeEnd(V54, true), release: release(V54) },
  device: device(V54),
};
