import { UsageError } from '../runtime/errors';
import type { Invariant } from '../runtime/invariant';
import { noSecondaryMapsFreedPage } from './no-secondary-maps-freed-page';
import { noSleepInAtomic } from './no-sleep-in-atomic';
import { startEndPaired } from './start-end-paired';
import { noDeadlock } from './no-deadlock';
import { progress } from './progress';
import { fullRangeInvalidated } from './full-range-invalidated';
import { secondaryFollowsPrimary } from './secondary-follows-primary';
import { noLockHeldAtExit } from './no-lock-held-at-exit';
import { noLostDirty } from './no-lost-dirty';
import { noLostWrite } from './no-lost-write';
import { noCallbackAfterUnregister } from './no-callback-after-unregister';

export { noCallbackAfterUnregister, fullRangeInvalidated, noLostDirty, noLostWrite, noLockHeldAtExit, noDeadlock, noSecondaryMapsFreedPage, noSleepInAtomic, progress, secondaryFollowsPrimary, startEndPaired };

/** Every registered invariant, by name. */
export const INVARIANTS: readonly Invariant[] = [noSecondaryMapsFreedPage, noSleepInAtomic, startEndPaired, secondaryFollowsPrimary, noDeadlock, noLockHeldAtExit, noLostDirty, noLostWrite, progress, fullRangeInvalidated, noCallbackAfterUnregister];

export function invariantByName(name: string): Invariant | undefined {
  return INVARIANTS.find((i) => i.name === name);
}

/** Names of the lesser invariants (see InvariantInfo.lesser). */
export const LESSER_INVARIANTS: ReadonlySet<string> = new Set(INVARIANTS.filter((i) => i.lesser).map((i) => i.name));

/** Invariants about the drivers (under the core VM). */
export const DRIVER_INVARIANTS: readonly string[] = INVARIANTS.filter((i) => i.scope !== 'core').map((i) => i.name);
/** Invariants about the core VM alone. */
export const CORE_INVARIANTS: readonly string[] = INVARIANTS.filter((i) => i.scope === 'core').map((i) => i.name);

/** The invariants with these names (all of them when `names` is undefined); unknown names are a UsageError. */
export function selectInvariants(names?: readonly string[]): readonly Invariant[] {
  if (names === undefined) return INVARIANTS;
  return names.map((n) => {
    const inv = invariantByName(n);
    if (!inv) throw new UsageError(`unknown invariant '${n}' (known: ${INVARIANTS.map((i) => i.name).join(', ')})`);
    return inv;
  });
}
