/**
 * What the check and replay commands share: flag parsing, exit statuses, the JSON form of a
 * counterexample and its text rendering, and writing its report.
 */
import { UsageError } from '../runtime/errors';
import type { Verdict } from '../runtime/verdict';
import { verdictName } from '../runtime/verdict';
import type { Finding } from '../report/finding';
import { counterexampleText } from '../report/text';
import type { Io } from './io';
import { writeReport, type ReportPlace } from './reports';

export { describeVerdict } from '../report/text';

/** Exit status of a check interrupted by Ctrl-C before it found anything (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** An integer flag at least `min` (UsageError naming the flag otherwise). */
export function intFlag(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

/** A positive number of seconds (`--timeout 0.5`). */
export function secondsFlag(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(n > 0)) throw new UsageError(`--${name} must be a positive number of seconds, got '${raw}'`);
  return n;
}

/** Exit status of one verdict: 0 pass, 2 model-error, 1 any other failure. */
export function exitCodeOf(v: Verdict): number {
  if (v.kind === 'pass') return 0;
  if (v.kind === 'model-error') return 2;
  return 1;
}

/** The status of several results: a model error or bad input wins, then a violation, then Ctrl-C. */
export function worstExit(codes: readonly number[]): number {
  for (const c of [2, 1, EXIT_INTERRUPTED]) if (codes.includes(c)) return c;
  return 0;
}

/** The `violation` object of `--json`. */
export interface JsonViolation {
  invariant: string;
  message: string;
  steps: number;
  contextSwitches: number;
  operations: number;
  trace: { thread: string; label: string; source: string; violating?: true }[];
  replay: string;
}

/** The `violation` object of a finding (undefined for a pass). */
export function violationJson(f: Finding): JsonViolation | undefined {
  const v = f.verdict;
  if (v.kind === 'pass') return undefined;
  const t = f.timeline;
  return {
    invariant: verdictName(v),
    message: v.message,
    steps: t.rows.length,
    contextSwitches: t.rows.filter((r) => r.preempted).length,
    operations: f.case.scenario.threads.reduce((n, th) => n + th.ops.length, 0),
    trace: t.rows.map((row) => ({ thread: t.threads[row.thread], label: row.label, source: row.source, ...(row.violating ? { violating: true as const } : {}) })),
    replay: f.token,
  };
}

/** How the user named the module (kept as typed, for the replay line), if any. */
export interface ReplayContext {
  readonly moduleArg?: string;
}

/** The replay command of a finding, with `--module` as the user named it. */
export function replayLine(f: Finding, ctx: ReplayContext): string {
  return `mmu-race replay ${f.token}${f.module ? ` --module ${ctx.moduleArg ?? f.module}` : ''}`;
}

/** Prints a finding as the terminal shows it: timeline, verdict, rule, size, replay line. */
export function printFinding(io: Io, f: Finding, ctx: ReplayContext): void {
  io.out(counterexampleText(f.timeline, f.case, replayLine(f, ctx)));
}

/** Writes the finding's report unless `place` is null (`--no-report`); says where on stderr. */
export function reportFinding(io: Io, f: Finding, place: ReportPlace | null): string | undefined {
  if (place === null) return undefined;
  const dir = writeReport(f, place);
  io.err(`mmu-race: report written to ${dir}/ (index.html, report.md, report.json)`);
  return dir;
}
