/**
 * Which scenario operations an era has (issue #3: "operations that make no sense in an era are not
 * drawn"). Every operation's call site is listed with the release that introduced it; a drawn
 * scenario is reduced to the operations its era has before it runs.
 *
 * Every call site modelled so far predates v4.10, the oldest modelled era, and the model has each
 * one's form in every modelled era, so today the reduction removes nothing; `modelledFrom` says
 * where a call site's form is not (yet) modelled for older eras.
 */
import { ERAS } from '../eras';
import type { Era } from '../eras/era';
import type { Scenario, ThreadScenario } from './scenario';

export interface OpAvailability {
  /** The first release with the call site (mainline), and where that is visible. */
  readonly introduced: string;
  readonly source: string;
  /** The oldest modelled era whose form of the call site the model has (absent: every era). */
  readonly modelledFrom?: string;
}

/**
 * Keyed `kind:op` (a scenario family, as `check --coverage` counts them). An operation absent from
 * this table is taken to exist in every era: a new operation is added here when it does not.
 */
export const OP_AVAILABILITY: Readonly<Record<string, OpAvailability>> = {
  'cpu:access': { introduced: 'v2.6', source: 'mm/memory.c handle_mm_fault' },
  'cpu:munmap': { introduced: 'v2.6', source: 'mm/mmap.c do_munmap' },
  'cpu:mprotect': { introduced: 'v2.6', source: 'mm/mprotect.c change_protection' },
  'cpu:dontneed': { introduced: 'v2.6', source: 'mm/madvise.c madvise_dontneed' },
  'cpu:fork': { introduced: 'v2.6', source: 'mm/memory.c copy_page_range' },
  'cpu:lazyfree': { introduced: 'v4.5', source: 'mm/madvise.c madvise_free (854e9ed09ded "mm: support madvise(MADV_FREE)")' },
  'reclaim:reclaim': { introduced: 'v2.6', source: 'mm/vmscan.c shrink_page_list' },
  'oom:reap': { introduced: 'v4.6', source: 'mm/oom_kill.c oom_reaper (aac453635549 "mm, oom: introduce oom reaper")' },
  'cpu:clearRefs': { introduced: 'v3.11', source: 'fs/proc/task_mmu.c clear_refs_write CLEAR_REFS_SOFT_DIRTY (0f8975ec4db2 "mm: soft-dirty bits for user memory changes tracking")' },
  'cpu:exit': { introduced: 'v2.6.27', source: 'mm/mmap.c exit_mmap → mmu_notifier_release (cddb8a5c14aa "mmu-notifiers: core")' },
  'migrate:migrate': { introduced: 'v2.6.16', source: 'mm/migrate.c migrate_pages' },
  'ksmd:merge': { introduced: 'v2.6.32', source: 'mm/ksm.c (f8af4da3b4c1 "ksm: the mm interface to ksm")' },
  'numa:scan': { introduced: 'v3.8', source: 'kernel/sched/fair.c task_numa_work → mm/mempolicy.c change_prot_numa (CONFIG_NUMA_BALANCING) [U: the release from memory; every modelled era has it, read in v4.10.17 … v6.8]' },
  'cpu:punch': { introduced: 'v2.6.38', source: 'fs/open.c do_fallocate → FALLOC_FL_PUNCH_HOLE (79124f18b335 "fs: add hole punching to fallocate"); mm/truncate.c truncate_pagecache_range [U: the release from memory; read in v4.13.19 and v6.8]' },
  'writeback:writeback': { introduced: 'v2.6.27', source: 'mm/page-writeback.c clear_page_dirty_for_io → mm/rmap.c page_mkclean, with the notifier calls of page_mkclean_one since cddb8a5c14aa "mmu-notifiers: core" [U: not read in that commit]' },
  'device:access': { introduced: 'v2.6.27', source: 'mm/mmu_notifier.c (cddb8a5c14aa "mmu-notifiers: core")' },
  'device:register': { introduced: 'v2.6.27', source: 'mm/mmu_notifier.c mmu_notifier_register; mmu_interval_notifier_insert from v5.5 (99cb252f5e68)' },
  'device:unregister': { introduced: 'v2.6.27', source: 'mm/mmu_notifier.c mmu_notifier_unregister; mmu_interval_notifier_remove from v5.5' },
};

/** Whether `era` has the operation `op` of a `kind` thread, as far as the model goes. */
export function eraHasOp(era: Era, kind: string, op: string): boolean {
  const a = OP_AVAILABILITY[`${kind}:${op}`];
  if (a?.modelledFrom === undefined) return true;
  const from = ERAS.findIndex((e) => e.name === a.modelledFrom);
  return ERAS.findIndex((e) => e.name === era.name) >= from;
}

/** `s` without the operations `era` does not have (threads left with none are dropped), or null if nothing is left. */
export function scenarioForEra(s: Scenario, era: Era): Scenario | null {
  let changed = false;
  const threads: ThreadScenario[] = [];
  for (const t of s.threads) {
    const ops = (t.ops as readonly { op: string }[]).filter((o) => eraHasOp(era, t.kind, o.op));
    if (ops.length !== t.ops.length) changed = true;
    if (ops.length > 0) threads.push(ops.length === t.ops.length ? t : ({ ...t, ops } as unknown as ThreadScenario));
  }
  if (!changed) return s;
  return threads.length === 0 ? null : { ...s, threads };
}
