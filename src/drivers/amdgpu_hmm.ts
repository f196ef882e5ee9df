/**
 * amdgpu userptr BOs with the interval notifier (a22dd506400d "drm/amdgpu: Use
 * mmu_interval_notifier instead of hmm_mirror", in the series of 99cb252f5e68, v5.5 [S; tag U]; read
 * in drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c v5.7.14, renamed amdgpu_hmm.c by v6.8; the CS side in
 * amdgpu_cs.c and amdgpu_ttm.c). Each userptr BO
 * inserts a `mmu_interval_notifier` over its pages (amdgpu_mn_register); the gfx `invalidate`
 * (`amdgpu_mn_invalidate_gfx`, v6.8 `amdgpu_hmm_invalidate_gfx`) returns false when not blockable,
 * else takes `adev->notifier_lock` (a mutex, one per device), calls mmu_interval_set_seq and waits
 * for every fence of the BO's reservation object with MAX_SCHEDULE_TIMEOUT (v5.7:
 * `dma_resv_wait_timeout_rcu(resv, true, false, …)`; v6.8: `dma_resv_wait_timeout(resv,
 * DMA_RESV_USAGE_BOOKKEEP, false, …)`), i.e. for the GPU jobs using the pages to finish. It neither
 * unbinds nor unpins: the pages come from hmm_range_fault and no reference is held (`mirror`).
 *
 * A command submission (the device's fault here) validates the BO of the page it uses:
 * `amdgpu_cs_parser_bos` → `amdgpu_ttm_tt_get_user_pages` (`retry: range->notifier_seq =
 * mmu_interval_read_begin(); hmm_range_fault(); -EBUSY: goto retry`; v5.7 takes mmap_sem only
 * around hmm_range_fault, v6.8 holds mmap_read_lock across the whole loop and `schedule()`s before
 * retrying), then `amdgpu_cs_submit` takes `adev->notifier_lock` and, for each userptr BO,
 * `amdgpu_ttm_tt_get_user_pages_done` → `mmu_interval_read_retry`: -EAGAIN (libdrm restarts the
 * ioctl) if it says so, otherwise the job is pushed with those pages before the lock is dropped.
 *
 * Model (as for v4.19, amdgpu_mn.ts): one userptr BO per page of the VMA, each its own interval
 * subscription; the device table is the pages the submitted jobs use, cleared by the invalidation
 * once the fences have signalled (a later GPU access is a new job and needs a new CS).
 *
 * Not modelled, and what the source shows about it:
 * - The binding of the new pages between hmm_range_fault and the submit (amdgpu_cs_list_validate:
 *   ttm_bo_validate, amdgpu_ttm_tt_set_user_pages, amdgpu_cs_validate → amdgpu_ttm_tt_pin_userptr →
 *   dma_map_sg): it happens outside the notifier lock, on pages nothing holds ("FIXME: The pages
 *   cannot be touched outside the notifier_lock", amdgpu_ttm.c v5.7 / amdgpu_hmm.c v6.8), and the
 *   invalidation leaves the BO bound; the model has no table for it (its entries would be unreferenced
 *   pages the device is not meant to reach until the next CS).
 * - Dirty tracking: nothing in amdgpu_mn.c/amdgpu_ttm.c v5.7 or amdgpu_hmm.c/amdgpu_ttm.c v6.8 calls
 *   set_page_dirty for userptr pages: 915d3eecfa23 "drm/amdgpu: replace get_user_pages with HMM
 *   mirror helpers" removed it ("HMM does not pin the page …, so remove related operations like
 *   release_pages(), put_page(), mark_page_dirty()"); v5.2's amdgpu_ttm_tt_mark_user_pages had it.
 *   The model has no no-lost-dirty invariant to weigh it.
 * - The KFD (`amdgpu_mn_invalidate_hsa`: evict the user queues) side, the BO reservation
 *   (ttm_eu_reserve_buffers), `AMDGPU_GEM_USERPTR_READONLY` (the model's BOs are writable:
 *   HMM_PFN_WRITE is requested).
 */
import type { DeviceFault, DeviceFaultResult, MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen, PageRef } from '../runtime/primitives';
import { PAGE_SIZE, addressOf } from '../runtime/machine';
import { MAX_PAGES } from '../scenario/scenario';
import { site } from '../runtime/site';

const CS = 'drivers/gpu/drm/amd/amdgpu/amdgpu_cs.c';
const TTM = 'drivers/gpu/drm/amd/amdgpu/amdgpu_ttm.c';

export interface AmdgpuHmmState {
  /** `adev->notifier_lock`. */
  readonly notifierLock: number;
  /** Per BO (one per page): `bo->notifier`, the interval subscription. */
  readonly subs: readonly number[];
  /** The GPU VM mappings a submitted job uses (no reference of their own). */
  readonly vm: number;
}

function setup(api: SetupApi): AmdgpuHmmState {
  // The notifier API gives a driver no VMA layout: one BO per page the scenario may name.
  const subs = Array.from({ length: MAX_PAGES }, (_, i) => api.intervalNotifier(`userptr bo ${i}: bo->notifier`, addressOf(i), PAGE_SIZE));
  return Object.freeze({ notifierLock: api.mutex('adev->notifier_lock'), subs: Object.freeze(subs), vm: api.secondaryTable('amdgpu gpu vm') });
}

function sites(v: 'v5.7' | 'v6.8') {
  const mn = v === 'v5.7' ? 'drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c' : 'drivers/gpu/drm/amd/amdgpu/amdgpu_hmm.c';
  const fn = v === 'v5.7' ? 'amdgpu_mn_invalidate_gfx' : 'amdgpu_hmm_invalidate_gfx';
  return {
    invalidate: site(mn, fn, v),
    wait: site(mn, `${fn}: ${v === 'v5.7' ? 'dma_resv_wait_timeout_rcu' : 'dma_resv_wait_timeout'}(MAX_SCHEDULE_TIMEOUT)`, v),
    done: site(mn, `${fn}: fences signalled`, v, 'model: the jobs that used the pages are done; a later GPU access is a new job'),
    getPages: site(v === 'v5.7' ? TTM : mn, v === 'v5.7' ? 'amdgpu_ttm_tt_get_user_pages' : 'amdgpu_hmm_range_get_pages', v),
    mmap: site(TTM, 'amdgpu_ttm_tt_get_user_pages', v),
    submit: site(CS, 'amdgpu_cs_submit', v),
    push: site(CS, 'amdgpu_cs_submit: drm_sched_entity_push_job', v),
  };
}
type Sites = ReturnType<typeof sites>;

/** The gfx `invalidate`: set_seq and the fence wait under adev->notifier_lock; false when !blockable. */
function invalidate(at: Sites) {
  return function* (k: KernelApi, s: AmdgpuHmmState, sub: number, r: MmuNotifierRange, curSeq: number): Gen<boolean> {
    if (r.blockable === false) return false;
    const bo = s.subs.indexOf(sub);
    yield* k.mutexLock(s.notifierLock, at.invalidate);
    yield* k.mmuIntervalSetSeq(sub, curSeq);
    yield* k.mightSleep('wait for every fence of bo->tbo.base.resv', at.wait);
    yield* k.spteClearRange(s.vm, bo, bo + 1, at.done);
    yield* k.mutexUnlock(s.notifierLock, at.invalidate);
    return true;
  };
}

interface UserPages {
  readonly seq: number;
  readonly page: PageRef;
  readonly writable: boolean;
}

/**
 * `amdgpu_ttm_tt_get_user_pages` for the BO: the read_begin / hmm_range_fault loop, -EBUSY retried.
 * `holdMmap`: v6.8 takes mmap_read_lock around the whole loop, v5.7 around hmm_range_fault only.
 */
function* getUserPages(k: KernelApi, sub: number, address: number, holdMmap: boolean, at: Sites): Gen<UserPages | null> {
  if (holdMmap) yield* k.downRead(k.mmapSem, at.mmap);
  let out: UserPages | null = null;
  for (;;) {
    const seq = yield* k.mmuIntervalReadBegin(sub);
    if (!holdMmap) yield* k.downRead(k.mmapSem, at.getPages);
    const got = yield* k.hmmRangeFault(address, true, sub, seq);
    if (!holdMmap) yield* k.upRead(k.mmapSem, at.getPages);
    if (got === 'EFAULT') break;
    if (got !== 'EBUSY') {
      out = { seq, page: got.page, writable: got.writable };
      break;
    }
    yield* k.cpuRelax(at.getPages, holdMmap ? 'schedule(); -EBUSY: goto retry' : '-EBUSY: goto retry', true);
  }
  if (holdMmap) yield* k.upRead(k.mmapSem, at.mmap);
  return out;
}

/**
 * The CS of a job that uses the BO at `address`: get the pages (amdgpu_cs_parser_bos), then in
 * amdgpu_cs_submit, under adev->notifier_lock, `r |= !amdgpu_ttm_tt_get_user_pages_done()` (the
 * read_retry): -EAGAIN, or the job is pushed with the pages.
 */
function cs(at: Sites, holdMmap: boolean) {
  return function* (k: KernelApi, s: AmdgpuHmmState, f: DeviceFault): Gen<DeviceFaultResult> {
    const bo = k.vpnOf(f.address);
    const got = yield* getUserPages(k, s.subs[bo], f.address, holdMmap, at);
    if (!got) return 'error';
    yield* k.mutexLock(s.notifierLock, at.submit);
    if (yield* k.mmuIntervalReadRetry(s.subs[bo], got.seq)) {
      yield* k.mutexUnlock(s.notifierLock, at.submit);
      return 'retry'; // -EAGAIN: "drmIoctl in libdrm will restart the amdgpu_cs_ioctl"
    }
    yield* k.spteSet(s.vm, bo, got.page, got.writable, at.push);
    yield* k.mutexUnlock(s.notifierLock, at.submit);
    return 'mapped';
  };
}

const V57 = sites('v5.7');
const V68 = sites('v6.8');

export const amdgpuUserptr55: NotifierDefinition<AmdgpuHmmState> = {
  name: 'amdgpu-userptr',
  title: 'amdgpu userptr (v5.5, read in v5.7): interval notifier per BO; invalidate_gfx does set_seq and the fence wait under adev->notifier_lock (false when !blockable); the CS does read_retry under it',
  contract: 'mirror',
  eras: ['v5.5'],
  source: `drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c amdgpu_mn_invalidate_gfx; ${TTM} amdgpu_ttm_tt_get_user_pages(_done); ${CS} amdgpu_cs_parser_bos, amdgpu_cs_submit (v5.7.14); a22dd506400d (v5.5)`,
  setup,
  ops: { invalidate: invalidate(V57) },
  device: { table: (s) => s.vm, fault: cs(V57, false) },
};

export const amdgpuUserptr66: NotifierDefinition<AmdgpuHmmState> = {
  name: 'amdgpu-userptr',
  title: 'amdgpu userptr (v6.6, read in v6.8): as v5.5 (amdgpu_hmm.c); the CS holds mmap_read_lock across read_begin and hmm_range_fault',
  contract: 'mirror',
  eras: ['v6.6'],
  source: `drivers/gpu/drm/amd/amdgpu/amdgpu_hmm.c amdgpu_hmm_invalidate_gfx, amdgpu_hmm_range_get_pages(_done); ${TTM} amdgpu_ttm_tt_get_user_pages(_done); ${CS} amdgpu_cs_submit (v6.8)`,
  setup,
  ops: { invalidate: invalidate(V68) },
  device: { table: (s) => s.vm, fault: cs(V68, true) },
};
