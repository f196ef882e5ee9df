/**
 * The seeds' story across eras: the same driver is correct in one era and broken in the next.
 * Each expectation cites the history that makes it so (reference/kernel-history.md §1, §3).
 */
import { describe, expect, it } from 'vitest';
import { configuredRuns, configuredSeed } from '../src/check/budget';
import { check } from '../src/check/fuzz';
import { run } from '../src/cli/main';
import { ERAS } from '../src/eras';
import { CORE_INVARIANTS, DRIVER_INVARIANTS } from '../src/invariants';
import { DEFAULT_BOUNDS } from '../src/scenario/arbitrary';

const seed = configuredSeed();
const runs = configuredRuns(10000);

/** The driver's verdict: the driver invariants (the core VM's own are checked by the observer below). */
function verdict(driver: string, kernel: string, oom = true, invariants: readonly string[] = DRIVER_INVARIANTS) {
  const r = check({ kernel, driver, runs, seed, bounds: { ...DEFAULT_BOUNDS, oom }, invariants });
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
  it.each(['v4.13', 'v4.15', 'v4.19'])('passes on %s, OOM reaper included', (kernel) => {
    expect(verdict('kvm', kernel).name).toBe('pass');
  });
  it.each(['v4.10', 'v4.12'])('passes on %s with faults, munmap and reclaim', (kernel) => {
    expect(verdict('kvm', kernel, false).name).toBe('pass');
  });
  it.each(['v4.10', 'v4.12'])(
    'is caught on %s when the OOM reaper runs: it unmapped with no notifier call until 4d4bbd8526a8 (v4.13)',
    (kernel) => {
      const { name, r } = verdict('kvm', kernel);
      expect(name).toBe('no-secondary-maps-freed-page');
      expect(r.counterexample!.case.scenario.threads.map((t) => t.kind)).toContain('oom');
    },
  );
  it('is caught on aac2fea9 with a freed page still mapped: invalidate_range alone is a no-op for KVM (Andrea bug 1)', () => {
    const { name, r } = verdict('kvm', 'aac2fea9', false);
    expect(name).toBe('no-secondary-maps-freed-page');
    // the reclaim (or migration: the same try_to_unmap_one) path told KVM nothing: no callback of KVM ran in that thread
    const tr = r.counterexample!.result;
    const reclaim = tr.machine.threads.findIndex((t) => t.name === 'reclaim' || t.name === 'migrate');
    expect(reclaim).toBeGreaterThanOrEqual(0);
    expect(tr.trace.filter((s) => s.thread === reclaim && s.effect.at.file === 'virt/kvm/kvm_main.c')).toEqual([]);
  });
});

describe('a driver whose range_start sleeps (amdgpu before v4.19, reference §3 B11)', () => {
  it.each(['v4.13', 'v4.15'])('passes on %s, where the OOM reaper skips mms with notifiers', (kernel) => {
    expect(verdict('range-start-mutex', kernel).name).toBe('pass');
  });
  it('is caught as no-sleep-in-atomic on v4.19, where the OOM reaper calls a non-blockable range_start', () => {
    const { name, r } = verdict('range-start-mutex', 'v4.19');
    expect(name).toBe('no-sleep-in-atomic');
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/non-blockable invalidation/);
  });
  it('its fix (mutex_trylock, -EAGAIN when not blockable) passes on v4.19', () => {
    expect(verdict('range-start-trylock', 'v4.19').name).toBe('pass');
  });
});

describe('a notifier that fails a non-blockable start beside KVM (reference §3 B12)', () => {
  it('leaves KVM\'s start without an end on v4.19: start-end-paired', () => {
    const { name, r } = verdict('kvm+range-start-trylock', 'v4.19');
    expect(name).toBe('start-end-paired');
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/^kvm's invalidate_range_start.*never got its invalidate_range_end/);
    const labels = r.counterexample!.result.trace.map((s) => s.effect.text ?? '');
    expect(labels.some((l) => /range-start-trylock ->invalidate_range_start failed with -11/.test(l))).toBe(true);
  });
  it('is harmless on v4.13, where the OOM reaper does not reap mms with notifiers', () => {
    expect(verdict('kvm+range-start-trylock', 'v4.13').name).toBe('pass');
  });
});

describe('kvm-no-retry (range_start-only pattern, reference §3 B7)', () => {
  it.each(ERAS.map((e) => e.name))('is caught on %s', (kernel) => {
    expect(verdict('kvm-no-retry', kernel).name).toBe('no-secondary-maps-freed-page');
  });
});

describe('the core VM of each era, on its own (observer notifier, core invariants)', () => {
  it.each(['v4.13', 'v4.15', 'v4.19'])('%s tells the notifiers of every change', (kernel) => {
    expect(verdict('observer', kernel, true, CORE_INVARIANTS).name).toBe('pass');
  });
  it.each(['v4.10', 'v4.12'])('%s: the OOM reaper unmaps with no start/end (fixed by 4d4bbd8526a8)', (kernel) => {
    const { name, r } = verdict('observer', kernel, true, CORE_INVARIANTS);
    expect(name).toBe('full-range-invalidated');
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/^oom changed the mapping of 0x100000 .* no invalidate_range_start\/end bracket/);
  });
  it('aac2fea9: reclaim sends a bare invalidate_range, no start/end (Andrea bug 1, as a core-VM property)', () => {
    const { name, r } = verdict('observer', 'aac2fea9', false, CORE_INVARIANTS);
    expect(name).toBe('full-range-invalidated');
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/^reclaim changed the mapping .*no invalidate_range_start\/end bracket.*mmu_notifier_invalidate_range\(/);
  });
});

describe('mmu-race eras', () => {
  it('lists every era with one line on what defines it', () => {
    const out: string[] = [];
    expect(run(['eras'], { out: (t) => out.push(t), err: () => {} })).toBe(0);
    expect(out.map((l) => l.split(/\s+/)[0])).toEqual(['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2', 'v5.5', 'v6.6']);
    for (const l of out) expect(l.length).toBeGreaterThan(40);
  });
});
