/**
 * A watch: a few integers in shared memory through which the thread running a user's notifier
 * tells a watchdog on another thread that it makes progress, and which callback it is in. A callback
 * that loops without yielding never returns to the runtime, so nothing on its own thread can stop
 * it; the watchdog sees the heartbeat stop, terminates the thread, and names the callback.
 */

/** Incremented every time user code is entered (each step of a callback, each call of setup/table). */
export const WATCH_HEARTBEAT = 0;
/** 1 + the index in `callbackNames(def)` of the callback running now; 0 when none is. */
export const WATCH_CALLBACK = 1;
/** What the checking thread is doing (a {@link WatchPhase}). */
export const WATCH_PHASE = 2;
/** Set to 1 by the host to ask the check to stop and report what it has (Ctrl-C). */
export const WATCH_ABORT = 3;

/** Phases, as stored in {@link WATCH_PHASE}. */
export const WATCH_PHASES = ['starting', 'loading the module', 'validating', 'probing determinism', 'checking', 'building the report'] as const;
export type WatchPhase = (typeof WATCH_PHASES)[number];

/** The shared integers. */
export type Watch = Int32Array;

/** A watch over fresh shared memory (pass `watch.buffer` to the worker). */
export function createWatch(buffer: SharedArrayBuffer = new SharedArrayBuffer(4 * 4)): Watch {
  return new Int32Array(buffer);
}

export function setPhase(w: Watch | undefined, phase: WatchPhase): void {
  if (w) Atomics.store(w, WATCH_PHASE, WATCH_PHASES.indexOf(phase));
}

/** An abort flag (see `CheckOptions.signal`) backed by the watch. */
export function abortFlagOf(w: Watch): { readonly aborted: boolean } {
  return {
    get aborted() {
      return Atomics.load(w, WATCH_ABORT) !== 0;
    },
  };
}
