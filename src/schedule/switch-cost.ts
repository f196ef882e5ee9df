/**
 * What a scheduling decision costs under preemption bounding (Musuvathi and Qadeer, "Iterative
 * context bounding for systematic testing of multithreaded programs", PLDI 2007, as in CHESS):
 * switching away from a thread that could go on is a preemption; a switch where the running thread
 * blocks, finishes or gives up the CPU (`cpu_relax`) is free.
 *
 * `cpu_relax` is the yield of a retry loop. Running the relaxing thread again at once, while another
 * thread could run, costs one preemption (it preempts those threads): under a preemption bound a
 * retry loop then spins only as often as other threads move or the budget allows, so exploration
 * terminates without a fairness assumption. This matches the replayable schedules (preemption.ts):
 * after a relax the default order moves on to the next thread.
 */
export interface SwitchContext {
  /** Thread of the previous step (-1 at the start). */
  readonly prev: number;
  /** Whether it could go on now. */
  readonly prevEnabled: boolean;
  /** Whether its last step was `cpu_relax`. */
  readonly prevRelaxed: boolean;
  /** Enabled threads now. */
  readonly enabled: readonly number[];
}

/** Preemptions (0 or 1) charged for running `thread` next. */
export function switchCost(c: SwitchContext, thread: number): number {
  if (c.prev < 0 || !c.prevEnabled) return 0;
  if (c.prevRelaxed) return thread === c.prev && c.enabled.length > 1 ? 1 : 0;
  return thread === c.prev ? 0 : 1;
}

/** Preemptions of a whole recorded schedule. */
export function preemptionsOf(steps: readonly (SwitchContext & { readonly thread: number })[]): number {
  let p = 0;
  for (const s of steps) p += switchCost(s, s.thread);
  return p;
}

/**
 * The free (cost 0) choice the default order makes: the previous thread if it can go on and did not
 * relax, else the next enabled thread after it in round-robin order (preemption.ts defaultChoice).
 * `allowed` filters the candidates (sleep sets); returns -1 if none is allowed.
 */
export function freeChoice(c: SwitchContext, allowed: (t: number) => boolean): number {
  if (c.prevEnabled && !c.prevRelaxed && allowed(c.prev)) return c.prev;
  const en = c.enabled;
  for (let k = 0; k < en.length; k++) if (en[k] > c.prev && allowed(en[k]) && switchCost(c, en[k]) === 0) return en[k];
  for (let k = 0; k < en.length; k++) if (en[k] <= c.prev && allowed(en[k]) && switchCost(c, en[k]) === 0) return en[k];
  for (let k = 0; k < en.length; k++) if (allowed(en[k])) return en[k];
  return -1;
}
