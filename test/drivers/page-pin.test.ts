/**
 * The generic page-pinning driver: overlapping brackets on two threads pin a page once, the first
 * range_end to reach it zaps the spte and drops the pin, and nothing is left pinned or mapped after
 * both brackets, whichever ends first.
 */
import { describe, expect, it } from 'vitest';
import { pagePin, type PagePinState } from '../../src/drivers/page-pin';
import { PAGE_SIZE, VMA_BASE } from '../../src/runtime/machine';
import { site } from '../../src/runtime/site';
import { runThreads, type Body } from './harness';

const GAP = site('test', 'the VM clears the PTEs between start and end', 'model');
const both = { start: VMA_BASE, end: VMA_BASE + 2 * PAGE_SIZE };
const first = { start: VMA_BASE, end: VMA_BASE + PAGE_SIZE };

const device: Body<PagePinState> = function* (k, s) {
  for (const address of [VMA_BASE, VMA_BASE + PAGE_SIZE]) expect(yield* pagePin.device.fault(k, s, { address, write: true })).toBe('mapped');
};
const bracket = (r: typeof both): Body<PagePinState> =>
  function* (k, s) {
    yield* pagePin.ops.invalidateRangeStart!(k, s, r);
    yield* k.cpuRelax(GAP);
    yield* pagePin.ops.invalidateRangeEnd!(k, s, r);
  };

describe('page-pin', () => {
  it.each([
    ['the wide bracket ends first', []],
    ['the narrow bracket ends first', [{ thread: 1, after: 20, to: 2 }]],
  ] as const)('overlapping brackets leave no pin and no mapping (%s)', (_, preemptions) => {
    const r = runThreads(pagePin, 'v4.13', [device, bracket(both), bracket(first)], [...preemptions], 2);
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    for (const t of m.tables) expect(t.entries.every((e) => e === null)).toBe(true);
    // each page is left with the one reference of its PTE
    for (const pte of m.ptes) expect(pte && m.pages[pte.pfn].refcount).toBe(1);
  });

  it('holds a reference on every mapped page in the range while the bracket is open', () => {
    const open: Body<PagePinState> = function* (k, s) {
      yield* pagePin.ops.invalidateRangeStart!(k, s, both);
    };
    const r = runThreads(pagePin, 'v4.13', [device, open], [], 2);
    // (the callbacks are called directly, not through the dispatcher: no bracket bookkeeping)
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    for (const pte of m.ptes) expect(pte && m.pages[pte.pfn].refcount).toBe(2);
  });
});
