import { describe, expect, it } from 'vitest';
import { noSleepInAtomic } from '../../src/invariants';
import { execute, type ThreadSpec } from '../../src/runtime/execution';
import { INVARIANTS } from '../../src/invariants';
import { LockKind, addCounter, addLock } from '../../src/runtime/machine';
import * as p from '../../src/runtime/primitives';
import { exploreAllInterleavings } from '../../src/schedule/exhaustive-naive';
import { PreemptionScheduler } from '../../src/schedule/preemption';
import { AT, counterProgram, machineWith } from './toy';

const opts = { maxSteps: 200, invariants: INVARIANTS };

describe('mutual exclusion of a toy spinlock, over every interleaving', () => {
  it('with the lock, every interleaving ends with c == 2', () => {
    const finals = new Set<number>();
    const build = counterProgram(true);
    const { executions } = exploreAllInterleavings(() => build(), opts, (r) => {
      expect(r.verdict.kind).toBe('pass');
      finals.add(r.machine.counters[0]);
    });
    expect(executions).toBeGreaterThan(1);
    expect([...finals]).toEqual([2]);
  });

  it('without the lock, some interleaving loses an update (the check can fail)', () => {
    const finals = new Set<number>();
    const build = counterProgram(false);
    const { executions } = exploreAllInterleavings(() => build(), opts, (r) => finals.add(r.machine.counters[0]));
    // 2 threads x 2 steps: C(4,2) = 6 interleavings
    expect(executions).toBe(6);
    expect([...finals].sort()).toEqual([1, 2]);
  });

  it('never lets two threads hold the lock at once', () => {
    const build = counterProgram(true);
    exploreAllInterleavings(() => build(), { ...opts, observe: (m) => expect(m.locks[0].owner === -1 || m.threads.filter((t) => t.held.includes(0)).length === 1).toBe(true) }, () => {});
  });
});

describe('deadlock', () => {
  function abba() {
    const m = machineWith(['A', 'B']);
    const a = addLock(m, LockKind.Mutex, 'a');
    const b = addLock(m, LockKind.Mutex, 'b');
    function* take(first: number, second: number) {
      yield* p.mutexLock(first, AT);
      yield* p.mutexLock(second, AT);
      yield* p.mutexUnlock(second, AT);
      yield* p.mutexUnlock(first, AT);
    }
    const threads: ThreadSpec[] = [
      { name: 'A', body: take(a, b) },
      { name: 'B', body: take(b, a) },
    ];
    return { machine: m, threads };
  }

  it('finds the ABBA deadlock in some interleaving, and names who waits for what', () => {
    const kinds = new Map<string, number>();
    let message = '';
    exploreAllInterleavings(abba, opts, (r) => {
      kinds.set(r.verdict.kind, (kinds.get(r.verdict.kind) ?? 0) + 1);
      if (r.verdict.kind === 'deadlock') message = r.verdict.message;
    });
    expect(kinds.get('deadlock')).toBeGreaterThan(0);
    expect(kinds.get('violation')).toBeGreaterThan(0); // the other interleavings: the inversion
    expect(kinds.get('pass')).toBeUndefined();
    expect(message).toBe('A waits for b held by B; B waits for a held by A');
  });

  it('the default order does not hang, but lockdep-style ordering reports the inversion', () => {
    const { machine, threads } = abba();
    const r = execute(machine, threads, new PreemptionScheduler([]), opts);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-deadlock' });
    expect(r.verdict.kind === 'violation' && r.verdict.message).toBe('B takes a while holding b, but a → b was taken in that order before: possible ABBA deadlock');
  });

  it('a consistent lock order is no inversion', () => {
    const m = machineWith(['A', 'B']);
    const a = addLock(m, LockKind.Mutex, 'a');
    const b = addLock(m, LockKind.Spin, 'b');
    function* ordered() {
      yield* p.mutexLock(a, AT);
      yield* p.spinLock(b, AT);
      yield* p.spinUnlock(b, AT);
      yield* p.mutexUnlock(a, AT);
    }
    const threads: ThreadSpec[] = [
      { name: 'A', body: ordered() },
      { name: 'B', body: ordered() },
    ];
    expect(execute(m, threads, new PreemptionScheduler([]), opts).verdict.kind).toBe('pass');
  });
});

describe('sleep in atomic context', () => {
  function program(atomic: boolean) {
    const m = machineWith(['t']);
    const spin = addLock(m, LockKind.Spin, 'ptl');
    const mutex = addLock(m, LockKind.Mutex, 'dev->lock');
    function* body() {
      if (atomic) yield* p.spinLock(spin, AT);
      yield* p.mutexLock(mutex, AT);
      yield* p.mutexUnlock(mutex, AT);
      if (atomic) yield* p.spinUnlock(spin, AT);
    }
    return execute(m, [{ name: 't', body: body() }], new PreemptionScheduler([]), opts);
  }

  it('flags an uncontended mutex_lock under a spinlock (CONFIG_DEBUG_ATOMIC_SLEEP)', () => {
    const r = program(true);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: noSleepInAtomic.name });
    expect(r.verdict.kind === 'violation' && r.verdict.message).toContain('holding spinlock ptl');
  });

  it('allows it outside atomic context', () => {
    expect(program(false).verdict.kind).toBe('pass');
  });

  it('flags sleeping with interrupts disabled', () => {
    const m = machineWith(['t']);
    function* body() {
      yield* p.localIrqDisable(AT);
      yield* p.mightSleep('wait_event()', AT);
      yield* p.localIrqEnable(AT);
    }
    const r = execute(m, [{ name: 't', body: body() }], new PreemptionScheduler([]), opts);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
  });
});

describe('verdicts for misbehaving threads', () => {
  it('a loop that never ends is step-budget-exceeded, not a hang', () => {
    const m = machineWith(['spinner']);
    function* body() {
      for (;;) yield* p.cpuRelax(AT);
    }
    const r = execute(m, [{ name: 'spinner', body: body() }], new PreemptionScheduler([]), { ...opts, maxSteps: 50 });
    expect(r.verdict.kind).toBe('step-budget-exceeded');
    expect(r.trace.length).toBe(50);
  });

  it('a thread that throws is a model-error naming the step', () => {
    const m = machineWith(['t']);
    function* body() {
      yield* p.note('before', AT);
      throw new Error('driver bug');
    }
    const r = execute(m, [{ name: 't', body: body() }], new PreemptionScheduler([]), opts);
    expect(r.verdict).toMatchObject({ kind: 'model-error', step: 1, message: 'threw: driver bug' });
  });

  it('a thread that yields something other than an effect is a model-error', () => {
    const m = machineWith(['t']);
    function* body(): Generator<any, void, unknown> {
      yield 42;
    }
    const r = execute(m, [{ name: 't', body: body() }], new PreemptionScheduler([]), opts);
    expect(r.verdict.kind).toBe('model-error');
    expect(r.verdict.kind === 'model-error' && r.verdict.message).toContain('not a kernel effect');
  });

  it('unlocking a lock not held is a model-error', () => {
    const m = machineWith(['t']);
    const l = addLock(m, LockKind.Spin, 'l');
    function* body() {
      yield* p.spinUnlock(l, AT);
    }
    const r = execute(m, [{ name: 't', body: body() }], new PreemptionScheduler([]), opts);
    expect(r.verdict).toMatchObject({ kind: 'model-error', message: "unlocks 'l', which it does not hold" });
  });

  it('finishing with a lock held is a no-lock-held-at-exit violation (lockdep_sys_exit)', () => {
    const m = machineWith(['t']);
    const l = addLock(m, LockKind.Mutex, 'l');
    function* body() {
      yield* p.mutexLock(l, AT);
    }
    const r = execute(m, [{ name: 't', body: body() }], new PreemptionScheduler([]), opts);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-lock-held-at-exit', message: 't finished holding l' });
  });
});

describe('determinism', () => {
  it('the same program and schedule give the same trace, choice for choice', () => {
    const build = counterProgram(true);
    const run = () => {
      const { machine, threads } = build();
      const r = execute(machine, threads, new PreemptionScheduler([{ thread: 0, after: 2, to: 1 }]), opts);
      return JSON.stringify({ choices: r.choices, trace: r.trace.map((s) => [s.thread, s.effect.op, s.result]), pre: r.preemptions });
    };
    expect(run()).toBe(run());
  });

  it('a preemption switches threads and is recorded', () => {
    const { machine, threads } = counterProgram(false)();
    const r = execute(machine, threads, new PreemptionScheduler([{ thread: 0, after: 1, to: 1 }]), opts);
    expect(r.choices).toEqual([0, 1, 1, 0]);
    expect(r.preemptions).toEqual([{ thread: 0, after: 1, to: 1, at: 1 }]);
    expect(r.machine.counters[0]).toBe(1); // the lost update
  });
});

describe('progress', () => {
  function waiter(resetAfter: boolean) {
    const m = machineWith(['setter', 'waiter']);
    const c = addCounter(m, 'count');
    function* setter() {
      yield* p.add(c, 1, AT);
      if (resetAfter) yield* p.add(c, -1, AT);
    }
    function* waits() {
      while ((yield* p.read(c, AT)) !== 0) yield* p.cpuRelax(AT, 'retry', true);
    }
    return execute(m, [{ name: 'setter', body: setter() }, { name: 'waiter', body: waits() }], new PreemptionScheduler([{ thread: 0, after: 1, to: 1 }]), opts);
  }

  it('a retry loop waiting for a count that never drops is reported, not left to the step budget', () => {
    const r = waiter(false);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'progress' });
  });

  it('a retry loop whose wait ends under the fair schedule passes', () => {
    expect(waiter(true).verdict.kind).toBe('pass');
  });
});

describe('rw-semaphores prefer writers', () => {
  it('a reader that takes the rwsem again behind a queued writer deadlocks (the B14 shape)', () => {
    const m = machineWith(['reader', 'writer']);
    const sem = addLock(m, LockKind.RwSem, 'umem_rwsem');
    function* reader() {
      yield* p.downRead(sem, AT);
      yield* p.note('nested bracket', AT);
      yield* p.downRead(sem, AT); // the nested range_start
      yield* p.upRead(sem, AT);
      yield* p.upRead(sem, AT);
    }
    function* writer() {
      yield* p.downWrite(sem, AT);
      yield* p.upWrite(sem, AT);
    }
    const threads: ThreadSpec[] = [
      { name: 'reader', body: reader() },
      { name: 'writer', body: writer() },
    ];
    const r = execute(m, threads, new PreemptionScheduler([{ thread: 0, after: 1, to: 1 }]), opts);
    expect(r.verdict).toMatchObject({ kind: 'deadlock' });
    expect(r.verdict.kind === 'deadlock' && r.verdict.message).toBe('reader waits for umem_rwsem held by reader; writer waits for umem_rwsem held by reader');
  });
});
