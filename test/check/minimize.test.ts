import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { minimize, oneRemovalNeighbours, removeOp } from '../../src/check/minimize';
import { resolve } from '../../src/check/case';

const base: Case = {
  kernel: 'v4.13',
  driver: 'kvm-no-retry',
  scenario: {
    threads: [
      { kind: 'cpu', ops: [{ op: 'access', page: 1, write: false }, { op: 'access', page: 0, write: true }] },
      { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: false }, { op: 'access', page: 0, write: true }] },
    ],
  },
  preemptions: [{ thread: 0, after: 19, to: 1 }],
  maxSteps: 2000,
};

describe('minimize', () => {
  it('removing the last op of a thread drops the thread and renumbers preemptions', () => {
    const c = removeOp(base, 1, 0);
    expect(c.scenario.threads.map((t) => t.kind)).toEqual(['cpu', 'device']);
    expect(c.preemptions).toEqual([]);
    const d = removeOp({ ...base, preemptions: [{ thread: 2, after: 3, to: 0 }] }, 1, 0);
    expect(d.preemptions).toEqual([{ thread: 1, after: 3, to: 0 }]);
  });

  it('turns a padded counterexample into a 1-minimal one with the same invariant', () => {
    // the first point at which preempting the CPU thread in favour of reclaim makes the race
    const padded = Array.from({ length: 60 }, (_, i): Case => ({ ...base, preemptions: [{ thread: 0, after: i + 1, to: 1 }] })).find(
      (c) => runCase(c).verdict.kind === 'violation',
    ) as Case;
    expect(padded).toBeDefined();
    expect(runCase(padded).verdict).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
    const { case: min } = minimize(padded, resolve(base.kernel, base.driver));
    const r = runCase(min);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
    expect(min.scenario.threads.reduce((n, t) => n + t.ops.length, 0)).toBe(3);
    for (const n of oneRemovalNeighbours(min)) expect(runCase(n).verdict.kind).toBe('pass');
  });
});

describe('removeOp keeps the scenario flags', () => {
  it('a THP scenario stays a THP scenario when an operation or a thread goes', () => {
    const c = { kernel: 'v4.13', driver: 'kvm', maxSteps: 2000, preemptions: [], scenario: { thp: true, thpOrder: 2, threads: [{ kind: 'cpu' as const, ops: [{ op: 'access' as const, page: 0, write: true }, { op: 'munmap' as const, page: 0, pages: 1 }] }, { kind: 'reclaim' as const, ops: [{ op: 'reclaim' as const, page: 0 }] }] } };
    expect(removeOp(c, 0, 1).scenario).toMatchObject({ thp: true, thpOrder: 2 });
    expect(removeOp(c, 1, 0).scenario).toMatchObject({ thp: true, thpOrder: 2 });
  });
});
