import { K_BRACKET, K_THREAD } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import { hex, type Machine } from '../runtime/machine';

/**
 * Every invalidate_range_start that succeeded is followed, on the same thread, by an
 * invalidate_range_end of the same range, and no end comes without its start. A start that failed
 * in a non-blockable context (-EAGAIN) is owed no end.
 */
export const startEndPaired: StateInvariant = {
  kind: 'state',
  name: 'start-end-paired',
  title: 'every invalidate_range_start gets its invalidate_range_end',
  rule:
    '"invalidate_range_start() and invalidate_range_end() must be paired" (include/linux/mmu_notifier.h, v4.13); ' +
    'from v4.19 a notifier that fails a non-blockable start leaves the others\' starts without an end ' +
    '(mm/oom_kill.c __oom_reap_task_mm v4.19: no range_end after a failed start; reference §3 B12, fixed by c2655835fd8c).',
  watches: K_BRACKET | K_THREAD,
  check(m: Machine): string | null {
    if (m.unpairedEnd !== null) return m.unpairedEnd;
    for (const b of m.brackets) {
      const t = m.threads[b.thread];
      if (t.done) {
        return `${b.notifier}'s invalidate_range_start(${hex(b.start)}, ${hex(b.end)}) from ${t.name} (step ${b.step + 1}) never got its invalidate_range_end: ${t.name} finished`;
      }
    }
    return null;
  },
};
