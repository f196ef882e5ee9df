/**
 * Drives a driver's callbacks by hand, for call sites the scenario model does not have yet (nested
 * brackets from a THP split inside a zap, ODP MR registration): builds the machine and the
 * driver's state as a check would, then runs the given thread bodies instead of the scenario's.
 */
import { eraByName } from '../../src/eras';
import { INVARIANTS } from '../../src/invariants';
import type { KernelApi } from '../../src/notifier/kernel-api';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { execute, type ExecutionResult } from '../../src/runtime/execution';
import type { Gen } from '../../src/runtime/primitives';
import { buildExecution } from '../../src/scenario/build';
import { PreemptionScheduler, type Preemption } from '../../src/schedule/preemption';

export type Body<S> = (k: KernelApi, s: S) => Gen;

/**
 * Runs `bodies` (one thread each, named cpu, cpu1, …) against a fresh machine with `def` registered
 * on kernel `kernel`, a VMA of `pages` pages, under the default schedule plus `preemptions`.
 */
export function runThreads<S>(def: NotifierDefinition<S>, kernel: string, bodies: readonly Body<S>[], preemptions: readonly Preemption[] = [], pages = 1): ExecutionResult {
  // one cpu thread per body (its operation only sizes the VMA: the body replaces it)
  const scenario = { threads: bodies.map(() => ({ kind: 'cpu' as const, ops: [{ op: 'access' as const, page: pages - 1, write: false }] })) };
  const built = buildExecution(eraByName(kernel), [def], scenario);
  const state = built.kc.notifiers[0].state as S;
  const threads = built.threads.map((t, i) => ({ name: t.name, body: bodies[i](built.kc.k, state) }));
  return execute(built.machine, threads, new PreemptionScheduler(preemptions), { maxSteps: 2000, invariants: INVARIANTS });
}
