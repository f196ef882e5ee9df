/**
 * KVM variants for tests: the era's KVM with one callback made to sleep (a mutex around it), for the
 * call sites that run that callback under the PTL (change_pte from set_pte_at_notify,
 * clear_flush_young from page_referenced_one).
 */
import { kvm, kvmLegacy } from '../../src/drivers/kvm';
import type { NotifierDefinition, NotifierOps } from '../../src/notifier/definition';
import type { KernelApi } from '../../src/notifier/kernel-api';
import type { Gen } from '../../src/runtime/primitives';
import { site } from '../../src/runtime/site';

type KvmDef = typeof kvm;
type KvmState = ReturnType<KvmDef['setup']>;

const AT = site('test', 'a mutex in the callback', 'model');

/** The KVM definition written for `kernel`. */
export const kvmFor = (kernel: string): KvmDef => (kvm.eras.includes(kernel) ? kvm : kvmLegacy);

/** KVM on `kernel` whose `callback` takes a mutex around what KVM does there (a sleep in atomic context under the PTL). */
export function kvmWithMutexIn(kernel: string, name: string, callback: keyof NotifierOps<unknown>): NotifierDefinition<{ base: KvmState; mutex: number }> {
  const base = kvmFor(kernel);
  type Fn = (k: KernelApi, s: KvmState, ...args: unknown[]) => Gen<unknown>;
  const ops: Record<string, unknown> = {};
  for (const [n, f] of Object.entries(base.ops) as [string, Fn][]) {
    ops[n] = function* (k: KernelApi, s: { base: KvmState }, ...args: unknown[]) {
      return yield* f(k, s.base, ...args);
    };
  }
  const inner = base.ops[callback] as Fn | undefined;
  ops[callback] = function* (k: KernelApi, s: { base: KvmState; mutex: number }, ...args: unknown[]) {
    yield* k.mutexLock(s.mutex, AT);
    const r = inner ? yield* inner(k, s.base, ...args) : undefined;
    yield* k.mutexUnlock(s.mutex, AT);
    return r;
  };
  return {
    ...base,
    name,
    eras: [kernel],
    setup: (api) => ({ base: base.setup(api), mutex: api.mutex('drv->mutex') }),
    ops: ops as NotifierDefinition<{ base: KvmState; mutex: number }>['ops'],
    device: { table: (s) => s.base.spt, fault: (k, s, f) => base.device.fault(k, s.base, f) },
  };
}

const COUNTS = site('test', 'range_start that only counts (test-only)', 'model');

/**
 * KVM on `kernel` whose range_start (for the events `only` lists, or every one) counts the
 * invalidation but keeps its sptes: the retry check still works, the zap does not happen. Not a
 * kernel driver: the mirror the kernel's invalidations must catch.
 */
export function kvmStartKeeps(kernel: string, name = 'kvm-start-keeps', only?: readonly string[]): KvmDef {
  const base = kvmFor(kernel);
  return {
    ...base,
    name,
    eras: [kernel],
    ops: {
      ...base.ops,
      *invalidateRangeStart(k, s, range) {
        if (only !== undefined && !only.includes(range.event ?? '')) return yield* base.ops.invalidateRangeStart!(k, s, range);
        yield* k.spinLock(s.mmuLock, COUNTS);
        yield* k.add(s.count, 1, COUNTS);
        yield* k.spinUnlock(s.mmuLock, COUNTS);
        return 0;
      },
    },
  };
}
