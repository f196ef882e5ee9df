/**
 * amdgpu userptr BOs (drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c, with the userptr side of amdgpu_cs.c
 * and amdgpu_ttm.c): the GPU reaches user memory through the pages `get_user_pages` returned,
 * bound to the BO while it is validated, and holds those page references (`pin`): a race makes the
 * GPU use a page the process no longer maps (stale), never a freed one.
 *
 * The model registers one userptr BO per page of the VMA (each its own interval-tree node,
 * reservation and `mmu_invalidations` count); the device's fault is a command submission that
 * validates the BO of the page it accesses (amdgpu_cs_parser_bos → amdgpu_cs_list_validate →
 * amdgpu_cs_submit). Simplification: the v4.12/v4.13 CS holds mmap_sem for read across
 * amdgpu_cs_parser_bos (`need_mmap_lock`); the model's get_user_pages takes it itself, so munmap is
 * not excluded from a CS here (the notifier API gives drivers no mmap_sem).
 *
 * - `amdgpu-userptr` v4.10/v4.12/aac2fea9: `->invalidate_page` and `->invalidate_range_start` take
 *   `rmn->lock` (a mutex), reserve the BO and wait for its fences with MAX_SCHEDULE_TIMEOUT, then
 *   unbind it: a sleep under the PTL from v4.11 (reference §3 B2).
 * - v4.13/v4.15: range_start only, no end: a CS may get the old pages again between range_start and
 *   the PTE clear (reference §3 B7). With pinned pages this is a stale mapping, not a freed page;
 *   `secondary-follows-primary` checks mirror drivers only (a `pin` driver may lag), and the model's
 *   reclaim keeps a pinned page in the swap cache, so the verdict stays `pass`.
 * - v4.19: `amn->lock` (rw-semaphore) taken for read by range_start (through `amn->read_lock` and a
 *   recursion count, `down_read_non_owner`) and held until range_end; the CS checks
 *   `amdgpu_ttm_tt_userptr_needs_pages` under the write side. A non-blockable start trylocks
 *   read_lock but then calls `down_read_non_owner()`, which sleeps behind a CS holding the write
 *   side (Tetsuo Handa, linux-mm 2018-08-26, review of 93065ac753e4): reference §3 B11, for real.
 * - `amdgpu-userptr-trylock` v4.19: the read lock as later kernels have it (`down_read_trylock`
 *   when !blockable, amdgpu_mn.c amdgpu_mn_read_lock v5.4.0), taken and dropped inside the start
 *   callback as v5.4's amdgpu_mn_sync_pagetables_gfx does (no range_end), on the v4.19 callbacks:
 *   the correct sibling. (Held to range_end instead, a bracket nested in another thread's, such as
 *   MADV_FREE's split_huge_page under madvise_free_single_vma's bracket, would wait behind a queued
 *   CS writer while holding what reclaim needs: a deadlock no kernel had.)
 *
 * The rw-semaphore is taken and released by the thread running the bracket: the model has no
 * `down_read_non_owner`/`up_read_non_owner`, so the v4.19 recursion count (only the first of
 * concurrent brackets takes the lock, the last one releases it) is not modelled; a second concurrent
 * bracket takes its own read side, and waits behind a queued CS writer where the kernel would not.
 */
import { EAGAIN, type MmuNotifierRange, type NotifierDefinition, type SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { MAX_PAGES } from '../scenario/scenario';
import { site } from '../runtime/site';

const MN = 'drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c';
const CS = 'drivers/gpu/drm/amd/amdgpu/amdgpu_cs.c';
const TTM = 'drivers/gpu/drm/amd/amdgpu/amdgpu_ttm.c';

export interface AmdgpuState {
  /** `rmn->lock` (mutex, ≤ v4.18) or `amn->read_lock` (v4.19). */
  readonly lock: number;
  /** `amn->lock` (v4.19 rw-semaphore; -1 before). */
  readonly amnLock: number;
  /** Per BO: `bo->tbo.resv` (ww_mutex). */
  readonly resv: readonly number[];
  /** Per BO: `gtt->mmu_invalidations`. */
  readonly invalidations: readonly number[];
  /** Per BO: `gtt->last_set_pages` (v4.19). */
  readonly lastSet: readonly number[];
  /** `ttm->pages` of the bound BOs: each entry holds the reference get_user_pages took. */
  readonly ttm: number;
  /** v4.19: the GPU VM mappings a submitted job uses (no reference of their own); ≤ v4.18 this is `ttm`. */
  readonly vm: number;
}

function setup(v419: boolean) {
  return (api: SetupApi): AmdgpuState => {
    const bos = Array.from({ length: MAX_PAGES }, (_, i) => i);
    const ttm = api.secondaryTable('amdgpu userptr ttm->pages');
    return Object.freeze({
      lock: api.mutex(v419 ? 'amn->read_lock' : 'rmn->lock'),
      amnLock: v419 ? api.rwsem('amn->lock') : -1,
      resv: Object.freeze(bos.map((i) => api.mutex(`userptr bo ${i}: tbo.resv`))),
      invalidations: Object.freeze(bos.map((i) => api.counter(`userptr bo ${i}: gtt->mmu_invalidations`))),
      lastSet: Object.freeze(v419 ? bos.map((i) => api.counter(`userptr bo ${i}: gtt->last_set_pages`)) : []),
      ttm,
      vm: v419 ? api.secondaryTable('amdgpu gpu vm') : ttm,
    });
  };
}

function bosIn(k: KernelApi, r: MmuNotifierRange): number[] {
  const out: number[] = [];
  for (let v = k.vpnOf(r.start); v <= k.vpnOf(r.end - 1); v++) if (v >= 0 && v < MAX_PAGES) out.push(v);
  return out;
}

// --- ≤ v4.18 ------------------------------------------------------------------------------------

const NODE = site(MN, 'amdgpu_mn_invalidate_node', 'v4.13');
const WAIT = site(MN, 'amdgpu_mn_invalidate_node: reservation_object_wait_timeout_rcu(MAX_SCHEDULE_TIMEOUT)', 'v4.13');
const UNPIN = site(TTM, 'ttm_bo_validate(CPU) → amdgpu_ttm_tt_unpin_userptr', 'v4.13');
const AFFECT = site(TTM, 'amdgpu_ttm_tt_affect_userptr: atomic_inc(&gtt->mmu_invalidations)', 'v4.13');

/** `amdgpu_mn_invalidate_node()` for the BO at `bo` (caller holds rmn->lock). */
function* invalidateNode(k: KernelApi, s: AmdgpuState, bo: number): Gen {
  yield* k.add(s.invalidations[bo], 1, AFFECT);
  yield* k.mutexLock(s.resv[bo], NODE); // amdgpu_bo_reserve(bo, true)
  yield* k.mightSleep('wait for the BO fences', WAIT);
  // ttm_bo_validate to the CPU domain: unbind → amdgpu_ttm_tt_unpin_userptr: set_page_dirty, put_page
  const page = yield* k.spteRead(s.ttm, bo, UNPIN);
  if (page) {
    yield* k.setPageDirty(page, UNPIN);
    yield* k.spteClearRange(s.ttm, bo, bo + 1, UNPIN);
    yield* k.putPage(page, UNPIN);
  }
  yield* k.mutexUnlock(s.resv[bo], NODE);
}

function* invalidatePage(k: KernelApi, s: AmdgpuState, address: number): Gen {
  const at = site(MN, 'amdgpu_mn_invalidate_page', 'v4.12');
  yield* k.mutexLock(s.lock, at);
  for (const bo of bosIn(k, { start: address, end: address + 1 })) yield* invalidateNode(k, s, bo);
  yield* k.mutexUnlock(s.lock, at);
}

function rangeStart(version: string) {
  const at = site(MN, 'amdgpu_mn_invalidate_range_start', version);
  return function* (k: KernelApi, s: AmdgpuState, r: MmuNotifierRange): Gen {
    yield* k.mutexLock(s.lock, at);
    for (const bo of bosIn(k, r)) yield* invalidateNode(k, s, bo);
    yield* k.mutexUnlock(s.lock, at);
  };
}

/**
 * The CS of a job that uses the BO at `bo` (amdgpu_cs_parser_bos v4.13): reserve, note
 * mmu_invalidations, unreserve and get the pages, reserve again; if an invalidation came in between,
 * release the pages and try again; otherwise bind them (the BO keeps gup's references).
 */
function* csLegacy(k: KernelApi, s: AmdgpuState, address: number): Gen<'mapped' | 'retry' | 'error'> {
  const at = site(CS, 'amdgpu_cs_parser_bos', 'v4.13');
  const bo = k.vpnOf(address);
  yield* k.mutexLock(s.resv[bo], at); // ttm_eu_reserve_buffers
  const seen = yield* k.read(s.invalidations[bo], site(TTM, 'amdgpu_ttm_tt_userptr_invalidated', 'v4.13'));
  yield* k.mutexUnlock(s.resv[bo], at); // not bound: need_pages, amdgpu_bo_unreserve
  const got = yield* k.getUserPagesUnlocked(address, true); // amdgpu_ttm_tt_get_user_pages (FOLL_WRITE)
  if (!got) return 'error';
  yield* k.mutexLock(s.resv[bo], at);
  if ((yield* k.read(s.invalidations[bo], site(TTM, 'amdgpu_ttm_tt_userptr_invalidated', 'v4.13'))) !== seen) {
    yield* k.putPage(got.page, site(CS, 'amdgpu_cs_parser_bos: release_pages (somebody invalidated it)', 'v4.13'));
    yield* k.mutexUnlock(s.resv[bo], at);
    return 'retry';
  }
  // amdgpu_cs_list_validate: memcpy(ttm->pages, user_pages); amdgpu_cs_validate → bind → pin_userptr
  yield* k.spteSet(s.ttm, bo, got.page, got.writable, site(CS, 'amdgpu_cs_list_validate → amdgpu_ttm_backend_bind', 'v4.13'));
  yield* k.mutexUnlock(s.resv[bo], at);
  return 'mapped';
}

// --- v4.19 --------------------------------------------------------------------------------------

const READ_LOCK = site(MN, 'amdgpu_mn_read_lock', 'v4.19');
const READ_LOCK_54 = site(MN, 'amdgpu_mn_read_lock', 'v5.4', 'the later read lock, on the v4.19 callbacks');
const READ_UNLOCK_54 = site(MN, 'amdgpu_mn_sync_pagetables_gfx: amdgpu_mn_read_unlock(amn); return 0', 'v5.4', 'the read side is dropped inside the callback');
const START_GFX = site(MN, 'amdgpu_mn_invalidate_range_start_gfx', 'v4.19');
const NODE_419 = site(MN, 'amdgpu_mn_invalidate_node', 'v4.19');
const MARK = site(TTM, 'amdgpu_ttm_tt_mark_user_pages', 'v4.19');
const END_419 = site(MN, 'amdgpu_mn_invalidate_range_end → amdgpu_mn_read_unlock', 'v4.19');

/**
 * `amdgpu_mn_read_lock(amn, blockable)`. v4.19: `if (blockable) mutex_lock(&amn->read_lock); else if
 * (!mutex_trylock(&amn->read_lock)) return -EAGAIN; if (atomic_inc_return(&amn->recursion) == 1)
 * down_read_non_owner(&amn->lock); mutex_unlock(&amn->read_lock);`. `fixed`: v5.4's
 * `if (blockable) down_read(&amn->lock); else if (!down_read_trylock(&amn->lock)) return -EAGAIN;`.
 */
function* readLock(k: KernelApi, s: AmdgpuState, blockable: boolean, fixed: boolean): Gen<boolean> {
  if (fixed) {
    // v5.4 takes amn->lock here and drops it before the callback returns (amdgpu_mn_sync_pagetables_gfx),
    // so a bracket nested in another never finds it held
    if (blockable) yield* k.downRead(s.amnLock, READ_LOCK_54);
    else if (!(yield* k.downReadTrylock(s.amnLock, READ_LOCK_54))) return false;
    return true;
  }
  if (blockable) yield* k.mutexLock(s.lock, READ_LOCK);
  else if (!(yield* k.mutexTrylock(s.lock, READ_LOCK))) return false;
  // if (atomic_inc_return(&amn->recursion) == 1) down_read_non_owner(&amn->lock): a bracket nested in
  // another on the same thread (a THP split inside a zap) does not take it again (recursive)
  yield* k.downRead(s.amnLock, site(MN, 'amdgpu_mn_read_lock: down_read_non_owner(&amn->lock)', 'v4.19', 'the recursion count is modelled per thread (nested brackets); brackets of other threads take their own read side'), true);
  yield* k.mutexUnlock(s.lock, READ_LOCK);
  return true;
}

function rangeStartGfx(fixed: boolean) {
  return function* (k: KernelApi, s: AmdgpuState, r: MmuNotifierRange): Gen<number> {
    const blockable = r.blockable !== false;
    if (!(yield* readLock(k, s, blockable, fixed))) return EAGAIN;
    for (const bo of bosIn(k, r)) {
      if (!blockable) {
        yield* k.upRead(s.amnLock, START_GFX); // amdgpu_mn_read_unlock
        return EAGAIN;
      }
      // amdgpu_mn_invalidate_node: amdgpu_ttm_tt_affect_userptr; wait for fences; mark_user_pages
      yield* k.add(s.invalidations[bo], 1, site(TTM, 'amdgpu_ttm_tt_affect_userptr', 'v4.19'));
      yield* k.mightSleep('wait for the BO fences', NODE_419);
      // The job that used the pages has finished: a later GPU access is a new job and needs a CS.
      yield* k.spteClearRange(s.vm, bo, bo + 1, site(MN, 'amdgpu_mn_invalidate_node: fences signalled', 'v4.19', 'model: a later access is a new job'));
      const page = yield* k.spteRead(s.ttm, bo, MARK);
      if (page) yield* k.setPageDirty(page, MARK);
    }
    // v4.19: the read side stays held until range_end; v5.4 (amdgpu_mn_sync_pagetables_gfx): amdgpu_mn_read_unlock(amn)
    if (fixed) yield* k.upRead(s.amnLock, READ_UNLOCK_54);
    return 0;
  };
}

function* rangeEnd419(k: KernelApi, s: AmdgpuState): Gen {
  yield* k.upRead(s.amnLock, END_419);
}

/**
 * The v4.19 CS: amdgpu_cs_parser_bos (get the pages, check mmu_invalidations under the
 * reservation), amdgpu_cs_list_validate (amdgpu_ttm_tt_set_user_pages: last_set_pages =
 * mmu_invalidations, put the old pages, keep the new), then amdgpu_cs_submit under
 * `amdgpu_mn_lock()` (the write side): -ERESTARTSYS if the pages were invalidated since they were
 * set, else the job is pushed with them.
 */
function* cs419(k: KernelApi, s: AmdgpuState, address: number): Gen<'mapped' | 'retry' | 'error'> {
  const at = site(CS, 'amdgpu_cs_parser_bos', 'v4.19');
  const inv = site(TTM, 'amdgpu_ttm_tt_userptr_invalidated', 'v4.19');
  const bo = k.vpnOf(address);
  yield* k.mutexLock(s.resv[bo], at);
  const seen = yield* k.read(s.invalidations[bo], inv);
  yield* k.mutexUnlock(s.resv[bo], at);
  const got = yield* k.getUserPagesUnlocked(address, true);
  if (!got) return 'error';
  yield* k.mutexLock(s.resv[bo], at);
  if ((yield* k.read(s.invalidations[bo], inv)) !== seen) {
    yield* k.putPage(got.page, site(CS, 'amdgpu_cs_parser_bos: release_pages (somebody invalidated it)', 'v4.19'));
    yield* k.mutexUnlock(s.resv[bo], at);
    return 'retry';
  }
  const set = site(TTM, 'amdgpu_ttm_tt_set_user_pages', 'v4.19');
  yield* k.write(s.lastSet[bo], yield* k.read(s.invalidations[bo], set), set);
  const old = yield* k.spteRead(s.ttm, bo, set);
  // `if (ttm->pages[i]) put_page(ttm->pages[i]); ttm->pages[i] = pages[i];` — modelled as replace then
  // put: ttm->pages is a kernel array read only under the BO reservation held here, so no one sees the
  // order, and the model's table would otherwise show a freed page in it for one step
  yield* k.spteSet(s.ttm, bo, got.page, got.writable, set);
  if (old) yield* k.putPage(old, set);
  yield* k.mutexUnlock(s.resv[bo], at);
  const submit = site(CS, 'amdgpu_cs_submit', 'v4.19');
  yield* k.downWrite(s.amnLock, site(MN, 'amdgpu_mn_lock', 'v4.19'));
  const needsPages = (yield* k.read(s.invalidations[bo], submit)) !== (yield* k.read(s.lastSet[bo], submit));
  if (!needsPages) yield* k.spteSet(s.vm, bo, got.page, got.writable, site(CS, 'amdgpu_cs_submit: drm_sched_entity_push_job', 'v4.19'));
  yield* k.upWrite(s.amnLock, site(MN, 'amdgpu_mn_unlock', 'v4.19'));
  return needsPages ? 'retry' : 'mapped';
}

// --- definitions --------------------------------------------------------------------------------

/**
 * `amdgpu_mn_release()` (amdgpu_mn.c v4.12, v4.13.19, v4.19.95, v5.2.1): "Shedule a work item to
 * lazy destroy our notifier" — amdgpu_mn_destroy detaches the BOs from the notifier and calls
 * mmu_notifier_unregister_no_release; the BOs keep the user pages TTM pinned (the `pin` contract),
 * so nothing is torn down synchronously. The work item is not modelled.
 */
function release(version: string) {
  const at = site('drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c', 'amdgpu_mn_release: INIT_WORK(&rmn->work, amdgpu_mn_destroy); schedule_work', version, 'the work item is not modelled');
  return function* (k: KernelApi): Gen {
    yield* k.note('schedule_work(amdgpu_mn_destroy): the BOs keep their pinned pages', at);
  };
}

export const amdgpuUserptrLegacy: NotifierDefinition<AmdgpuState> = {
  name: 'amdgpu-userptr',
  title: 'amdgpu userptr (v4.10/v4.12): rmn->lock mutex + fence wait in invalidate_page and range_start (sleeps under the PTL from v4.11, B2)',
  contract: 'pin',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: `${MN} amdgpu_mn_invalidate_page/range_start, amdgpu_mn_invalidate_node; ${CS} amdgpu_cs_parser_bos (v4.12; v4.10.17 identical)`,
  setup: setup(false),
  ops: { invalidatePage, invalidateRangeStart: rangeStart('v4.12'), release: release('v4.12') },
  device: { table: (s) => s.ttm, fault: (k, s, f) => csLegacy(k, s, f.address) },
};

export const amdgpuUserptr: NotifierDefinition<AmdgpuState> = {
  name: 'amdgpu-userptr',
  title: 'amdgpu userptr (v4.13): range_start only (rmn->lock, fence wait, unbind); no range_end (B7: stale, pages pinned)',
  contract: 'pin',
  eras: ['v4.13', 'v4.15'],
  source: `${MN} amdgpu_mn_invalidate_range_start; ${CS} amdgpu_cs_parser_bos (v4.13.9; v4.15 assumed identical, reference §2.11 [U])`,
  setup: setup(false),
  ops: { invalidateRangeStart: rangeStart('v4.13'), release: release('v4.13') },
  device: { table: (s) => s.ttm, fault: (k, s, f) => csLegacy(k, s, f.address) },
};

export const amdgpuUserptr419: NotifierDefinition<AmdgpuState> = {
  name: 'amdgpu-userptr',
  title: 'amdgpu userptr (v4.19 … v5.2): amn->lock read side held across the bracket; the non-blockable start still calls down_read_non_owner (B11)',
  contract: 'pin',
  eras: ['v4.19', 'v5.0', 'v5.2'],
  source: `${MN} amdgpu_mn_read_lock, amdgpu_mn_invalidate_range_start_gfx/_end; ${CS} amdgpu_cs_submit (v4.19.95; the same read lock in v5.0.1 and v5.2.1); reference §3 B11, Tetsuo Handa's review (linux-mm, 2018-08-26)`,
  setup: setup(true),
  ops: { invalidateRangeStart: rangeStartGfx(false), invalidateRangeEnd: rangeEnd419, release: release('v4.19') },
  device: { table: (s) => s.vm, fault: (k, s, f) => cs419(k, s, f.address) },
};

export const amdgpuUserptrTrylock: NotifierDefinition<AmdgpuState> = {
  name: 'amdgpu-userptr-trylock',
  title: 'amdgpu userptr, v4.19 with the later read lock: down_read_trylock(&amn->lock) when !blockable, taken and dropped in range_start as v5.4 does (the B11 fix)',
  contract: 'pin',
  eras: ['v4.19'],
  source: `${MN} amdgpu_mn_read_lock, amdgpu_mn_sync_pagetables_gfx (v5.4.0) on the v4.19 callbacks and CS`,
  setup: setup(true),
  ops: { invalidateRangeStart: rangeStartGfx(true), release: release('v4.19') },
  device: { table: (s) => s.vm, fault: (k, s, f) => cs419(k, s, f.address) },
};
