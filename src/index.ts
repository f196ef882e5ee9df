/**
 * mmu-race's public API: what a driver author imports (`import { defineNotifier, site } from
 * 'mmu-race'`) to write a notifier and check it, from the command line (`mmu-race check
 * ./my-notifier.ts`) or from their own test suite (`await expectNoRace(notifier, { kernel })`).
 *
 * See docs/writing-a-notifier.md for a walk-through.
 */

// --- writing a notifier ------------------------------------------------------------------------
export { EAGAIN, defineNotifier } from './notifier/definition';
export type { Contract, DeviceFault, DeviceFaultResult, MmuNotifierRange, NotifierDefinition, NotifierOps, SetupApi } from './notifier/definition';
export type { GupResult, KernelApi } from './notifier/kernel-api';
export type { CounterId, Gen, LockId, PageRef, TableId } from './runtime/primitives';
export type { Pte, Spte } from './runtime/machine';
export { site, formatSite, type Site } from './runtime/site';

// --- checking it -------------------------------------------------------------------------------
export { checkNotifier, replayNotifier, type NotifierCheckOptions, type NotifierEraResult, type NotifierReplay } from './notifier/check-notifier';
export { validateNotifier } from './notifier/validate';
export { expectNoRace, expectRace, type ExpectNoRaceOptions, type ExpectRaceOptions } from './testing/vitest';
export type { CheckProgress, CheckResult, Counterexample } from './check/fuzz';
export type { Case } from './check/case';
export type { Verdict, VerdictKind } from './runtime/verdict';
export { ModelError, UsageError } from './runtime/errors';

// --- what it checks against --------------------------------------------------------------------
export { ERAS, type Era } from './eras';
export { INVARIANTS } from './invariants';
export type { InvariantInfo } from './runtime/invariant';

// --- reading a counterexample ------------------------------------------------------------------
export { renderTimeline, timelineOf, type Timeline, type TimelineRow } from './report/timeline';
export { counterexampleText } from './report/text';
