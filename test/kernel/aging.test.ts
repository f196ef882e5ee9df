/**
 * Reclaim's aging pass (src/kernel/aging.ts: shrink_active_list → page_referenced →
 * page_referenced_one → ptep_clear_flush_young_notify) and `->clear_flush_young`: the steps name
 * their sources, the PTE's and KVM's spte accessed bits are test-and-cleared and the answers ORed, a
 * clear_flush_young that sleeps is caught under the PTL on every era, KVM passes fuzzing with the
 * aging pass drawn, and the default draw is unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvmFor, kvmWithMutexIn } from '../drivers/kvm-variants';
import { runCase, type Case } from '../../src/check/case';
import { ERAS, eraByName } from '../../src/eras';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { validateNotifier } from '../../src/notifier/validate';
import { describeEffect } from '../../src/report/label';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import { decodeToken, encodeToken } from '../../src/schedule/token';
import { scenarioText, validateScenario, type Scenario } from '../../src/scenario/scenario';

type Threads = Case['scenario']['threads'];


function run(kernel: string, threads: Threads, driver: NotifierDefinition<any> = kvmFor(kernel), preemptions: Case['preemptions'] = [], extra: Partial<Scenario> = {}) {
  return runCase({ kernel, driver: driver.name, scenario: { threads, ...extra }, preemptions, maxSteps: 3000 }, { era: eraByName(kernel), driver });
}

/** The cpu writes page 0, the vCPU maps it and reads it (the spte's accessed bit set), then reclaim ages it. */
const AGE_AFTER_ACCESS: Threads = [
  { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
  { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
  { kind: 'reclaim', ops: [{ op: 'age', page: 0 }] },
];

const referenced = (r: ReturnType<typeof run>): string[] => r.trace.map((s) => s.effect.text ?? '').filter((t) => /^page_referenced\(\) = /.test(t));


const sleepingClearFlushYoung = (kernel: string) => kvmWithMutexIn(kernel, 'clear-flush-young-mutex', 'clearFlushYoung');

describe('reclaim ages a page (mm/vmscan.c shrink_active_list → mm/rmap.c page_referenced)', () => {
  it('every step names its kernel source, in the order of the source: isolate, anon_vma read lock, PTL, test-and-clear, notifier, unlock, putback', () => {
    const r = run('v4.13', AGE_AFTER_ACCESS);
    expect(r.verdict.kind).toBe('pass');
    const steps = r.trace.filter((s) => r.machine.threads[s.thread].name.startsWith('reclaim'));
    for (const s of steps) {
      expect(s.effect.at.file && s.effect.at.fn && s.effect.at.version).toBeTruthy();
      expect(describeEffect(r.machine, s.effect).length).toBeGreaterThan(0);
    }
    const fns = steps.map((s) => `${s.effect.at.file} ${s.effect.at.fn}`);
    const first = (re: RegExp) => fns.findIndex((f) => re.test(f));
    const order = [/shrink_active_list$/, /__isolate_lru_page/, /page_referenced\(page/, /rmap_walk_anon/, /page_vma_mapped_walk/, /ptep_test_and_clear_young/, /mmu_notifier_clear_flush_young/, /__mmu_notifier_clear_flush_young/, /kvm_mmu_notifier_clear_flush_young/, /mmu_spte_age/, /move_active_pages_to_lru/];
    const at = order.map(first);
    for (const [i, x] of at.entries()) expect(x, String(order[i])).toBeGreaterThanOrEqual(0);
    for (let i = 1; i < at.length; i++) expect(at[i], String(order[i])).toBeGreaterThan(at[i - 1]);
    // v4.10 walks with page_check_address_transhuge (page_vma_mapped_walk is v4.11)
    const old = run('v4.10', AGE_AFTER_ACCESS);
    expect(old.trace.some((s) => s.effect.at.fn.includes('page_check_address_transhuge'))).toBe(true);
  });

  it('clears the PTE young bit and KVM\'s spte accessed bit; the mapping stays; the answers are ORed', () => {
    for (const era of ERAS) {
      const r = run(era.name, AGE_AFTER_ACCESS);
      expect(r.verdict.kind, era.name).toBe('pass');
      const pte = r.machine.ptes[0]!;
      expect(pte, era.name).toMatchObject({ young: false, writable: true });
      const spte = r.machine.tables[0].entries[0]!;
      expect(spte.pfn, era.name).toBe(pte.pfn); // still mapped: aging changes no mapping
      expect(spte.young ?? false, era.name).toBe(false);
      expect(referenced(r), era.name).toEqual(['page_referenced() = 1']);
    }
    // the second pass: the PTE is old; a vCPU access in between makes the page referenced through KVM alone
    const twice = (vcpuBetween: boolean) =>
      run('v4.13', [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
        { kind: 'reclaim', ops: [{ op: 'age', page: 0 }] },
        ...(vcpuBetween ? [{ kind: 'device' as const, ops: [{ op: 'access' as const, page: 0, write: false }] }] : []),
        { kind: 'reclaim', ops: [{ op: 'age', page: 0 }] },
      ]);
    expect(referenced(twice(true))).toEqual(['page_referenced() = 1', 'page_referenced() = 1']);
    expect(referenced(twice(false))).toEqual(['page_referenced() = 1', 'page_referenced() = 0']);
    // and the vCPU's young bit is what answered: the trace shows KVM's flush for it
    const labels = twice(true).trace.map((s) => s.effect.text ?? '');
    expect(labels.filter((l) => /kvm_flush_remote_tlbs/.test(l))).toHaveLength(2);
  });

  it('a page nobody maps, or only the CPU, is aged without KVM finding anything young', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'reclaim', ops: [{ op: 'age', page: 0 }, { op: 'age', page: 0 }, { op: 'age', page: 1 }] }]);
    expect(r.verdict.kind).toBe('pass');
    expect(referenced(r)).toEqual(['page_referenced() = 1', 'page_referenced() = 0']);
    expect(r.trace.some((s) => /nothing on the LRU/.test(s.effect.text ?? ''))).toBe(true);
  });

  it('a ->clear_flush_young that takes a mutex is caught as no-sleep-in-atomic on every era', () => {
    for (const era of ERAS) {
      const r = run(era.name, AGE_AFTER_ACCESS, sleepingClearFlushYoung(era.name));
      expect(r.verdict.kind, era.name).toBe('violation');
      expect('invariant' in r.verdict && r.verdict.invariant, era.name).toBe('no-sleep-in-atomic');
    }
  });

  it('user modules may implement clear_flush_young on every era', () => {
    for (const era of ERAS) expect(() => validateNotifier(sleepingClearFlushYoung(era.name)), era.name).not.toThrow();
    expect(ERAS.every((e) => e.callbacks.includes('clearFlushYoung'))).toBe(true);
  });

  it('the age operation round-trips through a replay token (code y) and validates', () => {
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: { threads: AGE_AFTER_ACCESS }, preemptions: [{ thread: 2, after: 3, to: 1 }], maxSteps: 3000 };
    const back = decodeToken(encodeToken(c));
    expect(back.scenario).toEqual(c.scenario);
    expect(() => validateScenario({ threads: [{ kind: 'cpu', ops: [{ op: 'age', page: 0 }] }] })).toThrow(/not one a cpu thread does/);
    expect(scenarioText(c.scenario)).toContain('reclaim: age(0)');
  });
});

describe('the aging pass is opt-in (ScenarioBounds.aging)', () => {
  it('the default draw (and aging: false) has no age operation; with aging the age ops come in a reclaim thread of their own, last (before only a NUMA scanner)', () => {
    const plain = fc.sample(scenarioArbitrary(), { numRuns: 300, seed: 5 });
    expect(plain.some((s) => s.threads.some((t) => t.ops.some((o) => o.op === 'age')))).toBe(false);
    expect(fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, aging: false }), { numRuns: 300, seed: 5 })).toEqual(plain);
    const aging = fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, aging: true }), { numRuns: 300, seed: 5 });
    const withAge = aging.filter((s) => s.threads.some((t) => t.ops.some((o) => o.op === 'age')));
    expect(withAge.length).toBeGreaterThan(100);
    for (const s of withAge) {
      // the NUMA scanner thread, drawn after it, is the only one that may follow it
      const threads = s.threads.filter((t) => t.kind !== 'numa');
      expect(s.threads.findIndex((t) => t.kind === 'numa') < 0 || s.threads[s.threads.length - 1].kind === 'numa').toBe(true);
      const last = threads[threads.length - 1];
      expect(last.kind).toBe('reclaim');
      expect(last.ops.every((o) => o.op === 'age')).toBe(true);
      expect(threads.slice(0, -1).some((t) => t.ops.some((o) => o.op === 'age'))).toBe(false);
      expect(() => validateScenario(s)).not.toThrow();
    }
  });
});

describe('fuzzing with the aging pass drawn (fixed seeds, small runs)', () => {
  // no OOM reaper: v4.10's reaper tells no notifier at all (a historical bug the matrix covers, not aging's)
  const bounds = { ...DEFAULT_BOUNDS, oom: false, aging: true };

  /** The first counterexample of `driver` on `kernel` over the default draw plus aging, or null. */
  function fuzz(kernel: string, driver: NotifierDefinition<any>, runs: number, seed: number): string | null {
    let found: string | null = null;
    fc.assert(
      fc.property(scenarioArbitrary(bounds), scheduleArbitrary(3, 80, 5), (scenario, preemptions) => {
        if (found !== null || !scenario.threads.some((t) => t.ops.some((o) => o.op === 'age'))) return true;
        const valid = preemptions.filter((p) => p.thread < scenario.threads.length && p.to < scenario.threads.length);
        const r = runCase({ kernel, driver: driver.name, scenario, preemptions: valid, maxSteps: 3000 }, { era: eraByName(kernel), driver });
        if (r.verdict.kind !== 'pass') found = `${r.verdict.kind} ${'invariant' in r.verdict ? r.verdict.invariant : ''}: ${scenarioText(scenario)}`;
        return true;
      }),
      { numRuns: runs, seed },
    );
    return found;
  }

  const eras = ['v4.10', 'v4.13', 'v5.5', 'v6.6'];

  it('KVM passes', () => {
    for (const e of eras) expect(fuzz(e, kvmFor(e), 300, 11), e).toBeNull();
  });

  it('the same fuzzing finds the sleeping clear_flush_young', () => {
    for (const e of eras) expect(fuzz(e, sleepingClearFlushYoung(e), 300, 11), e).toMatch(/no-sleep-in-atomic/);
  });
});
