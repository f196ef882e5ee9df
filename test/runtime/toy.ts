/** Small programs over the runtime's primitives, for tests of the runtime itself. */
import type { ThreadSpec } from '../../src/runtime/execution';
import { LockKind, addCounter, addLock, createMachine, type Machine } from '../../src/runtime/machine';
import * as p from '../../src/runtime/primitives';
import { site } from '../../src/runtime/site';

export const AT = site('test', 'toy', 'model');

export function machineWith(threads: string[]): Machine {
  const m = createMachine(1);
  for (const name of threads) m.threads.push({ name, atomic: 0, nonBlock: 0, retries: 0, held: [], done: false });
  return m;
}

/** Two threads incrementing a shared counter, each `c = c + 1` as a read then a write, optionally under a spinlock. */
export function counterProgram(withLock: boolean): () => { machine: Machine; threads: ThreadSpec[]; counter: number } {
  return () => {
    const m = machineWith(['t0', 't1']);
    const lock = addLock(m, LockKind.Spin, 'toy_lock');
    const c = addCounter(m, 'c');
    function* body() {
      if (withLock) yield* p.spinLock(lock, AT);
      const v = yield* p.read(c, AT);
      yield* p.write(c, v + 1, AT);
      if (withLock) yield* p.spinUnlock(lock, AT);
    }
    return { machine: m, threads: [{ name: 't0', body: body() }, { name: 't1', body: body() }], counter: c };
  };
}
