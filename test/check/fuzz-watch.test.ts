/**
 * check()'s optional progress callback, abort signal and coverage count: they report and stop
 * without changing what a check finds (same seed, same counterexample).
 */
import { describe, expect, it } from 'vitest';
import { check, type CheckProgress } from '../../src/check/fuzz';

const base = { kernel: 'v4.13', runs: 3000, seed: 42 } as const;

describe('check() watched', () => {
  it('reports progress in order and counts scenario families, with the same result as unwatched', () => {
    const plain = check({ ...base, driver: 'kvm' });
    const seen: CheckProgress[] = [];
    const watched = check({ ...base, driver: 'kvm', onProgress: (p) => seen.push(p), progressEvery: 500, coverage: true });
    expect(watched.verdict).toEqual(plain.verdict);
    expect(watched.executions).toBe(plain.executions);
    expect(seen.map((p) => p.executions)).toEqual([500, 1000, 1500, 2000, 2500, 3000]);
    expect(seen.every((p) => p.phase === 'fuzz' && p.runs === 3000 && p.driver === 'kvm')).toBe(true);
    const families = watched.coverage!;
    expect(Object.keys(families)).toEqual(expect.arrayContaining(['cpu:access', 'cpu:munmap', 'reclaim:reclaim', 'device:access']));
    for (const n of Object.values(families)) expect(n).toBeGreaterThan(0);
    expect(Math.max(...Object.values(families))).toBeLessThanOrEqual(3000);
  });

  it('finds the same counterexample watched or not, and says when it starts shrinking', () => {
    const plain = check({ ...base, driver: 'kvm-no-retry', runs: 20000 });
    const phases: string[] = [];
    const watched = check({ ...base, driver: 'kvm-no-retry', runs: 20000, onProgress: (p) => phases.push(p.phase), coverage: true });
    expect(watched.counterexample!.token).toBe(plain.counterexample!.token);
    expect(phases).toContain('shrink');
    expect(phases.indexOf('shrink')).toBeLessThan(phases.lastIndexOf('minimize'));
  });

  it('stops at once on an aborted signal: an interrupted pass covering what ran', () => {
    const r = check({ ...base, driver: 'kvm', signal: { aborted: true } });
    expect(r).toMatchObject({ verdict: { kind: 'pass' }, interrupted: true, executions: 0 });
  });

  it('stops mid-run when the signal is raised, and keeps a failure found before (unminimised)', () => {
    const flag = { aborted: false };
    const r = check({ ...base, driver: 'kvm', runs: 100000, progressEvery: 1000, onProgress: (p) => (flag.aborted = p.executions >= 2000), signal: flag });
    expect(r.interrupted).toBe(true);
    expect(r.executions).toBe(2000);
    const stop = { aborted: false };
    const found = check({ ...base, driver: 'kvm-no-retry', runs: 20000, onProgress: (p) => (stop.aborted = p.phase === 'shrink'), signal: stop });
    expect(found.interrupted).toBe(true);
    expect(found.verdict.kind).toBe('violation');
    expect(found.counterexample).toBeDefined();
  });
});
