/**
 * The notifier API (DESIGN §5): what a driver author writes to have a secondary MMU checked.
 * The built-in drivers (src/drivers/) use exactly this API.
 *
 * A definition has private state created per execution by `setup` (locks, counters and secondary
 * tables live in the machine; `setup` returns their handles), the mmu_notifier_ops callbacks it
 * implements as generator functions over the kernel API, and the device's fault path.
 */
import type { KernelApi } from './kernel-api';
import type { Gen, LockId, CounterId, TableId } from '../runtime/primitives';

/** `struct mmu_notifier_range` (v5.0+) / the `start, end` arguments (earlier): byte addresses, end exclusive. */
export interface MmuNotifierRange {
  readonly start: number;
  readonly end: number;
  /**
   * `blockable` (v4.19 argument; `range->blockable` v5.0; `mmu_notifier_range_blockable()` v5.2+):
   * false for the OOM reaper's non-blockable invalidate_range_start, where a callback must not sleep
   * and returns -EAGAIN (`-11`) instead. Absent (treated as true) in earlier eras.
   */
  readonly blockable?: boolean;
  /** Why the range is invalidated (v5.2+; absent before). */
  readonly event?: MmuNotifyEvent;
}

/** `enum mmu_notifier_event` (include/linux/mmu_notifier.h v5.2+), as the call sites modelled use them. */
export type MmuNotifyEvent = 'MMU_NOTIFY_UNMAP' | 'MMU_NOTIFY_CLEAR' | 'MMU_NOTIFY_PROTECTION_VMA' | 'MMU_NOTIFY_PROTECTION_PAGE' | 'MMU_NOTIFY_SOFT_DIRTY' | 'MMU_NOTIFY_RELEASE';

/** The `pte_t pte` argument of `->change_pte`: the PTE about to be set at the address. */
export interface NewPte {
  readonly pfn: number;
  /** The page's generation (the model's identity of this allocation of the pfn), as a PageRef carries it. */
  readonly generation: number;
  /** `pte_write(pte)`. */
  readonly writable: boolean;
}

/** `-EAGAIN`, what a non-blockable invalidate_range_start returns when it would have to sleep. */
export const EAGAIN = -11;

/** What the secondary MMU's fault path is asked to do: map `address`, for writing or not. */
export interface DeviceFault {
  readonly address: number;
  readonly write: boolean;
}

/** Outcome of a device fault: mapped, retry (e.g. `mmu_notifier_retry()` said so), or a hard error. */
export type DeviceFaultResult = 'mapped' | 'retry' | 'error';

/** The callbacks of `struct mmu_notifier_ops` a driver implements, camelCased. */
export interface NotifierOps<S> {
  /**
   * `->invalidate_page(mm, address)` (≤ v4.12; killed in v4.13): "Before this is invoked any secondary
   * MMU is still ok to read/write to the page previously pointed to by the Linux pte because the page
   * hasn't been freed yet and it won't be freed until this returns." Called after the PTL is released
   * up to v4.10, under it from v4.11 (c7ab0d2fdc84).
   */
  invalidatePage?(k: KernelApi, s: S, address: number): Gen<unknown>;
  /**
   * `->invalidate_range_start()`: may sleep unless `range.blockable === false`; nothing new may be
   * mapped in the range until `_end`. From v4.19 it returns 0 or -EAGAIN ({@link EAGAIN}); returning
   * nothing counts as 0.
   */
  invalidateRangeStart?(k: KernelApi, s: S, range: MmuNotifierRange): Gen<unknown>;
  /** `->invalidate_range_end()`: may sleep. */
  invalidateRangeEnd?(k: KernelApi, s: S, range: MmuNotifierRange): Gen<unknown>;
  /** `->invalidate_range()`: called under the page-table lock, must not sleep (≤ v6.5). */
  invalidateRange?(k: KernelApi, s: S, range: MmuNotifierRange): Gen<unknown>;
  /**
   * `->arch_invalidate_secondary_tlbs()` (v6.6+): "used to manage a non-CPU TLB which shares page
   * tables with the CPU"; called from the architecture's TLB flush, under the PTL: must not sleep.
   */
  archInvalidateSecondaryTlbs?(k: KernelApi, s: S, range: MmuNotifierRange): Gen<unknown>;
  /**
   * `struct mmu_interval_notifier_ops.invalidate(sub, range, cur_seq)` (v5.5+), for the interval
   * subscriptions this driver inserted (`SetupApi.intervalNotifier`): "Upon return the caller must
   * stop using any SPTEs within this range. This function can sleep. Return false only if sleeping
   * was required but mmu_notifier_range_blockable(range) is false." It must call
   * `k.mmuIntervalSetSeq(sub, curSeq)` under the driver lock that protects `mmuIntervalReadRetry`.
   */
  invalidate?(k: KernelApi, s: S, sub: number, range: MmuNotifierRange, curSeq: number): Gen<boolean>;
  /**
   * `->change_pte(mn, mm, address, pte)`: "change_pte is called in cases that pte mapping to page is
   * changed: for example, when ksm remaps pte to point to a new shared page" (include/linux/
   * mmu_notifier.h v4.13.19, v5.0.1, v6.8 — the same text). Called by `set_pte_at_notify()` just
   * before the `set_pte_at()` of the new PTE, with the page-table lock held: must not sleep. Every
   * call site brackets it with invalidate_range_start/end (KSM's write_protect_page and
   * replace_page, wp_page_copy), so a driver whose range_start already dropped the mapping finds
   * nothing to change. `pte` is the new PTE: its pfn, whether it is writable, and the model's
   * generation of the page (which allocation of the pfn it is; pass it on to `k.spteSet`).
   */
  changePte?(k: KernelApi, s: S, address: number, pte: NewPte): Gen<unknown>;
  /**
   * `->clear_flush_young(mn, mm, start, end)`: "clear_flush_young is called after the VM is
   * test-and-clearing the young/accessed bitflag in the pte. This way the VM will provide proper aging
   * to the accesses to the page through the secondary MMUs and not only to the ones through the
   * Linux pte. Start-end is necessary in case the secondary MMU is mapping the page at a smaller
   * granularity than the primary MMU." (include/linux/mmu_notifier.h v4.13.19; the same in v6.8.)
   * Called by `ptep_clear_flush_young_notify()` from page_referenced_one with the page-table lock
   * held: must not sleep. Returns whether the range was young in the secondary MMU (true/nonzero),
   * ORed into the primary's answer.
   */
  clearFlushYoung?(k: KernelApi, s: S, range: MmuNotifierRange): Gen<unknown>;
  /**
   * `->release(mn, mm)`: "Called either by mmu_notifier_unregister or when the mm is being destroyed
   * by exit_mmap, always before all pages are freed. This can run concurrently with other mmu
   * notifier methods ... and it should tear down all secondary mmu mappings and freeze the secondary
   * mmu" (include/linux/mmu_notifier.h v4.13; the same text in v5.7 and v6.8). May sleep (it runs
   * in an SRCU read section only). Without it, "you've to be sure that nothing could possibly write
   * to the pages through the secondary mmu by the time the last thread with tsk->mm == mm exits".
   */
  release?(k: KernelApi, s: S): Gen<unknown>;
}

/** Contract (DESIGN §3.4): `mirror` follows the CPU page table; `pin` holds page references and may lag. */
export type Contract = 'mirror' | 'pin';

export interface SetupApi {
  /** The era the execution models (drivers whose names or behaviour changed across versions read it). */
  readonly era: string;
  spinlock(name: string): LockId;
  mutex(name: string): LockId;
  rwsem(name: string): LockId;
  counter(name: string, initial?: number): CounterId;
  /** The secondary MMU's translation table (sptes), named as reports show it, e.g. `kvm spte`. */
  secondaryTable(name: string): TableId;
  /**
   * `mmu_interval_notifier_insert(sub, mm, start, length, ops)` (v5.5+): subscribes `[start, start +
   * length)` (default: the whole modelled VMA) to `ops.invalidate`. Returns the subscription handle.
   */
  intervalNotifier(name: string, start?: number, length?: number): number;
}

export interface NotifierDefinition<S = unknown> {
  /** Name used on the command line (`--driver kvm`). */
  readonly name: string;
  readonly title: string;
  readonly contract: Contract;
  /** Eras this implementation was written for. */
  readonly eras: readonly string[];
  /** The kernel source it models (file, functions, version). */
  readonly source: string;
  /** Creates the per-execution private state; returns handles (it must not keep mutable state). */
  setup(api: SetupApi): S;
  readonly ops: NotifierOps<S>;
  readonly device: {
    /** The table device accesses go through. */
    table(s: S): TableId;
    /** The secondary MMU's fault path (e.g. KVM's tdp_page_fault). */
    fault(k: KernelApi, s: S, fault: DeviceFault): Gen<DeviceFaultResult>;
    /**
     * The fault path runs in a thread of the process that owns the mm, which therefore holds an
     * mm_users reference for as long as it runs (a KVM vCPU: `if (vcpu->kvm->mm != current->mm)
     * return -EIO`, virt/kvm/kvm_main.c kvm_vcpu_ioctl v4.13): the mm's exit_mmap runs only after
     * the device thread ends. Absent: the device faults from a kernel context (a work item, an
     * interrupt) and the mm may exit under it.
     */
    readonly holdsMm?: boolean;
    /**
     * The VMA the scenario's CPU operations act on is the driver's own mapping (e.g. gntdev_mmap sets
     * its vm_ops and VM_DONTEXPAND), not an anonymous one: madvise(MADV_FREE) on it returns -EINVAL
     * (`if (!vma_is_anonymous(vma))`, mm/madvise.c madvise_free_single_vma) and KSM never merges it
     * (ksm_madvise refuses VM_DONTEXPAND, mm/ksm.c). The text says why; absent: an anonymous VMA.
     */
    readonly ownVma?: string;
  };
}

/** A registered notifier in one execution: the definition and its state handles. */
export interface NotifierInstance {
  readonly def: NotifierDefinition<any>;
  readonly state: unknown;
}

/** Identity helper that gives a definition its type (use `export default defineNotifier({...})`). */
export function defineNotifier<S>(def: NotifierDefinition<S>): NotifierDefinition<S> {
  return def;
}
