import { K_THREAD } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';

/**
 * A kernel path returns with no lock held and interrupts enabled: lockdep's "lock held when
 * returning to user space!" (kernel/locking/lockdep.c lockdep_sys_exit). A callback that leaks a
 * lock (ODP's missed unlock on a failed non-blockable start, reference §3) is caught when the thread
 * that called it finishes.
 */
export const noLockHeldAtExit: StateInvariant = {
  kind: 'state',
  name: 'no-lock-held-at-exit',
  title: 'no lock held when the kernel path returns',
  rule:
    'lockdep_sys_exit(): "lock held when returning to user space!" (kernel/locking/lockdep.c); every lock a ' +
    'callback takes is released on every return path, including the -EAGAIN of a non-blockable start.',
  watches: K_THREAD,
  check(m: Machine): string | null {
    for (const t of m.threads) {
      if (!t.done) continue;
      if (t.held.length > 0) return `${t.name} finished holding ${t.held.map((l) => m.locks[l].name).join(', ')}`;
      if (t.atomic !== 0) return `${t.name} finished in atomic context (local_irq_disable without local_irq_enable)`;
      for (const p of m.pages) if (p.lockedBy === m.threads.indexOf(t) && !p.free) return `${t.name} finished holding a page lock`;
    }
    return null;
  },
};
