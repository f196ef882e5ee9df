/**
 * From a scenario to an execution's initial state: the machine (mm locks first, then each driver's
 * private objects), the kernel context, and one thread program per scenario thread.
 */
import type { Era } from '../eras/era';
import type { IntervalTree, KernelContext } from '../kernel/context';
import { userAccess } from '../kernel/fault';
import { createMm } from '../kernel/mm';
import { vmMunmap } from '../kernel/mmap';
import { shrinkPage } from '../kernel/vmscan';
import { oomReap } from '../kernel/oom_kill';
import { mprotect } from '../kernel/mprotect';
import { madviseDontneed, madviseFree } from '../kernel/madvise';
import { fork } from '../kernel/fork';
import type { NotifierDefinition, NotifierInstance, SetupApi } from '../notifier/definition';
import { kernelApi } from '../notifier/kernel-api';
import { ModelError } from '../runtime/errors';
import type { ThreadSpec } from '../runtime/execution';
import { LockKind, PAGE_SIZE, VMA_BASE, addCounter, addLock, addTable, addressOf, enableThp, type Machine } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import { scenarioPages, scenarioThpOrder, type Scenario, type ThreadScenario } from './scenario';

const DEVICE = site('device', 'secondary MMU access (hardware walk of the driver table)', 'model');
const REENTER = site('device', 'fault returned: retry the access', 'model');

export interface Built {
  readonly machine: Machine;
  readonly threads: ThreadSpec[];
  readonly kc: KernelContext;
}

interface PendingSub {
  readonly driver: number;
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

function setupApi(m: Machine, era: string, driver: string, mirror: boolean, index: number, subs: PendingSub[]): SetupApi {
  return {
    era,
    spinlock: (name) => addLock(m, LockKind.Spin, name),
    mutex: (name) => addLock(m, LockKind.Mutex, name),
    rwsem: (name) => addLock(m, LockKind.RwSem, name),
    counter: (name, initial) => addCounter(m, name, initial ?? 0),
    secondaryTable: (name) => addTable(m, name, driver, mirror),
    intervalNotifier: (name, start = VMA_BASE, length = m.nPages * PAGE_SIZE) => {
      subs.push({ driver: index, name: `${driver} ${name}`, start, end: start + length });
      return subs.length - 1;
    },
  };
}

/**
 * The mm's interval tree, if any driver inserted a subscription: subscriptions->lock, invalidate_seq
 * (starts at 2: __mmu_notifier_register v5.7) and active_invalidate_ranges; each subscription's
 * invalidate_seq starts at `subscriptions->invalidate_seq - 1` (__mmu_interval_notifier_insert).
 */
function buildItree(m: Machine, notifiers: readonly NotifierInstance[], subs: readonly PendingSub[]): IntervalTree | null {
  if (subs.length === 0) return null;
  const lock = addLock(m, LockKind.Spin, 'subscriptions->lock');
  const invalidateSeq = addCounter(m, 'subscriptions->invalidate_seq', 2);
  const activeRanges = addCounter(m, 'subscriptions->active_invalidate_ranges', 0);
  const list = subs.map((s) => ({ owner: notifiers[s.driver], name: s.name, start: s.start, end: s.end, seq: addCounter(m, `${s.name}->invalidate_seq`, 1) }));
  return { lock, invalidateSeq, activeRanges, subs: list };
}

/** The device side of a driver: each access goes through its table and faults through the driver on a miss. */
function* deviceThread(kc: KernelContext, n: NotifierInstance, ops: ThreadScenario['ops']): Gen {
  const table = n.def.device.table(n.state);
  for (const op of ops) {
    if (op.op !== 'access') continue;
    for (;;) {
      if (yield* p.deviceAccess(table, op.page, op.write, DEVICE)) break;
      const r = yield* n.def.device.fault(kc.k, n.state, { address: addressOf(op.page), write: op.write });
      if (r === 'error') {
        yield* p.note('device fault failed: access aborted', REENTER);
        break;
      }
      if (r === 'retry') yield* p.cpuRelax(REENTER, 'retry: re-enter and fault again', true);
      else if (r !== 'mapped') throw new ModelError(`${n.def.name} device fault returned ${JSON.stringify(r)}, not 'mapped' | 'retry' | 'error'`);
    }
  }
}

function* cpuThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) {
    if (op.op === 'access') yield* userAccess(kc, op.page, op.write);
    else if (op.op === 'munmap') yield* vmMunmap(kc, op.page, op.pages);
    else if (op.op === 'mprotect') yield* mprotect(kc, op.page, op.pages, op.writable);
    else if (op.op === 'dontneed') yield* madviseDontneed(kc, op.page, op.pages);
    else if (op.op === 'lazyfree') {
      // the !PageSwapBacked lazyfree design is v4.12's (mm/rmap.c v4.12 try_to_unmap_one); v4.10's is not modelled
      if (kc.era.name === 'v4.10') yield* p.note('MADV_FREE: the v4.10 (TTU_LZFREE) form is not modelled', site('mm/madvise.c', 'madvise_free', 'v4.10'));
      else yield* madviseFree(kc, op.page, op.pages);
    }
    else if (op.op === 'fork') yield* fork(kc, vmaPages);
  }
}

function* oomThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) if (op.op === 'reap') yield* oomReap(kc, vmaPages);
}

function* reclaimThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) if (op.op === 'reclaim') yield* shrinkPage(kc, op.page, vmaPages);
}

export function buildExecution(era: Era, drivers: readonly NotifierDefinition<any>[], scenario: Scenario): Built {
  const nPages = scenarioPages(scenario);
  const m = createMm(nPages);
  const thpOrder = scenarioThpOrder(scenario);
  if (thpOrder > 0) enableThp(m, thpOrder);
  const subs: PendingSub[] = [];
  const notifiers: NotifierInstance[] = drivers.map((def, i) => ({ def, state: def.setup(setupApi(m, era.name, def.name, def.contract === 'mirror', i, subs)) }));
  m.hasNotifiers = notifiers.length > 0;
  const itree = buildItree(m, notifiers, subs);
  const kc = { era, notifiers, itree, thpOrder } as { era: Era; notifiers: NotifierInstance[]; itree: IntervalTree | null; k: KernelContext['k']; thpOrder: number };
  kc.k = kernelApi(kc);
  const counts = new Map<string, number>();
  const threads: ThreadSpec[] = scenario.threads.map((t) => {
    const i = counts.get(t.kind) ?? 0;
    counts.set(t.kind, i + 1);
    const name = i === 0 ? t.kind : `${t.kind}${i}`;
    m.threads.push({ name, atomic: 0, nonBlock: 0, retries: 0, held: [], done: false });
    const body =
      t.kind === 'cpu'
        ? cpuThread(kc, t.ops, nPages)
        : t.kind === 'reclaim'
          ? reclaimThread(kc, t.ops, nPages)
          : t.kind === 'oom'
            ? oomThread(kc, t.ops, nPages)
            : deviceThread(kc, notifiers[0], t.ops);
    return { name, body };
  });
  return { machine: m, threads, kc };
}
