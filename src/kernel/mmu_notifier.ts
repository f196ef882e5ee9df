/**
 * mm/mmu_notifier.c: dispatch of the invalidation callbacks to every registered notifier, in list
 * order, inside the calling thread (with its locks and atomic context).
 *
 * srcu_read_lock(&srcu) around each walk, and the walk's view of which notifiers are still hashed,
 * are modelled only when the scenario can exit or unregister (`kc.lifetime`): without it nothing is
 * ever unlinked and no step is added. Registration is not modelled (notifiers register before the
 * threads run).
 */
import { PAGE_SIZE, VMA_BASE, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import { ModelError } from '../runtime/errors';
import type { KernelContext } from './context';
import { ANON_VMA_RWSEM, MMAP_SEM } from './mm';
import type { MmuNotifierRange, MmuNotifyEvent, NewPte, NotifierInstance } from '../notifier/definition';
import { hasItree, mnItreeInvEnd, mnItreeInvalidate } from './mmu_interval_notifier';

const START = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_start', 'v4.13');
const START_419 = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_start(blockable = false)', 'v4.19');
const END = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range_end', 'v4.13');
const RANGE = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_range', 'v4.13');
const PAGE = site('mm/mmu_notifier.c', '__mmu_notifier_invalidate_page', 'v4.12');
const START_FIX = site('mm/mmu_notifier.c', 'mn_hlist_invalidate_range_start: end the notifiers whose start succeeded', 'v6.8');
const FLUSH_TLB_MM_RANGE = site('arch/x86/mm/tlb.c', 'flush_tlb_mm_range', 'v6.8');
const ARCH = site('mm/mmu_notifier.c', '__mmu_notifier_arch_invalidate_secondary_tlbs', 'v6.8');
const SRCU_LOCK = site('include/linux/srcu.h', 'srcu_read_lock(&srcu)', 'v4.13', 'classic two-index SRCU: the reader increments the count of the current index');
const SRCU_UNLOCK = site('include/linux/srcu.h', 'srcu_read_unlock(&srcu, id)', 'v4.13');
const SYNC_SRCU = site('kernel/rcu/srcutree.c', 'synchronize_srcu', 'v4.13', 'modelled as classic SRCU (kernel/rcu/srcu.c ≤ v4.11): wait for the other index to drain, flip, wait for the old one; the guarantee, every reader that began before it has ended, is srcutree\'s too');
const HLIST = site('mm/mmu_notifier.c', 'hlist_for_each_entry_rcu(mn, &mm->mmu_notifier_mm->list, hlist)', 'v4.13', 'the list is read once per walk (a reader may see the list as it was when it began)');
const CALLBACK = site('mm/mmu_notifier.c', 'mn->ops->…(mn, …)', 'v4.13', 'model bookkeeping: a callback of this notifier is running (no-callback-after-unregister)');
const RELEASE = site('mm/mmu_notifier.c', '__mmu_notifier_release', 'v4.13');
const HLIST_RELEASE = site('mm/mmu_notifier.c', 'mn_hlist_release', 'v5.7');
const ITREE_RELEASE = site('mm/mmu_notifier.c', 'mn_itree_release', 'v5.7');
const UNREGISTER = site('mm/mmu_notifier.c', 'mmu_notifier_unregister', 'v4.13');

function rangeText(r: MmuNotifierRange): string {
  return `${hex(r.start)}, ${hex(r.end)}`;
}

/**
 * `id = srcu_read_lock(&srcu)` around every walk of the notifier list, modelled only when the mm can
 * exit or a notifier unregister (`kc.lifetime`): classic SRCU, two reader counts, the reader
 * increments the one of the current index. Returns the index (-1 without lifetime).
 */
export function* srcuReadLock(kc: KernelContext, at: Site = SRCU_LOCK): Gen<number> {
  const lt = kc.lifetime;
  if (!lt) return -1;
  const idx = yield* p.read(lt.srcuIdx, at);
  yield* p.add(lt.srcuReaders[idx], 1, at);
  return idx;
}

/** `srcu_read_unlock(&srcu, id)`. */
export function* srcuReadUnlock(kc: KernelContext, idx: number, at: Site = SRCU_UNLOCK): Gen {
  const lt = kc.lifetime;
  if (!lt || idx < 0) return;
  yield* p.add(lt.srcuReaders[idx], -1, at);
}

/**
 * `synchronize_srcu(&srcu)`: returns only after every reader that was in its read section when it
 * began has left it. Under srcu->mutex: wait for the readers still counted on the inactive index
 * (they read the index before an earlier flip), flip the index so new readers count on the other
 * one, wait for the readers of the old index. Sleeps.
 */
export function* synchronizeSrcu(kc: KernelContext, at: Site = SYNC_SRCU): Gen {
  const lt = kc.lifetime;
  if (!lt) return;
  yield* p.mutexLock(lt.srcuMutex, at);
  const cur = yield* p.read(lt.srcuIdx, at);
  yield* p.waitCounter(lt.srcuReaders[1 - cur], 0, at, `wait for the srcu readers of index ${1 - cur}`);
  yield* p.write(lt.srcuIdx, 1 - cur, at);
  yield* p.waitCounter(lt.srcuReaders[cur], 0, at, `wait for the srcu readers of index ${cur}`);
  yield* p.mutexUnlock(lt.srcuMutex, at);
}

/** The notifiers a walk of `mm->mmu_notifier_mm->list` finds: those still hashed (all, without lifetime). */
export function* hlist(kc: KernelContext): Gen<readonly NotifierInstance[]> {
  const lt = kc.lifetime;
  if (!lt) return kc.notifiers;
  const mask = yield* p.read(lt.list, HLIST);
  return kc.notifiers.filter((_, i) => ((mask >> i) & 1) === 1);
}

/** Runs one callback of `n`, counted as running while it does (with lifetime: no-callback-after-unregister). */
export function* call<T>(kc: KernelContext, n: NotifierInstance, body: Gen<T>): Gen<T> {
  const lt = kc.lifetime;
  if (!lt) return yield* body;
  const c = lt.running[kc.notifiers.indexOf(n)];
  yield* p.add(c, 1, CALLBACK);
  const r = yield* body;
  yield* p.add(c, -1, CALLBACK);
  return r;
}

/**
 * The notifiers whose range_start opened a bracket for a range (by the range object the call site
 * passes to both start and end): one unlinked in between (exit_mmap's release, unregister) gets no
 * end from the dispatcher, and its bracket is dropped rather than left open. Thread-local: the range
 * lives on the caller's stack.
 */
const opened = new WeakMap<MmuNotifierRange, Set<NotifierInstance>>();

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
  if (kc.era.intervalNotifiers && kc.itree && (yield* hasItree(kc.itree, START))) {
    const ret = yield* mnItreeInvalidate(kc, kc.itree, range);
    if (ret !== 0) return ret;
  }
  if (!blockable) yield* p.nonBlockStart(START_419);
  let ret = 0;
  const failed = new Set<NotifierInstance>();
  const srcu = yield* srcuReadLock(kc);
  const hashed = yield* hlist(kc);
  if (kc.lifetime) opened.set(range, new Set());
  for (const n of hashed) {
    const cb = n.def.ops.invalidateRangeStart;
    if (cb) {
      yield* p.note(`-> ${n.def.name} ->invalidate_range_start`, blockable ? START : START_419);
      const got = yield* call(kc, n, cb(kc.k, n.state, range));
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
    if (cb || n.def.ops.invalidateRangeEnd) {
      yield* p.bracketOpen(n.def.name, range.start, range.end, blockable ? START : START_419);
      opened.get(range)?.add(n);
    }
  }
  if (ret !== 0 && kc.era.failedStartEndsOthers) {
    // "If there are multiple notifiers and one or more failed start, any that succeeded start are
    // expecting their end to be called. Do so now."
    for (const n of hashed) {
      const end = n.def.ops.invalidateRangeEnd;
      if (!failed.has(n) && (end || n.def.ops.invalidateRangeStart)) yield* p.bracketClose(n.def.name, range.start, range.end, START_FIX);
      if (end) yield* call(kc, n, end(kc.k, n.state, range));
    }
    opened.delete(range);
  }
  yield* srcuReadUnlock(kc, srcu);
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
  if (kc.era.intervalNotifiers && kc.itree && (yield* hasItree(kc.itree, END))) yield* mnItreeInvEnd(kc.itree, range);
  if (!blockable) yield* p.nonBlockStart(END);
  const srcu = yield* srcuReadLock(kc);
  const hashed = yield* hlist(kc);
  const wasOpened = opened.get(range);
  opened.delete(range);
  for (const n of kc.notifiers) {
    if (!hashed.includes(n)) {
      // unlinked since its start (exit_mmap's release, or unregister): the walk no longer finds it
      if (wasOpened?.has(n)) yield* p.bracketClose(n.def.name, range.start, range.end, site('mm/mmu_notifier.c', `${n.def.name} is unhashed: it gets no ->invalidate_range_end`, 'v4.13'));
      continue;
    }
    const ir = n.def.ops.invalidateRange;
    if (ir && alsoRange) {
      yield* p.note(`-> ${n.def.name} ->invalidate_range`, END);
      yield* call(kc, n, ir(kc.k, n.state, range));
    }
    const cb = n.def.ops.invalidateRangeEnd;
    if (cb || n.def.ops.invalidateRangeStart) yield* p.bracketClose(n.def.name, range.start, range.end, END);
    if (cb) yield* call(kc, n, cb(kc.k, n.state, range));
  }
  yield* srcuReadUnlock(kc, srcu);
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
  const srcu = yield* srcuReadLock(kc);
  for (const n of yield* hlist(kc)) {
    const cb = n.def.ops.invalidateRange;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->invalidate_range`, RANGE);
    yield* call(kc, n, cb(kc.k, n.state, range));
  }
  yield* srcuReadUnlock(kc, srcu);
  yield* p.notify(p.NOTIFY_DONE, range.start, range.end, 'mmu_notifier_invalidate_range returned', caller);
}

/** `mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end)` (v6.6+), from the arch TLB flush. */
export function* archInvalidateSecondaryTlbs(kc: KernelContext, range: MmuNotifierRange, caller: Site): Gen {
  if (kc.notifiers.length === 0) return;
  const all = range.end >= ALL_END;
  yield* p.notify(p.NOTIFY_RANGE, range.start, range.end, `mmu_notifier_arch_invalidate_secondary_tlbs(${all ? '0, -1UL' : rangeText(range)})`, caller);
  const srcu = yield* srcuReadLock(kc);
  for (const n of yield* hlist(kc)) {
    const cb = n.def.ops.archInvalidateSecondaryTlbs;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->arch_invalidate_secondary_tlbs`, ARCH);
    yield* call(kc, n, cb(kc.k, n.state, range));
  }
  yield* srcuReadUnlock(kc, srcu);
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
export function* invalidatePage(kc: KernelContext, address: number, caller: Site, size = PAGE_SIZE): Gen {
  if (kc.notifiers.length === 0) return;
  // `size` > PAGE_SIZE: the page at `address` is a huge one (a DAX PMD, kernel/dax.ts): the call tells of
  // all of it, though the callbacks get the one address (catalogue B3)
  yield* p.notify(p.NOTIFY_PAGE, address, address + size, `mmu_notifier_invalidate_page(${hex(address)})${size > PAGE_SIZE ? ` of a ${size / PAGE_SIZE}-page PMD` : ''}`, caller);
  const srcu = yield* srcuReadLock(kc);
  for (const n of yield* hlist(kc)) {
    const cb = n.def.ops.invalidatePage;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->invalidate_page`, PAGE);
    yield* call(kc, n, cb(kc.k, n.state, address));
  }
  yield* srcuReadUnlock(kc, srcu);
  yield* p.notify(p.NOTIFY_DONE, address, address + size, 'mmu_notifier_invalidate_page returned', caller);
}

/**
 * `mmu_notifier_release(mm)` (exit_mmap, when `mm_has_notifiers`): from v5.5 first `mn_itree_release`
 * (every interval subscription's ->invalidate over [0, ULONG_MAX), MMU_NOTIFY_RELEASE, blockable;
 * the subscriptions stay in the tree), then the hlist: under srcu_read_lock every ->release of a
 * notifier still hashed ("the only way for the driver to flush all existing sptes and stop the
 * driver from establishing any more sptes before all the pages in the mm are freed"), then under
 * mmu_notifier_mm->lock every notifier is unlinked (hlist_del_init_rcu), srcu_read_unlock, and
 * synchronize_srcu "prevents mmu_notifier_release from returning to exit_mmap ... until the
 * ->release method returns, if it was invoked by mmu_notifier_unregister" (mm/mmu_notifier.c
 * __mmu_notifier_release v4.13.19; mn_itree_release, mn_hlist_release v5.7.14).
 */
export function* mmuNotifierRelease(kc: KernelContext, caller: Site, opts: UnregisterOptions = {}): Gen {
  if (kc.notifiers.length === 0) return; // mm_has_notifiers()
  yield* p.note('mmu_notifier_release(mm)', caller);
  if (kc.era.intervalNotifiers && kc.itree && (yield* hasItree(kc.itree, ITREE_RELEASE))) {
    // struct mmu_notifier_range range = { .flags = BLOCKABLE, .event = MMU_NOTIFY_RELEASE, .start = 0, .end = ULONG_MAX }:
    // each driver clamps it to its own interval (mlx5_ib_invalidate_range: max(ib_umem_start, start),
    // gntdev_invalidate: max(range->start, map->vma->vm_start), v5.7), so the model passes the union
    // of the subscriptions, which the modelled drivers take whole
    const range = mmuNotifierRange(kc, 'MMU_NOTIFY_RELEASE', Math.min(...kc.itree.subs.map((x) => x.start)), Math.max(...kc.itree.subs.map((x) => x.end)));
    yield* p.note('mn_itree_release: every interval subscription ->invalidate(0, ULONG_MAX, MMU_NOTIFY_RELEASE)', ITREE_RELEASE);
    yield* mnItreeInvalidate(kc, kc.itree, range); // blockable: WARN_ON(!ret) only
    yield* mnItreeInvEnd(kc.itree, range);
  }
  const at = kc.era.intervalNotifiers ? HLIST_RELEASE : RELEASE;
  const lt = kc.lifetime;
  // "SRCU here will block mmu_notifier_unregister until ->release returns."
  const srcu = yield* srcuReadLock(kc);
  for (const n of yield* hlist(kc)) {
    const cb = n.def.ops.release;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->release`, at);
    yield* call(kc, n, cb(kc.k, n.state));
  }
  if (lt) {
    // spin_lock(&mm->mmu_notifier_mm->lock); while (!hlist_empty(list)) hlist_del_init_rcu(first)
    yield* p.spinLock(lt.lock, at);
    yield* p.write(lt.list, 0, site('mm/mmu_notifier.c', '__mmu_notifier_release: hlist_del_init_rcu every notifier', 'v4.13'));
    yield* p.spinUnlock(lt.lock, at);
  }
  yield* srcuReadUnlock(kc, srcu);
  if (opts.synchronize !== false) yield* synchronizeSrcu(kc);
  else yield* p.note('(test) synchronize_srcu left out', at);
}

export interface UnregisterOptions {
  /** Tests only: leave out the final synchronize_srcu (the guarantee of mmu_notifier_unregister / _release breaks). */
  readonly synchronize?: boolean;
}

/**
 * `mmu_notifier_unregister(mn, mm)` of notifier `index`: if it is still hashed, its ->release under
 * srcu_read_lock ("SRCU here will force exit_mmap to wait for ->release to finish before freeing the
 * pages"), then hlist_del_init_rcu under mmu_notifier_mm->lock; then, always, synchronize_srcu:
 * "Wait for any running method to finish, of course including ->release if it was run by
 * mmu_notifier_release instead of us". After it returns "->release or any other method can't run
 * anymore" (mm/mmu_notifier.c v4.13.19; the same in v5.7.14 and v6.8). A driver that registered
 * only interval subscriptions (no hlist callback) removes them with mmu_interval_notifier_remove
 * instead, which is not modelled.
 */
export function* mmuNotifierUnregister(kc: KernelContext, index: number, caller: Site, opts: UnregisterOptions = {}): Gen {
  const n = kc.notifiers[index];
  const lt = kc.lifetime;
  if (!n || !lt) throw new ModelError(`mmu_notifier_unregister of notifier ${index}: no such notifier, or the scenario has no lifetime objects`);
  if (!onHlist(n)) {
    // only interval subscriptions: they are not on the hlist (the device thread removes them instead)
    yield* p.note(`${n.def.name} has no hlist notifier: nothing to unregister`, caller);
    return;
  }
  yield* p.note(`mmu_notifier_unregister(${n.def.name})`, caller);
  const bit = 1 << index;
  // if (!hlist_unhashed(&mn->hlist))
  if (((yield* p.read(lt.list, UNREGISTER)) & bit) !== 0) {
    const srcu = yield* srcuReadLock(kc);
    const cb = n.def.ops.release;
    if (cb) {
      yield* p.note(`-> ${n.def.name} ->release`, UNREGISTER);
      yield* call(kc, n, cb(kc.k, n.state));
    }
    yield* srcuReadUnlock(kc, srcu);
    // "Can not use list_del_rcu() since __mmu_notifier_release can delete it before we hold the lock."
    yield* p.spinLock(lt.lock, UNREGISTER);
    const mask = yield* p.read(lt.list, UNREGISTER);
    yield* p.write(lt.list, mask & ~bit, site('mm/mmu_notifier.c', 'mmu_notifier_unregister: hlist_del_init_rcu', 'v4.13'));
    yield* p.spinUnlock(lt.lock, UNREGISTER);
  } else {
    yield* p.note(`${n.def.name} is already unhashed (exit_mmap's release unlinked it): only wait`, UNREGISTER);
  }
  if (opts.synchronize !== false) yield* synchronizeSrcu(kc);
  else yield* p.note('(test) synchronize_srcu left out', UNREGISTER);
  // mmdrop(mm); return: from here on no callback of this notifier may run
  yield* p.write(lt.unregistered[index], 1, site('mm/mmu_notifier.c', 'mmu_notifier_unregister returns', 'v4.13'));
}

/** Whether a notifier implements any `struct mmu_notifier_ops` callback, i.e. has an hlist entry (not only interval subscriptions). */
export function onHlist(n: NotifierInstance): boolean {
  const ops = n.def.ops;
  return !!(ops.invalidateRangeStart || ops.invalidateRangeEnd || ops.invalidateRange || ops.invalidatePage || ops.archInvalidateSecondaryTlbs || ops.changePte || ops.clearFlushYoung || ops.release);
}

const REGISTER = site('mm/mmu_notifier.c', 'do_mmu_notifier_register', 'v4.13');
const TAKE_ALL = site('mm/mmap.c', 'mm_take_all_locks', 'v4.13', 'vm_lock_anon_vma: down_write(&anon_vma->root->rwsem) for every anon VMA (the model has one anon_vma)');
const DROP_ALL = site('mm/mmap.c', 'mm_drop_all_locks', 'v4.13');

/**
 * `mmu_notifier_register(mn, mm)` of notifier `index` while the mm is live (v4.13
 * do_mmu_notifier_register; v5.7 __mmu_notifier_register the same): mmap_sem for write, then
 * mm_take_all_locks — "This operation locks against the VM for all pte/vma/mm related operations
 * that could ever happen on a certain mm", here the anon_vma rwsem every rmap walk holds across its
 * bracket — so no range_start … range_end of another thread is in flight while the notifier is
 * added (hlist_add_head_rcu under mmu_notifier_mm->lock) and none will miss it afterwards.
 */
export function* mmuNotifierRegister(kc: KernelContext, index: number, caller: Site): Gen {
  const n = kc.notifiers[index];
  const lt = kc.lifetime;
  if (!n || !lt) throw new ModelError(`mmu_notifier_register of notifier ${index}: no such notifier, or the scenario has no lifetime objects`);
  yield* p.note(`mmu_notifier_register(${n.def.name})`, caller);
  yield* p.downWrite(MMAP_SEM, REGISTER);
  yield* p.downWrite(ANON_VMA_RWSEM, TAKE_ALL);
  yield* p.spinLock(lt.lock, REGISTER);
  const mask = yield* p.read(lt.list, REGISTER);
  yield* p.write(lt.list, mask | (1 << index), site('mm/mmu_notifier.c', 'do_mmu_notifier_register: hlist_add_head_rcu', 'v4.13'));
  yield* p.spinUnlock(lt.lock, REGISTER);
  yield* p.upWrite(ANON_VMA_RWSEM, DROP_ALL);
  yield* p.upWrite(MMAP_SEM, REGISTER);
}

export const PAGE_RANGE = (address: number): MmuNotifierRange => ({ start: address, end: address + PAGE_SIZE });

const CHANGE_PTE = site('mm/mmu_notifier.c', '__mmu_notifier_change_pte', 'v4.13');

/**
 * `mmu_notifier_change_pte(mm, address, pte)`, the first half of `set_pte_at_notify()` (the
 * `set_pte_at()` follows it): `__mmu_notifier_change_pte` walks the hlist under srcu_read_lock and
 * calls every `->change_pte` (mm/mmu_notifier.c v4.13.19, v5.0.1; v6.8 the same walk over
 * `notifier_subscriptions->list`). Its callers hold the PTL, so the callbacks run atomic. The call
 * is shown in the trace only when some registered notifier implements `->change_pte` (it changes
 * nothing else), so executions without one run exactly the steps they did before it was modelled.
 */
export function* changePte(kc: KernelContext, address: number, pte: NewPte, at: Site): Gen {
  if (!kc.notifiers.some((n) => n.def.ops.changePte)) return; // mm_has_notifiers(), and nobody to call
  yield* p.note(`mmu_notifier_change_pte(${hex(address)}, pfn ${pte.pfn}${pte.writable ? ', writable' : ', read-only'})`, at);
  const srcu = yield* srcuReadLock(kc);
  for (const n of yield* hlist(kc)) {
    const cb = n.def.ops.changePte;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->change_pte`, CHANGE_PTE);
    yield* call(kc, n, cb(kc.k, n.state, address, pte));
  }
  yield* srcuReadUnlock(kc, srcu);
}

const CLEAR_FLUSH_YOUNG = site('mm/mmu_notifier.c', '__mmu_notifier_clear_flush_young', 'v4.13', 'the same walk in v4.10.17, v5.7.14 and v6.8: young |= ->clear_flush_young(mn, mm, start, end) under srcu_read_lock');

/**
 * `mmu_notifier_clear_flush_young(mm, start, end)` (include/linux/mmu_notifier.h: `if
 * (mm_has_notifiers(mm)) return __mmu_notifier_clear_flush_young(...)`; mm/mmu_notifier.c v4.10.17,
 * v4.13.19, v5.7.14, v6.8 [V]): under srcu_read_lock, every hashed notifier's `->clear_flush_young`,
 * the results ORed. Called from ptep_clear_flush_young_notify with the PTL held (atomic). Returns
 * whether any secondary MMU found the range young.
 */
export function* clearFlushYoung(kc: KernelContext, start: number, end: number, at: Site): Gen<boolean> {
  if (kc.notifiers.length === 0) return false; // mm_has_notifiers()
  yield* p.note(`mmu_notifier_clear_flush_young(${hex(start)}, ${hex(end)})`, at);
  let young = false;
  const srcu = yield* srcuReadLock(kc);
  for (const n of yield* hlist(kc)) {
    const cb = n.def.ops.clearFlushYoung;
    if (!cb) continue;
    yield* p.note(`-> ${n.def.name} ->clear_flush_young`, CLEAR_FLUSH_YOUNG);
    const r = yield* call(kc, n, cb(kc.k, n.state, { start, end }));
    if (r !== undefined && typeof r !== 'boolean' && typeof r !== 'number') throw new ModelError(`${n.def.name} ->clear_flush_young returned ${JSON.stringify(r)}, not a boolean or int`);
    if (r) young = true;
  }
  yield* srcuReadUnlock(kc, srcu);
  return young;
}
