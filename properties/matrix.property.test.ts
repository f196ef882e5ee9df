/**
 * The verdict matrix reproduces kernel history: every certain cell of src/matrix/history.ts gets the
 * verdict history gives, at the default budget.
 */
import { describe, expect, it } from 'vitest';
import { configuredRuns, configuredSeed } from '../src/check/budget';
import { HISTORY } from '../src/matrix/history';
import { runMatrix } from '../src/matrix/matrix';
import { MATRIX_DEFAULT_RUNS } from '../src/cli/matrix';

const runs = configuredRuns(MATRIX_DEFAULT_RUNS);
const seed = configuredSeed();

describe('mmu-race matrix', () => {
  const cells = runMatrix({ runs, seed });

  it('covers every cell of the history table', () => {
    expect(cells).toHaveLength(HISTORY.length);
  });

  // Uncertain cells (the source does not settle them) are run and shown, but not held to a verdict.
  it.each(HISTORY.filter((h) => h.certain).map((h) => [h.driver, h.kernel, h.expect]))('%s on %s: %s', (driver, kernel, expected) => {
    const cell = cells.find((c) => c.expectation.driver === driver && c.expectation.kernel === kernel)!;
    expect(expected.split('|')).toContain(cell.got);
    if (cell.got !== 'pass') expect(cell.result.counterexample!.result.preemptions.length).toBeLessThanOrEqual(3);
  });

  it('flags a cell whose verdict differs from what history says', () => {
    const wrong = [{ ...HISTORY.find((h) => h.driver === 'kvm' && h.kernel === 'v4.13')!, expect: 'no-secondary-maps-freed-page' }];
    const [cell] = runMatrix({ runs: 200, seed, history: wrong });
    expect(cell.matches).toBe(false);
  });
});
