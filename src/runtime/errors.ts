/**
 * The three error channels (STYLE §7), kept apart:
 * - the model found a bug: a verdict value (see verdict.ts), never an exception;
 * - the code under test misused the API or threw: {@link ModelError}, caught by the runtime and turned
 *   into a `model-error` verdict naming the step;
 * - the user gave bad input (unknown driver, corrupt token): {@link UsageError}, thrown at once, exit 2;
 * - the checker itself is wrong: {@link InternalError}, tagged `[mmu-race internal bug]`.
 */
export class ModelError extends Error {
  override name = 'ModelError';
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export class InternalError extends Error {
  override name = 'InternalError';
  constructor(message: string) {
    super(`[mmu-race internal bug] ${message}`);
  }
}
