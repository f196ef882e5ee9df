/**
 * nouveau SVM (drivers/gpu/drm/nouveau/nouveau_svm.c, read in v5.7.14 and v6.8): the GPU mirrors the process
 * through hmm_range_fault, with no page references (`mirror`). A hybrid of the two notifier kinds
 * (reference §2.10):
 * - a classic notifier, `nouveau_svmm_invalidate_range_start`: -EAGAIN when not blockable, else
 *   `svmm->mutex` and NVIF_VMM_V0_PFNCLR over the range (the GPU unmap);
 * - per GPU fault a temporary interval notifier over the fault window, whose `invalidate` only
 *   takes `svmm->mutex` (trylock when not blockable, false if busy) and calls mmu_interval_set_seq:
 *   "This is very hacky and only works because the normal notifier that does invalidation is
 *   always called after the range notifier" (the dispatcher runs the itree before the hlist).
 * The fault (`nouveau_range_fault`) loops: mmu_interval_read_begin, hmm_range_fault under
 * mmap_sem (mmap_read_lock), then under `svmm->mutex` mmu_interval_read_retry, and programs the GPU
 * PTEs (NVIF_VMM_V0_PFNMAP) before dropping the mutex.
 *
 * Model gap: `nouveau_svm_fault` inserts the interval notifier with mmu_interval_notifier_insert()
 * and removes it after the fault (v6.8: inside nouveau_range_fault); the notifier API has no
 * insert/remove while threads run (SetupApi.intervalNotifier subscribes before they start, and the
 * core model has no deferred list). The model's subscription is one over the whole VMA for the
 * whole execution: it sees every invalidation the temporary ones would see while a fault is in
 * progress, and more (a set_seq nobody reads between faults), so it makes faults retry at least as
 * often; what it cannot show is an insert or a remove racing an invalidation (the insert during an
 * invalidation that starts the new subscription "invalidating", a remove that waits for the
 * invalidation to end).
 *
 * Not modelled: the fault window of up to 16 pages (v5.7; v6.8 faults one page), device-private
 * pages and migration (MMU_NOTIFY_MIGRATE owner check), atomic faults (v6.8
 * nouveau_atomic_range_fault, make_device_exclusive_range, MMU_NOTIFY_EXCLUSIVE), the
 * HMM_RANGE_DEFAULT_TIMEOUT after which a fault is cancelled, `svmm->unmanaged`.
 */
import { EAGAIN, type DeviceFault, type DeviceFaultResult, type MmuNotifierRange, type NotifierDefinition, type SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';

const SVM = 'drivers/gpu/drm/nouveau/nouveau_svm.c';

export interface NouveauState {
  /** `svmm->mutex`. */
  readonly mutex: number;
  /** The GPU's page tables for the SVM address space (nvkm vmm, PFNMAP entries). */
  readonly vmm: number;
  /** The `struct svm_notifier` interval subscription (see the model gap above). */
  readonly sub: number;
}

function sites(v: string) {
  return {
    start: site(SVM, 'nouveau_svmm_invalidate_range_start', v),
    pfnclr: site(SVM, 'nouveau_svmm_invalidate → nvif_object_mthd(NVIF_VMM_V0_PFNCLR)', v),
    mni: site(SVM, 'nouveau_svm_range_invalidate', v),
    fault: site(SVM, 'nouveau_range_fault', v),
    pfnmap: site(SVM, 'nouveau_range_fault → nvif_object_ioctl(NVIF_VMM_V0_PFNMAP)', v),
  };
}
type Sites = ReturnType<typeof sites>;

function setup(api: SetupApi): NouveauState {
  return Object.freeze({
    mutex: api.mutex('svmm->mutex'),
    vmm: api.secondaryTable('nouveau svmm vmm'),
    sub: api.intervalNotifier('svm_notifier'),
  });
}

/** `nouveau_svmm_invalidate_range_start()`: the GPU unmap, under svmm->mutex; -EAGAIN when !blockable. */
function rangeStart(at: Sites) {
  return function* (k: KernelApi, s: NouveauState, r: MmuNotifierRange): Gen<number> {
    if (r.blockable === false) return EAGAIN; // if (!mmu_notifier_range_blockable(update)) return -EAGAIN;
    yield* k.mutexLock(s.mutex, at.start);
    yield* k.mightSleep('nvif_object_mthd(NVIF_VMM_V0_PFNCLR): nvkm vmm update and TLB flush', at.pfnclr);
    yield* k.spteClearRange(s.vmm, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, at.pfnclr);
    yield* k.mutexUnlock(s.mutex, at.start);
    return 0;
  };
}

/** `nouveau_svm_range_invalidate()`: set_seq under svmm->mutex, nothing else. */
function invalidate(at: Sites) {
  return function* (k: KernelApi, s: NouveauState, sub: number, r: MmuNotifierRange, curSeq: number): Gen<boolean> {
    if (r.blockable !== false) yield* k.mutexLock(s.mutex, at.mni);
    else if (!(yield* k.mutexTrylock(s.mutex, at.mni))) return false;
    yield* k.mmuIntervalSetSeq(sub, curSeq);
    yield* k.mutexUnlock(s.mutex, at.mni);
    return true;
  };
}

/**
 * `nouveau_range_fault()` for the faulting page: `while (true) { read_begin; mmap_read_lock;
 * hmm_range_fault; mmap_read_unlock; -EBUSY: continue; mutex_lock; if (read_retry) { unlock;
 * continue; } break; }`, then PFNMAP with the write bit hmm_range_fault reported, and unlock.
 */
function fault(at: Sites) {
  return function* (k: KernelApi, s: NouveauState, f: DeviceFault): Gen<DeviceFaultResult> {
    for (;;) {
      const seq = yield* k.mmuIntervalReadBegin(s.sub);
      yield* k.downRead(k.mmapSem, at.fault);
      const got = yield* k.hmmRangeFault(f.address, f.write, s.sub, seq);
      yield* k.upRead(k.mmapSem, at.fault);
      if (got === 'EFAULT') return 'error'; // nouveau_svm_fault_cancel_fault
      if (got === 'EBUSY') {
        yield* k.cpuRelax(at.fault, 'hmm_range_fault: -EBUSY, continue', true);
        continue;
      }
      yield* k.mutexLock(s.mutex, at.fault);
      if (yield* k.mmuIntervalReadRetry(s.sub, seq)) {
        yield* k.mutexUnlock(s.mutex, at.fault);
        yield* k.cpuRelax(at.fault, 'mmu_interval_read_retry: continue', true);
        continue;
      }
      yield* k.spteSet(s.vmm, k.vpnOf(f.address), got.page, got.writable, at.pfnmap);
      yield* k.mutexUnlock(s.mutex, at.fault);
      return 'mapped';
    }
  };
}

function definition(v: 'v5.5' | 'v6.6', read: string): NotifierDefinition<NouveauState> {
  const at = sites(read);
  return {
    name: 'nouveau-svm',
    title: `nouveau SVM (${v}, read in ${read}): classic range_start unmaps the GPU under svmm->mutex (-EAGAIN when !blockable); a temporary interval notifier per fault only does set_seq`,
    contract: 'mirror',
    eras: [v],
    source: `${SVM} nouveau_svmm_invalidate_range_start, nouveau_svm_range_invalidate, nouveau_range_fault (${read}); the per-fault mmu_interval_notifier_insert/remove is modelled as one subscription over the VMA`,
    setup,
    ops: { invalidateRangeStart: rangeStart(at), invalidate: invalidate(at) },
    device: { table: (s) => s.vmm, fault: fault(at) },
  };
}

export const nouveauSvm55 = definition('v5.5', 'v5.7');
export const nouveauSvm66 = definition('v6.6', 'v6.8');
