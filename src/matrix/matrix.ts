/**
 * The verdict matrix: every driver in every era it exists in, checked with the same fuzzing as
 * `check`, beside what history says (history.ts).
 */
import type { ScenarioBounds } from '../scenario/arbitrary';
import { check, type CheckResult } from '../check/fuzz';
import { verdictName } from '../runtime/verdict';
import { HISTORY, type Expectation } from './history';
import { CORE_INVARIANTS, DRIVER_INVARIANTS } from '../invariants';

export interface MatrixCell {
  readonly expectation: Expectation;
  readonly result: CheckResult;
  /** The verdict's name: `pass` or the invariant / verdict kind. */
  readonly got: string;
  /** Whether the verdict is the one history gives (always true for uncertain cells with any verdict). */
  readonly matches: boolean;
  readonly ms: number;
}

export interface MatrixOptions {
  readonly runs: number;
  readonly seed: number;
  readonly drivers?: readonly string[];
  readonly eras?: readonly string[];
  readonly onCell?: (cell: MatrixCell) => void;
  /** The expectations to check (default: HISTORY). */
  readonly history?: readonly Expectation[];
  /** Scenario bounds of every cell (default: DEFAULT_BOUNDS). */
  readonly bounds?: ScenarioBounds;
}

export function selectCells(opts: Pick<MatrixOptions, 'drivers' | 'eras' | 'history'>): Expectation[] {
  return (opts.history ?? HISTORY).filter((e) => (!opts.drivers || opts.drivers.includes(e.driver)) && (!opts.eras || opts.eras.includes(e.kernel)));
}

export function runMatrix(opts: MatrixOptions): MatrixCell[] {
  const cells: MatrixCell[] = [];
  for (const expectation of selectCells(opts)) {
    const t0 = process.hrtime.bigint();
    const invariants = expectation.scope === 'core' ? CORE_INVARIANTS : DRIVER_INVARIANTS;
    const result = check({ kernel: expectation.kernel, driver: expectation.driver, runs: opts.runs, seed: opts.seed, invariants, ...(opts.bounds ? { bounds: opts.bounds } : {}) });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const got = verdictName(result.verdict);
    const cell = { expectation, result, got, matches: !expectation.certain || expectation.expect.split('|').includes(got), ms };
    cells.push(cell);
    opts.onCell?.(cell);
  }
  return cells;
}
