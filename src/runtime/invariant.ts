import type { Effect } from './effect';
import type { Machine } from './machine';

/**
 * An invariant, registered by name (DESIGN §3.5). Two forms:
 * - a state invariant is checked after every step that writes an object kind it `watches`
 *   (a step that writes nothing it watches cannot change its truth, so skipping it is exact);
 * - an effect invariant is checked when a thread issues an effect (e.g. a sleeping call while atomic),
 *   before the effect runs or blocks.
 * `check` returns null when the invariant holds, or a message saying what is wrong.
 */
export interface InvariantInfo {
  /** Stable name used in reports and `--json`, e.g. `no-secondary-maps-freed-page`. */
  readonly name: string;
  readonly title: string;
  /** The kernel rule it enforces, with where the kernel says so. */
  readonly rule: string;
  /**
   * `core`: a property of the core VM alone (what it tells the notifiers), whatever the drivers do;
   * otherwise a property of the drivers under the core VM. The verdict matrix checks drivers with
   * the driver invariants and the core VM of each era with the core ones.
   */
  readonly scope?: 'core';
  /**
   * A lesser invariant is reported by fuzzing only when no other violation is found in the same
   * check: it often shows a race whose graver outcome (a use-after-free) needs a little more luck.
   */
  readonly lesser?: boolean;
}

export interface StateInvariant extends InvariantInfo {
  readonly kind: 'state';
  /** Bit mask of object kinds (footprint.ts `K_*`) whose writes can change the verdict. */
  readonly watches: number;
  check(m: Machine): string | null;
}

export interface EffectInvariant extends InvariantInfo {
  readonly kind: 'effect';
  check(m: Machine, thread: number, e: Effect): string | null;
}

export type Invariant = StateInvariant | EffectInvariant;
