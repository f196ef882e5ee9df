/**
 * What the check and replay commands share: flag parsing, exit statuses, the JSON form of a
 * counterexample and its text rendering.
 */
import type { Case } from '../check/case';
import { invariantByName } from '../invariants';
import { UsageError } from '../runtime/errors';
import type { ExecutionResult } from '../runtime/execution';
import { verdictName, type Verdict } from '../runtime/verdict';
import { scenarioOps } from '../scenario/scenario';
import { encodeToken } from '../schedule/token';
import { renderTimeline, timelineOf } from '../report/timeline';
import type { Io } from './io';

export function intFlag(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

export function exitCodeOf(v: Verdict): number {
  if (v.kind === 'pass') return 0;
  if (v.kind === 'model-error') return 2;
  return 1;
}

export interface JsonViolation {
  invariant: string;
  message: string;
  steps: number;
  contextSwitches: number;
  operations: number;
  trace: { thread: string; label: string; source: string; violating?: true }[];
  replay: string;
}

export function violationJson(c: Case, r: ExecutionResult): JsonViolation | undefined {
  const v = r.verdict;
  if (v.kind === 'pass') return undefined;
  const t = timelineOf(c);
  return {
    invariant: verdictName(v),
    message: v.message,
    steps: r.trace.length,
    contextSwitches: r.preemptions.length,
    operations: scenarioOps(c.scenario),
    trace: t.rows.map((row) => ({ thread: t.threads[row.thread], label: row.label, source: row.source, ...(row.violating ? { violating: true as const } : {}) })),
    replay: encodeToken(c),
  };
}

export function describeVerdict(v: Verdict): string {
  if (v.kind === 'pass') return 'pass';
  const inv = v.kind === 'violation' ? invariantByName(v.invariant) : undefined;
  const head = v.kind === 'violation' ? `VIOLATION ${v.invariant}${inv ? ` (${inv.title})` : ''}` : v.kind.toUpperCase();
  return `${head}\n  ${v.message}${inv ? `\n  kernel rule: ${inv.rule}` : ''}`;
}

export function printCounterexample(io: Io, c: Case, r: ExecutionResult): void {
  io.out(renderTimeline(timelineOf(c), c));
  io.out('');
  io.out(describeVerdict(r.verdict));
  io.out(`  minimal counterexample: ${scenarioOps(c.scenario)} operations, ${r.preemptions.length} context switch${r.preemptions.length === 1 ? '' : 'es'}, ${r.trace.length} steps`);
  io.out('');
  io.out(`replay: mmu-race replay ${encodeToken(c)}`);
}

