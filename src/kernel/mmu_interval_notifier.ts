/**
 * The interval-tree half of mm/mmu_notifier.c (v5.5+; read in v5.7.14): mn_itree_invalidate,
 * mn_itree_inv_end, and the read side drivers use, mmu_interval_read_begin / read_retry / set_seq.
 *
 * The write side is "a collision-retry read-side/write-side 'lock', a lot like a seqcount, however
 * this allows multiple write-sides to hold it at once": invalidate_seq is made odd while any
 * subscribed range is being invalidated and even again by the last inv_end. Subscriptions are
 * inserted before the threads run, or by a device thread's `register` while they run
 * (mmu_interval_notifier_insert): then a tree update during an invalidation goes on the deferred
 * list and is done by the last inv_end, as mmu_interval_notifier_remove's is.
 */
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { MmuNotifierRange } from '../notifier/definition';
import { ModelError } from '../runtime/errors';
import type { IntervalTree, KernelContext } from './context';
import { ANON_VMA_RWSEM, MMAP_SEM } from './mm';
import type { Site } from '../runtime/site';

const START_RANGE = site('mm/mmu_notifier.c', 'mn_itree_inv_start_range', 'v5.7');
const INVALIDATE = site('mm/mmu_notifier.c', 'mn_itree_invalidate', 'v5.7');
const INV_END = site('mm/mmu_notifier.c', 'mn_itree_inv_end', 'v5.7');
const READ_BEGIN = site('mm/mmu_notifier.c', 'mmu_interval_read_begin', 'v5.7');
const READ_RETRY = site('include/linux/mmu_notifier.h', 'mmu_interval_read_retry', 'v5.7');
const SET_SEQ = site('include/linux/mmu_notifier.h', 'mmu_interval_set_seq', 'v5.7');
const CHECK_RETRY = site('include/linux/mmu_notifier.h', 'mmu_interval_check_retry', 'v5.7');

export const ITREE = 'mmu_interval_notifier tree';

function overlaps(t: IntervalTree, r: MmuNotifierRange) {
  return t.subs.filter((s) => s.start < r.end && r.start < s.end);
}

/** The overlapping subscriptions that are in the tree now (under subscriptions->lock: a lazily inserted one is read). */
function* inTreeOverlapping(t: IntervalTree, r: MmuNotifierRange): Gen<IntervalTree['subs']> {
  const out = [];
  for (const s of overlaps(t, r)) if (s.inTree === undefined || (yield* p.read(s.inTree, START_RANGE)) === 1) out.push(s);
  return out;
}

/**
 * `mn_itree_invalidate()`: `mn_itree_inv_start_range` (active_invalidate_ranges++, invalidate_seq |= 1
 * if a subscription overlaps, under subscriptions->lock), then each overlapping subscription's
 * ->invalidate(range, cur_seq). A false return in a non-blockable context ends the itree side and
 * returns -EAGAIN ("the non-blocking caller is not allowed to call invalidate_range_end()").
 */
export function* mnItreeInvalidate(kc: KernelContext, t: IntervalTree, range: MmuNotifierRange): Gen<number> {
  yield* p.spinLock(t.lock, START_RANGE);
  yield* p.add(t.activeRanges, 1, START_RANGE);
  const subs = yield* inTreeOverlapping(t, range);
  if (subs.length > 0) {
    const seq = yield* p.read(t.invalidateSeq, START_RANGE);
    if ((seq & 1) === 0) yield* p.write(t.invalidateSeq, seq | 1, START_RANGE);
  }
  const curSeq = yield* p.read(t.invalidateSeq, START_RANGE);
  yield* p.spinUnlock(t.lock, START_RANGE);
  for (const s of subs) {
    const cb = s.owner.def.ops.invalidate;
    if (!cb) throw new ModelError(`${s.owner.def.name} inserted an interval notifier but has no ops.invalidate`);
    yield* p.note(`-> ${s.owner.def.name} ${s.name} ->invalidate(cur_seq ${curSeq})`, INVALIDATE);
    // "Return false only if sleeping was required but mmu_notifier_range_blockable(range) is false":
    // the kernel does not wrap this call in non_block_start() (v5.7), but sleeping in it is as wrong
    // as in a non-blockable range_start, so the model checks it the same way
    if (range.blockable === false) yield* p.nonBlockStart(INVALIDATE);
    const ok = yield* cb(kc.k, s.owner.state, t.subs.indexOf(s), range, curSeq);
    if (range.blockable === false) yield* p.nonBlockEnd(INVALIDATE);
    if (typeof ok !== 'boolean') throw new ModelError(`${s.owner.def.name} ->invalidate returned ${JSON.stringify(ok)}, not a boolean`);
    if (!ok) {
      if (range.blockable !== false) {
        yield* p.note(`WARN_ON(mmu_notifier_range_blockable(range)): ${s.owner.def.name} ->invalidate returned false in a blockable context`, INVALIDATE);
        continue;
      }
      yield* p.note(`${s.owner.def.name} ->invalidate would block: out_would_block`, INVALIDATE);
      yield* mnItreeInvEnd(t);
      return -11;
    }
  }
  yield* p.bracketOpen(ITREE, range.start, range.end, INVALIDATE);
  return 0;
}

/** `mn_itree_inv_end()`: the last active range makes invalidate_seq even again (and wakes read_begin). */
export function* mnItreeInvEnd(t: IntervalTree, range?: MmuNotifierRange): Gen {
  if (range) yield* p.bracketClose(ITREE, range.start, range.end, INV_END);
  yield* p.spinLock(t.lock, INV_END);
  const active = yield* p.add(t.activeRanges, -1, INV_END);
  const seq = yield* p.read(t.invalidateSeq, INV_END);
  if (active === 0 && (seq & 1) === 1) {
    yield* p.write(t.invalidateSeq, seq + 1, INV_END); // "Make invalidate_seq even"; wake_up_all (after the unlock)
    // "Adds and removes are queued until the final inv_end happens then they are progressed"
    for (const s of t.subs) {
      if (s.deferred === undefined || s.inTree === undefined || (yield* p.read(s.deferred, INV_END)) === 0) continue;
      const inTree = yield* p.read(s.inTree, INV_END);
      yield* p.write(s.inTree, inTree ? 0 : 1, INV_END); // interval_tree_insert / interval_tree_remove
      yield* p.write(s.deferred, 0, INV_END); // hlist_del(&interval_sub->deferred_item)
    }
  }
  yield* p.spinUnlock(t.lock, INV_END);
}

/** `subscriptions->has_itree` (true unless the first subscription is still to be inserted). */
export function* hasItree(t: IntervalTree, at: Site): Gen<boolean> {
  return t.hasItree === undefined || (yield* p.read(t.hasItree, at)) === 1;
}

const REGISTER = site('mm/mmu_notifier.c', '__mmu_notifier_register', 'v5.7');
const INSERT = site('mm/mmu_notifier.c', '__mmu_interval_notifier_insert', 'v5.7');
const REMOVE = site('mm/mmu_notifier.c', 'mmu_interval_notifier_remove', 'v5.7');

/**
 * `mmu_interval_notifier_insert()` (v5.7): the first insertion registers the itree
 * (`mmu_notifier_register(NULL, mm)`: mmap_sem for write, mm_take_all_locks — here the anon_vma
 * rwsem, the lock every rmap walk holds across its bracket — then has_itree = true), so no
 * invalidation is in flight across it. Then under subscriptions->lock: while ranges are active the
 * new subscription gets the odd `invalidate_seq` (so read_begin waits) and goes on the deferred list
 * if the itree is invalidating, else into the tree with invalidate_seq made odd; with none active
 * it is inserted with `invalidate_seq - 1`.
 */
export function* mmuIntervalNotifierInsert(kc: KernelContext, sub: number): Gen {
  const t = tree(kc);
  const s = subOf(kc, sub);
  if (s.inTree === undefined || s.deferred === undefined) throw new ModelError(`${s.name} was inserted before the threads ran`);
  if (t.hasItree !== undefined && !(yield* hasItree(t, INSERT))) {
    yield* p.downWrite(MMAP_SEM, REGISTER); // mmu_notifier_register: down_write(&mm->mmap_sem)
    yield* p.downWrite(ANON_VMA_RWSEM, site('mm/mmap.c', 'mm_take_all_locks', 'v5.7')); // vm_lock_anon_vma: down_write(&anon_vma->root->rwsem)
    yield* p.write(t.hasItree, 1, REGISTER); // mm->notifier_subscriptions->has_itree = true
    yield* p.upWrite(ANON_VMA_RWSEM, site('mm/mmap.c', 'mm_drop_all_locks', 'v5.7'));
    yield* p.upWrite(MMAP_SEM, REGISTER);
  }
  yield* p.spinLock(t.lock, INSERT);
  const active = yield* p.read(t.activeRanges, INSERT);
  let seq = yield* p.read(t.invalidateSeq, INSERT);
  if (active > 0) {
    if ((seq & 1) === 1) yield* p.write(s.deferred, 1, INSERT); // mn_itree_is_invalidating: hlist_add_head(deferred_list)
    else {
      seq |= 1;
      yield* p.write(t.invalidateSeq, seq, INSERT); // subscriptions->invalidate_seq |= 1
      yield* p.write(s.inTree, 1, INSERT); // interval_tree_insert
    }
    yield* p.write(s.seq, seq, INSERT); // interval_sub->invalidate_seq = subscriptions->invalidate_seq
  } else {
    yield* p.write(s.seq, seq - 1, INSERT);
    yield* p.write(s.inTree, 1, INSERT);
  }
  yield* p.spinUnlock(t.lock, INSERT);
}

/**
 * `mmu_interval_notifier_remove()` (v5.7): not from a callback; while the itree is invalidating, a
 * subscription still on the deferred list is just taken off it, one in the tree is queued for
 * removal and the caller sleeps until invalidate_seq moves on ("Once this returns ops callbacks
 * are no longer running on other CPUs and will not be called in future").
 */
export function* mmuIntervalNotifierRemove(kc: KernelContext, sub: number): Gen {
  const t = tree(kc);
  const s = subOf(kc, sub);
  if (s.inTree === undefined || s.deferred === undefined) throw new ModelError(`${s.name} was inserted before the threads ran and is never removed`);
  yield* p.spinLock(t.lock, REMOVE);
  const seq = yield* p.read(t.invalidateSeq, REMOVE);
  let wait = 0;
  if ((seq & 1) === 1) {
    if ((yield* p.read(s.inTree, REMOVE)) === 0) yield* p.write(s.deferred, 0, REMOVE); // RB_EMPTY_NODE: hlist_del(deferred_item)
    else {
      yield* p.write(s.deferred, 1, REMOVE);
      wait = seq;
    }
  } else yield* p.write(s.inTree, 0, REMOVE); // interval_tree_remove
  yield* p.spinUnlock(t.lock, REMOVE);
  if (wait) yield* p.waitCounterChange(t.invalidateSeq, wait, REMOVE, `wait_event(subscriptions->wq, invalidate_seq != ${wait})`);
}

function tree(kc: KernelContext): IntervalTree {
  if (!kc.itree) throw new ModelError('mmu_interval_* called, but no interval notifier was inserted (SetupApi.intervalNotifier)');
  if (!kc.era.intervalNotifiers) throw new ModelError(`interval notifiers do not exist in ${kc.era.name}`);
  return kc.itree;
}

function subOf(kc: KernelContext, sub: number) {
  const s = tree(kc).subs[sub];
  if (!s) throw new ModelError(`no interval subscription ${sub}`);
  return s;
}

/**
 * `mmu_interval_read_begin()`: under subscriptions->lock, seq = interval_sub->invalidate_seq and
 * "is_invalidating = seq == subscriptions->invalidate_seq"; if so, wait_event until the mm's
 * invalidate_seq moves on. May sleep.
 */
export function* mmuIntervalReadBegin(kc: KernelContext, sub: number): Gen<number> {
  const t = tree(kc);
  const s = subOf(kc, sub);
  yield* p.spinLock(t.lock, READ_BEGIN);
  const seq = yield* p.read(s.seq, READ_BEGIN);
  const mmSeq = yield* p.read(t.invalidateSeq, READ_BEGIN);
  yield* p.spinUnlock(t.lock, READ_BEGIN);
  if (seq === mmSeq) yield* p.waitCounterChange(t.invalidateSeq, seq, READ_BEGIN, `wait_event(subscriptions->wq, invalidate_seq != ${seq})`);
  return seq;
}

/** `mmu_interval_read_retry()`: "must be called under the same lock the invalidate callback holds when calling set_seq". */
export function* mmuIntervalReadRetry(kc: KernelContext, sub: number, seq: number): Gen<boolean> {
  return (yield* p.read(subOf(kc, sub).seq, READ_RETRY)) !== seq;
}

/** `mmu_interval_check_retry()`: the lockless hint ("False is not reliable"). */
export function* mmuIntervalCheckRetry(kc: KernelContext, sub: number, seq: number): Gen<boolean> {
  return (yield* p.read(subOf(kc, sub).seq, CHECK_RETRY)) !== seq;
}

/** `mmu_interval_set_seq()`: called by ->invalidate, under the driver lock, with the cur_seq it was given. */
export function* mmuIntervalSetSeq(kc: KernelContext, sub: number, curSeq: number): Gen {
  yield* p.write(subOf(kc, sub).seq, curSeq, SET_SEQ);
}

