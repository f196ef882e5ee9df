/**
 * exit_mmap → ->release and mmu_notifier_unregister (src/kernel/exit.ts, mm/mmu_notifier.c): a
 * mirror without ->release is caught when the mm exits, KVM's release passes exit scenarios in every
 * era, and the SRCU protocol between release and unregister (reference §1 S12, §3 B19, B26) holds,
 * and is caught when either synchronize_srcu is left out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { explore } from '../../src/check/explore';
import { check } from '../../src/check/fuzz';
import { DRIVERS, driverByName } from '../../src/drivers';
import { kvm, type KvmState } from '../../src/drivers/kvm';
import { ERAS, eraByName } from '../../src/eras';
import { INVARIANTS } from '../../src/invariants';
import { exitMmap } from '../../src/kernel/exit';
import { mmuNotifierUnregister } from '../../src/kernel/mmu_notifier';
import { userAccess } from '../../src/kernel/fault';
import type { DeviceFault, NotifierDefinition } from '../../src/notifier/definition';
import type { KernelApi } from '../../src/notifier/kernel-api';
import { execute, type ExecutionResult, type ThreadSpec } from '../../src/runtime/execution';
import * as p from '../../src/runtime/primitives';
import { site } from '../../src/runtime/site';
import { describeEffect } from '../../src/report/label';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import { buildExecution, type Built } from '../../src/scenario/build';
import type { Scenario } from '../../src/scenario/scenario';
import { PreemptionScheduler, type Preemption } from '../../src/schedule/preemption';
import { decodeToken, encodeToken } from '../../src/schedule/token';

const AT = site('test', 'exit.test.ts driver', 'model');
const SEED = 20261121;

function run(driver: NotifierDefinition<any>, kernel: string, scenario: Scenario, preemptions: readonly Preemption[] = []) {
  const c: Case = { kernel, driver: driver.name, scenario, preemptions, maxSteps: 4000 };
  return runCase(c, { era: eraByName(kernel), driver });
}

/** KVM (per era) without ->release: a mirror that trusts the exiting mm to tell it through range_start. */
function withoutRelease(kernel: string): NotifierDefinition<KvmState> {
  const k = driverByName('kvm', kernel) as NotifierDefinition<KvmState>;
  const { release: _dropped, ...ops } = k.ops;
  return { ...k, name: 'kvm-without-release', ops };
}

/** The `->release` calls of a trace, by thread name. */
function releases(r: ExecutionResult): string[] {
  return r.trace.filter((s) => /->release$/.test(s.effect.text ?? '')).map((s) => r.machine.threads[s.thread].name);
}

const EXIT_AFTER_DEVICE: Scenario = {
  threads: [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] },
    { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
  ],
};

describe('exit_mmap (mm/mmap.c) → mmu_notifier_release', () => {
  it('a mirror without ->release keeps an spte of a page exit_mmap frees: no range_start reaches it once unlinked', () => {
    for (const era of ERAS) {
      const r = run(withoutRelease(era.name), era.name, EXIT_AFTER_DEVICE);
      expect(r.verdict, era.name).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
      // exit_mmap's unmap_vmas still calls range_start/end, but the walk finds nobody
      expect(r.trace.some((s) => /mmu_notifier_invalidate_range_start\(0x100000, /.test(s.effect.text ?? ''))).toBe(true);
      expect(r.trace.some((s) => /->invalidate_range_start/.test(s.effect.text ?? '') && r.trace.indexOf(s) > r.trace.findIndex((x) => /mmu_notifier_release/.test(x.effect.text ?? '')))).toBe(false);
    }
  });

  it('KVM tears everything down in ->release and passes, in every era; the VMA is gone and the page freed', () => {
    for (const era of ERAS) {
      const r = run(driverByName('kvm', era.name), era.name, EXIT_AFTER_DEVICE);
      expect(r.verdict, era.name).toEqual({ kind: 'pass' });
      expect(releases(r)).toEqual(['device']); // the vCPU thread is the mm's last user (device.holdsMm)
      expect(r.machine.vma.every((v) => !v)).toBe(true);
      expect(r.machine.pages[1].free).toBe(true);
      expect(r.machine.tables[0].entries.every((e) => e === null)).toBe(true);
    }
  });

  it('after exit a device fault from a kernel context gets no page (mmget_not_zero fails): an error, not a mapping', () => {
    const kernelCtx = { ...kvm, name: 'kvm-kernel-context', device: { ...kvm.device, holdsMm: false } };
    const r = run(kernelCtx, 'v4.13', {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
      ],
    });
    expect(r.verdict).toEqual({ kind: 'pass' });
    expect(r.trace.some((s) => /mm_users == 0/.test(s.effect.text ?? ''))).toBe(true);
    expect(r.trace.some((s) => /device fault failed/.test(s.effect.text ?? ''))).toBe(true);
  });

  it('v4.19+: an OOM victim fences the reaper out with down_write/up_write(mmap_sem); v6.8 holds mmap_lock', () => {
    const s: Scenario = { threads: [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] }, { kind: 'oom', ops: [{ op: 'reap' }] }] };
    const writes = (kernel: string) => run(kvm, kernel, s).trace.filter((x) => x.effect.text === undefined && /exit_mmap/.test(x.effect.at.fn) && x.effect.op === 6 /* Op.DownWrite */).length;
    expect(writes('v4.13')).toBe(0);
    expect(writes('v4.19')).toBe(1);
    expect(writes('v6.6')).toBe(1);
  });

  it('v4.19 … v5.x: an OOM victim\'s exit_mmap reaps itself (__oom_reap_task_mm): hlist notifiers are gone, an interval subscription gets the non-blockable start', () => {
    const s: Scenario = { threads: [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] }, { kind: 'oom', ops: [{ op: 'reap' }] }] };
    const reaps = (r: ExecutionResult) => r.trace.filter((x) => x.thread === 0 && /__oom_reap_task_mm/.test(x.effect.at.fn)).length;
    expect(reaps(run(kvm, 'v4.13', s))).toBe(0);
    expect(reaps(run(kvm, 'v4.19', s))).toBeGreaterThan(0);
    expect(reaps(run(kvm, 'v6.6', s))).toBe(0); // v6.8 exit_mmap calls no __oom_reap_task_mm
    const mirror = driverByName('hmm-mirror', 'v5.5');
    const r = run(mirror, 'v5.5', s);
    expect(r.verdict).toEqual({ kind: 'pass' });
    // hmm-mirror's ->invalidate sees blockable == false there and only trylocks its mutex
    expect(r.trace.some((x) => x.thread === 0 && /mutex_trylock\(driver->update\)/.test(describeEffect(r.machine, x.effect)))).toBe(true);
    // one that sleeps regardless is caught in exit's own reap
    const sleeper: NotifierDefinition<any> = { ...mirror, name: 'hmm-mirror-sleeps', ops: { *invalidate(k, st, sub, range, cur) {
      yield* k.mutexLock(st.update, site('test', 'sleeps whatever blockable says (test-only)', 'model'));
      yield* k.mutexUnlock(st.update, site('test', 'sleeps whatever blockable says (test-only)', 'model'));
      return yield* mirror.ops.invalidate!(k, st, sub, { ...range, blockable: true }, cur);
    } } };
    const bad = run(sleeper, 'v5.5', s);
    expect(bad.verdict.kind === 'violation' && bad.verdict.invariant).toBe('no-sleep-in-atomic');
    expect(bad.verdict.kind === 'violation' && bad.verdict.thread).toBe(0); // the exiting task, before the reaper runs
  });

  it('exit and unregister tokens round-trip; old tokens decode as before', () => {
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: { threads: [{ kind: 'cpu', ops: [{ op: 'exit' }] }, { kind: 'device', ops: [{ op: 'access', page: 0, write: false }, { op: 'unregister' }] }] }, preemptions: [], maxSteps: 100 };
    expect(decodeToken(encodeToken(c))).toEqual(c);
  });

  it('fuzzing: KVM passes exit scenarios in every era, and the same KVM without ->release is caught', () => {
    const exitScenarios = scenarioArbitrary({ pages: 2, maxOpsPerThread: 2, oom: true, thp: true, migrate: false, ksm: false }).map((s) => {
      const threads = s.threads.filter((t) => t.kind !== 'cpu');
      const cpu = s.threads.find((t) => t.kind === 'cpu');
      const ops = (cpu?.ops ?? []).filter((o) => o.op !== 'exit');
      return { ...s, threads: [{ kind: 'cpu' as const, ops: [...ops, { op: 'exit' as const }] }, ...threads] } as Scenario;
    });
    let caught = 0;
    for (const era of ERAS) {
      const good = driverByName('kvm', era.name);
      // leave out the threads that catch KVM for its era's known bugs, not exit's: the ≤ v4.12 OOM
      // reaper without notifiers, aac2fea9's bare invalidate_range in reclaim (src/matrix/history.ts)
      const known = (t: Scenario['threads'][number]) =>
        (t.kind === 'oom' && era.oomReaper === 'no-notifiers') || (t.kind === 'reclaim' && era.tryToUnmapNotify === 'invalidate-range-after-walk');
      const scenarios = exitScenarios.map((s) => ({ ...s, threads: s.threads.filter((t) => !known(t)) }));
      fc.assert(
        fc.property(scenarios, scheduleArbitrary(2, 80, 4), (s, pre) => {
          const ok = pre.filter((x) => x.thread < s.threads.length && x.to < s.threads.length);
          expect(run(good, era.name, s, ok).verdict).toEqual({ kind: 'pass' });
        }),
        { seed: SEED, numRuns: 40 },
      );
      const broken = fc.check(
        fc.property(exitScenarios, (s) => run(withoutRelease(era.name), era.name, s).verdict.kind === 'pass'),
        { seed: SEED, numRuns: 200 },
      );
      if (broken.failed) caught++;
    }
    expect(caught).toBe(ERAS.length);
  });
});

describe('the catalogue drivers\' ->release (each read in its era\'s source)', () => {
  const FIXED: Record<string, Scenario> = {
    'exit after the device mapped': EXIT_AFTER_DEVICE,
    'unregister, then exit': {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: true }, { op: 'unregister' }] },
      ],
    },
    'unregister, then munmap': {
      threads: [
        { kind: 'device', ops: [{ op: 'access', page: 0, write: true }, { op: 'unregister' }] },
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }] },
      ],
    },
  };
  /** The cpu maps page 0, the device (faulting from a kernel context) maps it too, then the mm exits. */
  const EXIT_UNDER_DEVICE: Scenario = {
    threads: [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
    ],
  };
  /** The verdicts of EXIT_UNDER_DEVICE with the cpu preempted to the device after each of its first 40 steps. */
  const preempted = (d: NotifierDefinition<any>, kernel: string) => [...Array(40).keys()].map((i) => run(d, kernel, EXIT_UNDER_DEVICE, [{ thread: 0, after: i + 1, to: 1 }]).verdict);
  // sgi-gru's gru_release only sets ms_released (grutlbpurge.c v4.13.19): its TLB keeps the
  // translations of the pages exit_mmap then frees, until the ASID is reused. The kernel relies on
  // no GRU instruction of the exited process running any more [U]; the invariant reports the entry.
  const KEEPS_ITS_TLB = new Set(['sgi-gru', 'sgi-gru-count-only']);
  const cells = DRIVERS.filter((d) => !/mutex|trylock|observer/.test(d.name) || d.name === 'amdgpu-userptr-trylock').flatMap((d) => d.eras.map((e) => [d.name, e] as const));

  it.each(cells)('%s on %s: passes exit and unregister (sgi-gru: keeps its TLB)', (name, kernel) => {
    const d = driverByName(name, kernel);
    for (const [what, s] of Object.entries(FIXED)) {
      // a driver without ->release relies on its own teardown to drop its mappings before it
      // unregisters ("All sptes must be dropped before calling mmu_notifier_unregister",
      // mm/mmu_notifier.c v4.13), which the bare unregister operation does not model
      if (!d.ops.release && what !== 'exit after the device mapped') continue;
      const r = run(d, kernel, s);
      const gruCaught = KEEPS_ITS_TLB.has(name) && what === 'exit after the device mapped';
      if (gruCaught) expect(r.verdict, what).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
      else if (!KEEPS_ITS_TLB.has(name)) expect(r.verdict, what).toEqual({ kind: 'pass' });
    }
  });

  it('IB umem ODP (≤ v5.4): ->release starts an invalidation it never ends, sets dying, and the fault gives up', () => {
    for (const kernel of ['v4.10', 'v4.13', 'v4.19', 'v5.0']) {
      const d = driverByName('ib-umem-odp', kernel);
      const r = run(d, kernel, {
        threads: [
          { kind: 'device', ops: [{ op: 'access', page: 0, write: true }, { op: 'unregister' }] },
        ],
      });
      expect(r.verdict, kernel).toEqual({ kind: 'pass' });
      const name = (n: string) => r.machine.counters[r.machine.counterNames.indexOf(n)];
      expect(name('odp_data->notifiers_count')).toBe(1); // start_account, no end_account
      expect(name('odp_data->dying')).toBe(1);
      expect(r.machine.tables.every((t) => t.entries.every((e) => e === null))).toBe(true);
      // dropping ->release leaves the MTT mapping a page munmap then frees
      const { release: _r, ...ops } = d.ops;
      const broken = run({ ...d, name: 'odp-without-release', ops }, kernel, FIXED['unregister, then munmap']);
      expect(broken.verdict, kernel).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
    }
  });

  it('the ATS devices (AMD IOMMUv2, Intel SVM, powernv NPU) clear the PASID entry: without it the IOTLB keeps a freed page', () => {
    for (const [name, kernel] of [['amd-iommu-v2', 'v4.13'], ['intel-svm', 'v4.19'], ['powernv-npu', 'v5.0']] as const) {
      const d = driverByName(name, kernel);
      expect(preempted(d, kernel).every((v) => v.kind === 'pass'), name).toBe(true);
      const { release: _r, ...ops } = d.ops;
      const caught = preempted({ ...d, name: `${name}-without-release`, ops }, kernel).filter((v) => v.kind !== 'pass');
      expect(caught.length, name).toBeGreaterThan(0);
      expect(caught[0], name).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
    }
  });

  it('check() with exit and unregister drawn (ScenarioBounds.lifetime): KVM and ODP pass, the synthetic page-pin too', () => {
    for (const [driver, kernel] of [['kvm', 'v4.13'], ['kvm', 'v5.5'], ['ib-umem-odp', 'v4.13'], ['page-pin', 'v4.19'], ['amd-iommu-v2', 'v5.0']] as const) {
      const r = check({ kernel, driver, runs: 300, seed: SEED, bounds: { ...DEFAULT_BOUNDS, lifetime: true } });
      expect(r.verdict, `${driver} ${kernel}: ${r.counterexample?.token ?? ''}`).toEqual({ kind: 'pass' });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// release vs unregister (reference §3 B19): a test driver whose ->release tears down only once,
// the first time it is called, and whose device faults from a kernel context (not a user of the mm)

interface OnceState extends KvmState {
  readonly releasing: number;
}

const releaseOnce: NotifierDefinition<OnceState> = {
  ...(kvm as unknown as NotifierDefinition<OnceState>),
  name: 'release-once',
  title: 'KVM-like mirror whose ->release does its teardown only on the first call (test)',
  eras: ERAS.map((e) => e.name),
  setup: (api) => Object.freeze({ ...kvm.setup(api), releasing: api.counter('releasing') }),
  ops: {
    invalidateRangeStart: kvm.ops.invalidateRangeStart as NotifierDefinition<OnceState>['ops']['invalidateRangeStart'],
    invalidateRangeEnd: kvm.ops.invalidateRangeEnd as NotifierDefinition<OnceState>['ops']['invalidateRangeEnd'],
    *release(k: KernelApi, s: OnceState) {
      if ((yield* k.add(s.releasing, 1, AT)) !== 1) {
        yield* k.note('already released by the other caller: return', AT);
        return;
      }
      yield* k.mightSleep('flush the device queues', AT);
      yield* k.spinLock(s.mmuLock, AT);
      yield* k.spteClearRange(s.spt, 0, 64, AT);
      yield* k.spinUnlock(s.mmuLock, AT);
    },
  },
  device: {
    table: (s) => s.spt,
    *fault(k: KernelApi, s: OnceState, f: DeviceFault) {
      const seq = yield* k.read(s.seq, AT);
      const got = yield* k.getUserPagesUnlocked(f.address, f.write);
      if (!got) return 'error';
      yield* k.spinLock(s.mmuLock, AT);
      const dead = (yield* k.read(s.releasing, AT)) > 0;
      const retry = (yield* k.read(s.count, AT)) !== 0 || (yield* k.read(s.seq, AT)) !== seq;
      if (!dead && !retry) yield* k.spteSet(s.spt, k.vpnOf(f.address), got.page, got.writable, AT);
      yield* k.spinUnlock(s.mmuLock, AT);
      yield* k.putPage(got.page, AT);
      return dead ? 'error' : retry ? 'retry' : 'mapped';
    },
  },
};

/** Runs `scenario` with `def`, replacing thread bodies by `override(built)` where it returns one. */
function runBuilt(def: NotifierDefinition<any>, kernel: string, scenario: Scenario, preemptions: readonly Preemption[], override: (b: Built, i: number) => ThreadSpec['body'] | undefined) {
  const built = buildExecution(eraByName(kernel), [def], scenario);
  const threads = built.threads.map((t, i) => ({ name: t.name, body: override(built, i) ?? t.body }));
  return execute(built.machine, threads, new PreemptionScheduler(preemptions), { maxSteps: 4000, invariants: INVARIANTS });
}

const RACE: Scenario = {
  threads: [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] },
    { kind: 'device', ops: [{ op: 'access', page: 0, write: true }, { op: 'unregister' }] },
  ],
};
const schedules = scheduleArbitrary(3, 90, 2);

describe('mmu_notifier_unregister racing exit_mmap (mm/mmu_notifier.c)', () => {
  it('each ->release is called as the source says, by exit or unregister or both, and never after unregister returned', () => {
    const seen = new Set<string>();
    for (const kernel of ['v4.13', 'v5.5']) {
      fc.assert(
        fc.property(schedules, (pre) => {
          const r = run(releaseOnce, kernel, RACE, pre);
          expect(r.verdict).toEqual({ kind: 'pass' });
          const by = releases(r);
          expect(by.length).toBeGreaterThanOrEqual(1);
          expect(by.length).toBeLessThanOrEqual(2);
          seen.add(by.join('+'));
        }),
        { seed: SEED, numRuns: 300 },
      );
    }
    // every outcome the source allows shows up: unregister first, exit first, and both calling it
    expect([...seen].sort()).toEqual(['cpu', 'cpu+device', 'device', 'device+cpu'].filter((x) => seen.has(x)).sort());
    expect(seen.has('device')).toBe(true);
    expect(seen.has('cpu')).toBe(true);
    expect(seen.has('cpu+device') || seen.has('device+cpu')).toBe(true);
  });

  it('without the synchronize_srcu of mmu_notifier_release, exit_mmap frees pages the other ->release has not zapped yet (B19)', () => {
    const res = fc.check(
      fc.property(schedules, (pre) => {
        const r = runBuilt(releaseOnce, 'v4.13', RACE, pre, (b, i) => {
          if (i !== 0) return undefined;
          return (function* () {
            yield* userAccess(b.kc, 0, true);
            yield* p.add(b.kc.lifetime!.mmUsers, -1, AT);
            yield* exitMmap(b.kc, b.machine.nPages, { synchronize: false });
          })();
        });
        return r.verdict.kind === 'pass';
      }),
      { seed: SEED, numRuns: 2000 },
    );
    expect(res.failed).toBe(true);
    const pre = res.counterexample![0];
    const r = runBuilt(releaseOnce, 'v4.13', RACE, pre, (b, i) =>
      i === 0
        ? (function* () {
            yield* userAccess(b.kc, 0, true);
            yield* p.add(b.kc.lifetime!.mmUsers, -1, AT);
            yield* exitMmap(b.kc, b.machine.nPages, { synchronize: false });
          })()
        : undefined,
    );
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
  });

  const UNREG_VS_RECLAIM: Scenario = {
    threads: [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
      { kind: 'device', ops: [{ op: 'unregister' }] },
    ],
  };
  const three = scheduleArbitrary(3, 60, 3);

  it('with synchronize_srcu, no callback runs after unregister returned, whatever reclaim does meanwhile', () => {
    fc.assert(
      fc.property(three, (pre) => {
        expect(run(releaseOnce, 'v4.13', UNREG_VS_RECLAIM, pre).verdict).toEqual({ kind: 'pass' });
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('without it, a range_start still running when unregister returns is reported: no-callback-after-unregister (B26)', () => {
    const broken = (pre: readonly Preemption[]) =>
      runBuilt(releaseOnce, 'v4.13', UNREG_VS_RECLAIM, pre, (b, i) => (i === 2 ? mmuNotifierUnregister(b.kc, 0, AT, { synchronize: false }) : undefined));
    const res = fc.check(
      fc.property(three, (pre) => broken(pre).verdict.kind === 'pass'),
      { seed: SEED, numRuns: 2000 },
    );
    expect(res.failed).toBe(true);
    expect(broken(res.counterexample![0]).verdict).toMatchObject({ kind: 'violation', invariant: 'no-callback-after-unregister' });
  });

  it('exhaustively within 1 preemption: KVM and the release-once driver pass unregister-vs-exit; ODP passes exit-vs-reclaim', () => {
    for (const [driver, kernel, scenario] of [['release-once', 'v4.13', 'unregister-vs-exit'], ['kvm', 'v4.19', 'unregister-vs-exit'], ['ib-umem-odp', 'v4.13', 'exit-vs-reclaim']] as const) {
      const target = { era: eraByName(kernel), driver: driver === 'release-once' ? releaseOnce : driverByName(driver, kernel) };
      const r = explore({ kernel, driver, scenario, maxPreemptions: 1, target });
      expect(r.verdict, `${driver} ${scenario}`).toEqual({ kind: 'pass' });
      expect(r.complete, `${driver} ${scenario}`).toBe(true);
      expect(r.executions).toBeGreaterThan(10);
    }
  });

  it('after unregister the notifier is unhashed: later invalidations and exit_mmap call none of its callbacks', () => {
    const r = run(releaseOnce, 'v4.13', {
      threads: [
        { kind: 'device', ops: [{ op: 'unregister' }] },
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }, { op: 'exit' }] },
      ],
    });
    expect(r.verdict).toEqual({ kind: 'pass' });
    expect(releases(r)).toEqual(['device']);
    expect(r.trace.filter((s) => /^-> release-once/.test(s.effect.text ?? '')).length).toBe(1);
  });
});
