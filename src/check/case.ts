/**
 * One case: an era, a driver, a scenario and a schedule (preemptions), run once. Everything a
 * counterexample needs to be reproduced is in a {@link Case}; its replay token encodes exactly that.
 */
import { driverByName } from '../drivers';
import { eraByName } from '../eras';
import { selectInvariants } from '../invariants';
import { execute, type ExecutionOptions, type ExecutionResult } from '../runtime/execution';
import { buildExecution } from '../scenario/build';
import type { Scenario } from '../scenario/scenario';
import { PreemptionScheduler, type Preemption } from '../schedule/preemption';
import type { NotifierDefinition } from '../notifier/definition';
import type { Era } from '../eras/era';

export const DEFAULT_MAX_STEPS = 2000;

export interface Case {
  readonly kernel: string;
  readonly driver: string;
  readonly scenario: Scenario;
  readonly preemptions: readonly Preemption[];
  readonly maxSteps: number;
  /** The invariants checked (names); all registered ones when absent. */
  readonly invariants?: readonly string[];
}

export interface ResolvedTarget {
  readonly era: Era;
  /** The driver under test: its device runs the scenario's device threads. */
  readonly driver: NotifierDefinition<any>;
  /** Other notifiers registered on the same mm after it (e.g. `kvm+range-start-trylock`). */
  readonly others?: readonly NotifierDefinition<any>[];
}

/** `driver` may name several notifiers joined by `+`; the first one's device is exercised. */
export function resolve(kernel: string, driver: string): ResolvedTarget {
  const era = eraByName(kernel);
  const [first, ...rest] = driver.split('+').map((d) => driverByName(d, kernel));
  return { era, driver: first, others: rest };
}

/** Runs a case (fresh machine, preemption scheduler); `observe` is for reports only. */
export function runCase(c: Case, target: ResolvedTarget = resolve(c.kernel, c.driver), observe?: ExecutionOptions['observe']): ExecutionResult {
  const built = buildExecution(target.era, [target.driver, ...(target.others ?? [])], c.scenario);
  return execute(built.machine, built.threads, new PreemptionScheduler(c.preemptions), {
    maxSteps: c.maxSteps,
    invariants: selectInvariants(c.invariants),
    observe,
  });
}
