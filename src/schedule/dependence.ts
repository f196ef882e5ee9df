/**
 * The dependence relation partial-order reduction works with: two steps of different threads are
 * dependent when they touch a common object and at least one of them writes it (footprint.ts gives
 * the exact objects of each step; lock acquire and release both write the lock, so they conflict).
 * Steps of one thread are always ordered (program order).
 *
 * State invariants add one thing. They are checked after every step that writes a kind they watch,
 * so a violation can be visible in one order of two independent steps and not in the other (a page
 * freed before, or after, the spte that maps it is cleared). To keep every such state reachable,
 * the steps an invariant watches are "visible" (Valmari's visibility condition for safety
 * properties under partial-order reduction): each writes a virtual object of that invariant, which
 * makes visible steps mutually dependent. With no state invariant, this is the plain footprint
 * relation.
 */
import type { Effect } from '../runtime/effect';
import { K_THREAD, footprint, writeKinds } from '../runtime/footprint';
import type { Invariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';

/** What a step reads and writes, as object ids (footprint.ts), plus the virtual objects of visibility. */
export interface Access {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
  /** A synchronisation step (lock acquire, release, trylock): only these can block or unblock. */
  readonly sync: boolean;
}

/** Kind byte of the virtual objects written by steps an invariant can see (footprint.ts kinds are < 64). */
const VISIBLE_KIND = 0x7e;

/** The virtual object that the steps watched by state invariant number `k` write. */
export function visibleObject(k: number): number {
  return (VISIBLE_KIND << 24) | k;
}

/** Which state invariants make steps visible: the `watches` mask of each (index = virtual object). */
export function visibilityMasks(invariants: readonly Invariant[]): number[] {
  return invariants.flatMap((i) => (i.kind === 'state' ? [i.watches] : []));
}

/** The access of thread `tid`'s next effect `e` on machine `m` (before it runs). */
export function accessOf(m: Machine, tid: number, e: Effect, masks: readonly number[]): Access {
  const f = footprint(m, tid, e);
  if (masks.length === 0) return f;
  const kinds = writeKinds(e.op);
  let writes: number[] | null = null;
  for (let k = 0; k < masks.length; k++) {
    if ((masks[k] & kinds) === 0) continue;
    (writes ??= f.writes.slice()).push(visibleObject(k));
  }
  return writes === null ? f : { reads: f.reads, writes, sync: f.sync };
}

/**
 * The access of a step after which its thread finished: execute() checks the invariants that watch
 * threads at a thread's end, so for them that step is visible too.
 */
export function withThreadEnd(a: Access, masks: readonly number[]): Access {
  let writes: number[] | null = null;
  for (let k = 0; k < masks.length; k++) {
    if ((masks[k] & K_THREAD) === 0) continue;
    const v = visibleObject(k);
    if (a.writes.includes(v)) continue;
    (writes ??= a.writes.slice()).push(v);
  }
  return writes === null ? a : { reads: a.reads, writes, sync: a.sync };
}

function intersects(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) if (a[i] === b[j]) return true;
  return false;
}

/** Whether two steps of different threads conflict: a common object, at least one writing it. */
export function conflicts(a: Access, b: Access): boolean {
  return intersects(a.writes, b.writes) || intersects(a.writes, b.reads) || intersects(a.reads, b.writes);
}
