import type { Era } from './era';

/**
 * v4.13: after the kill-invalidate_page series (5f32b265400d and siblings, merge ea25c431).
 * try_to_unmap_one brackets the walk with invalidate_range_start/end and calls ->invalidate_range
 * per PTE under the PTL; range_end also calls ->invalidate_range (mm/mmu_notifier.c v4.13). The OOM
 * reaper skips mms with notifiers (mm/oom_kill.c __oom_reap_task_mm v4.13: `if (mm_has_notifiers(mm))`).
 */
const era: Era = {
  name: 'v4.13',
  summary: 'kill-invalidate_page: start/end bracket in try_to_unmap_one, ->invalidate_range per PTE under the PTL, range_end also calls ->invalidate_range',
  source: 'mm/rmap.c try_to_unmap_one, mm/mmu_notifier.c __mmu_notifier_invalidate_range_end (v4.13)',
  rangeEndCallsInvalidateRange: true,
  callbacks: ['invalidateRangeStart', 'invalidateRangeEnd', 'invalidateRange'],
  tryToUnmapNotify: 'bracket',
  wpPageCopyOnlyEnd: false,
  oomReaper: 'skip-if-notifiers',
  events: false,
  intervalNotifiers: false,
  secondaryTlbs: 'invalidate-range',
  failedStartEndsOthers: false,
  thpReclaim: 'split-after-add-to-swap',
};

export const v4_13: Era = Object.freeze(era);
