import type { Era } from '../eras/era';
import type { KernelApi } from '../notifier/kernel-api';
import type { NotifierInstance } from '../notifier/definition';
import type { CounterId, LockId } from '../runtime/primitives';

/** One `struct mmu_interval_notifier` in the mm's interval tree. */
export interface IntervalSubscription {
  /** The notifier (driver) whose `ops.invalidate` it calls. */
  readonly owner: NotifierInstance;
  readonly name: string;
  /** `interval_tree.start`, `last + 1`: byte addresses. */
  readonly start: number;
  readonly end: number;
  /** `interval_sub->invalidate_seq`. */
  readonly seq: CounterId;
}

/** `struct mmu_notifier_subscriptions`' interval-tree part (mm/mmu_notifier.c v5.5+). */
export interface IntervalTree {
  /** `subscriptions->lock`. */
  readonly lock: LockId;
  /** `subscriptions->invalidate_seq`: odd while a subscribed range is being invalidated. */
  readonly invalidateSeq: CounterId;
  /** `subscriptions->active_invalidate_ranges`. */
  readonly activeRanges: CounterId;
  readonly subs: IntervalSubscription[];
}

/** What core-VM code needs besides the machine: the era's rules and the registered notifiers. */
export interface KernelContext {
  readonly era: Era;
  /** `mm->mmu_notifier_mm->list`, in registration order. */
  readonly notifiers: readonly NotifierInstance[];
  /** The interval tree (`has_itree`), when some driver inserted an interval subscription. */
  readonly itree: IntervalTree | null;
  /** The API handed to notifier callbacks. */
  readonly k: KernelApi;
  /**
   * `HPAGE_PMD_ORDER` when transparent huge pages are on (the scenario's `thp`), else 0 or absent:
   * the THP paths are taken only then, so executions without THP run exactly the steps they did.
   */
  readonly thpOrder?: number;
}
