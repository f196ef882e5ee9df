import type { Era } from '../eras/era';
import type { KernelApi } from '../notifier/kernel-api';
import type { NotifierInstance } from '../notifier/definition';
import type { CounterId, LockId } from '../runtime/primitives';
import type { FileMapping } from './writeback';
import type { DaxMapping } from './dax';

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
  /**
   * Only for a subscription inserted while the threads run (a device thread's `register`): 1 while
   * it is in the tree (`!RB_EMPTY_NODE(&interval_sub->interval_tree.rb)`). Absent: inserted before
   * the threads run, and never removed.
   */
  readonly inTree?: CounterId;
  /** With `inTree`: 1 while on `subscriptions->deferred_list` (an insert or remove waiting for the last inv_end). */
  readonly deferred?: CounterId;
}

/** `struct mmu_notifier_subscriptions`' interval-tree part (mm/mmu_notifier.c v5.5+). */
export interface IntervalTree {
  /** `subscriptions->lock`. */
  readonly lock: LockId;
  /** `subscriptions->invalidate_seq`: odd while a subscribed range is being invalidated. */
  readonly invalidateSeq: CounterId;
  /** `subscriptions->active_invalidate_ranges`. */
  readonly activeRanges: CounterId;
  /**
   * `subscriptions->has_itree`, when the first subscription is inserted while the threads run
   * (mmu_interval_notifier_insert → mmu_notifier_register(NULL, mm)); absent: true from the start.
   */
  readonly hasItree?: CounterId;
  readonly subs: IntervalSubscription[];
}

/**
 * The objects of the mm's lifetime (exit_mmap, mmu_notifier_unregister; src/kernel/exit.ts), created
 * only for scenarios that can exit or unregister, so every other execution runs exactly the steps
 * it did before. All of them are machine counters and locks.
 */
export interface MmLifetime {
  /** `mm->mm_users`: 1 while the task lives; mmput() drops it to 0 and gup fails after (mmget_not_zero). */
  readonly mmUsers: CounterId;
  /** `mm->mmu_notifier_mm->list`: bit i set while notifier i is hashed (hlist_unhashed() false). */
  readonly list: CounterId;
  /** `mm->mmu_notifier_mm->lock`: serialises the unlinks of release and unregister. */
  readonly lock: LockId;
  /** The global `srcu` of mm/mmu_notifier.c: which of the two reader counts new readers use (`completed & 1`). */
  readonly srcuIdx: CounterId;
  /** The per-index reader counts of classic SRCU (`srcu_read_lock` increments the current one). */
  readonly srcuReaders: readonly [CounterId, CounterId];
  /** `srcu->mutex`: synchronize_srcu callers are serialised (the two index flips of one grace period). */
  readonly srcuMutex: LockId;
  /** Per notifier: how many of its callbacks are running (no-callback-after-unregister). */
  readonly running: readonly CounterId[];
  /** Per notifier: 1 once mmu_notifier_unregister() has returned for it. */
  readonly unregistered: readonly CounterId[];
  /** `mm_is_oom_victim(mm)`: the scenario has an OOM-reaper thread (exit_mmap's v4.19+ fence). */
  readonly oomVictim: boolean;
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
  /**
   * A ksmd thread runs (the scenario has one), so a page may be PageKsm: only then does do_wp_page
   * read the flag, so executions without KSM run exactly the steps they did.
   */
  readonly ksm?: boolean;
  /** The mm's lifetime objects when the scenario can exit or unregister (see {@link MmLifetime}); absent otherwise. */
  readonly lifetime?: MmLifetime;
  /**
   * The scenario's `file`: the VMA is a MAP_SHARED mapping of a file, its pages page-cache pages
   * (src/kernel/writeback.ts). Absent: the anonymous private VMA, whose executions run exactly the
   * steps they did before.
   */
  readonly file?: FileMapping;
  /**
   * The scenario's `dax` (with `file` and `thp`): the file is on pmem and PMD-faulted (kernel/dax.ts).
   * Absent otherwise: every other execution runs exactly the steps it did.
   */
  readonly dax?: DaxMapping;
  /**
   * NUMA balancing's state, only in a scenario with a NUMA scanner thread (src/kernel/numa.ts):
   * `mm->tlb_flush_pending`, which change_protection raises around its walk and the THP hinting
   * fault reads (mm_tlb_flush_pending).
   */
  readonly numa?: { readonly tlbFlushPending: CounterId; readonly vmaPages: number };
}
