/**
 * A finding: everything the reports and the terminal show about one counterexample, as plain data
 * (it crosses from the worker that ran a user's notifier to the CLI that prints and writes it). Built
 * once, where the notifier is, by re-running the counterexample with observation on.
 */
import type { Case, ResolvedTarget } from '../check/case';
import type { CheckResult } from '../check/fuzz';
import { invariantByName } from '../invariants';
import type { InvariantInfo } from '../runtime/invariant';
import type { Verdict } from '../runtime/verdict';
import { scenarioText } from '../scenario/scenario';
import { encodeToken } from '../schedule/token';
import { timelineOf, type Timeline } from './timeline';
import { reportTraceOf, type ReportTrace } from './trace';

/** One counterexample with everything reports show about it. */
export interface Finding {
  readonly kernel: string;
  readonly driver: string;
  /** The driver's one-line title and contract. */
  readonly title: string;
  readonly contract: string;
  /** The user's module it came from (absolute path), when not a built-in driver. */
  readonly module?: string;
  readonly verdict: Verdict;
  /** The invariant violated, with the kernel rule it enforces (violations only). */
  readonly invariant?: InvariantInfo;
  readonly case: Case;
  /** `cpu: write(0) | reclaim: reclaim(0) | device: read(0)` */
  readonly scenario: string;
  readonly token: string;
  /** How the search got here (absent for a replay). */
  readonly search?: { readonly executions: number; readonly seed: number; readonly runs: number };
  readonly timeline: Timeline;
  readonly trace: ReportTrace;
}

/** The run summary of a check without its counterexample's machine (plain data). */
export type CheckSummary = Omit<CheckResult, 'counterexample'>;

/** The summary of a check result (its counterexample dropped: the finding carries what is needed). */
export function summaryOf(r: CheckResult): CheckSummary {
  const { counterexample: _, ...rest } = r;
  return rest;
}

/** What a finding is built from: the case, the target that ran it, and where it came from. */
export interface FindingSource {
  readonly case: Case;
  readonly target: ResolvedTarget;
  readonly module?: string;
  readonly search?: Finding['search'];
}

/** Re-runs the case with observation on and gathers the finding. */
export function findingOf(src: FindingSource): Finding {
  const c = src.case;
  const timeline = timelineOf(c, src.target);
  const v = timeline.verdict;
  const inv = v.kind === 'violation' ? invariantByName(v.invariant) : undefined;
  return {
    kernel: c.kernel,
    driver: c.driver,
    title: src.target.driver.title,
    contract: src.target.driver.contract,
    ...(src.module ? { module: src.module } : {}),
    verdict: v,
    ...(inv ? { invariant: { name: inv.name, title: inv.title, rule: inv.rule } } : {}),
    case: c,
    scenario: scenarioText(c.scenario),
    token: encodeToken(c),
    ...(src.search ? { search: src.search } : {}),
    timeline,
    trace: reportTraceOf(c, src.target),
  };
}

/** The command that replays a finding (with `--module` for a user's notifier; `moduleArg` as the user typed it). */
export function replayCommand(f: Pick<Finding, 'token' | 'module'>, moduleArg?: string): string {
  return `mmu-race replay ${f.token}${f.module ? ` --module ${moduleArg ?? f.module}` : ''}`;
}
