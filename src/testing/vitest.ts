/**
 * Test helpers for a driver author's own suite, in the idiom of `@fast-check/vitest`: one call runs
 * the whole property (every drawn scenario and schedule) and fails the test with the shrunk
 * counterexample — its timeline and the line that replays it — in the message.
 *
 * ```ts
 * import { expect, test } from 'vitest';
 * import { expectNoRace, expectRace } from 'mmu-race';
 * import gpu from './gpu-notifier';
 *
 * test('gpu notifier has no race on v4.13', async () => {
 *   await expectNoRace(gpu, { kernel: 'v4.13' });
 * });
 * ```
 *
 * They throw plain assertion errors, so they work under any runner (vitest, jest, node:test); run
 * counts follow `MMU_RACE_RUNS` and `MMU_RACE_SEED` like the project's own properties. The checks run
 * in the test's own thread: a callback that loops without yielding hangs the test (the CLI, which
 * runs modules in a worker with a time budget, reports it instead).
 */
import { relative } from 'node:path';
import { INVARIANTS } from '../invariants';
import { checkNotifier, type NotifierEraResult } from '../notifier/check-notifier';
import type { Counterexample } from '../check/fuzz';
import { UsageError } from '../runtime/errors';
import { verdictName } from '../runtime/verdict';
import { counterexampleText, describeVerdict } from '../report/text';
import { timelineOf } from '../report/timeline';

export interface ExpectNoRaceOptions {
  /** Era or eras to check (default: every era the notifier declares). */
  readonly kernel?: string | readonly string[];
  /** Runs per era (default `MMU_RACE_RUNS`, else 2000). */
  readonly runs?: number;
  /** fast-check seed (default `MMU_RACE_SEED`, else fixed: same result every time). */
  readonly seed?: number;
  /** Step budget of one execution (default 2000). */
  readonly maxSteps?: number;
  /** Path of the notifier's module, for the replay line of a failure (`--module FILE`). */
  readonly module?: string;
}

export interface ExpectRaceOptions extends ExpectNoRaceOptions {
  /**
   * The invariant (e.g. `no-secondary-maps-freed-page`) or verdict (`deadlock`, `model-error` …)
   * expected, or several of which any will do (one bug can break more than one rule, and the
   * checker reports the first it meets).
   */
  readonly invariant: string | readonly string[];
}

/** A failed expectation (named like node's and chai's, so runners show it as an assertion). */
export class RaceAssertionError extends Error {
  override name = 'AssertionError';
}

const VERDICTS = ['deadlock', 'step-budget-exceeded', 'model-error'];

function replayLine(token: string, module: string | undefined): string {
  const file = module ? relative(process.cwd(), module) || module : '<your notifier module>';
  return `mmu-race replay ${token} --module ${file}\n  (in a test: replayNotifier(notifier, '${token}'))`;
}

/** The message of a failing era: the counterexample, or the verdict alone when there is no case to show. */
function failureText(e: NotifierEraResult, module: string | undefined): string {
  const { result, target } = e;
  const cx = result.counterexample;
  const head = `kernel ${result.kernel}, driver ${result.driver}: ${verdictName(result.verdict)} after ${result.executions} executions (seed ${result.seed}, ${result.runs} runs)`;
  if (!cx) return `${head}\n\n${describeVerdict(result.verdict)}`;
  return `${head}\n\n${counterexampleText(timelineOf(cx.case, target), cx.case, replayLine(cx.token, module))}`;
}

/**
 * Fails (throws) if checking `notifier` finds any violation, deadlock, runaway loop or model error on
 * any era checked; resolves to the per-era results otherwise.
 */
export async function expectNoRace(notifier: unknown, opts: ExpectNoRaceOptions = {}): Promise<NotifierEraResult[]> {
  const results = checkNotifier(notifier, opts);
  const bad = results.filter((r) => r.result.verdict.kind !== 'pass');
  if (bad.length > 0) {
    throw new RaceAssertionError(`expectNoRace: a race was found\n\n${bad.map((b) => failureText(b, opts.module)).join('\n\n')}`);
  }
  return results;
}

/**
 * Fails (throws) unless checking `notifier` finds a violation of `invariant` (or that verdict) on
 * every era checked: for tests that a broken driver is caught. Resolves to the counterexamples.
 */
export async function expectRace(notifier: unknown, opts: ExpectRaceOptions): Promise<Counterexample[]> {
  const known = [...INVARIANTS.map((i) => i.name), ...VERDICTS];
  const wanted = typeof opts.invariant === 'string' ? [opts.invariant] : [...opts.invariant];
  for (const w of wanted) if (!known.includes(w)) throw new UsageError(`expectRace: unknown invariant '${w}' (known: ${known.join(', ')})`);
  const want = wanted.join(' or ');
  const out: Counterexample[] = [];
  for (const r of checkNotifier(notifier, opts)) {
    const { result } = r;
    if (result.verdict.kind === 'pass') {
      throw new RaceAssertionError(
        `expectRace: expected ${want} on kernel ${result.kernel}, but ${result.executions} executions (seed ${result.seed}, ${result.runs} runs) found no race`,
      );
    }
    if (!wanted.includes(verdictName(result.verdict))) {
      throw new RaceAssertionError(`expectRace: expected ${want}, found another verdict\n\n${failureText(r, opts.module)}`);
    }
    if (result.counterexample) out.push(result.counterexample);
  }
  return out;
}
