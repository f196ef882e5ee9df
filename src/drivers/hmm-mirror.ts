/**
 * A device mirroring the process with an interval notifier and hmm_range_fault, exactly in the usage
 * pattern of Documentation/vm/hmm.rst (v5.7, "driver_populate_range") and the contract of
 * include/linux/mmu_notifier.h (v5.7): the fault path samples mmu_interval_read_begin, faults the
 * range in with hmm_range_fault under mmap_sem, then takes the driver's update lock and installs
 * the mapping only if mmu_interval_read_retry says no invalidation happened; ->invalidate takes the
 * same lock, calls mmu_interval_set_seq and zaps. No page references are held: the protocol alone
 * keeps the device off freed pages (contract `mirror`).
 *
 * Two broken variants (reference §3, the interval-notifier items of the catalogue):
 * - `hmm-mirror-no-retry` installs without mmu_interval_read_retry under its lock;
 * - `hmm-mirror-set-seq-unlocked` calls mmu_interval_set_seq after dropping its lock ("must be called
 *   under the same lock that protects mmu_interval_read_retry()").
 */
import type { DeviceFault, DeviceFaultResult, MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';

interface State {
  readonly update: number;
  readonly spt: number;
  readonly sub: number;
}

const POPULATE = site('Documentation/vm/hmm.rst', 'driver_populate_range (usage pattern)', 'v5.7');
const INVALIDATE = site('Documentation/vm/hmm.rst', 'ops->invalidate (usage pattern)', 'v5.7');

type Flaw = 'none' | 'no-retry' | 'set-seq-unlocked';

function definition(flaw: Flaw): NotifierDefinition<State> {
  function* invalidate(k: KernelApi, s: State, sub: number, r: MmuNotifierRange, curSeq: number): Gen<boolean> {
    // "Return false only if sleeping was required but mmu_notifier_range_blockable(range) is false"
    if (r.blockable === false) {
      if (!(yield* k.mutexTrylock(s.update, INVALIDATE))) return false;
    } else {
      yield* k.mutexLock(s.update, INVALIDATE);
    }
    if (flaw !== 'set-seq-unlocked') yield* k.mmuIntervalSetSeq(sub, curSeq);
    yield* k.spteClearRange(s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, INVALIDATE);
    yield* k.mutexUnlock(s.update, INVALIDATE);
    if (flaw === 'set-seq-unlocked') yield* k.mmuIntervalSetSeq(sub, curSeq);
    return true;
  }

  function* fault(k: KernelApi, s: State, f: DeviceFault): Gen<DeviceFaultResult> {
    // again: range.notifier_seq = mmu_interval_read_begin(&interval_sub);
    const seq = yield* k.mmuIntervalReadBegin(s.sub);
    yield* k.downRead(k.mmapSem, POPULATE);
    const got = yield* k.hmmRangeFault(f.address, f.write, s.sub, seq);
    yield* k.upRead(k.mmapSem, POPULATE);
    if (got === 'EBUSY') return 'retry'; // goto again
    if (got === 'EFAULT') return 'error';
    yield* k.mutexLock(s.update, POPULATE); // take_lock(driver->update)
    if (flaw !== 'no-retry' && (yield* k.mmuIntervalReadRetry(s.sub, seq))) {
      yield* k.mutexUnlock(s.update, POPULATE);
      return 'retry';
    }
    // "Use pfns array content to update device page table, under the update lock"
    yield* k.spteSet(s.spt, k.vpnOf(f.address), got.page, got.writable, POPULATE);
    yield* k.mutexUnlock(s.update, POPULATE);
    return 'mapped';
  }

  return {
    name: flaw === 'none' ? 'hmm-mirror' : `hmm-mirror-${flaw}`,
    title:
      flaw === 'none'
        ? 'interval notifier + hmm_range_fault, read_retry under the update lock (Documentation/vm/hmm.rst)'
        : flaw === 'no-retry'
          ? 'interval notifier user that installs without mmu_interval_read_retry (broken on purpose)'
          : 'interval notifier user that calls mmu_interval_set_seq outside its lock (broken on purpose)',
    contract: 'mirror',
    eras: ['v5.5', 'v6.6'],
    source: 'Documentation/vm/hmm.rst "driver_populate_range", include/linux/mmu_notifier.h mmu_interval_* (v5.7)',
    setup: (api: SetupApi) =>
      Object.freeze({ update: api.mutex('driver->update'), spt: api.secondaryTable('device pt'), sub: api.intervalNotifier('interval_sub') }),
    ops: { invalidate },
    device: { table: (s) => s.spt, fault },
  };
}

export const hmmMirror = definition('none');
export const hmmMirrorNoRetry = definition('no-retry');
export const hmmMirrorSetSeqUnlocked = definition('set-seq-unlocked');
