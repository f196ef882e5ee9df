/**
 * What defines the eras from v5.0 on, shown by drivers written for the test: the range's
 * `blockable` (v4.19/v5.0) and `event` (v5.2), the interval notifier's retry protocol (v5.5), and the
 * move of secondary-TLB invalidation into the arch TLB flush (v6.6).
 */
import { describe, expect, it } from 'vitest';
import { configuredRuns, configuredSeed } from '../src/check/budget';
import { runCase, type Case } from '../src/check/case';
import { check } from '../src/check/fuzz';
import { eraByName } from '../src/eras';
import { DRIVER_INVARIANTS } from '../src/invariants';
import type { MmuNotifyEvent, NotifierDefinition } from '../src/notifier/definition';
import { Op } from '../src/runtime/effect';
import { site } from '../src/runtime/site';

const AT = site('test', 'recording notifier', 'model');
const EVENTS: MmuNotifyEvent[] = ['MMU_NOTIFY_UNMAP', 'MMU_NOTIFY_CLEAR'];

/** Records, in counters, the event and blockable of the last range_start it saw. */
const recorder: NotifierDefinition<{ event: number; nonblock: number; spt: number }> = {
  name: 'recorder',
  title: 'records what range_start is told',
  contract: 'pin',
  eras: ['v4.19', 'v5.0', 'v5.2'],
  source: 'test',
  setup: (api) => ({ event: api.counter('last event', -1), nonblock: api.counter('non-blockable starts'), spt: api.secondaryTable('none') }),
  ops: {
    *invalidateRangeStart(k, s, r) {
      yield* k.write(s.event, r.event === undefined ? -2 : EVENTS.indexOf(r.event), AT);
      if (r.blockable === false) yield* k.add(s.nonblock, 1, AT);
      return 0;
    },
  },
  device: {
    table: (s) => s.spt,
    *fault() {
      return 'error' as const;
    },
  },
};

function run(kernel: string, threads: Case['scenario']['threads'], driver: NotifierDefinition<any> = recorder) {
  const c: Case = { kernel, driver: driver.name, scenario: { threads }, preemptions: [], maxSteps: 2000 };
  return runCase(c, { era: eraByName(kernel), driver });
}

describe('struct mmu_notifier_range (v5.0) and events (v5.2)', () => {
  const munmap = [{ kind: 'cpu' as const, ops: [{ op: 'access' as const, page: 0, write: true }, { op: 'munmap' as const, page: 0, pages: 1 }] }];
  const reclaim = [{ kind: 'cpu' as const, ops: [{ op: 'access' as const, page: 0, write: true }] }, { kind: 'reclaim' as const, ops: [{ op: 'reclaim' as const, page: 0 }] }];
  it('v5.0 ranges carry no event', () => {
    expect(run('v5.0', munmap).machine.counters[0]).toBe(-2);
  });
  it('v5.2: munmap says MMU_NOTIFY_UNMAP, reclaim MMU_NOTIFY_CLEAR (mm/memory.c unmap_vmas, mm/rmap.c try_to_unmap_one)', () => {
    expect(run('v5.2', munmap).machine.counters[0]).toBe(0);
    expect(run('v5.2', reclaim).machine.counters[0]).toBe(1);
  });
  it('the OOM reaper\'s start is non-blockable from v4.19 and says MMU_NOTIFY_UNMAP in v5.2', () => {
    const oom = [{ kind: 'cpu' as const, ops: [{ op: 'access' as const, page: 0, write: true }] }, { kind: 'oom' as const, ops: [{ op: 'reap' as const }] }];
    for (const k of ['v4.19', 'v5.2']) expect(run(k, oom).machine.counters[1]).toBe(1);
    expect(run('v5.2', oom).machine.counters[0]).toBe(0);
  });
});

describe('interval notifiers (v5.5)', () => {
  const runs = configuredRuns(10000);
  const seed = configuredSeed();
  it('hmm-mirror (read_begin, hmm_range_fault, read_retry under the lock) passes', () => {
    expect(check({ kernel: 'v5.5', driver: 'hmm-mirror', runs, seed, invariants: DRIVER_INVARIANTS }).verdict.kind).toBe('pass');
  });
  it.each(['hmm-mirror-no-retry', 'hmm-mirror-set-seq-unlocked'])('%s maps a stale or freed page', (driver) => {
    const r = check({ kernel: 'v5.5', driver, runs, seed, invariants: DRIVER_INVARIANTS });
    expect(r.verdict.kind).toBe('violation');
    expect(['no-secondary-maps-freed-page', 'secondary-follows-primary']).toContain(r.verdict.kind === 'violation' && r.verdict.invariant);
    expect(r.counterexample!.result.preemptions.length).toBeLessThanOrEqual(3);
  });
});

describe('->arch_invalidate_secondary_tlbs (v6.6)', () => {
  /**
   * A device that shares the CPU page table: an IOTLB filled by walking the CPU PTE, flushed by the
   * notifier. The walk and the fill are one hardware transaction, ordered against the flush: the
   * `iommu hw` spinlock stands for that.
   */
  function iommu(callback: 'invalidateRange' | 'archInvalidateSecondaryTlbs'): NotifierDefinition<{ iotlb: number; hw: number; pasid: number }> {
    return {
      name: `iotlb-${callback}`,
      title: 'shared-page-table device',
      contract: 'mirror',
      eras: ['v5.5', 'v6.6'],
      source: 'test',
      setup: (api) => ({ iotlb: api.secondaryTable('iotlb'), hw: api.spinlock('iommu hw'), pasid: api.counter('pasid entry valid', 1) }),
      ops: {
        *[callback](k: Parameters<NonNullable<NotifierDefinition['ops']['invalidateRange']>>[0], s: { iotlb: number; hw: number }, r: { start: number; end: number }) {
          yield* k.spinLock(s.hw, AT);
          yield* k.spteClearRange(s.iotlb, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, AT);
          yield* k.spinUnlock(s.hw, AT);
        },
        // as the IOMMU drivers' ->release (intel_mm_release, mn_release): the PASID entry cleared
        // and the IOTLB flushed, so no translation outlives exit_mmap
        *release(k, s) {
          yield* k.spinLock(s.hw, AT);
          yield* k.write(s.pasid, 0, AT);
          yield* k.spteClearRange(s.iotlb, 0, 8, AT);
          yield* k.spinUnlock(s.hw, AT);
        },
      },
      device: {
        table: (s) => s.iotlb,
        *fault(k, s, f) {
          yield* k.spinLock(s.hw, AT);
          if ((yield* k.read(s.pasid, AT)) === 0) {
            yield* k.spinUnlock(s.hw, AT);
            return 'error';
          }
          const pte = yield* k.walkCpuPageTable(f.address, AT); // ATS translation
          if (pte && !pte.swap && (!f.write || pte.writable)) {
            yield* k.spteSet(s.iotlb, k.vpnOf(f.address), { pfn: pte.pfn, generation: pte.generation }, pte.writable, AT);
            yield* k.spinUnlock(s.hw, AT);
            return 'mapped';
          }
          yield* k.spinUnlock(s.hw, AT);
          const got = yield* k.getUserPagesUnlocked(f.address, f.write); // PRI: fault it in
          if (!got) return 'error';
          yield* k.putPage(got.page, AT);
          return 'retry';
        },
      },
    };
  }
  const scenario: Case['scenario']['threads'] = [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
    { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
    { kind: 'device', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 0, write: false }] },
  ];
  it('is called from the TLB flush (arch_tlbbatch_add_pending, flush_tlb_mm_range) and keeps the IOTLB safe', () => {
    const d = iommu('archInvalidateSecondaryTlbs');
    const r = run('v6.6', scenario, d);
    expect(r.verdict.kind).toBe('pass');
    const called = r.trace.filter((s) => s.effect.op === Op.Notify && /arch_invalidate_secondary_tlbs/.test(s.effect.text ?? '')).map((s) => s.effect.at.fn);
    expect(called).toContain('arch_tlbbatch_add_pending');
    expect(check({ kernel: 'v6.6', driver: d.name, runs: 3000, seed: 1, invariants: DRIVER_INVARIANTS, notifier: d }).verdict.kind).toBe('pass');
  });
  it('a driver still implementing ->invalidate_range is never called in v6.6, and maps a freed page', () => {
    const d = iommu('invalidateRange');
    expect(check({ kernel: 'v5.5', driver: d.name, runs: 3000, seed: 1, invariants: DRIVER_INVARIANTS, notifier: d }).verdict.kind).toBe('pass');
    const r = check({ kernel: 'v6.6', driver: d.name, runs: 3000, seed: 1, invariants: DRIVER_INVARIANTS, notifier: d });
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
  });
});
