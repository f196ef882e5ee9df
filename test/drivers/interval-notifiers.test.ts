/**
 * The interval-notifier versions of the kernel's drivers (v5.5 read in v5.7.14, v6.6 read in v6.8):
 * ib-umem-odp, amdgpu-userptr, xen-gntdev and nouveau-svm.
 *
 * - Their passes are not vacuous: the same driver with mmu_interval_set_seq dropped from its
 *   ->invalidate, or with its mmu_interval_read_retry answering "no", is caught at the matrix's
 *   budget and seed, where the driver itself passes.
 * - Each returns false (or -EAGAIN) to the OOM reaper's non-blockable start, which then skips the
 *   VMA; the Documentation/vm/hmm.rst pattern, which trylocks, lets it reap.
 * - gntdev's v5.7 unmap sleeps, v6.8's does not, and neither touches anything when !blockable.
 * - nouveau's itree-then-hlist failure leaves the interval tree invalidating for good: the OOM
 *   reaper's bracket is never ended, and the next GPU fault waits in mmu_interval_read_begin forever.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../src/check/fuzz';
import { configuredRuns, configuredSeed } from '../../src/check/budget';
import { runCase } from '../../src/check/case';
import { MATRIX_DEFAULT_RUNS } from '../../src/cli/matrix';
import { driverByName } from '../../src/drivers';
import { xenGntdev55, xenGntdev66, type GntdevIntervalState } from '../../src/drivers/gntdev_interval';
import { DRIVER_INVARIANTS } from '../../src/invariants';
import type { NotifierDefinition } from '../../src/notifier/definition';
import type { KernelApi } from '../../src/notifier/kernel-api';
import { Op } from '../../src/runtime/effect';
import { PAGE_SIZE, addressOf } from '../../src/runtime/machine';
import type { Gen } from '../../src/runtime/primitives';
import { DEFAULT_BOUNDS } from '../../src/scenario/arbitrary';
import type { Scenario } from '../../src/scenario/scenario';
import { runThreads } from './harness';

const runs = configuredRuns(MATRIX_DEFAULT_RUNS);
const seed = configuredSeed();
const ERAS = ['v5.5', 'v6.6'] as const;

type Mutation = 'no-set-seq' | 'no-read-retry';

/** `def` with its kernel API patched in its ->invalidate and its fault path. */
function mutant(def: NotifierDefinition<any>, what: Mutation): NotifierDefinition<any> {
  const patch = (k: KernelApi): KernelApi =>
    what === 'no-set-seq'
      ? { ...k, mmuIntervalSetSeq: function* (): Gen {} }
      : { ...k, mmuIntervalReadRetry: function* (): Gen<boolean> { return false; }, mmuIntervalCheckRetry: function* (): Gen<boolean> { return false; } };
  return {
    ...def,
    name: `${def.name}-${what}`,
    ops: { ...def.ops, invalidate: (k, s, sub, r, cur) => def.ops.invalidate!(patch(k), s, sub, r, cur) },
    device: { table: def.device.table, fault: (k, s, f) => def.device.fault(patch(k), s, f) },
  };
}

// nouveau is checked without the OOM reaper, whose verdict on it is the itree leak tested below,
// and without exit: it has no ->release (nouveau_svm.c v5.7, v6.8; it tears its SVM down when the DRM
// file closes, after exit_mm), so exit_mmap frees pages its GPU page table still maps (a model finding,
// its matrix cells are uncertain)
const MIRRORS = ['ib-umem-odp', 'amdgpu-userptr', 'nouveau-svm'];
const bounds = (name: string) => (name === 'nouveau-svm' ? { ...DEFAULT_BOUNDS, oom: false, exit: false } : DEFAULT_BOUNDS);

describe('the interval-notifier drivers are caught when their protocol is broken, and pass when it is not', () => {
  const cases = MIRRORS.flatMap((name) => ERAS.map((kernel) => [name, kernel] as const));
  it.each(cases)('%s on %s', (name, kernel) => {
    const def = driverByName(name, kernel);
    const ok = check({ kernel, notifier: def, runs, seed, bounds: bounds(name), invariants: DRIVER_INVARIANTS });
    expect(ok.verdict.kind).toBe('pass');
    for (const what of ['no-set-seq', 'no-read-retry'] as const) {
      // four times the matrix budget: with every call site drawn, nouveau's no-read-retry mutant
      // needs about 2,000 executions (over seeds 1–8 on v6.6: 347 to 5,012, shrinking included)
      const bad = check({ kernel, notifier: mutant(def, what), runs: runs * 4, seed, bounds: bounds(name), invariants: DRIVER_INVARIANTS });
      expect(['no-secondary-maps-freed-page', 'secondary-follows-primary'], `${name} ${what}`).toContain(bad.verdict.kind === 'violation' ? bad.verdict.invariant : bad.verdict.kind);
      expect(bad.counterexample!.result.preemptions.length).toBeLessThanOrEqual(3);
    }
  });
});

describe('the OOM reaper: these drivers refuse a non-blockable invalidation, and it skips the VMA', () => {
  const scenario: Scenario = { threads: [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'oom', ops: [{ op: 'reap' }] }] };
  const reaped = (driver: string, kernel: string) => runCase({ kernel, driver, scenario, preemptions: [], maxSteps: 2000 }).machine.ptes[0] === null;

  it.each(['ib-umem-odp', 'amdgpu-userptr', 'xen-gntdev', 'nouveau-svm'].flatMap((d) => ERAS.map((k) => [d, k] as const)))('%s on %s', (driver, kernel) => {
    expect(reaped(driver, kernel)).toBe(false);
  });

  it('while a driver that trylocks (Documentation/vm/hmm.rst) lets it reap', () => {
    for (const kernel of ERAS) expect(reaped('hmm-mirror', kernel)).toBe(true);
  });
});

describe('xen-gntdev: gntdev_invalidate', () => {
  const range = (blockable: boolean) => ({ start: addressOf(0), end: addressOf(0) + PAGE_SIZE, ...(blockable ? {} : { blockable: false }) });

  const MARK = { file: 'test', fn: 'gntdev_invalidate is called', version: 'model' };
  const PROBE = { file: 'test', fn: 'is the grant still mapped?', version: 'model' };

  function run(def: NotifierDefinition<GntdevIntervalState>, kernel: string, blockable: boolean) {
    const got: unknown[] = [];
    const body = function* (k: KernelApi, s: GntdevIntervalState): Gen {
      got.push(yield* def.device.fault(k, s, { address: addressOf(0), write: true }));
      yield* k.note('invalidate', MARK);
      got.push(yield* def.ops.invalidate!(k, s, s.sub, range(blockable), 3));
      got.push(yield* k.spteRead(s.grants, 0, PROBE));
    };
    const r = runThreads(def, kernel, [body]);
    // the effects of ->invalidate: between the mark and the probe
    const from = r.trace.findIndex((t) => t.effect.at === MARK);
    const to = r.trace.findIndex((t) => t.effect.at === PROBE);
    const effects = r.trace.slice(from + 1, to).map((t) => t.effect.op);
    return { r, got, effects, sleeps: effects.includes(Op.MightSleep) };
  }

  it('v5.5 unmaps the grant synchronously (it sleeps) and drops its page', () => {
    const { r, got, sleeps, effects } = run(xenGntdev55, 'v5.5', true);
    expect(r.verdict.kind).toBe('pass');
    expect(got).toEqual(['mapped', true, null]);
    expect(sleeps).toBe(true);
    expect(effects).toContain(Op.PutPage);
  });

  it('v6.6 unmaps it asynchronously: nothing sleeps', () => {
    const { r, got, sleeps } = run(xenGntdev66, 'v6.6', true);
    expect(r.verdict.kind).toBe('pass');
    expect(got).toEqual(['mapped', true, null]);
    expect(sleeps).toBe(false);
  });

  it.each([
    ['v5.5', xenGntdev55],
    ['v6.6', xenGntdev66],
  ] as const)('%s: when not blockable it returns false and touches nothing', (kernel, def) => {
    const { got, effects } = run(def, kernel, false);
    expect(got[1]).toBe(false);
    expect(got[2]).not.toBeNull();
    expect(effects).toEqual([]);
  });
});

describe('nouveau-svm: the OOM reaper leaves the interval tree invalidating', () => {
  const scenario: Scenario = { threads: [{ kind: 'oom', ops: [{ op: 'reap' }] }, { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] }] };

  it.each(ERAS)('%s: the itree side of the failed start is never ended', (kernel) => {
    const r = runCase({ kernel, driver: 'nouveau-svm', scenario, preemptions: [], maxSteps: 2000 });
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'start-end-paired' });
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/^mmu_interval_notifier tree's invalidate_range_start/);
  });

  it.each(ERAS)('%s: and the next GPU fault waits in mmu_interval_read_begin for good', (kernel) => {
    const invariants = DRIVER_INVARIANTS.filter((i) => i !== 'start-end-paired');
    const r = runCase({ kernel, driver: 'nouveau-svm', scenario, preemptions: [], maxSteps: 2000, invariants });
    expect(r.verdict.kind).toBe('deadlock');
    expect(r.verdict.kind === 'deadlock' && r.verdict.message).toMatch(/invalidate_seq/);
  });
});
