/**
 * The kernel API a notifier's callbacks and device fault path are written against: the primitive
 * effects (locks, counters, page references, secondary-table updates) and the core-VM routines a
 * driver calls (get_user_pages). One object, handed to every callback as `k`.
 */
import * as prim from '../runtime/primitives';
import { PAGE_SHIFT, PAGE_SIZE, addressOf, vpnOf } from '../runtime/machine';
import { getUserPagesFast, getUserPagesUnlocked, type GupResult } from '../kernel/gup';
import type { KernelContext } from '../kernel/context';
import { hmmRangeFault, type HmmResult } from '../kernel/hmm';
import { MMAP_SEM } from '../kernel/mm';
import { mmuIntervalCheckRetry, mmuIntervalReadBegin, mmuIntervalReadRetry, mmuIntervalSetSeq } from '../kernel/mmu_interval_notifier';
import type { Gen } from '../runtime/primitives';
import type { Pte } from '../runtime/machine';
import type { Site } from '../runtime/site';

export type { GupResult, HmmResult };

export interface KernelApi {
  readonly PAGE_SIZE: number;
  readonly PAGE_SHIFT: number;
  /** Virtual page number of a byte address in the modelled VMA (index into secondary tables). */
  vpnOf(address: number): number;
  addressOf(vpn: number): number;

  spinLock: typeof prim.spinLock;
  spinUnlock: typeof prim.spinUnlock;
  mutexLock: typeof prim.mutexLock;
  mutexUnlock: typeof prim.mutexUnlock;
  mutexTrylock: typeof prim.mutexTrylock;
  downRead: typeof prim.downRead;
  upRead: typeof prim.upRead;
  downWrite: typeof prim.downWrite;
  upWrite: typeof prim.upWrite;
  localIrqDisable: typeof prim.localIrqDisable;
  localIrqEnable: typeof prim.localIrqEnable;
  mightSleep: typeof prim.mightSleep;
  cpuRelax: typeof prim.cpuRelax;
  note: typeof prim.note;
  read: typeof prim.read;
  write: typeof prim.write;
  add: typeof prim.add;
  getPage: typeof prim.getPage;
  putPage: typeof prim.putPage;
  setPageDirty: typeof prim.setPageDirty;
  spteRead: typeof prim.spteRead;
  spteSet: typeof prim.spteSet;
  spteClearRange: typeof prim.spteClearRange;
  spteClearYoung: typeof prim.spteClearYoung;
  deviceAccess: typeof prim.deviceAccess;
  waitCounter: typeof prim.waitCounter;
  downReadTrylock: typeof prim.downReadTrylock;
  getPageUnlessZero: typeof prim.getPageUnlessZero;
  /**
   * A lockless read of the CPU page table entry as a software walk sees it (GRU's atomic_pte_lookup):
   * one atomic read of the PTE, no lock taken. `pte_present()` is true for a NUMA hinting entry
   * (`protnone`), which a hardware walk would not use: `atsTranslate` is the IOMMU's walk.
   */
  walkCpuPageTable(address: number, at: Site): Gen<Pte | null>;
  /**
   * The IOMMU's ATS translation of `address` for a device sharing the process page table: one atomic
   * walk that sets the PTE's accessed bit and, for a write, its dirty bit (as the CPU's MMU does), and
   * returns the PTE; null when the PTE does not allow the access (the device raises a page request).
   */
  atsTranslate(address: number, write: boolean, at: Site): Gen<Pte | null>;
  /**
   * `set_page_dirty_lock(page)` (mm/page-writeback.c): `lock_page(page)` (may sleep: not from an atomic
   * callback, nor from one called with the page locked, as try_to_unmap's are), `set_page_dirty(page)`,
   * `unlock_page(page)`. `setPageDirty` is `set_page_dirty` / `SetPageDirty` without the page lock.
   */
  setPageDirtyLock(page: prim.PageRef, at: Site): Gen;

  /** `__get_user_pages_fast(address, 1, write)`: lockless, interrupts off; null if it cannot. */
  getUserPagesFast(address: number, write: boolean): Gen<GupResult | null>;
  /**
   * `get_user_pages_unlocked(address, 1, write)`: takes mmap_sem, faults the page in; may sleep.
   * `honorNumaFault`: FOLL_HONOR_NUMA_FAULT (v6.8; KVM's hva_to_pfn_slow sets it): a NUMA hinting
   * entry is faulted (do_numa_page) even for a read. Up to v5.7 gup always does (FOLL_NUMA without
   * FOLL_FORCE); in v6.8 a read without the flag follows the hinting entry.
   */
  getUserPagesUnlocked(address: number, write: boolean, honorNumaFault?: boolean): Gen<GupResult | null>;

  /** `mm->mmap_sem` (mmap_lock from v5.8): callers of hmm_range_fault hold it for read. */
  readonly mmapSem: number;
  /** `mmu_interval_read_begin(sub)` (v5.5+): may sleep until an invalidation of the range ends. */
  mmuIntervalReadBegin(sub: number): Gen<number>;
  /** `mmu_interval_read_retry(sub, seq)`: call it under the lock your ->invalidate holds for set_seq. */
  mmuIntervalReadRetry(sub: number, seq: number): Gen<boolean>;
  /** `mmu_interval_check_retry(sub, seq)`: lockless hint; "False is not reliable". */
  mmuIntervalCheckRetry(sub: number, seq: number): Gen<boolean>;
  /** `mmu_interval_set_seq(sub, cur_seq)`: from ->invalidate, under your lock. */
  mmuIntervalSetSeq(sub: number, curSeq: number): Gen;
  /**
   * `hmm_range_fault()` for one page (v5.5+): with mmap_sem held for read, the page mapped at
   * `address` (faulting it in if needed) with no reference taken, or 'EBUSY' when the interval was
   * invalidated since `seq`, or 'EFAULT'.
   */
  hmmRangeFault(address: number, write: boolean, sub: number, seq: number): Gen<HmmResult>;
}

/** The API for one execution (get_user_pages needs the kernel context of that execution). */
export function kernelApi(kc: KernelContext): KernelApi {
  return {
    PAGE_SIZE,
    PAGE_SHIFT,
    vpnOf,
    addressOf,
    spinLock: prim.spinLock,
    spinUnlock: prim.spinUnlock,
    mutexLock: prim.mutexLock,
    mutexUnlock: prim.mutexUnlock,
    mutexTrylock: prim.mutexTrylock,
    downRead: prim.downRead,
    upRead: prim.upRead,
    downWrite: prim.downWrite,
    upWrite: prim.upWrite,
    localIrqDisable: prim.localIrqDisable,
    localIrqEnable: prim.localIrqEnable,
    mightSleep: prim.mightSleep,
    cpuRelax: prim.cpuRelax,
    note: prim.note,
    read: prim.read,
    write: prim.write,
    add: prim.add,
    getPage: prim.getPage,
    putPage: prim.putPage,
    setPageDirty: prim.setPageDirty,
    spteRead: prim.spteRead,
    spteSet: prim.spteSet,
    spteClearRange: prim.spteClearRange,
    spteClearYoung: prim.spteClearYoung,
    deviceAccess: prim.deviceAccess,
    waitCounter: prim.waitCounter,
    downReadTrylock: prim.downReadTrylock,
    getPageUnlessZero: prim.getPageUnlessZero,
    walkCpuPageTable: (address, at) => prim.pteRead(vpnOf(address), at),
    atsTranslate: (address, write, at) => prim.pteTranslate(vpnOf(address), write, at),
    setPageDirtyLock,
    getUserPagesFast: (address, write) => getUserPagesFast(address, write, kc),
    getUserPagesUnlocked: (address, write, honorNumaFault) => getUserPagesUnlocked(kc, address, write, honorNumaFault === true),
    mmapSem: MMAP_SEM,
    mmuIntervalReadBegin: (sub) => mmuIntervalReadBegin(kc, sub),
    mmuIntervalReadRetry: (sub, seq) => mmuIntervalReadRetry(kc, sub, seq),
    mmuIntervalCheckRetry: (sub, seq) => mmuIntervalCheckRetry(kc, sub, seq),
    mmuIntervalSetSeq: (sub, cur) => mmuIntervalSetSeq(kc, sub, cur),
    hmmRangeFault: (address, write, sub, seq) => hmmRangeFault(kc, address, write, sub, seq),
  };
}

/** `set_page_dirty_lock()` (mm/page-writeback.c v4.13): lock_page; set_page_dirty; unlock_page. */
function* setPageDirtyLock(page: prim.PageRef, at: Site): Gen {
  yield* prim.lockPage(page, at);
  yield* prim.setPageDirty(page, at);
  yield* prim.unlockPage(page, at);
}
