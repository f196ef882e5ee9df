/**
 * A GPU that mirrors a process's address space (a `mirror` driver), written for v4.13, the way a
 * driver without HMM did it: a sequence count and an in-progress count, the pattern of KVM's
 * mmu_notifier_seq / mmu_notifier_count (virt/kvm/kvm_main.c v4.13).
 *
 * - `invalidate_range_start` counts one more invalidation in progress (under `gpu->notifier_lock`,
 *   a spinlock), then under the GPU page-table lock (a mutex) zaps the GPU PTEs of the range and
 *   waits for the GPU TLB flush (it may sleep: v4.13 calls range_start in a sleepable context). From
 *   v4.19 the OOM reaper calls it non-blockable (`range.blockable === false`): then it only
 *   trylocks, and returns -EAGAIN rather than wait.
 * - `invalidate_range_end` bumps the sequence and counts the invalidation done, under the spinlock
 *   only (the OOM reaper calls it too, and it must not sleep there).
 * - The GPU fault samples the sequence, looks the page up with get_user_pages (which may sleep), then
 *   under the page-table lock retries if an invalidation is in progress or completed since the
 *   sample; otherwise it installs the GPU PTE. The GPU PTE holds no page reference: safety rests on
 *   the protocol alone, exactly as for KVM.
 * - `release` (exit_mmap, or the driver's own mmu_notifier_unregister) zaps everything and leaves
 *   the fault retrying for good: after it, no invalidation reaches the driver any more.
 *
 * Check it: `npx mmu-race check examples/gpu-seqcount.ts` → no race found.
 */
import { EAGAIN, defineNotifier, site, type CounterId, type LockId, type TableId } from 'mmu-race';

interface GpuState {
  /** `gpu->pt_lock`: a mutex over the GPU page table, since the GPU TLB flush under it sleeps. */
  readonly ptLock: LockId;
  /** `gpu->notifier_lock`: a spinlock over the two counts, never held across a sleep. */
  readonly notifierLock: LockId;
  /** `gpu->notifier_seq`: bumped by every invalidate_range_end. */
  readonly notifierSeq: CounterId;
  /** `gpu->active_invalidations`: range_start … range_end sections in progress. */
  readonly active: CounterId;
  /** The GPU's page table (its secondary MMU). */
  readonly pt: TableId;
}

const FILE = 'examples/gpu-seqcount.ts';
const START = site(FILE, 'gpu_mn_invalidate_range_start', 'v4.13');
const END = site(FILE, 'gpu_mn_invalidate_range_end', 'v4.13');
const FAULT = site(FILE, 'gpu_handle_fault', 'v4.13');
const RETRY = site(FILE, 'gpu_handle_fault: gpu_mn_retry()', 'v4.13');
const MAP = site(FILE, 'gpu_handle_fault: gpu_pte_set()', 'v4.13');
const RELEASE = site(FILE, 'gpu_mn_release', 'v4.13');

export default defineNotifier<GpuState>({
  name: 'gpu-seqcount',
  title: 'GPU mirror: sequence count + in-progress count under gpu->notifier_lock, the fault retries',
  contract: 'mirror',
  eras: ['v4.13', 'v4.15', 'v4.19'],
  source: 'examples/gpu-seqcount.ts (the KVM pattern of virt/kvm/kvm_main.c v4.13, on a GPU)',

  setup: (api) => ({
    ptLock: api.mutex('gpu->pt_lock'),
    notifierLock: api.spinlock('gpu->notifier_lock'),
    notifierSeq: api.counter('gpu->notifier_seq'),
    active: api.counter('gpu->active_invalidations'),
    pt: api.secondaryTable('gpu pt'),
  }),

  ops: {
    *invalidateRangeStart(k, s, range) {
      const first = k.vpnOf(range.start);
      const last = k.vpnOf(range.end - 1) + 1;
      if (range.blockable === false) {
        // v4.19+: the OOM reaper may not wait. Like amdgpu_mn (v4.19): trylock, and give up with
        // -EAGAIN (the reaper skips this VMA, no range_end follows) rather than sleep.
        if (!(yield* k.mutexTrylock(s.ptLock, START))) return EAGAIN;
        for (let v = first; v < last; v++) {
          if (yield* k.spteRead(s.pt, v, START)) {
            yield* k.mutexUnlock(s.ptLock, START); // a GPU TLB flush would have to be waited for
            return EAGAIN;
          }
        }
        yield* k.spinLock(s.notifierLock, START);
        yield* k.add(s.active, 1, START); // nothing mapped: nothing to flush; range_end follows
        yield* k.spinUnlock(s.notifierLock, START);
        yield* k.mutexUnlock(s.ptLock, START);
        return 0;
      }
      // Pairs with the check in gpu_handle_fault: a fault that sees active != 0 retries.
      yield* k.spinLock(s.notifierLock, START);
      yield* k.add(s.active, 1, START);
      yield* k.spinUnlock(s.notifierLock, START);
      yield* k.mutexLock(s.ptLock, START);
      yield* k.spteClearRange(s.pt, first, last, START);
      yield* k.mightSleep('gpu_tlb_flush_wait(): wait for the GPU TLB flush fence', START);
      yield* k.mutexUnlock(s.ptLock, START);
      return 0;
    },
    *invalidateRangeEnd(k, s) {
      // Pairs with the sample at the start of gpu_handle_fault: the page it looked up may be gone.
      // A spinlock, not the mutex: range_end must not sleep when the OOM reaper calls it.
      yield* k.spinLock(s.notifierLock, END);
      yield* k.add(s.notifierSeq, 1, END);
      yield* k.add(s.active, -1, END);
      yield* k.spinUnlock(s.notifierLock, END);
    },
    *release(k, s) {
      // exit_mmap (or our own mmu_notifier_unregister) calls this first and then never again tells
      // us anything: zap the whole GPU page table and keep one invalidation "in progress" for good,
      // so that a fault that looked a page up before the mm exited retries instead of mapping it.
      // It may run twice (exit and unregister): both steps are idempotent enough.
      yield* k.spinLock(s.notifierLock, RELEASE);
      yield* k.add(s.active, 1, RELEASE);
      yield* k.spinUnlock(s.notifierLock, RELEASE);
      yield* k.mutexLock(s.ptLock, RELEASE);
      yield* k.spteClearRange(s.pt, 0, 1 << 12, RELEASE);
      yield* k.mightSleep('gpu_tlb_flush_wait(): wait for the GPU TLB flush fence', RELEASE);
      yield* k.mutexUnlock(s.ptLock, RELEASE);
    },
  },

  device: {
    table: (s) => s.pt,
    *fault(k, s, f) {
      const seq = yield* k.read(s.notifierSeq, FAULT);
      const got = yield* k.getUserPagesUnlocked(f.address, f.write); // takes mmap_sem: may sleep
      if (!got) return 'error';
      yield* k.mightSleep('dma_map_page(): map the page for the GPU (may sleep)', FAULT);
      yield* k.mutexLock(s.ptLock, FAULT);
      // gpu_mn_retry(): under pt_lock, so that no range_start can zap between this check and the map.
      yield* k.spinLock(s.notifierLock, RETRY);
      const active = yield* k.read(s.active, RETRY);
      const now = yield* k.read(s.notifierSeq, RETRY);
      yield* k.spinUnlock(s.notifierLock, RETRY);
      if (active !== 0 || now !== seq) {
        yield* k.note(`invalidation raced (active ${active}, seq ${now} vs ${seq}): retry`, RETRY);
        yield* k.mutexUnlock(s.ptLock, FAULT);
        yield* k.putPage(got.page, FAULT);
        return 'retry';
      }
      yield* k.spteSet(s.pt, k.vpnOf(f.address), got.page, got.writable, MAP);
      yield* k.putPage(got.page, MAP); // the GPU PTE keeps no reference
      yield* k.mutexUnlock(s.ptLock, FAULT);
      return 'mapped';
    },
  },
});
