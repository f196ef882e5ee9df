import { deriveEra } from './era';
import { v4_15 } from './v4.15';

/**
 * v4.19: the OOM reaper calls `mmu_notifier_invalidate_range_start_nonblock()` (blockable == false)
 * instead of skipping mms with notifiers (mm/oom_kill.c __oom_reap_task_mm v4.19.95); a callback
 * that must sleep returns -EAGAIN ("If blockable argument is set to false then the callback cannot
 * sleep and has to return with -EAGAIN", include/linux/mmu_notifier.h). __mmu_notifier_invalidate_
 * range_start keeps calling the other notifiers after a failure and returns the error; the reaper
 * then skips the VMA with no range_end for anyone (reference §3 B12, until c2655835fd8c).
 */
export const v4_19 = deriveEra(v4_15, {
  // mm/mprotect.c change_pte_range v4.19.95: "Also skip shared copy-on-write pages"
  numaSkipShared: 'mapcount',
  name: 'v4.19',
  // mm/ksm.c cmp_and_merge_page v4.19: split_huge_page of the THP both merged pages belong to
  ksmSplitSameCompound: true,
  summary: 'non-blockable invalidate_range_start for the OOM reaper, -EAGAIN; a failed start leaves the other notifiers unpaired',
  source: 'mm/oom_kill.c __oom_reap_task_mm, mm/mmu_notifier.c __mmu_notifier_invalidate_range_start (v4.19.95)',
  oomReaper: 'nonblock-start',
  // mm/mmap.c exit_mmap v4.19 (also v5.0.1, v5.7.14): an OOM victim is reaped by exit_mmap, then the mmap_sem fence
  exitMmap: 'oom-victim-fence',
});
