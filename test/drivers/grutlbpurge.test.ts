/**
 * SGI GRU: the count-only protocol (ms_range_active) misses a bracket that opens and closes between
 * the count check and the TLB dropin; the GRU's hardware ignores a dropin that raced a TLB
 * invalidate (grufault.c gru_try_dropin). The window is one step wide, which random schedules at the
 * matrix budget hit only in some seeds, so this searches every pair of preemption points of one
 * scenario: the count-only variant fails for some, the real driver for none.
 */
import { describe, expect, it } from 'vitest';
import { runCase } from '../../src/check/case';
import { DRIVER_INVARIANTS } from '../../src/invariants';
import type { Scenario } from '../../src/scenario/scenario';

/** The CPU maps page 0, the device reads it, the CPU unmaps it. */
const scenario: Scenario = {
  threads: [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }] },
    { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
  ],
};

function verdicts(driver: string, kernel: string): Set<string> {
  const out = new Set<string>();
  for (let a = 1; a <= 20; a++) {
    for (let b = 1; b <= 12; b++) {
      const preemptions = [{ thread: 0, after: a, to: 1 }, { thread: 1, after: b, to: 0 }];
      const v = runCase({ kernel, driver, scenario, preemptions, maxSteps: 2000, invariants: DRIVER_INVARIANTS }).verdict;
      out.add(v.kind === 'violation' ? v.invariant : v.kind);
    }
  }
  return out;
}

describe('sgi-gru-count-only (the reference §3 B7 class on a count without a sequence)', () => {
  it.each(['v4.13', 'v4.19'])('keeps a TLB entry the CPU no longer maps (freed, or out of step) on %s when munmap runs between the count check and the dropin', (kernel) => {
    const found = verdicts('sgi-gru-count-only', kernel);
    expect(found.has('no-secondary-maps-freed-page') || found.has('secondary-follows-primary')).toBe(true);
  });
  it.each(['v4.13', 'v4.19'])('the real driver, whose hardware drops the racing dropin, passes every schedule on %s', (kernel) => {
    expect(verdicts('sgi-gru', kernel)).toEqual(new Set(['pass']));
  });
});
