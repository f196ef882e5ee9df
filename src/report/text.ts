/**
 * A counterexample as text, the way the terminal and a failing test show it: the timeline, the
 * verdict with the kernel rule it enforces, how small the counterexample is, and the line that
 * replays it.
 */
import type { Case } from '../check/case';
import { invariantByName } from '../invariants';
import type { Verdict } from '../runtime/verdict';
import { scenarioOps } from '../scenario/scenario';
import { renderTimeline, type Timeline } from './timeline';

/** `VIOLATION no-secondary-maps-freed-page (title)`, the message, and the kernel rule. */
export function describeVerdict(v: Verdict): string {
  if (v.kind === 'pass') return 'pass';
  const inv = v.kind === 'violation' ? invariantByName(v.invariant) : undefined;
  const head = v.kind === 'violation' ? `VIOLATION ${v.invariant}${inv ? ` (${inv.title})` : ''}` : v.kind.toUpperCase();
  return `${head}\n  ${v.message}${inv ? `\n  kernel rule: ${inv.rule}` : ''}`;
}

/** `3 operations, 1 context switch, 42 steps`. */
export function sizeText(t: Timeline, c: Case): string {
  const switches = t.rows.filter((r) => r.preempted).length;
  const ops = scenarioOps(c.scenario);
  return `${ops} operation${ops === 1 ? '' : 's'}, ${switches} context switch${switches === 1 ? '' : 'es'}, ${t.rows.length} steps`;
}

/**
 * The whole counterexample: `replay` is the command that reproduces it
 * (`mmu-race replay TOKEN`, with `--module FILE` for a user's notifier).
 */
export function counterexampleText(t: Timeline, c: Case, replay: string): string {
  return [renderTimeline(t, c), '', describeVerdict(t.verdict) + whereText(t), `  minimal counterexample: ${sizeText(t, c)}`, '', `replay: ${replay}`].join('\n');
}

/**
 * Where a model error happened: at a step of the timeline (an effect the runtime refused), or after
 * the last step of a thread, while its code computed the next one (a callback that threw).
 */
export function whereText(t: Timeline): string {
  const v = t.verdict;
  if (v.kind !== 'model-error') return '';
  const thread = t.threads[v.thread] ?? `thread ${v.thread}`;
  return t.rows.some((r) => r.violating) ? `\n  in ${thread}, at step ${v.step + 1}` : `\n  in ${thread}, after step ${v.step} (while its code computed the next step)`;
}
