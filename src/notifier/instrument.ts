/**
 * Wraps a user's notifier definition so that misuse the type system cannot see becomes a clear
 * `model-error` naming the callback, instead of a wrong verdict or a hang:
 *
 * - what `setup` returns is frozen (deeply), and so are the arguments a callback gets (the kernel API,
 *   the range, the fault): writing to them is state shared between threads changed outside an effect,
 *   which no interleaving of the model would see. The write throws (modules are strict code) and is
 *   reported as a mutation, with the source line.
 * - an error thrown by a callback is reported with the callback's name and the source line.
 * - while user code runs, a {@link Watch} in shared memory says which callback it is and counts its
 *   steps, so that a watchdog on another thread can stop a callback that loops without yielding and
 *   say which one it was.
 *
 * Built-in drivers are not wrapped (they are ours, and the hot loop stays bare).
 */
import { InternalError, ModelError, UsageError } from '../runtime/errors';
import type { Effect } from '../runtime/effect';
import type { Gen } from '../runtime/primitives';
import type { NotifierDefinition, NotifierOps } from './definition';
import { WATCH_CALLBACK, WATCH_HEARTBEAT, type Watch } from './watch';

export interface InstrumentOptions {
  /** Locates an error in the user's source (`file.ts:line:col`). */
  readonly locate?: (err: unknown) => string | undefined;
  /** Shared memory for a watchdog (see watch.ts). */
  readonly watch?: Watch;
}

/** The callbacks of a definition, in the order a {@link Watch} numbers them. */
export function callbackNames(def: NotifierDefinition<any>): string[] {
  return ['setup', 'device.table', 'device.fault', ...Object.keys(def.ops).map((n) => `ops.${n}`)];
}

/** Freezes `x` and everything reachable from it through plain objects and arrays. */
export function deepFreeze<T>(x: T): T {
  if (typeof x !== 'object' || x === null || Object.isFrozen(x)) return x;
  Object.freeze(x);
  for (const v of Object.values(x)) deepFreeze(v);
  return x;
}

const MUTATION = /read[- ]only property|object is not extensible|Cannot (add|delete|assign|define) property/i;

/** Turns an error thrown by user code into a ModelError naming `where`. */
function blame(err: unknown, where: string, opts: InstrumentOptions): Error {
  if (err instanceof ModelError || err instanceof InternalError || err instanceof UsageError) return err;
  const at = opts.locate?.(err);
  const loc = at ? ` (at ${at})` : '';
  const text = err instanceof Error ? err.message : String(err);
  if (err instanceof TypeError && MUTATION.test(text)) {
    return new ModelError(
      `${where} mutates shared state outside an effect: ${text}${loc}. What setup() returns and a callback's arguments are ` +
        `frozen: keep mutable state in the machine (api.counter + k.read/k.write/k.add, locks, secondary tables)`,
    );
  }
  return new ModelError(`${where} threw ${err instanceof Error ? err.name : 'a value'}: ${text}${loc}`);
}

/** An iterator over `inner` that marks `index` as running while it runs and blames its errors on `where`. */
function guard<T>(inner: Gen<T>, index: number, where: string, opts: InstrumentOptions): Gen<T> {
  // each resumption of the callback runs under the same watch and blame as a plain call
  const step = (f: () => IteratorResult<Effect, T>): IteratorResult<Effect, T> => call(f, index, where, opts);
  const it: Gen<T> = {
    next: (v?: unknown) => step(() => inner.next(v)),
    return: (v: T) => step(() => inner.return(v)),
    throw: (e: unknown) => step(() => inner.throw(e)),
    [Symbol.iterator]: () => it,
  } as Gen<T>;
  return it;
}

/** Runs a plain (non-generator) user function under the same watch and blame. */
function call<T>(f: () => T, index: number, where: string, opts: InstrumentOptions): T {
  const w = opts.watch;
  const prev = w ? w[WATCH_CALLBACK] : 0;
  if (w) {
    w[WATCH_CALLBACK] = index;
    w[WATCH_HEARTBEAT]++;
  }
  try {
    return f();
  } catch (err) {
    throw blame(err, where, opts);
  } finally {
    if (w) w[WATCH_CALLBACK] = prev;
  }
}

/** Throws unless a callback returned a generator (a plain function that forgot its `*` returns undefined). */
function generatorOf<T>(g: Gen<T>, where: string): Gen<T> {
  if (typeof (g as { next?: unknown } | undefined)?.next === 'function') return g;
  const name = where.split('.').pop();
  throw new ModelError(
    `${where} is not a generator function and returned ${g === undefined ? 'undefined' : typeof g}, not a generator: write it as ` +
      `\`*${name}(k, s, …) { … }\` and call every kernel effect with yield* (without them, the effects it calls never happen)`,
  );
}

/** A frozen shallow copy of a callback argument (ranges and faults are built by the core VM per call). */
function frozen<T extends object>(x: T): T {
  return Object.freeze({ ...x });
}

/** The instrumented definition; behaves exactly like `def` for correct code. */
export function instrumentNotifier<S>(def: NotifierDefinition<S>, opts: InstrumentOptions = {}): NotifierDefinition<S> {
  const names = callbackNames(def);
  const index = (name: string) => names.indexOf(name) + 1; // 0 = no user code running
  const ops: NotifierOps<S> = {};
  for (const [name, cb] of Object.entries(def.ops) as [keyof NotifierOps<S>, (...a: unknown[]) => Gen<unknown>][]) {
    const where = `ops.${name}`;
    const i = index(where);
    (ops as Record<string, unknown>)[name] = function* (k: object, s: S, ...rest: unknown[]) {
      // ranges are frozen copies; numbers (an address, an interval subscription, cur_seq) pass as they are
      const args = rest.map((x) => (typeof x === 'object' && x !== null ? frozen(x) : x));
      const inner = call(() => generatorOf(cb(deepFreeze(k), s, ...args), where), i, where, opts);
      return yield* guard(inner, i, where, opts);
    };
  }
  const fault = def.device.fault;
  return Object.freeze({
    ...def,
    setup: (api) => deepFreeze(call(() => def.setup(api), index('setup'), 'setup', opts)),
    ops,
    device: Object.freeze({
      // the plain properties as declared (the fault path runs in a thread of the mm; the VMA is the driver's own)
      ...(def.device.holdsMm !== undefined ? { holdsMm: def.device.holdsMm } : {}),
      ...(def.device.ownVma !== undefined ? { ownVma: def.device.ownVma } : {}),
      table: (s: S) => call(() => def.device.table(s), index('device.table'), 'device.table', opts),
      *fault(k, s, f) {
        const i = index('device.fault');
        return yield* guard(call(() => generatorOf(fault(deepFreeze(k), s, frozen(f)), 'device.fault'), i, 'device.fault', opts), i, 'device.fault', opts);
      },
    }),
  } satisfies NotifierDefinition<S>);
}
