/**
 * `mmu-race explore`: every schedule of a scenario within a preemption bound, or a minimal
 * counterexample with its replay line. The only place exhaustive mode prints or reads a file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from '../check/case';
import { DEFAULT_MAX_EXECUTIONS, DEFAULT_MAX_PREEMPTIONS, explore, type ExploreResult } from '../check/explore';
import { DEFAULT_MAX_STEPS } from '../check/case';
import { INVARIANTS } from '../invariants';
import { UsageError } from '../runtime/errors';
import { findingOf } from '../report/finding';
import { CATALOGUE } from '../scenario/catalogue';
import { scenarioText, validateScenario, type Scenario } from '../scenario/scenario';
import { DEFAULT_DRIVER, DEFAULT_KERNEL } from './check';
import { exitCodeOf, intFlag, printFinding, violationJson, worstExit } from './common';
import type { Io } from './io';

/** `--scenario NAME|FILE`: a catalogue name, else a JSON file holding a scenario; all spine scenarios when absent. */
function scenariosOf(arg: string | undefined): (string | Scenario)[] {
  if (arg === undefined) return CATALOGUE.filter((e) => e.spine).map((e) => e.name);
  if (CATALOGUE.some((e) => e.name === arg)) return [arg];
  if (!existsSync(arg)) throw new UsageError(`--scenario '${arg}' is neither a catalogue scenario (${CATALOGUE.map((e) => e.name).join(', ')}) nor a file`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(arg, 'utf8'));
  } catch (err) {
    throw new UsageError(`--scenario ${arg}: not a JSON scenario (${(err as Error).message})`);
  }
  return [validateScenario(data)];
}

function resultJson(r: ExploreResult, kernel: string, driver: string) {
  const cx = r.counterexample;
  const f = cx ? findingOf({ case: cx.case, target: resolve(kernel, driver) }) : undefined;
  return {
    scenario: r.scenarioName ?? scenarioText(r.scenario),
    verdict: r.verdict.kind,
    executions: r.executions,
    pruned: r.pruned,
    bounds: r.bounds,
    preemptionsExplored: r.preemptionsExplored,
    cutByPreemptions: r.cutByPreemptions,
    complete: r.complete,
    ...(r.cutBy ? { cutBy: r.cutBy } : {}),
    wallMs: Math.round(r.wallMs),
    ...(cx && f ? { foundAtBound: cx.foundAtBound, violation: violationJson(f) } : {}),
  };
}

function printResult(io: Io, r: ExploreResult, kernel: string, driver: string): void {
  const b = r.bounds;
  io.out(`scenario ${r.scenarioName ?? '(from file)'}: ${scenarioText(r.scenario)}`);
  io.out(`bounds: at most ${b.maxPreemptions} preemption${b.maxPreemptions === 1 ? '' : 's'}, ${b.maxSteps} steps per execution, ${b.maxExecutions} executions`);
  const bounds = r.preemptionsExplored === 0 ? 'bound 0' : `bounds 0..${r.preemptionsExplored}`;
  io.out(`explored ${r.executions} executions (${bounds}); pruned ${r.pruned} as redundant (paths stopped at a state already explored); ${Math.round(r.wallMs)} ms`);
  const cx = r.counterexample;
  if (cx) {
    io.out(`found with ${cx.foundAtBound} preemption${cx.foundAtBound === 1 ? '' : 's'} (no schedule with fewer gives a violation)`);
    io.out('');
    printFinding(io, findingOf({ case: cx.case, target: resolve(kernel, driver) }), {});
    return;
  }
  if (r.complete) {
    io.out(`complete within bounds: every schedule with at most ${b.maxPreemptions} preemptions was explored; no race found`);
    io.out(
      r.cutByPreemptions === 0
        ? '(the preemption bound cut nothing: every schedule of this scenario was explored)'
        : `(the preemption bound ruled out ${r.cutByPreemptions} alternatives: schedules with more preemptions were not explored)`,
    );
  } else {
    const why = [r.cutBy?.steps ? `the step bound cut ${r.cutBy.steps} executions (raise --max-steps)` : '', r.cutBy?.executions ? 'the execution budget ran out (raise --max-executions)' : ''].filter((s) => s);
    io.out(`INCOMPLETE: no race found, but not every schedule within the bounds was explored: ${why.join('; ')}`);
  }
}

export function cmdExplore(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args,
    options: {
      kernel: { type: 'string' },
      driver: { type: 'string' },
      scenario: { type: 'string' },
      'max-preemptions': { type: 'string' },
      'max-steps': { type: 'string' },
      'max-executions': { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (explore takes --driver NAME)`);
  const kernel = values.kernel ?? DEFAULT_KERNEL;
  const driver = values.driver ?? DEFAULT_DRIVER;
  const target = resolve(kernel, driver); // validates both before any work
  const maxPreemptions = intFlag('max-preemptions', values['max-preemptions'], DEFAULT_MAX_PREEMPTIONS, 0);
  const maxSteps = intFlag('max-steps', values['max-steps'], DEFAULT_MAX_STEPS, 10);
  const maxExecutions = intFlag('max-executions', values['max-executions'], DEFAULT_MAX_EXECUTIONS, 1);
  const scenarios = scenariosOf(values.scenario);
  const results = scenarios.map((scenario) => explore({ kernel, driver, scenario, maxPreemptions, maxSteps, maxExecutions }));
  const code = worstExit(results.map((r) => exitCodeOf(r.verdict)));
  const failed = results.find((r) => r.verdict.kind !== 'pass');
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          verdict: (failed ?? results[0]).verdict.kind,
          kernel,
          driver,
          executions: results.reduce((n, r) => n + r.executions, 0),
          complete: results.every((r) => r.complete),
          scenarios: results.map((r) => resultJson(r, kernel, driver)),
        },
        null,
        2,
      ),
    );
    return code;
  }
  io.out(`mmu-race explore: kernel ${kernel}, driver ${driver}: ${target.driver.title}`);
  io.out(`invariants: ${INVARIANTS.map((i) => i.name).join(', ')}`);
  for (const r of results) {
    io.out('');
    printResult(io, r, kernel, driver);
  }
  return code;
}
