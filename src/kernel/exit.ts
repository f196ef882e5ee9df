/**
 * The end of an mm: `mmput()` → `__mmput()` → `exit_mmap()` (kernel/fork.c, mm/mmap.c), in each
 * era's form (Era.exitMmap). exit_mmap tells the notifiers first (`mmu_notifier_release`: every
 * ->release, then every notifier unlinked, then synchronize_srcu), and only then unmaps everything:
 * unmap_vmas still issues range_start/end (mm_has_notifiers() stays true) but the walk finds no
 * notifier any more, so a driver that did not tear its mappings down in ->release is never told
 * again before tlb_finish_mmu frees the pages (reference §1 S12, §3 B19).
 */
import * as p from '../runtime/primitives';
import type { Gen, PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import { ModelError } from '../runtime/errors';
import type { KernelContext } from './context';
import { tlbFinishMmu, unmapPageRange } from './memory';
import { MMAP_SEM } from './mm';
import { vmaRuns } from './mmap';
import { oomReapTaskMm } from './oom_kill';
import { PAGE_SIZE, VMA_BASE } from '../runtime/machine';
import { type UnregisterOptions, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange, mmuNotifierRelease } from './mmu_notifier';

const MMPUT = site('kernel/fork.c', 'mmput: atomic_dec_and_test(&mm->mm_users)', 'v4.13');
const EXIT_MMAP = {
  plain: site('mm/mmap.c', 'exit_mmap', 'v4.13'),
  'oom-victim-fence': site('mm/mmap.c', 'exit_mmap', 'v4.19'),
  'mmap-lock': site('mm/mmap.c', 'exit_mmap', 'v6.8', 'the era is v6.6; exit_mmap read in v6.8 [U for v6.6]'),
} as const;
const UNMAP_VMAS = site('mm/memory.c', 'unmap_vmas(&tlb, vma, 0, -1)', 'v4.13', '"Use -1 here to ensure all VMAs in the mm are unmapped"; the notifier range is shown as the modelled VMA');
const FREE_PGTABLES = site('mm/memory.c', 'free_pgtables', 'v4.13', 'page-table pages are not modelled');
const REMOVE_VMA = site('mm/mmap.c', 'remove_vma', 'v4.13');
const OOM_FENCE = site('mm/mmap.c', 'exit_mmap: set_bit(MMF_OOM_SKIP); down_write(&mm->mmap_sem); up_write(&mm->mmap_sem)', 'v4.19');
const OOM_REAP = site('mm/mmap.c', 'exit_mmap: if (unlikely(mm_is_oom_victim(mm))) __oom_reap_task_mm(mm)', 'v4.19');

/**
 * `mmput(mm)`: drops one mm_users reference; the last one runs `__mmput()` → `exit_mmap()` in the
 * thread that dropped it (a task exiting: do_exit → exit_mm → mmput; a KVM vCPU thread is such a
 * user too). Without the scenario's lifetime objects there is nothing to drop.
 */
export function* mmput(kc: KernelContext, nPages: number): Gen {
  const lt = kc.lifetime;
  if (!lt) throw new ModelError('mmput: the scenario has no lifetime objects (build it with an exit operation)');
  const users = yield* p.add(lt.mmUsers, -1, MMPUT);
  if (users === 0) yield* exitMmap(kc, nPages);
  else yield* p.note(`mm_users is now ${users}: another user of the mm remains, no exit_mmap yet`, MMPUT);
}

/**
 * `exit_mmap(mm)`, the mm's last user gone:
 * 1. `mmu_notifier_release(mm)` (src/kernel/mmu_notifier.ts);
 * 2. from v4.19, for an OOM victim: `__oom_reap_task_mm(mm)`, MMF_OOM_SKIP and the mmap_sem fence
 *    that keeps the OOM reaper out from then on; v6.8 instead holds mmap_read_lock over unmap_vmas
 *    and mmap_write_lock from MMF_OOM_SKIP to the end;
 * 3. `unmap_vmas(&tlb, vma, 0, -1)`: one range_start/end over everything, with every VMA zapped
 *    between them (the pages go to the mmu_gather batch);
 * 4. `free_pgtables`, `tlb_finish_mmu` (the CPU TLB flush and ->invalidate_range or the arch
 *    secondary-TLB flush, then the pages are freed), `remove_vma` (the VMA is gone).
 */
export function* exitMmap(kc: KernelContext, nPages: number, opts: UnregisterOptions = {}): Gen {
  const mode = kc.era.exitMmap;
  const at = EXIT_MMAP[mode];
  yield* p.note('__mmput → exit_mmap(mm): "mm\'s last user has gone, and its about to be pulled down"', at);
  yield* mmuNotifierRelease(kc, at, opts);
  if (mode === 'oom-victim-fence' && kc.lifetime?.oomVictim) {
    // "Manually reap the mm to free as much memory as possible": its non-blockable range_start reaches
    // no hlist notifier any more (release unlinked them all), but an interval subscription (v5.5+)
    // stays in the tree and gets it, with blockable false
    yield* oomReapTaskMm(kc, nPages, OOM_REAP);
    yield* p.downWrite(MMAP_SEM, OOM_FENCE);
    yield* p.upWrite(MMAP_SEM, OOM_FENCE);
  }
  if (mode === 'mmap-lock') yield* p.downRead(MMAP_SEM, at);
  const runs = yield* vmaRuns(nPages, at);
  const batch: PageRef[] = [];
  if (runs.length > 0) {
    // mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, vma, mm, 0, -1) (unmap_vmas v5.7): the
    // drivers clamp (0, -1) to what they map (an interval subscription's own range), so the model
    // passes the modelled VMA, [vm_start, vm_end), which is the same for every modelled driver
    const range = mmuNotifierRange(kc, 'MMU_NOTIFY_UNMAP', VMA_BASE, VMA_BASE + nPages * PAGE_SIZE);
    yield* invalidateRangeStart(kc, range, UNMAP_VMAS);
    for (const [vpn, n] of runs) yield* unmapPageRange(kc, vpn, n, batch);
    yield* invalidateRangeEnd(kc, range, UNMAP_VMAS);
  } else {
    yield* p.note('vma = mm->mmap; if (!vma) return', at);
  }
  if (mode === 'mmap-lock') {
    yield* p.upRead(MMAP_SEM, at);
    // "Set MMF_OOM_SKIP to hide this task from the oom killer/reaper because the memory has been already freed."
    yield* p.downWrite(MMAP_SEM, at);
  }
  if (runs.length > 0) {
    yield* p.note('free_pgtables(&tlb, vma, FIRST_USER_ADDRESS, USER_PGTABLES_CEILING)', FREE_PGTABLES);
    // tlb_finish_mmu(&tlb, 0, -1): the gathered range is the whole VMA
    yield* tlbFinishMmu(kc, 0, nPages, batch);
    yield* p.vmaDetach(0, nPages, REMOVE_VMA);
  }
  if (mode === 'mmap-lock') yield* p.upWrite(MMAP_SEM, at);
}

