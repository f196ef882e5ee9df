/**
 * What kernel history says each driver does in each era: the expected verdict of every cell of the
 * verdict matrix, with the source that makes it so. A cell whose expectation is not settled by a
 * source is marked `uncertain` rather than guessed.
 */

export interface Expectation {
  /** Driver name (`a+b` for several notifiers on one mm). */
  readonly driver: string;
  readonly kernel: string;
  /** `pass`, or the invariant (or verdict kind) history says is broken. */
  readonly expect: string;
  readonly certain: boolean;
  /** The catalogue entry or kernel source that makes it so. */
  readonly source: string;
  /** Which invariants the cell checks: the drivers' (default) or the core VM's (the `observer` row). */
  readonly scope?: 'core';
}

const B2 = 'reference §3 B2: c7ab0d2fdc84 (v4.11) moved ->invalidate_page under the PTL (mm/rmap.c v4.12 line 1468)';
const OOM_NO_NOTIFIERS =
  'mm/oom_kill.c __oom_reap_task_mm v4.10.17/v4.12: unmap_page_range() with no mmu notifier call; v4.13 skips mms with notifiers (4d4bbd8526a8)';
const B7 = 'reference §3 B7: range_start-only pattern; the kill-invalidate_page cover letter (seeds/03)';
const PTL_RANGE = '->invalidate_range runs under the PTL: wp_page_copy ptep_clear_flush_notify (mm/memory.c), try_to_unmap_one v4.13';

function row(driver: string, cells: Record<string, [string, string, boolean?]>): Expectation[] {
  return Object.entries(cells).map(([kernel, [expect, source, uncertain]]) => ({ driver, kernel, expect, source, certain: uncertain !== true }));
}

const CORE_ROW: Expectation[] = [
  ['v4.10', 'full-range-invalidated', OOM_NO_NOTIFIERS],
  ['v4.12', 'full-range-invalidated', OOM_NO_NOTIFIERS],
  ['aac2fea9', 'full-range-invalidated', "Andrea Arcangeli's bug 1: a bare invalidate_range with no start/end (revert 785373b4c387, seeds/04)"],
  ['v4.13', 'pass', 'the kill-invalidate_page series brackets every modelled call site (reference §1.d)'],
  ['v4.15', 'pass', 'as v4.13; only_end where the PTL call already happened (reference §4.1)'],
  ['v4.19', 'pass', 'as v4.15; the OOM reaper brackets its unmap with a non-blockable start (mm/oom_kill.c v4.19)'],
].map(([kernel, expect, source]) => ({ driver: 'observer', kernel, expect, source, certain: true, scope: 'core' as const }));

export const HISTORY: readonly Expectation[] = [
  ...CORE_ROW,
  ...row('kvm', {
    'v4.10': ['no-secondary-maps-freed-page', OOM_NO_NOTIFIERS],
    'v4.12': ['no-secondary-maps-freed-page', OOM_NO_NOTIFIERS],
    aac2fea9: ['no-secondary-maps-freed-page', "Andrea Arcangeli's bug 1 in the revert 785373b4c387: invalidate_range is a no-op for KVM (seeds/04)"],
    'v4.13': ['pass', 'virt/kvm/kvm_main.c v4.13 seq/count + tdp_page_fault mmu_notifier_retry; reference §2.1 K1–K4'],
    'v4.15': ['pass', 'as v4.13; only_end changes nothing for start/end users (reference §1.e)'],
    'v4.19': ['pass', 'KVM never sleeps in range_start (spinlock), ignores blockable (reference §2.1)'],
  }),
  ...['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19'].flatMap((k) => row('kvm-no-retry', { [k]: ['no-secondary-maps-freed-page', B7] })),
  ...row('invalidate-page-mutex', {
    'v4.10': ['pass', 'mm/rmap.c v4.10 try_to_unmap_one: invalidate_page after pte_unmap_unlock (may sleep)'],
    'v4.12': ['no-sleep-in-atomic', B2],
    aac2fea9: ['pass', 'aac2fea9 stopped calling invalidate_page from try_to_unmap_one (revert message, seeds/04)'],
  }),
  ...['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19'].flatMap((k) => row('invalidate-range-mutex', { [k]: ['no-sleep-in-atomic', PTL_RANGE] })),
  ...row('range-start-mutex', {
    'v4.13': ['pass', 'mm/oom_kill.c v4.13: the OOM reaper skips mms with notifiers; every other range_start may sleep'],
    'v4.15': ['pass', 'as v4.13 (the non-blockable start arrived in v4.19)'],
    'v4.19': ['no-sleep-in-atomic', 'reference §3 B11: mm/oom_kill.c v4.19 calls mmu_notifier_invalidate_range_start_nonblock'],
  }),
  ...row('range-start-trylock', {
    'v4.13': ['pass', 'amdgpu_mn_read_lock pattern (v4.19): sleeps only when blockable'],
    'v4.15': ['pass', 'as v4.13'],
    'v4.19': ['pass', 'returns -EAGAIN instead of sleeping when !blockable (include/linux/mmu_notifier.h v4.19)'],
  }),
  ...row('kvm+range-start-trylock', {
    'v4.13': ['pass', 'the OOM reaper skips mms with notifiers in v4.13'],
    'v4.19': ['start-end-paired', 'reference §3 B12: a failed non-blockable start leaves the other notifiers without range_end (mm/oom_kill.c v4.19)'],
  }),
];
