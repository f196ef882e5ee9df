/**
 * `mmu-race replay TOKEN [--module FILE]`: re-run one execution exactly, print its timeline, and
 * with `--report` write its report. A token of a user's notifier names the driver, not the file, so
 * the module comes with `--module` (old tokens stay valid: the format is unchanged).
 */
import { parseArgs } from 'node:util';
import { resolve as resolvePath } from 'node:path';
import { resolve, type ResolvedTarget } from '../check/case';
import { DRIVERS } from '../drivers';
import * as api from '../index';
import { runBounded } from '../notifier/bounded';
import { replayNotifier } from '../notifier/check-notifier';
import { compileNotifierModule } from '../notifier/compile';
import { callbackNames } from '../notifier/instrument';
import { instantiate } from '../notifier/instantiate';
import { notifierExport } from '../notifier/validate';
import { WATCH_CALLBACK, createWatch } from '../notifier/watch';
import { UsageError } from '../runtime/errors';
import { findingOf } from '../report/finding';
import { renderTimeline } from '../report/timeline';
import { decodeToken } from '../schedule/token';
import { DEFAULT_TIMEOUT } from './check';
import { exitCodeOf, printFinding, reportFinding, secondsFlag, violationJson } from './common';
import type { Io } from './io';

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      module: { type: 'string' },
      report: { type: 'boolean' },
      'report-dir': { type: 'string' },
      'transpile-only': { type: 'boolean' },
      timeout: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
}

/** A built-in driver the token names; a clear error when it names a user's notifier. */
function builtIn(kernel: string, driver: string): ResolvedTarget {
  for (const d of driver.split('+')) {
    if (!DRIVERS.some((x) => x.name === d)) throw new UsageError(`the token is for driver '${driver}', which is not built in: pass the module it came from with --module FILE`);
  }
  return resolve(kernel, driver);
}

/** The user's notifier from `file`, loaded and replayed under the time budget. */
function fromModule(file: string, token: string, typeCheck: boolean, ms: number): ResolvedTarget {
  const compiled = compileNotifierModule(file, { typeCheck });
  const watch = createWatch();
  let names: string[] = [];
  return runBounded(
    () => {
      const loaded = instantiate(compiled, api);
      const def = notifierExport(loaded.exports, file);
      names = typeof def === 'object' && def !== null && 'ops' in def ? callbackNames(def as api.NotifierDefinition<unknown>) : [];
      return replayNotifier(def, token, { locate: loaded.locate, watch }).target;
    },
    ms,
    () => (watch[WATCH_CALLBACK] > 0 ? `${names[watch[WATCH_CALLBACK] - 1]} of ${file}` : file),
  );
}

/** The `replay` command. */
export function cmdReplay(args: string[], io: Io): number {
  const { values, positionals } = parse(args);
  if (positionals.length !== 1) throw new UsageError('replay takes exactly one token');
  const token = positionals[0];
  const c = decodeToken(token);
  const ms = secondsFlag('timeout', values.timeout, DEFAULT_TIMEOUT) * 1000;
  const target = values.module ? fromModule(values.module, token, values['transpile-only'] !== true, ms) : builtIn(c.kernel, c.driver);
  const f = runBounded(() => findingOf({ case: c, target, ...(values.module ? { module: resolvePath(values.module) } : {}) }), ms, () => `the replay of ${c.driver}`);
  const r = { verdict: f.verdict };
  const report = values.report || values['report-dir'] !== undefined ? reportFinding(io, f, { dir: values['report-dir'] }) : undefined;
  if (values.json) {
    io.out(JSON.stringify({ verdict: r.verdict.kind, kernel: c.kernel, driver: c.driver, executions: 1, ...(r.verdict.kind !== 'pass' ? { violation: violationJson(f) } : {}), ...(report ? { report } : {}) }, null, 2));
    return exitCodeOf(r.verdict);
  }
  io.out(`mmu-race replay: kernel ${c.kernel}, driver ${c.driver}`);
  io.out('');
  if (r.verdict.kind === 'pass') {
    io.out(renderTimeline(f.timeline, c));
    io.out('\npass');
    return 0;
  }
  printFinding(io, f, { moduleArg: values.module });
  return exitCodeOf(r.verdict);
}
