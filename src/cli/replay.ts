/** `mmu-race replay TOKEN`: re-run one execution exactly. */
import { parseArgs } from 'node:util';
import { resolve, runCase } from '../check/case';
import { UsageError } from '../runtime/errors';
import { decodeToken } from '../schedule/token';
import { renderTimeline, timelineOf } from '../report/timeline';
import { exitCodeOf, printCounterexample, violationJson } from './common';
import type { Io } from './io';

export function cmdReplay(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError('replay takes exactly one token');
  const c = decodeToken(positionals[0]);
  const target = resolve(c.kernel, c.driver);
  const r = runCase(c, target);
  if (values.json) {
    io.out(JSON.stringify({ verdict: r.verdict.kind, kernel: c.kernel, driver: c.driver, executions: 1, ...(r.verdict.kind !== 'pass' ? { violation: violationJson(c, r) } : {}) }, null, 2));
    return exitCodeOf(r.verdict);
  }
  io.out(`mmu-race replay: kernel ${c.kernel}, driver ${c.driver}`);
  io.out('');
  if (r.verdict.kind === 'pass') {
    io.out(renderTimeline(timelineOf(c), c));
    io.out('\npass');
    return 0;
  }
  printCounterexample(io, c, r);
  return exitCodeOf(r.verdict);
}

