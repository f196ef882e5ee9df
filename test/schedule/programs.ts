/**
 * Small programs for the exploration tests, written as data: each thread is a list of steps on a
 * few counters and mutexes. `read`/`write` model `v = c; c = v + 1` style updates.
 */
import type { ThreadSpec } from '../../src/runtime/execution';
import { LockKind, addCounter, addLock, type Machine } from '../../src/runtime/machine';
import * as p from '../../src/runtime/primitives';
import type { Gen } from '../../src/runtime/primitives';
import { AT, machineWith } from '../runtime/toy';

export type ToyStep =
  | { readonly op: 'read'; readonly c: number }
  /** Writes the last value this thread read + 1 (or 1 if it read nothing). */
  | { readonly op: 'write'; readonly c: number }
  | { readonly op: 'add'; readonly c: number }
  /** Writes 0. */
  | { readonly op: 'clear'; readonly c: number }
  | { readonly op: 'lock'; readonly l: number }
  | { readonly op: 'unlock'; readonly l: number }
  /** Reads c until it is non-zero, with cpu_relax between tries (a retry loop). */
  | { readonly op: 'await'; readonly c: number }
  /** Sleeps until c == 1 (`wait_event`): blocked, not spinning. */
  | { readonly op: 'wait'; readonly c: number };

export interface ToyProgram {
  readonly name: string;
  readonly counters: number;
  readonly locks: number;
  readonly threads: readonly (readonly ToyStep[])[];
}

function* run(steps: readonly ToyStep[], counters: number[], locks: number[]): Gen {
  let last = 0;
  for (const s of steps) {
    switch (s.op) {
      case 'read':
        last = yield* p.read(counters[s.c], AT);
        break;
      case 'write':
        yield* p.write(counters[s.c], last + 1, AT);
        break;
      case 'add':
        yield* p.add(counters[s.c], 1, AT);
        break;
      case 'clear':
        yield* p.write(counters[s.c], 0, AT);
        break;
      case 'lock':
        yield* p.mutexLock(locks[s.l], AT);
        break;
      case 'unlock':
        yield* p.mutexUnlock(locks[s.l], AT);
        break;
      case 'await':
        while ((yield* p.read(counters[s.c], AT)) === 0) yield* p.cpuRelax(AT);
        break;
      case 'wait':
        yield* p.waitCounter(counters[s.c], 1, AT);
        break;
    }
  }
}

/** A builder for `prog`: a fresh machine and fresh threads on every call. */
export function build(prog: ToyProgram): () => { machine: Machine; threads: ThreadSpec[] } {
  return () => {
    const names = prog.threads.map((_, i) => `t${i}`);
    const m = machineWith(names);
    const counters = Array.from({ length: prog.counters }, (_, i) => addCounter(m, `c${i}`));
    const locks = Array.from({ length: prog.locks }, (_, i) => addLock(m, LockKind.Mutex, `l${i}`));
    return { machine: m, threads: prog.threads.map((steps, i) => ({ name: names[i], body: run(steps, counters, locks) })) };
  };
}

const r = (c: number): ToyStep => ({ op: 'read', c });
const w = (c: number): ToyStep => ({ op: 'write', c });
const add = (c: number): ToyStep => ({ op: 'add', c });
const lock = (l: number): ToyStep => ({ op: 'lock', l });
const unlock = (l: number): ToyStep => ({ op: 'unlock', l });
const clear = (c: number): ToyStep => ({ op: 'clear', c });
const wait = (c: number): ToyStep => ({ op: 'wait', c });

/** The programs whose Mazurkiewicz traces the tests count by brute force. */
export const PROGRAMS: readonly ToyProgram[] = [
  { name: 'lost update (2 threads, r/w of one counter)', counters: 1, locks: 0, threads: [[r(0), w(0)], [r(0), w(0)]] },
  { name: 'locked update (2 threads, one mutex)', counters: 1, locks: 1, threads: [[lock(0), r(0), w(0), unlock(0)], [lock(0), r(0), w(0), unlock(0)]] },
  { name: 'readers only (3 threads read one counter: independent)', counters: 1, locks: 0, threads: [[r(0), r(0)], [r(0)], [r(0), r(0)]] },
  { name: 'disjoint counters (no dependence at all)', counters: 3, locks: 0, threads: [[w(0), w(0)], [w(1)], [w(2), r(2)]] },
  { name: 'writer and two readers', counters: 1, locks: 0, threads: [[w(0)], [r(0)], [r(0)]] },
  { name: 'three writers', counters: 1, locks: 0, threads: [[w(0)], [w(0)], [w(0)]] },
  { name: 'two counters crossed (store buffering shape)', counters: 2, locks: 0, threads: [[w(0), r(1)], [w(1), r(0)]] },
  { name: 'ABBA deadlock', counters: 0, locks: 2, threads: [[lock(0), lock(1), unlock(1), unlock(0)], [lock(1), lock(0), unlock(0), unlock(1)]] },
  { name: 'lock plus an unlocked access', counters: 2, locks: 1, threads: [[lock(0), add(0), unlock(0), add(1)], [add(1), lock(0), add(0), unlock(0)]] },
  { name: 'three threads, one mutex (critical-section orders)', counters: 1, locks: 1, threads: [[lock(0), add(0), unlock(0)], [lock(0), add(0), unlock(0)], [lock(0), r(0), unlock(0)]] },
  { name: 'blocking lock with an independent thread', counters: 2, locks: 1, threads: [[lock(0), w(0), unlock(0)], [lock(0), r(0), unlock(0)], [w(1), r(1)]] },
  { name: 'four threads, two counters', counters: 2, locks: 0, threads: [[w(0)], [r(0), w(1)], [r(1)], [w(1)]] },
  { name: 'nested locks in the same order', counters: 1, locks: 2, threads: [[lock(0), lock(1), add(0), unlock(1), unlock(0)], [lock(0), lock(1), r(0), unlock(1), unlock(0)]] },
  { name: 'lock handoff chain (3 threads, 2 locks)', counters: 2, locks: 2, threads: [[lock(0), add(0), unlock(0)], [lock(0), lock(1), add(1), unlock(1), unlock(0)], [lock(1), r(1), unlock(1)]] },
  { name: 'wait_event for a counter another thread sets, and one that resets it', counters: 2, locks: 0, threads: [[wait(0), add(1)], [w(0), clear(0)], [r(1), w(0)]] },
];
