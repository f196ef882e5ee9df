/**
 * mm/mmu_notifier.c: dispatch of the invalidation callbacks to every registered notifier, in list
 * order, inside the calling thread (with its locks and atomic context).
 *
 * srcu_read_lock(&srcu) around each walk is not modelled as a step: it never blocks and does not
 * forbid sleeping (reference §1.0); registration and unregistration are not modelled yet.
 */
import { PAGE_SIZE, VMA_BASE, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import { ModelError } from '../runtime/errors';
import type { KernelContext } from './context';
import type { MmuNotifierRange, MmuNotifyEvent, NotifierInstance } from '../notifier/definition';
import { mnItreeInvEnd, mnItreeInvalidate } from './mmu_interval_notifier';

const START = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_start', 'v4.13');
const START_419 = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_start(blockable = false)', 'v4.19');
const END = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_end', 'v4.13');
const RANGE = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range', 'v4.13');
const PAGE = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_page', 'v4.12');
const START_FIX = site('mm/mmu_notifier.c', 'mn_hlist_invalidate_range_start: end the notifiers whose start succeeded', 'v6.8');
const FLUSH_TLB_MM_RANGE = site('arch/x86/mm/tlb.c', 'flush_tlb_mm_range', 'v6.8');
const ARCH = site('mm/mmu_notifier.c', '__mmu_notifier_arch_invalidate_secondary_tlbs', 'v6.8');

function rangeText(r: MmuNotifierRange): string {
  return `${hex(r.start)}, ${hex(r.end)}`;
}

/**
 * `mmu_notifier_range_init(&range, event, flags, vma, mm, start, end)` (v5.0+) or the `start, end`
 * arguments (earlier): the event is only there from v5.2 (Era.events); `blockable` false is the
 * OOM reaper's non-blockable invalidation.
 */
export function mmuNotifierRange(kc: KernelContext, event: MmuNotifyEvent, start: number, end: number, blockable = true): MmuNotifierRange {
  const r: { start: number; end: number; blockable?: boolean; event?: MmuNotifyEvent } = { start, end };
  if (!blockable) r.blockable = false;
  if (kc.era.events) r.event = event;
  return r;
}

/**
 * `mmu_notifier_invalidate_range_start(range)`; `caller` is the call site, for the trace. From v5.5
 * the interval tree is invalidated first and a failure there returns before any hlist notifier runs.
 * With `range.blockable === false` (`mmu_notifier_invalidate_range_start_nonblock`, v4.19+) the
 * callbacks run in a non-blockable section, every hlist notifier is still called after one fails,
 * and the last error is returned (mm/mmu_notifier.c __mmu_notifier_invalidate_range_start v4.19.95,
 * mn_hlist_invalidate_range_start v5.7.14).
 */
export function* invalidateRangeStart(kc: KernelContext, range: MmuNotifierRange, caller: Site): Gen<number> {
  if (kc.notifiers.length === 0) return 0; // mm_has_notifiers()
  const blockable = range.blockable !== false;
  yield* p.notify(p.NOTIFY_START, range.start, range.end, `mmu_notifier_invalidate_range_start${blockable ? '' : '_nonblock'}(${rangeText(range)}${range.event ? `, ${range.event}` : ''})`, caller);
  if (kc.era.intervalNotifiers && kc.itree) {
    const ret = yield* mnItreeInvalidate(kc, kc.itree, range);
    if (ret !== 0) return ret;
  }
  if (!blockable) yield* p.nonBlockStart(START_419);
  let ret = 0;
  const failed = new Set<NotifierInstance>();
  for (const n of kc.notifiers) {
    const cb = n.def.ops.invalidateRangeStart;
    if (cb) {
      yield* p.note(`-> ${n.def.name} ->invalidate_range_start`, blockable ? START : START_419);
      const got = yield* cb(kc.k, n.state, range);
      if (got !== undefined && got !== 0) {
        if (typeof got !== 'number') throw new ModelError(`${n.def.name} ->invalidate_range_start returned ${JSON.stringify(got)}, not 0 or -EAGAIN`);
        if (blockable) throw new ModelError(`${n.def.name} ->invalidate_range_start failed (${got}) in a blockable context`);
        yield* p.note(`${n.def.name} ->invalidate_range_start failed with ${got} in non-blockable context`, START_419);
        if (kc.era.failedStartEndsOthers && n.def.ops.invalidateRangeEnd) {
          // WARN_ON(ops->invalidate_range_end): "a start that does EAGAIN can't also do end"
          throw new ModelError(`${n.def.name} fails a non-blockable invalidate_range_start but implements invalidate_range_end, which ${kc.era.name} forbids (mm/mmu_notifier.c v6.8)`);
        }
        ret = got;
        failed.add(n);
        continue; // a failed start is owed no end
      }
    }
    if (cb || n.def.ops.invalidateRangeEnd) yield* p.bracketOpen(n.def.name, range.start, range.end, blockable ? START : START_419);
  }
  if (ret !== 0 && kc.era.failedStartEndsOthers) {
    // "If there are multiple notifiers and one or more failed start, any that succeeded start are
    // expecting their end to be called. Do so now."
    for (const n of kc.notifiers) {
      const end = n.def.ops.invalidateRangeEnd;
      if (!failed.has(n) && (end || n.def.ops.invalidateRangeStart)) yield* p.bracketClose(n.def.name, range.start, range.end, START_FIX);
      if (end) yield* end(kc.k, n.state, range);
    }
  }
  if (!blockable) yield* p.nonBlockEnd(START_419);
  return ret;
}

/**
 * `mmu_notifier_invalidate_range_end(range)`: the interval tree's end first (v5.5+), then for each
 * hlist notifier `->invalidate_range` too (≤ v6.5), "to avoid the need for the subsystem of having to
 * register an invalidate_range_end call-back when there is invalidate_range already", then
 * `->invalidate_range_end`, in a non-blockable section when the start was ("if
 * invalidate_range_start approves a non-blocking behavior then the same applies to
 * invalidate_range_end"). `onlyEnd` is `mmu_notifier_invalidate_range_only_end()` (v4.15 … v6.5).
 */
export function* invalidateRangeEnd(kc: KernelContext, range: MmuNotifierRange, caller: Site, onlyEnd = false): Gen {
  if (kc.notifiers.length === 0) return;
  const blockable = range.blockable !== false;
  const alsoRange = kc.era.rangeEndCallsInvalidateRange && !onlyEnd;
  yield* p.notify(p.NOTIFY_END, range.start, range.end, `mmu_notifier_invalidate_range_${onlyEnd ? 'only_' : ''}end(${rangeText(range)})`, caller, alsoRange);
  if (kc.era.intervalNotifiers && kc.itree) yield* mnItreeInvEnd(kc.itree, range);
  if (!blockable) yield* p.nonBlockStart(END);
  for (const n of kc.notifiers) {
    const ir = n.def.ops.invalidateRange;
    if (ir && alsoRange) {
      yield* p.note(`-> ${n.def.name} ->invalidate_range`, END);
      yield* ir(kc.k, n.state, range);
    }
    const cb = n.def.ops.invalidateRangeEnd;
    if (cb || n.def.ops.invalidateRangeStart) yield* p.bracketClose(n.def.name, range.start, range.end, END);
    if (cb) yield* cb(kc.k, n.state, range);
  }
  if (!blockable) yield* p.nonBlockEnd(END);
  yield* p.notify(p.NOTIFY_DONE, range.start, range.end, `mmu_notifier_invalidate_range_end(${rangeText(range)}) returned`, caller);
}

/**
 * `mmu_notifier_invalidate_range(mm, start, end)` (≤ v6.5): often called under the PTL (atomic). The
 * call is shown in the trace even when no notifier implements `->invalidate_range` (a start/end user
 * such as KVM then learns nothing: aac2fea9's bug 1).
 */
export function* invalidateRange(kc: KernelContext, range: MmuNotifierRange, caller: Site): Gen {
  if (kc.notifiers.length === 0) return;
  yield* p.notify(p.NOTIFY_RANGE, range.start, range.end, `mmu_notifier_invalidate_range(${rangeText(range)})`, caller);
  for (const n of kc.notifiers) {
    const cb = n.def.ops.invalidateRange;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->invalidate_range`, RANGE);
    yield* cb(kc.k, n.state, range);
  }
  yield* p.notify(p.NOTIFY_DONE, range.start, range.end, 'mmu_notifier_invalidate_range returned', caller);
}

/** `mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end)` (v6.6+), from the arch TLB flush. */
export function* archInvalidateSecondaryTlbs(kc: KernelContext, range: MmuNotifierRange, caller: Site): Gen {
  if (kc.notifiers.length === 0) return;
  const all = range.end >= ALL_END;
  yield* p.notify(p.NOTIFY_RANGE, range.start, range.end, `mmu_notifier_arch_invalidate_secondary_tlbs(${all ? '0, -1UL' : rangeText(range)})`, caller);
  for (const n of kc.notifiers) {
    const cb = n.def.ops.archInvalidateSecondaryTlbs;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->arch_invalidate_secondary_tlbs`, ARCH);
    yield* cb(kc.k, n.state, range);
  }
  yield* p.notify(p.NOTIFY_DONE, range.start, range.end, 'mmu_notifier_arch_invalidate_secondary_tlbs returned', caller);
}

/**
 * A CPU TLB flush of [startVpn, endVpn) by the architecture (flush_tlb_range / flush_tlb_mm /
 * tlb_finish_mmu): from v6.6 it also calls ->arch_invalidate_secondary_tlbs (x86 flush_tlb_mm_range
 * v6.8); before, it tells no notifier.
 */
export function* flushTlb(kc: KernelContext, startVpn: number, endVpn: number, caller: Site): Gen {
  yield* p.tlbFlush(startVpn, endVpn, caller);
  if (kc.era.secondaryTlbs === 'arch-tlb-flush') {
    yield* archInvalidateSecondaryTlbs(kc, { start: VMA_BASE + startVpn * PAGE_SIZE, end: VMA_BASE + endVpn * PAGE_SIZE }, FLUSH_TLB_MM_RANGE);
  }
}

/** `-1UL` as a range end: "everything" (arch_tlbbatch_add_pending's (0, -1UL)). */
export const ALL_END = Number.MAX_SAFE_INTEGER;

/**
 * What tells devices that share the CPU page table about a changed PTE, at a point where the CPU
 * TLB is (or is about to be) flushed: `->invalidate_range` called by the core VM (≤ v6.5) or
 * `->arch_invalidate_secondary_tlbs` called by the arch TLB flush (v6.6+). `caller` names the site
 * of the era in effect.
 */
export function* secondaryTlbInvalidate(kc: KernelContext, range: MmuNotifierRange, caller: Site, archCaller: Site): Gen {
  if (kc.era.secondaryTlbs === 'invalidate-range') yield* invalidateRange(kc, range, caller);
  else yield* archInvalidateSecondaryTlbs(kc, range, archCaller);
}

/**
 * `mmu_notifier_invalidate_page(mm, address)` (≤ v4.12): only `->invalidate_page`; the dispatcher
 * does not call `->invalidate_range` for it (mm/mmu_notifier.c v4.10, v4.12).
 */
export function* invalidatePage(kc: KernelContext, address: number, caller: Site): Gen {
  if (kc.notifiers.length === 0) return;
  yield* p.notify(p.NOTIFY_PAGE, address, address + PAGE_SIZE, `mmu_notifier_invalidate_page(${hex(address)})`, caller);
  for (const n of kc.notifiers) {
    const cb = n.def.ops.invalidatePage;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->invalidate_page`, PAGE);
    yield* cb(kc.k, n.state, address);
  }
  yield* p.notify(p.NOTIFY_DONE, address, address + PAGE_SIZE, 'mmu_notifier_invalidate_page returned', caller);
}

export const PAGE_RANGE = (address: number): MmuNotifierRange => ({ start: address, end: address + PAGE_SIZE });
