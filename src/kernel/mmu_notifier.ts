/**
 * mm/mmu_notifier.c: dispatch of the invalidation callbacks to every registered notifier, in list
 * order, inside the calling thread (with its locks and atomic context).
 *
 * srcu_read_lock(&srcu) around each walk is not modelled as a step: it never blocks and does not
 * forbid sleeping (reference §1.0); registration and unregistration are not modelled yet.
 */
import { PAGE_SIZE, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import { ModelError } from '../runtime/errors';
import type { KernelContext } from './context';
import type { MmuNotifierRange } from '../notifier/definition';

const START = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_start', 'v4.13');
const START_419 = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_start(blockable = false)', 'v4.19');
const END = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_end', 'v4.13');
const RANGE = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range', 'v4.13');
const PAGE = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_page', 'v4.12');

function rangeText(r: MmuNotifierRange): string {
  return `${hex(r.start)}, ${hex(r.end)}`;
}

/**
 * `mmu_notifier_invalidate_range_start(mm, start, end)`; `caller` is the call site, for the trace.
 * With `blockable` false (`mmu_notifier_invalidate_range_start_nonblock`, v4.19+) the callbacks run
 * in a non-blockable section, every notifier is still called after one fails, and the last error is
 * returned (mm/mmu_notifier.c __mmu_notifier_invalidate_range_start v4.19.95).
 */
export function* invalidateRangeStart(kc: KernelContext, range: MmuNotifierRange, caller: Site, blockable = true): Gen<number> {
  if (kc.notifiers.length === 0) return 0; // mm_has_notifiers()
  yield* p.notify(p.NOTIFY_START, range.start, range.end, `mmu_notifier_invalidate_range_start${blockable ? '' : '_nonblock'}(${rangeText(range)})`, caller);
  const r = blockable ? range : { ...range, blockable: false };
  if (!blockable) yield* p.nonBlockStart(START_419);
  let ret = 0;
  for (const n of kc.notifiers) {
    const cb = n.def.ops.invalidateRangeStart;
    if (cb) {
      yield* p.note(`-> ${n.def.name} ->invalidate_range_start`, blockable ? START : START_419);
      const got = yield* cb(kc.k, n.state, r);
      if (got !== undefined && got !== 0) {
        if (typeof got !== 'number') throw new ModelError(`${n.def.name} ->invalidate_range_start returned ${JSON.stringify(got)}, not 0 or -EAGAIN`);
        if (blockable) throw new ModelError(`${n.def.name} ->invalidate_range_start failed (${got}) in a blockable context`);
        yield* p.note(`${n.def.name} ->invalidate_range_start failed with ${got} in non-blockable context`, START_419);
        ret = got;
        continue; // a failed start is owed no end
      }
    }
    if (cb || n.def.ops.invalidateRangeEnd) yield* p.bracketOpen(n.def.name, range.start, range.end, blockable ? START : START_419);
  }
  if (!blockable) yield* p.nonBlockEnd(START_419);
  return ret;
}

/**
 * `mmu_notifier_invalidate_range_end(mm, start, end)`: it calls `->invalidate_range` too, "to avoid
 * the need for the subsystem of having to register an invalidate_range_end call-back when there is
 * invalidate_range already", then `->invalidate_range_end`. `onlyEnd` is
 * `mmu_notifier_invalidate_range_only_end()` (v4.15+): the PTL call already happened.
 */
export function* invalidateRangeEnd(kc: KernelContext, range: MmuNotifierRange, caller: Site, onlyEnd = false): Gen {
  if (kc.notifiers.length === 0) return;
  const alsoRange = kc.era.rangeEndCallsInvalidateRange && !onlyEnd;
  yield* p.notify(p.NOTIFY_END, range.start, range.end, `mmu_notifier_invalidate_range_${onlyEnd ? 'only_' : ''}end(${rangeText(range)})`, caller, alsoRange);
  for (const n of kc.notifiers) {
    const ir = n.def.ops.invalidateRange;
    if (ir && kc.era.rangeEndCallsInvalidateRange && !onlyEnd) {
      yield* p.note(`-> ${n.def.name} ->invalidate_range`, END);
      yield* ir(kc.k, n.state, range);
    }
    const cb = n.def.ops.invalidateRangeEnd;
    if (cb || n.def.ops.invalidateRangeStart) yield* p.bracketClose(n.def.name, range.start, range.end, END);
    if (cb) yield* cb(kc.k, n.state, range);
  }
}

/**
 * `mmu_notifier_invalidate_range(mm, start, end)`: often called under the PTL (atomic). The call is
 * shown in the trace even when no notifier implements `->invalidate_range` (a start/end user such as
 * KVM then learns nothing: aac2fea9's bug 1).
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
}

export const PAGE_RANGE = (address: number): MmuNotifierRange => ({ start: address, end: address + PAGE_SIZE });
