/**
 * Runs a function in this thread under a wall-clock budget: V8 terminates whatever JavaScript runs
 * when the budget is out (node:vm's `timeout`, which covers the functions the script calls), so a
 * user's callback that loops without yielding cannot hang a replay. For one execution, not for a
 * long check (the budget is for the whole call; checks use a worker and a heartbeat instead).
 */
import { runInNewContext } from 'node:vm';
import { UsageError } from '../runtime/errors';

/** Calls `fn`; if it runs longer than `ms`, throws UsageError with `whatRan()` in the message. */
export function runBounded<T>(fn: () => T, ms: number, whatRan: () => string): T {
  try {
    return runInNewContext('fn()', { fn }, { timeout: ms }) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new UsageError(`${whatRan()} ran for more than ${ms / 1000} s without finishing, and was stopped (a loop that never yields?)`);
    }
    throw err;
  }
}
