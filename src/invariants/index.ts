import type { Invariant } from '../runtime/invariant';
import { noSecondaryMapsFreedPage } from './no-secondary-maps-freed-page';
import { noSleepInAtomic } from './no-sleep-in-atomic';
import { startEndPaired } from './start-end-paired';
import { noDeadlock } from './no-deadlock';
import { progress } from './progress';

export { noDeadlock, noSecondaryMapsFreedPage, noSleepInAtomic, progress, startEndPaired };

/** Every registered invariant, by name. */
export const INVARIANTS: readonly Invariant[] = [noSecondaryMapsFreedPage, noSleepInAtomic, startEndPaired, noDeadlock, progress];

export function invariantByName(name: string): Invariant | undefined {
  return INVARIANTS.find((i) => i.name === name);
}
