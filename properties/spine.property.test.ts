/**
 * The spine's properties (issue: checker end to end on v4.13). Run counts come from
 * src/check/budget.ts (MMU_RACE_RUNS raises them for longer campaigns; MMU_RACE_SEED changes the seed).
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { configuredRuns, configuredSeed } from '../src/check/budget';
import { resolve, runCase, type Case } from '../src/check/case';
import { check } from '../src/check/fuzz';
import { oneRemovalNeighbours } from '../src/check/minimize';
import { renderTimeline, timelineOf } from '../src/report/timeline';
import { scenarioArbitrary, scheduleArbitrary } from '../src/scenario/arbitrary';
import { decodeToken } from '../src/schedule/token';

const seed = configuredSeed();
const KERNEL = 'v4.13';

function caseOf(driver: string, scenario: Case['scenario'], preemptions: Case['preemptions']): Case {
  return { kernel: KERNEL, driver, scenario, preemptions, maxSteps: 2000 };
}

describe('kvm on v4.13 (mmu_notifier_seq + mmu_notifier_count, retry under kvm->mmu_lock)', () => {
  const target = resolve(KERNEL, 'kvm');
  test.prop([scenarioArbitrary(), scheduleArbitrary()], { numRuns: configuredRuns(20000), seed })('no invariant is violated in any drawn scenario and schedule', (scenario, preemptions) => {
    const r = runCase(caseOf('kvm', scenario, preemptions), target);
    expect(r.verdict).toEqual({ kind: 'pass' });
  });
});

describe('kvm-no-retry on v4.13 (the range_start-only race of the kill-invalidate_page cover letter)', () => {
  const res = check({ kernel: KERNEL, driver: 'kvm-no-retry', runs: configuredRuns(10000), seed });
  const cx = res.counterexample;

  it('is caught: a device maps a page the VM has freed', () => {
    expect(res.verdict).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
    expect(cx).toBeDefined();
  });

  it('is shrunk to at most 3 context switches', () => {
    expect(cx!.result.preemptions.length).toBeLessThanOrEqual(3);
    expect(cx!.result.preemptions.length).toBeGreaterThanOrEqual(1);
  });

  it('is 1-minimal: removing any one operation or any one context switch makes the race disappear', () => {
    const neighbours = oneRemovalNeighbours(cx!.case);
    expect(neighbours.length).toBeGreaterThanOrEqual(2);
    for (const n of neighbours) expect(runCase(n).verdict.kind).toBe('pass');
  });

  it('replays from its token to the identical timeline', () => {
    const again = decodeToken(cx!.token);
    expect(again).toEqual(cx!.case);
    expect(renderTimeline(timelineOf(again), again)).toBe(renderTimeline(timelineOf(cx!.case), cx!.case));
  });

  it('gives the same result for the same seed', () => {
    const twice = check({ kernel: KERNEL, driver: 'kvm-no-retry', runs: configuredRuns(10000), seed });
    expect(twice.counterexample?.token).toBe(cx!.token);
    expect(twice.executions).toBe(res.executions);
  });

  test.prop([fc.integer()], { numRuns: 4, seed })('is found from other seeds too', (s) => {
    expect(check({ kernel: KERNEL, driver: 'kvm-no-retry', runs: configuredRuns(10000), seed: s }).verdict.kind).toBe('violation');
  });
});

describe('a notifier whose ->invalidate_range takes a mutex (called under the PTL)', () => {
  it('is reported as no-sleep-in-atomic', () => {
    const res = check({ kernel: KERNEL, driver: 'invalidate-range-mutex', runs: configuredRuns(10000), seed });
    expect(res.verdict).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
    expect(res.verdict.kind === 'violation' && res.verdict.message).toMatch(/mutex_lock\(dev->lock\).*holding spinlock ptl/);
  });
});
