/**
 * Run counts come from one place, so CI stays fast and a long campaign is one variable away:
 * `MMU_RACE_RUNS` sets the fuzzing runs of every property (and the CLI default).
 */
export const DEFAULT_RUNS = 2000;

export function configuredRuns(fallback = DEFAULT_RUNS, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MMU_RACE_RUNS;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`MMU_RACE_RUNS must be a positive integer, got '${raw}'`);
  return n;
}

/** Seed for properties: fixed unless `MMU_RACE_SEED` says otherwise (determinism first). */
export function configuredSeed(fallback = 0x6d6d75, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MMU_RACE_SEED;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`MMU_RACE_SEED must be an integer, got '${raw}'`);
  return n;
}
