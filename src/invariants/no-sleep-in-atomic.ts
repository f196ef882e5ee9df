import { mightSleep, type Effect } from '../runtime/effect';
import type { EffectInvariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';
import { describeEffect } from '../report/label';

/**
 * No sleeping call in atomic context, flagged when issued even if the lock is free, as
 * CONFIG_DEBUG_ATOMIC_SLEEP's might_sleep() does (kernel/sched/core.c ___might_sleep).
 */
export const noSleepInAtomic: EffectInvariant = {
  kind: 'effect',
  name: 'no-sleep-in-atomic',
  title: 'no sleeping in atomic context',
  rule:
    'A callback called under the page-table spinlock must not sleep: "The invalidate_range() function is ' +
    'called under the ptl spin-lock and not allowed to sleep" (include/linux/mmu_notifier.h, v4.13); ' +
    'might_sleep() in mutex_lock/down_read/GFP_KERNEL allocation reports "BUG: sleeping function called ' +
    'from invalid context" (kernel/sched/core.c ___might_sleep). From v4.19 a non-blockable invalidate_range_start ' +
    '(OOM reaper) "cannot sleep and has to return with -EAGAIN" (include/linux/mmu_notifier.h v4.19).',
  check(m: Machine, thread: number, e: Effect): string | null {
    if (!mightSleep(e)) return null;
    const ctx = m.threads[thread];
    if (ctx.atomic === 0 && ctx.nonBlock === 0) return null;
    const spins = ctx.held.filter((l) => m.locks[l].kind === 0).map((l) => m.locks[l].name);
    const why =
      spins.length > 0
        ? `holding spinlock ${spins.join(', ')}`
        : ctx.atomic > 0
          ? 'with interrupts disabled'
          : 'inside a non-blockable invalidation (blockable == false: "the callback cannot sleep and has to return with -EAGAIN")';
    return `${ctx.name} calls ${describeEffect(m, e)}, which may sleep, ${why}`;
  },
};
