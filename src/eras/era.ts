/**
 * An era: the core-VM behaviour of one kernel version, as data (DESIGN §3.2). Call sites read these
 * fields to decide which notifier calls they make, where and under which locks.
 */
export interface Era {
  /** Name used on the command line (`--kernel v4.13`). */
  readonly name: string;
  /** One line on what defines it. */
  readonly summary: string;
  /** Where that is visible in the kernel source. */
  readonly source: string;
  /** `__mmu_notifier_invalidate_range_end()` also calls `->invalidate_range()` (≤ v6.5, mm/mmu_notifier.c). */
  readonly rangeEndCallsInvalidateRange: boolean;
  /** Callbacks of `struct mmu_notifier_ops` that exist in this era. */
  readonly callbacks: readonly ('invalidateRangeStart' | 'invalidateRangeEnd' | 'invalidateRange')[];
}
