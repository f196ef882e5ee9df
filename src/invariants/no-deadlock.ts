import { K_LOCK } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';

/**
 * Lock-order inversions, lockdep-style: a lock taken in both orders by some threads of the
 * execution can deadlock in another interleaving, even when this one did not hang. (A hang itself
 * is the `deadlock` verdict.)
 */
export const noDeadlock: StateInvariant = {
  kind: 'state',
  name: 'no-deadlock',
  title: 'no lock-order inversion (lockdep)',
  rule:
    'Locks must be taken in one global order; lockdep reports "possible circular locking dependency detected" ' +
    'when an acquisition closes a cycle in the dependency graph (kernel/locking/lockdep.c check_prev_add); ' +
    'notifier callbacks run under the caller\'s locks (mmap_sem, i_mmap_rwsem/anon_vma->rwsem, the PTL), so a ' +
    'driver lock taken both inside a callback and around a path that reaches those locks is an inversion ' +
    '(reference §3 B14, B18).',
  watches: K_LOCK,
  check(m: Machine): string | null {
    return m.lockInversion;
  },
};
