/**
 * The explorer is held to account against brute force (every interleaving, exhaustive-naive.ts),
 * with Mazurkiewicz traces computed independently (mazurkiewicz.ts: Foata normal forms of the
 * footprint dependence order).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configuredSeed } from '../../src/check/budget';
import { K_COUNTER } from '../../src/runtime/footprint';
import type { StateInvariant } from '../../src/runtime/invariant';
import { verdictName } from '../../src/runtime/verdict';
import { dpor, type DporOptions } from '../../src/schedule/dpor';
import { exploreBoundedInterleavings } from '../../src/schedule/exhaustive-bounded-naive';
import { bruteForce, traceKey } from './mazurkiewicz';
import { PROGRAMS, build, type ToyProgram, type ToyStep } from './programs';
import { programArbitrary } from './random-programs';

const seed = configuredSeed();
const NO_INVARIANTS = { maxSteps: 200, invariants: [] };

/** Runs the explorer and returns the executions it ran, as traces, and its stats. */
function explored(prog: ToyProgram, opts: Partial<DporOptions> = {}) {
  const b = build(prog);
  const traces: string[] = [];
  const verdicts = new Set<string>();
  const stats = dpor({
    build: b,
    ...NO_INVARIANTS,
    ...opts,
    visit: (r, info) => {
      if (opts.maxPreemptions !== undefined && info.preemptions > opts.maxPreemptions) throw new Error(`an execution with ${info.preemptions} preemptions`);
      traces.push(traceKey(b, { maxSteps: opts.maxSteps ?? 200, invariants: opts.invariants ?? [] }, r));
      verdicts.add(verdictName(r.verdict));
    },
  });
  return { traces, verdicts, stats };
}

const r = (c: number): ToyStep => ({ op: 'read', c });
const w = (c: number): ToyStep => ({ op: 'write', c });
const add = (c: number): ToyStep => ({ op: 'add', c });
const clear = (c: number): ToyStep => ({ op: 'clear', c });
const lock = (l: number): ToyStep => ({ op: 'lock', l });
const unlock = (l: number): ToyStep => ({ op: 'unlock', l });

describe('optimal DPOR: one execution per Mazurkiewicz trace (no preemption bound)', () => {
  it.each(PROGRAMS.map((p) => [p.name, p] as const))('%s', (_, prog) => {
    const bf = bruteForce(build(prog), NO_INVARIANTS);
    const { traces, stats } = explored(prog);
    expect(stats.executions / bf.traces.size).toBe(1);
    expect(new Set(traces)).toEqual(bf.traces);
    expect(stats.sleepBlocked).toBe(0);
    expect(stats.exhausted).toBe(true);
  });

  it('on random programs too (2-4 threads, nested locks in either order, so deadlocks)', () => {
    let programs = 0;
    fc.assert(
      fc.property(programArbitrary({ maxThreads: 4, maxParts: 2 }), (prog) => {
        const b = build(prog);
        let bf;
        try {
          bf = bruteForce(b, NO_INVARIANTS, 5000);
        } catch {
          return; // too many interleavings for a unit test
        }
        programs++;
        const { traces, stats } = explored(prog);
        expect(stats.executions).toBe(bf.traces.size);
        expect(new Set(traces)).toEqual(bf.traces);
        expect(stats.sleepBlocked).toBe(0);
      }),
      { numRuns: 150, seed },
    );
    expect(programs).toBeGreaterThan(100);
  });

  it('explores readers of one object once, and writers in every order', () => {
    expect(explored({ name: 'readers', counters: 1, locks: 0, threads: [[r(0)], [r(0)], [r(0)]] }).stats.executions).toBe(1);
    expect(explored({ name: 'writers', counters: 1, locks: 0, threads: [[w(0)], [w(0)], [w(0)]] }).stats.executions).toBe(6);
  });
});

/** c0 counts increments applied, c1 increments finished: an update is lost when c0 < c1. */
const noLostUpdate: StateInvariant = {
  kind: 'state',
  name: 'no-lost-update',
  title: 'every finished increment is in the counter',
  rule: 'test invariant',
  watches: K_COUNTER,
  check: (m) => (m.counters[0] < m.counters[1] ? `c0 = ${m.counters[0]} < ${m.counters[1]} increments done` : null),
};

/** Set only while both counters are 1: violated in the middle of some interleavings, never at the end. */
const notBothSet: StateInvariant = {
  kind: 'state',
  name: 'not-both-set',
  title: 'c0 and c1 are never 1 together',
  rule: 'test invariant',
  watches: K_COUNTER,
  check: (m) => (m.counters[0] === 1 && m.counters[1] === 1 ? 'c0 = c1 = 1' : null),
};

describe('the explorer finds every verdict brute force finds', () => {
  const cases: [string, ToyProgram, StateInvariant[]][] = [
    ['a lost update (c0 = c0 + 1 as read then write)', { name: 'lost', counters: 2, locks: 0, threads: [[r(0), w(0), add(1)], [r(0), w(0), add(1)]] }, [noLostUpdate]],
    ['no lost update under a mutex', { name: 'locked', counters: 2, locks: 1, threads: [[lock(0), r(0), w(0), unlock(0), add(1)], [lock(0), r(0), w(0), unlock(0), add(1)]] }, [noLostUpdate]],
    ['the ABBA deadlock', PROGRAMS.find((p) => p.name === 'ABBA deadlock') as ToyProgram, []],
    ['a state violated only between two steps (visibility)', { name: 'transient', counters: 2, locks: 0, threads: [[add(0), clear(0)], [add(1), clear(1)]] }, [notBothSet]],
  ];

  it.each(cases)('%s', (_, prog, invariants) => {
    const opts = { maxSteps: 200, invariants };
    const want = bruteForce(build(prog), opts).verdicts;
    expect(explored(prog, { invariants }).verdicts).toEqual(want);
    const bounded = new Set<string>();
    for (const k of [0, 1, 2]) for (const v of explored(prog, { invariants, maxPreemptions: k }).verdicts) bounded.add(v);
    expect(bounded).toEqual(want);
  });

  it('the cases are not trivial: brute force finds violations and passes', () => {
    for (const [, prog, invariants] of cases.slice(0, 1).concat(cases.slice(2))) {
      const v = bruteForce(build(prog), { maxSteps: 200, invariants }).verdicts;
      expect(v.size).toBe(2);
      expect(v.has('pass')).toBe(true);
    }
  });

  it('without the visibility rule, the plain footprint order misses the transient violation', () => {
    const prog = cases[3][1];
    expect(explored(prog, { invariants: [notBothSet], visibility: false }).verdicts).toEqual(new Set(['pass']));
    expect(explored(prog, { invariants: [notBothSet] }).verdicts).toEqual(new Set(['pass', 'not-both-set']));
  });
});

describe('bounded search: every trace reachable within the preemption bound, and nothing beyond it', () => {
  /** Traces of every execution with at most k preemptions, by brute force. */
  function boundedBruteForce(prog: ToyProgram, k: number, limit = 20_000) {
    const b = build(prog);
    const opts = { maxSteps: 60, invariants: [] };
    const traces = new Set<string>();
    const res = exploreBoundedInterleavings(b, opts, k, (x) => void traces.add(traceKey(b, opts, x)), limit);
    return { traces, naive: res.executions, truncated: res.truncated };
  }

  it('on random programs with locks and retry loops (cpu_relax), bounds 0 to 2', () => {
    let programs = 0;
    fc.assert(
      fc.property(programArbitrary({ maxThreads: 3, maxParts: 3, relax: true }), fc.integer({ min: 0, max: 2 }), (prog, k) => {
        const want = boundedBruteForce(prog, k, 5000);
        if (want.truncated) return;
        programs++;
        const got = explored(prog, { maxSteps: 60, maxPreemptions: k });
        expect(got.stats.exhausted).toBe(true);
        expect(new Set(got.traces)).toEqual(want.traces);
      }),
      { numRuns: 80, seed },
    );
    expect(programs).toBeGreaterThan(50);
  });

  it("finds a trace whose only schedule within the bound preempts where there is no race (BPOR's blind spot)", () => {
    // The trace: t0 reads c after t1's add and before t1's write, and t1's write comes before t0's
    // second read. Within 1 preemption, t1 must be preempted right after its add while it still
    // holds l0, so that t0 blocks on l0 at once (a free switch back). No race points there.
    const prog: ToyProgram = {
      name: 'bpor-blind-spot',
      counters: 1,
      locks: 2,
      threads: [
        [r(0), lock(0), r(0), unlock(0)],
        [lock(0), lock(1), add(0), unlock(1), unlock(0), w(0)],
      ],
    };
    const want = boundedBruteForce(prog, 1);
    const got = new Set(explored(prog, { maxSteps: 60, maxPreemptions: 1 }).traces);
    expect(want.traces.size).toBe(5);
    expect(got).toEqual(want.traces);
  });

  it('never runs an execution over the bound, and the bound matters', () => {
    const prog = PROGRAMS[0]; // lost update: 4 traces, 2 of them need a preemption
    const sizes = [0, 1, 2].map((k) => new Set(explored(prog, { maxPreemptions: k }).traces).size);
    expect(sizes).toEqual([2, 4, 4]);
  });

  it('avoids re-running explored states: fewer executions than the bounded brute force', () => {
    const prog = PROGRAMS.find((p) => p.name === 'four threads, two counters') as ToyProgram;
    const naive = boundedBruteForce(prog, 2).naive;
    const { stats } = explored(prog, { maxPreemptions: 2 });
    expect(stats.executions).toBeLessThan(naive);
    expect(stats.pruned).toBeGreaterThan(0);
  });
});

describe('exploration is deterministic', () => {
  it('the same program gives the same executions in the same order', () => {
    const prog = PROGRAMS.find((p) => p.name === 'lock handoff chain (3 threads, 2 locks)') as ToyProgram;
    for (const maxPreemptions of [undefined, 2]) {
      expect(explored(prog, { maxPreemptions }).traces).toEqual(explored(prog, { maxPreemptions }).traces);
    }
  });

  it('reports a step budget cut and an execution budget cut', () => {
    const spin: ToyProgram = { name: 'spin', counters: 1, locks: 0, threads: [[{ op: 'await', c: 0 }], [r(0)]] };
    const cut = explored(spin, { maxSteps: 20, maxPreemptions: 1 }).stats;
    expect(cut.cutBySteps).toBeGreaterThan(0);
    const few = explored(PROGRAMS[0], { maxExecutions: 2 }).stats;
    expect(few).toMatchObject({ executions: 2, exhausted: false, stoppedBy: 'maxExecutions' });
  });
});
