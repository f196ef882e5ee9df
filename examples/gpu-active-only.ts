/**
 * The GPU mirror of gpu-seqcount.ts with one line of its protocol missing, a realistic race: the fault
 * checks the in-progress count under the lock but keeps no sequence count.
 *
 * That closes the window while an invalidation is *in progress*, but not one that starts and ends
 * entirely between the fault's get_user_pages and its taking the lock:
 *
 *   gpu fault                              munmap
 *   get_user_pages() -> page P (ref)
 *                                          invalidate_range_start: active = 1, zap GPU PTEs
 *                                          zap_pte_range: PTE cleared
 *                                          invalidate_range_end: active = 0
 *                                          tlb_finish_mmu: put_page(P) (gup's ref keeps it)
 *   mutex_lock(pt_lock); active == 0: map P
 *   put_page(P): P is freed, the GPU still maps it
 *
 * Random search meets this window about once in 10^5 runs: `npx mmu-race check
 * examples/gpu-active-only.ts --runs 300000` usually finds it (test/notifier/examples.test.ts finds
 * it every time by trying every pair of context switches on the scenario above).
 */
import { defineNotifier, site, type CounterId, type LockId, type TableId } from 'mmu-race';

interface GpuState {
  readonly ptLock: LockId;
  readonly active: CounterId;
  readonly pt: TableId;
}

const FILE = 'examples/gpu-active-only.ts';
const START = site(FILE, 'gpu_mn_invalidate_range_start', 'v4.13');
const END = site(FILE, 'gpu_mn_invalidate_range_end', 'v4.13');
const FAULT = site(FILE, 'gpu_handle_fault', 'v4.13');
const MAP = site(FILE, 'gpu_handle_fault: gpu_pte_set()', 'v4.13');

export default defineNotifier<GpuState>({
  name: 'gpu-active-only',
  title: 'GPU mirror that checks the in-progress count but keeps no sequence count (broken on purpose)',
  contract: 'mirror',
  eras: ['v4.13'],
  source: 'examples/gpu-active-only.ts (gpu-seqcount.ts without gpu->notifier_seq)',

  setup: (api) => ({
    ptLock: api.mutex('gpu->pt_lock'),
    active: api.counter('gpu->active_invalidations'),
    pt: api.secondaryTable('gpu pt'),
  }),

  ops: {
    *invalidateRangeStart(k, s, range) {
      yield* k.mutexLock(s.ptLock, START);
      yield* k.add(s.active, 1, START);
      yield* k.spteClearRange(s.pt, k.vpnOf(range.start), k.vpnOf(range.end - 1) + 1, START);
      yield* k.mutexUnlock(s.ptLock, START);
    },
    *invalidateRangeEnd(k, s) {
      yield* k.mutexLock(s.ptLock, END);
      yield* k.add(s.active, -1, END);
      yield* k.mutexUnlock(s.ptLock, END);
    },
  },

  device: {
    table: (s) => s.pt,
    *fault(k, s, f) {
      const got = yield* k.getUserPagesUnlocked(f.address, f.write);
      if (!got) return 'error';
      yield* k.mightSleep('dma_map_page(): map the page for the GPU (may sleep)', FAULT);
      yield* k.mutexLock(s.ptLock, FAULT);
      if ((yield* k.read(s.active, FAULT)) !== 0) {
        yield* k.mutexUnlock(s.ptLock, FAULT);
        yield* k.putPage(got.page, FAULT);
        return 'retry';
      }
      yield* k.spteSet(s.pt, k.vpnOf(f.address), got.page, got.writable, MAP);
      yield* k.putPage(got.page, MAP);
      yield* k.mutexUnlock(s.ptLock, FAULT);
      return 'mapped';
    },
  },
});
