/**
 * A counterexample for the report tests: the classic race of KVM without mmu_notifier_retry() (a CPU
 * write, reclaim of the page, a device read), found by searching its one- and two-switch schedules
 * rather than by random search, so that it does not depend on the seed. Which mirror rule it breaks
 * first (the spte outlives the PTE, or the page) is the checker's business.
 */
import { runCase, type Case } from '../../src/check/case';

const scenario: Case['scenario'] = {
  threads: [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
    { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
    { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
  ],
};

export function mirrorRaceCase(driver = 'kvm-no-retry'): Case {
  const base: Case = { kernel: 'v4.13', driver, scenario, preemptions: [], maxSteps: 2000 };
  const freed = (c: Case) => {
    const v = runCase(c).verdict;
    return v.kind === 'violation' && ['no-secondary-maps-freed-page', 'secondary-follows-primary'].includes(v.invariant);
  };
  for (let a = 1; a < 60; a++) {
    for (let to = 0; to < 3; to++) {
      for (let from = 0; from < 3; from++) {
        if (from === to) continue;
        const one: Case = { ...base, preemptions: [{ thread: from, after: a, to }] };
        if (freed(one)) return one;
      }
    }
  }
  for (let a = 1; a < 40; a++) {
    for (let b = 1; b < 40; b++) {
      const two: Case = { ...base, preemptions: [{ thread: 1, after: a, to: 2 }, { thread: 2, after: b, to: 1 }] };
      if (freed(two)) return two;
    }
  }
  throw new Error(`no schedule of ${driver} on the classic scenario breaks a mirror rule`);
}
