/**
 * mm/oom_kill.c: the OOM reaper tearing down the victim's anonymous memory (oom_reap_task →
 * oom_reap_task_mm → __oom_reap_task_mm), in each era's relation to the notifiers
 * (Era.oomReaper).
 */
import { PAGE_SIZE, addressOf } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen, PageRef } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { tlbFinishMmu, unmapPageRange } from './memory';
import { MMAP_SEM } from './mm';
import { vmaRuns } from './mmap';
import { invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';

/** `#define MAX_OOM_REAP_RETRIES 10` */
const MAX_OOM_REAP_RETRIES = 10;

const SITES = {
  'no-notifiers': site('mm/oom_kill.c', '__oom_reap_task_mm', 'v4.10', 'unmap_page_range with no mmu notifier call'),
  'skip-if-notifiers': site('mm/oom_kill.c', '__oom_reap_task_mm', 'v4.13'),
  'nonblock-start': site('mm/oom_kill.c', '__oom_reap_task_mm', 'v4.19'),
} as const;
const RETRY = site('mm/oom_kill.c', 'oom_reap_task', 'v4.13');

/**
 * oom_reap_task(): retry `down_read_trylock(&mm->mmap_sem)` up to MAX_OOM_REAP_RETRIES times
 * (schedule_timeout_idle(HZ/10) between tries), then reap every anonymous VMA:
 * tlb_gather_mmu; [start]; unmap_page_range; [end]; tlb_finish_mmu.
 */
export function* oomReap(kc: KernelContext, nPages: number): Gen {
  const mode = kc.era.oomReaper;
  const at = SITES[mode];
  let locked = false;
  for (let attempt = 0; attempt < MAX_OOM_REAP_RETRIES && !locked; attempt++) {
    locked = yield* p.downReadTrylock(MMAP_SEM, at);
    if (!locked) yield* p.cpuRelax(RETRY, 'schedule_timeout_idle(HZ/10): try mmap_sem again');
  }
  if (!locked) {
    yield* p.note('oom_reaper: unable to reap (mmap_sem contended)', RETRY);
    return;
  }
  if (mode === 'skip-if-notifiers' && kc.notifiers.length > 0) {
    // "mmu_notifier_invalidate_range_{start,end} around unmap_page_range" could block: skip this mm
    yield* p.note('mm_has_notifiers(mm): up_read(mmap_sem); do not reap', at);
    yield* p.upRead(MMAP_SEM, at);
    return;
  }
  yield* oomReapTaskMm(kc, nPages, at);
  yield* p.upRead(MMAP_SEM, at);
}

/**
 * `__oom_reap_task_mm(mm)`: for every (anonymous) VMA, tlb_gather_mmu; in the v4.19+ form a
 * non-blockable range_start (skipping the VMA if a notifier says -EAGAIN), unmap_page_range,
 * range_end; tlb_finish_mmu. Also called by exit_mmap itself for an OOM victim (v4.19 … v5.x).
 */
export function* oomReapTaskMm(kc: KernelContext, nPages: number, at: Site): Gen {
  const mode = kc.era.oomReaper;
  for (const [vpn, n] of yield* vmaRuns(nPages, at)) {
    const start = addressOf(vpn);
    // mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, vma, mm, start, end) (v5.7), non-blockable
    const range = mmuNotifierRange(kc, 'MMU_NOTIFY_UNMAP', start, start + n * PAGE_SIZE, false);
    const batch: PageRef[] = [];
    if (mode === 'nonblock-start' && (yield* invalidateRangeStart(kc, range, at)) !== 0) {
      // a notifier said -EAGAIN: tlb_finish_mmu(&tlb, start, end); ret = false; continue (no range_end)
      yield* tlbFinishMmu(kc, vpn, n, batch);
      continue;
    }
    yield* unmapPageRange(kc, vpn, n, batch);
    if (mode === 'nonblock-start') yield* invalidateRangeEnd(kc, range, at);
    yield* tlbFinishMmu(kc, vpn, n, batch);
  }
}
