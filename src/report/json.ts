/**
 * `report.json`: a finding as a versioned JSON document — the replay token, the scenario, the
 * schedule, and the trace with the state after every step — for tools (merging CI shards, other
 * renderers) rather than people.
 */
import type { Finding } from './finding';
import { replayCommand } from './finding';

/** Bumped when a field changes meaning or disappears (new fields do not bump it). */
export const REPORT_FORMAT = 'mmu-race-report/1';

/** The JSON document of a finding (`report.json`). */
export function reportJson(f: Finding): string {
  const t = f.trace;
  const doc = {
    format: REPORT_FORMAT,
    kernel: f.kernel,
    driver: f.driver,
    title: f.title,
    contract: f.contract,
    ...(f.module ? { module: f.module } : {}),
    verdict: f.verdict,
    ...(f.invariant ? { invariant: f.invariant } : {}),
    replay: { token: f.token, command: replayCommand(f) },
    ...(f.search ? { search: f.search } : {}),
    scenario: { text: f.scenario, threads: f.case.scenario.threads, preemptions: f.case.preemptions, maxSteps: f.case.maxSteps },
    threads: t.threads,
    columns: t.columns,
    trace: t.steps.map((s) => ({
      step: s.step,
      thread: t.threads[s.thread],
      label: s.label,
      source: s.source,
      state: s.state,
      ...(s.violating ? { violating: true } : {}),
      ...(s.preempted ? { preempted: true } : {}),
      held: Object.fromEntries(t.threads.map((name, i) => [name, s.held[i].map((l) => l.name)])),
      atomic: Object.fromEntries(t.threads.map((name, i) => [name, s.atomic[i]])),
      memory: Object.fromEntries(Object.entries(s.memory).map(([k, c]) => [k, c.text])),
    })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
