/** Random small programs for the exploration properties (fast-check arbitraries). */
import fc from 'fast-check';
import type { ToyProgram, ToyStep } from './programs';

const access = (counters: number) =>
  fc.tuple(fc.constantFrom('read', 'write', 'add', 'clear'), fc.nat({ max: counters - 1 })).map(([op, c]) => ({ op, c }) as ToyStep);

/**
 * A thread: accesses, some inside properly nested critical sections of up to 2 mutexes, waits for a
 * counter to be 1 (blocking), and with `relax` retry loops on a counter (spinning).
 */
function thread(counters: number, locks: number, maxLen: number, relax: boolean): fc.Arbitrary<ToyStep[]> {
  const plain = access(counters).map((s) => [s]);
  const section = fc
    .tuple(fc.nat({ max: Math.max(0, locks - 1) }), fc.array(access(counters), { minLength: 0, maxLength: 2 }))
    .map(([l, body]): ToyStep[] => [{ op: 'lock', l }, ...body, { op: 'unlock', l }]);
  const nested = fc
    .tuple(fc.constantFrom<[number, number]>([0, 1], [1, 0]), access(counters))
    .map(([[a, b], s]): ToyStep[] => [{ op: 'lock', l: a }, { op: 'lock', l: b }, s, { op: 'unlock', l: b }, { op: 'unlock', l: a }]);
  const wait = fc.nat({ max: counters - 1 }).map((c): ToyStep[] => [{ op: 'await', c }]);
  const sleep = fc.nat({ max: counters - 1 }).map((c): ToyStep[] => [{ op: 'wait', c }]);
  const parts: fc.Arbitrary<ToyStep[]>[] = [plain, sleep];
  if (locks > 0) parts.push(section);
  if (locks > 1) parts.push(nested);
  if (relax) parts.push(wait);
  return fc.array(fc.oneof(...parts), { minLength: 1, maxLength: maxLen }).map((xs) => xs.flat());
}

export function programArbitrary(o: { maxThreads: number; maxParts: number; relax?: boolean }): fc.Arbitrary<ToyProgram> {
  return fc
    .record({ counters: fc.integer({ min: 1, max: 3 }), locks: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 2, max: o.maxThreads }) })
    .chain(({ counters, locks, n }) =>
      fc.array(thread(counters, locks, o.maxParts, o.relax ?? false), { minLength: n, maxLength: n }).map((threads) => ({ name: 'random', counters, locks, threads })),
    );
}
