/**
 * The seeds' story across eras: the same driver is correct in one era and broken in the next.
 * Each expectation cites the history that makes it so (reference/kernel-history.md §1, §3).
 */
import { describe, expect, it } from 'vitest';
import { configuredRuns, configuredSeed } from '../src/check/budget';
import { check } from '../src/check/fuzz';
import { run } from '../src/cli/main';
import { ERAS } from '../src/eras';

const seed = configuredSeed();
const runs = configuredRuns(10000);

function verdict(driver: string, kernel: string) {
  const r = check({ kernel, driver, runs, seed });
  return { name: r.verdict.kind === 'violation' ? r.verdict.invariant : r.verdict.kind, r };
}

describe('a driver that sleeps in ->invalidate_page (xen gntdev / amdgpu locking, reference §3 B2)', () => {
  it('passes on v4.10, where invalidate_page runs after the PTL is released', () => {
    expect(verdict('invalidate-page-mutex', 'v4.10').name).toBe('pass');
  });
  it('is caught as no-sleep-in-atomic on v4.12 (c7ab0d2fdc84 moved invalidate_page under the PTL)', () => {
    const { name, r } = verdict('invalidate-page-mutex', 'v4.12');
    expect(name).toBe('no-sleep-in-atomic');
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/mutex_lock\(priv->lock\).*holding spinlock ptl/);
    const labels = r.counterexample!.result.trace.map((s) => s.effect.at.fn);
    expect(labels).toContain('try_to_unmap_one');
  });
});

describe('KVM across the seeds', () => {
  it.each(['v4.10', 'v4.12', 'v4.13'])('passes on %s', (kernel) => {
    expect(verdict('kvm', kernel).name).toBe('pass');
  });
  it('is caught on aac2fea9 with a freed page still mapped: invalidate_range alone is a no-op for KVM (Andrea bug 1)', () => {
    const { name, r } = verdict('kvm', 'aac2fea9');
    expect(name).toBe('no-secondary-maps-freed-page');
    // the reclaim path told KVM nothing: no callback of KVM ran in the reclaim thread
    const tr = r.counterexample!.result;
    const reclaim = tr.machine.threads.findIndex((t) => t.name === 'reclaim');
    expect(reclaim).toBeGreaterThanOrEqual(0);
    expect(tr.trace.filter((s) => s.thread === reclaim && s.effect.at.file === 'virt/kvm/kvm_main.c')).toEqual([]);
  });
});

describe('kvm-no-retry (range_start-only pattern, reference §3 B7)', () => {
  it.each(ERAS.map((e) => e.name))('is caught on %s', (kernel) => {
    expect(verdict('kvm-no-retry', kernel).name).toBe('no-secondary-maps-freed-page');
  });
});

describe('mmu-race eras', () => {
  it('lists every era with one line on what defines it', () => {
    const out: string[] = [];
    expect(run(['eras'], { out: (t) => out.push(t), err: () => {} })).toBe(0);
    expect(out.map((l) => l.split(/\s+/)[0])).toEqual(['v4.10', 'v4.12', 'aac2fea9', 'v4.13']);
    for (const l of out) expect(l.length).toBeGreaterThan(40);
  });
});
