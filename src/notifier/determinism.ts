/**
 * A notifier must keep every piece of mutable state in the machine (handles from `setup`): state kept
 * elsewhere (a module-level variable, a Map a callback fills, randomness, the clock) survives from one
 * execution to the next, is invisible to the scheduler, and makes a replay differ from the run it
 * replays. Freezing catches writes to what `setup` returns; this probe catches the rest that shows:
 * it runs a few drawn cases twice in a row and compares the traces step by step.
 */
import fc from 'fast-check';
import { runCase, type Case, type ResolvedTarget } from '../check/case';
import type { TraceStep } from '../runtime/execution';
import { formatSite } from '../runtime/site';
import { verdictName } from '../runtime/verdict';
import { scenarioArbitrary, scheduleArbitrary } from '../scenario/arbitrary';
import { scenarioText } from '../scenario/scenario';

function stepKey(s: TraceStep): string {
  const e = s.effect;
  return JSON.stringify([s.thread, e.op, e.a, e.b, e.c, e.d ?? null, e.text ?? null, formatSite(e.at), s.result ?? null]);
}

/**
 * Runs `samples` cases twice each; returns null when every pair gave identical traces, else a message
 * naming the case and the first step at which the two runs differ.
 */
export function probeDeterminism(target: ResolvedTarget, kernel: string, seed: number, maxSteps: number, samples = 25): string | null {
  const cases = fc.sample(fc.tuple(scenarioArbitrary(), scheduleArbitrary()), { numRuns: samples, seed });
  for (const [scenario, preemptions] of cases) {
    const c: Case = { kernel, driver: target.driver.name, scenario, preemptions, maxSteps };
    const a = runCase(c, target);
    const b = runCase(c, target);
    const n = Math.max(a.trace.length, b.trace.length);
    for (let i = 0; i <= n; i++) {
      const ka = i < a.trace.length ? stepKey(a.trace[i]) : i === a.trace.length ? `end: ${verdictName(a.verdict)}` : '';
      const kb = i < b.trace.length ? stepKey(b.trace[i]) : i === b.trace.length ? `end: ${verdictName(b.verdict)}` : '';
      if (ka === kb) continue;
      return (
        `the notifier is not deterministic: the same case (${scenarioText(scenario)}) run twice in a row differs at step ${i + 1}. ` +
        `It keeps state outside the machine (a module-level variable, a Map or array a callback changes, Math.random, the clock): ` +
        `keep per-execution state in what setup() creates (api.counter, api.spinlock/mutex/rwsem, api.secondaryTable)`
      );
    }
  }
  return null;
}
