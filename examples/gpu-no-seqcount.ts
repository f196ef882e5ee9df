/**
 * A GPU mirror that tears its mappings down in `invalidate_range_start` and keeps no sequence count:
 * the fault path maps whatever get_user_pages returned. This is the pattern the kill-invalidate_page
 * cover letter warned about (reference §3 B7): range_start alone cannot stop a fault that looked the
 * page up *before* range_start from installing it *after* range_start has zapped the range.
 *
 *   gpu fault                              reclaim / munmap
 *                                          invalidate_range_start: zap GPU PTEs (nothing yet)
 *   get_user_pages() -> page P (ref)
 *   mutex_lock(pt_lock); map P; put_page
 *                                          PTE cleared, range_end: the GPU still maps P
 *                                          (reclaim) P freed: the GPU maps a freed page
 *
 * Check it: `npx mmu-race check examples/gpu-no-seqcount.ts` → VIOLATION secondary-follows-primary
 * (the GPU still maps P after the invalidation ended), or no-secondary-maps-freed-page, whichever
 * the shrunk counterexample meets first.
 */
import { defineNotifier, site, type LockId, type TableId } from 'mmu-race';

interface GpuState {
  readonly ptLock: LockId;
  readonly pt: TableId;
}

const FILE = 'examples/gpu-no-seqcount.ts';
const START = site(FILE, 'gpu_mn_invalidate_range_start', 'v4.13');
const FAULT = site(FILE, 'gpu_handle_fault', 'v4.13');

export default defineNotifier<GpuState>({
  name: 'gpu-no-seqcount',
  title: 'GPU mirror that zaps in range_start but keeps no sequence count (broken on purpose)',
  contract: 'mirror',
  eras: ['v4.13'],
  source: 'examples/gpu-no-seqcount.ts (the range_start-only pattern of reference §3 B7)',

  setup: (api) => ({ ptLock: api.mutex('gpu->pt_lock'), pt: api.secondaryTable('gpu pt') }),

  ops: {
    *invalidateRangeStart(k, s, range) {
      yield* k.mutexLock(s.ptLock, START);
      yield* k.spteClearRange(s.pt, k.vpnOf(range.start), k.vpnOf(range.end - 1) + 1, START);
      yield* k.mutexUnlock(s.ptLock, START);
    },
  },

  device: {
    table: (s) => s.pt,
    *fault(k, s, f) {
      const got = yield* k.getUserPagesUnlocked(f.address, f.write);
      if (!got) return 'error';
      yield* k.mightSleep('dma_map_page(): map the page for the GPU (may sleep)', FAULT);
      yield* k.mutexLock(s.ptLock, FAULT);
      yield* k.spteSet(s.pt, k.vpnOf(f.address), got.page, got.writable, FAULT);
      yield* k.putPage(got.page, FAULT);
      yield* k.mutexUnlock(s.ptLock, FAULT);
      return 'mapped';
    },
  },
});
