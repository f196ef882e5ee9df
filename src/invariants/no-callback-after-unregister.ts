import { K_COUNTER } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';

const RUNNING = ': callbacks running';
const UNREGISTERED = ': unregistered';

/** Per counter-name list (one per execution's machine, shared by its clones' copies): the [running, unregistered] id pairs. */
const pairsOf = new WeakMap<readonly string[], readonly [number, number, string][]>();

function pairs(names: readonly string[]): readonly [number, number, string][] {
  let got = pairsOf.get(names);
  if (got === undefined) {
    const list: [number, number, string][] = [];
    for (const [i, n] of names.entries()) {
      if (!n.endsWith(RUNNING)) continue;
      const driver = n.slice(0, -RUNNING.length);
      const u = names.indexOf(driver + UNREGISTERED);
      if (u >= 0) list.push([i, u, driver]);
    }
    got = list;
    pairsOf.set(names, got);
  }
  return got;
}

/**
 * No callback of a notifier runs once mmu_notifier_unregister() has returned for it: "only after
 * mmu_notifier_unregister returned we're guaranteed that ->release or any other method can't run
 * anymore" (mm/mmu_notifier.c v4.13.19, the same in v5.7.14), which is what lets a driver free its
 * notifier then. The dispatchers count the callbacks of each notifier while they run (only in
 * scenarios that exit or unregister: src/kernel/mmu_notifier.ts `call`), and unregister marks its
 * return; a callback counted after that mark is the use-after-free of reference §3 B19 (a
 * release/unregister race) and B26 (a notifier freed while callbacks may still run).
 */
export const noCallbackAfterUnregister: StateInvariant = {
  kind: 'state',
  name: 'no-callback-after-unregister',
  title: 'no notifier callback runs after mmu_notifier_unregister returned',
  rule:
    '"->release or any other notifier method may be invoked concurrently with mmu_notifier_unregister, and only after ' +
    'mmu_notifier_unregister returned we\'re guaranteed that ->release or any other method can\'t run anymore" ' +
    '(mm/mmu_notifier.c v4.13; synchronize_srcu in mmu_notifier_unregister; reference §3 B19, B26).',
  watches: K_COUNTER,
  check(m: Machine): string | null {
    for (const [running, unregistered, driver] of pairs(m.counterNames)) {
      if (m.counters[unregistered] === 1 && m.counters[running] > 0) {
        return `a callback of ${driver} is running after mmu_notifier_unregister(${driver}) returned: the driver may have freed its notifier (use-after-free)`;
      }
    }
    return null;
  },
};
