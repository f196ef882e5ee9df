import { Op, type Effect } from '../runtime/effect';
import type { EffectInvariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';

/** How many consecutive retries a loop may take under the fair default schedule. */
export const PROGRESS_BOUND = 32;

/**
 * Retry loops finish: a fault that retries because an invalidation is in progress (KVM's
 * mmu_notifier_retry, ODP's notifiers_count) must succeed once the invalidation ends. The default
 * schedule is fair at every retry (cpu_relax hands the CPU to the other threads), so a loop that
 * still retries after PROGRESS_BOUND rounds waits for something that never comes: an in-progress
 * count left raised by an unpaired start (reference §2.1 K4, §3 B12), or a livelock.
 */
export const progress: EffectInvariant = {
  kind: 'effect',
  name: 'progress',
  title: 'retry loops finish',
  rule:
    'invalidate_range_start/_end "must be paired" (include/linux/mmu_notifier.h); KVM\'s fault path retries while ' +
    'mmu_notifier_count != 0 (include/linux/kvm_host.h mmu_notifier_retry), so a start without its end makes every ' +
    'later fault on the range retry forever.',
  check(m: Machine, thread: number, e: Effect): string | null {
    if (e.op !== Op.CpuRelax || e.a !== 1) return null;
    const ctx = m.threads[thread];
    if (ctx.retries < PROGRESS_BOUND) return null;
    return `${ctx.name} has retried ${ctx.retries} times in a row under a fair schedule without getting through`;
  },
};
