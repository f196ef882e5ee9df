/**
 * Races of one recorded execution, for dynamic partial-order reduction: pairs of steps e <E e' of
 * different threads, dependent, with no step between them in happens-before, such that e' could
 * have run in e's place (Flanagan and Godefroid, POPL 2005; Abdulla et al., POPL 2014, "e ⋖E e'").
 * Reversing one gives an execution of a different Mazurkiewicz trace.
 *
 * Happens-before is the transitive closure of the dependences in execution order, kept as vector
 * clocks. The effects still pending at the end (blocked acquires among them) take part as e'.
 *
 * Blocking: a release r followed by an acquire a of the same lock is a race that cannot be reversed
 * (a cannot run while the lock is held). Such a pair is passed over as if r were not there, so that
 * the acquire races with the earlier acquire of the section r ends: that reversal gives the other
 * order of the two critical sections. The same holds for any step that can block (a wait for a
 * counter value, a page lock): whether it could run before step i is asked of `isEnabled` on the
 * machine as it was there, rebuilt from the nearest checkpoint recorder.ts kept by re-applying the
 * recorded effects.
 */
import { applyEffect, isEnabled } from '../runtime/apply';
import type { Effect } from '../runtime/effect';
import { InternalError } from '../runtime/errors';
import { cloneMachine, type Machine } from '../runtime/machine';
import type { Access } from './dependence';
import type { Recorded } from './recorder';

/** A step or a pending effect: events 0..L-1 are the steps, the pending effects follow. */
export interface Event {
  readonly thread: number;
  readonly access: Access;
  readonly effect: Effect;
}

export interface Race {
  /** Index of the earlier step e. */
  readonly i: number;
  /** Index of the later event e' (≥ number of steps: a pending effect). */
  readonly j: number;
}

export interface RaceAnalysis {
  readonly events: readonly Event[];
  /** Number of steps (events past it are pending effects). */
  readonly steps: number;
  /** vc[k][t]: how many of thread t's steps happen before or at event k. */
  readonly vc: readonly Int32Array[];
  /** Position of event k among its thread's events (0-based). */
  readonly local: readonly number[];
  readonly races: readonly Race[];
}

/** Whether step i happens before event k. */
export function happensBefore(a: RaceAnalysis, i: number, k: number): boolean {
  return a.vc[k][a.events[i].thread] > a.local[i];
}

/** The steps between i and j that do not happen after step i, in execution order ("notdep(e, E)"). */
export function notAfter(a: RaceAnalysis, i: number, j: number): number[] {
  const out: number[] = [];
  const end = Math.min(j, a.steps);
  for (let k = i + 1; k < end; k++) if (!happensBefore(a, i, k)) out.push(k);
  return out;
}

export function findRaces(rec: Recorded, threadCount: number): RaceAnalysis {
  const events: Event[] = rec.steps.map((s) => ({ thread: s.thread, access: s.access, effect: s.effect }));
  const L = events.length;
  rec.endAccess.forEach((x, t) => {
    const e = rec.endEffect[t];
    if (x !== null && e !== null) events.push({ thread: t, access: x, effect: e });
  });
  const n = threadCount;
  const vc: Int32Array[] = [];
  const local: number[] = [];
  const lastOf = new Int32Array(n).fill(-1);
  const counts = new Int32Array(n);
  /** Per object: the steps that accessed it, in order, and whether each wrote it. */
  const accesses = new Map<number, { idx: number[]; w: boolean[] }>();
  const races: Race[] = [];
  const stamp = new Int32Array(L).fill(-1);

  /**
   * The earlier steps of other threads that event k depends on, latest first. Every access to an
   * object before its last write happens before that write, so for a step that cannot block the
   * scan of an object stops there; an acquire scans on, past the releases it cannot overtake.
   */
  const candidatesOf = (k: number): number[] => {
    const x = events[k].access;
    const me = events[k].thread;
    const out: number[] = [];
    const add = (o: number, writes: boolean) => {
      const acc = accesses.get(o);
      if (!acc) return;
      for (let q = acc.idx.length - 1; q >= 0; q--) {
        const i = acc.idx[q];
        const w = acc.w[q];
        const other = events[i].thread !== me;
        if ((writes || w) && other && stamp[i] !== k) {
          stamp[i] = k;
          out.push(i);
        }
        // an own write is in program order before k, so is all before it; a blocking step goes
        // on past the releases it could not overtake, to the first step it could
        if (w && (!other || !x.sync || reversible(rec, events, i, k))) break;
      }
    };
    for (const o of x.writes) add(o, true);
    for (const o of x.reads) add(o, false);
    return out.sort((p, q) => q - p);
  };

  for (let k = 0; k < events.length; k++) {
    const ev = events[k];
    const t = ev.thread;
    const pred = lastOf[t];
    const clock = pred >= 0 ? vc[pred].slice() : new Int32Array(n);
    const cands = candidatesOf(k);
    // races: scan the dependent steps from the latest back; C holds what e' already depends on
    const C = clock.slice();
    for (const i of cands) {
      const ei = events[i];
      if (C[ei.thread] > local[i]) continue; // happens before through another step: not immediate
      if (reversible(rec, events, i, k)) {
        races.push({ i, j: k });
        joinInto(C, vc[i]);
      }
      // an irreversible one (a release before the acquire it enables) is passed over
    }
    for (const i of cands) joinInto(clock, vc[i]);
    local.push(counts[t]);
    if (k < L) {
      counts[t]++;
      clock[t] = counts[t];
      lastOf[t] = k;
      for (const o of ev.access.writes) record(accesses, o, k, true);
      for (const o of ev.access.reads) record(accesses, o, k, false);
    } else {
      clock[t] = counts[t] + 1;
    }
    vc.push(clock);
  }
  return { events, steps: L, vc, local, races };
}

function record(accesses: Map<number, { idx: number[]; w: boolean[] }>, o: number, k: number, w: boolean) {
  let acc = accesses.get(o);
  if (!acc) accesses.set(o, (acc = { idx: [], w: [] }));
  if (acc.idx[acc.idx.length - 1] === k) {
    if (w) acc.w[acc.w.length - 1] = true;
    return;
  }
  acc.idx.push(k);
  acc.w.push(w);
}

function joinInto(c: Int32Array, d: Int32Array) {
  for (let t = 0; t < c.length; t++) if (d[t] > c[t]) c[t] = d[t];
}

/**
 * Whether event k could run right before step i. Only a step that can block (footprint `sync`) may
 * be unable to; for it, `isEnabled` decides on the machine as it was before step i.
 */
function reversible(rec: Recorded, events: readonly Event[], i: number, k: number): boolean {
  const ek = events[k];
  if (!ek.access.sync) return true;
  return isEnabled(machineBefore(rec, i), ek.thread, ek.effect);
}

/** The machine before step i: the nearest checkpoint at or before it, with the steps since re-applied. */
function machineBefore(rec: Recorded, i: number): Machine {
  let s = i;
  while (s > 0 && rec.steps[s]?.before === undefined) s--;
  const at = rec.steps[s]?.before;
  if (s === i && at !== undefined) return at;
  const from = s === 0 && at === undefined ? rec.initial : at;
  if (from === undefined) throw new InternalError('race analysis without the checkpoints it needs (record with snapshots)');
  const m = cloneMachine(from);
  for (let j = s; j < i; j++) applyEffect(m, rec.steps[j].thread, rec.steps[j].effect);
  return m;
}
