/** `mmu-race matrix`: every driver in every era, beside what kernel history says. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configuredRuns, configuredSeed } from '../check/budget';
import { eraByName } from '../eras';
import { driverByName } from '../drivers';
import { UsageError } from '../runtime/errors';
import { runMatrix, selectCells, type MatrixCell } from '../matrix/matrix';
import { renderMatrixHtml } from '../report/matrix-html';
import { intFlag } from './common';
import type { Io } from './io';

export const MATRIX_DEFAULT_RUNS = 5000;

function list(raw: string | undefined): string[] | undefined {
  return raw === undefined ? undefined : raw.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
}

function writeHtml(file: string, cells: readonly MatrixCell[], runs: number, seed: number, io: Io): void {
  try {
    writeFileSync(file, renderMatrixHtml(cells, { runs, seed }));
  } catch (err) {
    throw new UsageError(`--html: cannot write ${file}: ${(err as Error).message}`);
  }
  io.err(`mmu-race matrix: wrote ${file}`);
}

export function cmdMatrix(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args,
    options: { eras: { type: 'string' }, drivers: { type: 'string' }, runs: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, html: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const eras = list(values.eras);
  const drivers = list(values.drivers);
  for (const e of eras ?? []) eraByName(e);
  for (const d of drivers ?? []) for (const name of d.split('+')) driverByName(name);
  if (selectCells({ eras, drivers }).length === 0) throw new UsageError('no matrix cell matches --eras/--drivers');
  const runs = intFlag('runs', values.runs, configuredRuns(MATRIX_DEFAULT_RUNS), 1);
  const seed = intFlag('seed', values.seed, configuredSeed(), -(2 ** 31));
  if (values.html !== undefined && values.html.trim() === '') throw new UsageError('--html needs a file name');
  const cells = runMatrix({ runs, seed, eras, drivers });
  const mismatches = cells.filter((c) => !c.matches);
  // --html FILE: the same cells as one self-contained page, besides the table or the JSON
  if (values.html !== undefined) writeHtml(values.html, cells, runs, seed, io);
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          runs,
          seed,
          matchesHistory: mismatches.length === 0,
          cells: cells.map((c) => ({
            driver: c.expectation.driver,
            kernel: c.expectation.kernel,
            verdict: c.got,
            expected: c.expectation.expect,
            certain: c.expectation.certain,
            matches: c.matches,
            source: c.expectation.source,
            executions: c.result.executions,
            replay: c.result.counterexample?.token,
          })),
        },
        null,
        2,
      ),
    );
    return mismatches.length === 0 ? 0 : 1;
  }
  const cellText = (c: MatrixCell | undefined) => (c === undefined ? '-' : `${c.got}${c.matches ? '' : ' (!)'}${c.expectation.certain ? '' : ' (?)'}`);
  const kernels = [...new Set(cells.map((c) => c.expectation.kernel))];
  const names = [...new Set(cells.map((c) => c.expectation.driver))];
  const w = Math.max(8, ...cells.map((c) => cellText(c).length)) + 2;
  const nw = Math.max(8, ...names.map((n) => n.length)) + 2;
  io.out(`mmu-race matrix: ${runs} runs per cell, seed ${seed}`);
  io.out('driver'.padEnd(nw) + kernels.map((k) => k.padEnd(w)).join(''));
  for (const d of names) {
    io.out(d.padEnd(nw) + kernels.map((k) => cellText(cells.find((c) => c.expectation.driver === d && c.expectation.kernel === k)).padEnd(w)).join(''));
  }
  io.out('');
  io.out(`(!) differs from history, (?) history uncertain. ${cells.length} cells, ${mismatches.length} differ from history.`);
  for (const c of cells.filter((x) => x.result.counterexample)) {
    io.out(`  ${c.expectation.driver} on ${c.expectation.kernel}: mmu-race replay ${c.result.counterexample!.token}`);
  }
  for (const c of mismatches) io.out(`MISMATCH ${c.expectation.driver} on ${c.expectation.kernel}: got ${c.got}, history says ${c.expectation.expect} (${c.expectation.source})`);
  return mismatches.length === 0 ? 0 : 1;
}
