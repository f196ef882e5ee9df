import { describe, expect, it } from 'vitest';
import { runCase } from '../../src/check/case';
import { explore } from '../../src/check/explore';
import { oneRemovalNeighbours } from '../../src/check/minimize';
import { UsageError } from '../../src/runtime/errors';
import { verdictName } from '../../src/runtime/verdict';
import { CATALOGUE } from '../../src/scenario/catalogue';
import { decodeToken } from '../../src/schedule/token';

const KERNEL = 'v4.13';
/** The invariants that catch a device mapping a page the VM has unmapped or freed (the first to fire wins). */
const RACE = ['no-secondary-maps-freed-page', 'secondary-follows-primary'];

describe('explore kvm-no-retry: the race of the kill-invalidate_page cover letter, exhaustively', () => {
  it.each(['fault-vs-munmap', 'fault-vs-reclaim'])('%s: found with at most 2 preemptions, replayable, minimal', (scenario) => {
    for (const invariants of [undefined, ['no-secondary-maps-freed-page']]) {
      const r = explore({ kernel: KERNEL, driver: 'kvm-no-retry', scenario, maxPreemptions: 2, invariants });
      expect(r.verdict.kind).toBe('violation');
      const name = verdictName(r.verdict);
      expect(invariants ?? RACE).toContain(name);
      expect(r.complete).toBe(false);
      const cx = r.counterexample!;
      expect(cx.foundAtBound).toBeLessThanOrEqual(2);
      expect(cx.result.preemptions.length).toBeLessThanOrEqual(2);
      // the token replays to the same verdict, trace for trace
      const again = decodeToken(cx.token);
      expect(again).toEqual(cx.case);
      const replayed = runCase(again);
      expect(verdictName(replayed.verdict)).toBe(name);
      expect(replayed.trace.map((s) => [s.thread, s.effect.op])).toEqual(cx.result.trace.map((s) => [s.thread, s.effect.op]));
      // 1-minimal, as in fuzz mode
      for (const n of oneRemovalNeighbours(cx.case)) expect(verdictName(runCase(n).verdict)).not.toBe(name);
    }
  });

  it('has no violation without a preemption: the default order is safe', () => {
    const r = explore({ kernel: KERNEL, driver: 'kvm-no-retry', scenario: 'fault-vs-munmap', maxPreemptions: 0 });
    expect(r).toMatchObject({ verdict: { kind: 'pass' }, complete: true, preemptionsExplored: 0 });
  });
});

describe('explore kvm: a proof within 2 preemptions on the spine scenarios', () => {
  it.each(CATALOGUE.filter((e) => e.spine).map((e) => e.name))('%s', (scenario) => {
    const r = explore({ kernel: KERNEL, driver: 'kvm', scenario, maxPreemptions: 2 });
    expect(r.verdict).toEqual({ kind: 'pass' });
    expect(r.complete).toBe(true);
    expect(r.cutBy).toBeUndefined();
    expect(r.preemptionsExplored).toBe(2);
    expect(r.executions).toBeGreaterThan(r.pruned / 2);
    expect(r.cutByPreemptions).toBeGreaterThan(0); // the bound did rule schedules out: the claim is "within 2"
  });
});

describe('explore turns every counterexample into a replayable case', () => {
  it('also when the search took a free switch the default order does not (the token needs a preemption there)', () => {
    // found at bound 0: the reclaim thread runs first, which the default order only does after a preemption
    const r = explore({ kernel: KERNEL, driver: 'invalidate-range-mutex', scenario: 'fault-vs-munmap', maxPreemptions: 1 });
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
    const cx = r.counterexample!;
    expect(cx.foundAtBound).toBe(0);
    expect(verdictName(runCase(decodeToken(cx.token)).verdict)).toBe('no-sleep-in-atomic');
  });
});

describe('explore reports what cut the search', () => {
  it('the execution budget', () => {
    const r = explore({ kernel: KERNEL, driver: 'kvm', scenario: 'fault-vs-reclaim', maxPreemptions: 2, maxExecutions: 50 });
    expect(r).toMatchObject({ verdict: { kind: 'pass' }, complete: false, cutBy: { executions: true } });
    expect(r.executions).toBe(50);
  });

  it('the step bound', () => {
    const r = explore({ kernel: KERNEL, driver: 'kvm', scenario: 'fault-vs-munmap', maxPreemptions: 1, maxSteps: 30 });
    expect(r.complete).toBe(false);
    expect(r.cutBy?.steps).toBeGreaterThan(0);
  });

  it('bad options are usage errors', () => {
    expect(() => explore({ kernel: KERNEL, driver: 'kvm', scenario: 'nope' })).toThrow(UsageError);
    expect(() => explore({ kernel: KERNEL, driver: 'kvm', scenario: 'fault-vs-munmap', maxPreemptions: -1 })).toThrow(UsageError);
    expect(() => explore({ kernel: KERNEL, driver: 'kvm', scenario: 'fault-vs-munmap', maxPreemptions: Infinity })).toThrow(UsageError);
    expect(() => explore({ kernel: KERNEL, driver: 'kvm', scenario: { threads: [] } })).toThrow(UsageError);
    expect(() => explore({ kernel: 'v9.99', driver: 'kvm', scenario: 'fault-vs-munmap' })).toThrow(UsageError);
  });

  it('is deterministic: same input, same counts and token', () => {
    const a = explore({ kernel: KERNEL, driver: 'kvm-no-retry', scenario: 'fault-vs-reclaim' });
    const b = explore({ kernel: KERNEL, driver: 'kvm-no-retry', scenario: 'fault-vs-reclaim' });
    expect([b.executions, b.pruned, b.counterexample?.token]).toEqual([a.executions, a.pruned, a.counterexample?.token]);
  });
});

describe('check --mode exhaustive (exploreCatalogue)', () => {
  it('proves kvm within the bounds on the spine scenarios, and finds kvm-no-retry', async () => {
    const { exploreCatalogue } = await import('../../src/check/explore');
    const ok = exploreCatalogue({ kernel: 'v4.13', driver: 'kvm' });
    expect(ok.verdict.kind).toBe('pass');
    expect(ok.exhaustive.complete).toBe(true);
    expect(ok.exhaustive.scenarios.length).toBeGreaterThanOrEqual(3);
    const bad = exploreCatalogue({ kernel: 'v4.13', driver: 'kvm-no-retry' });
    expect(bad.verdict.kind).toBe('violation');
    expect(bad.counterexample!.result.preemptions.length).toBeLessThanOrEqual(2);
  });
});
