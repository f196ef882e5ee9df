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
import { agePage } from '../kernel/aging';
import { migratePageAt } from '../kernel/migrate';
import { oomReap } from '../kernel/oom_kill';
import { mprotect } from '../kernel/mprotect';
import { madviseDontneed, madviseFree } from '../kernel/madvise';
import { fork } from '../kernel/fork';
import { mmuIntervalNotifierInsert, mmuIntervalNotifierRemove } from '../kernel/mmu_interval_notifier';
import { mmput } from '../kernel/exit';
import { mmuNotifierRegister, mmuNotifierUnregister, onHlist } from '../kernel/mmu_notifier';
import type { MmLifetime } from '../kernel/context';
import { ksmMerge } from '../kernel/ksm';
import { taskNumaWork } from '../kernel/numa';
import { punchHole } from '../kernel/truncate';
import { clearRefsSoftDirty } from '../kernel/task_mmu';
import { writebackPage, type FileMapping } from '../kernel/writeback';
import { buildDax, type DaxMapping } from '../kernel/dax';
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
const DRIVER_UNREGISTER = site('device', 'the driver tears down: mmu_notifier_unregister(&mn, mm)', 'model');

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
function buildItree(m: Machine, notifiers: readonly NotifierInstance[], subs: readonly PendingSub[], dynamic: { driver: number; registers: boolean }): IntervalTree | null {
  if (subs.length === 0) return null;
  const lock = addLock(m, LockKind.Spin, 'subscriptions->lock');
  const invalidateSeq = addCounter(m, 'subscriptions->invalidate_seq', 2);
  const activeRanges = addCounter(m, 'subscriptions->active_invalidate_ranges', 0);
  const list = subs.map((s) => ({ owner: notifiers[s.driver], name: s.name, start: s.start, end: s.end, seq: addCounter(m, `${s.name}->invalidate_seq`, 1) }));
  if (!subs.some((s) => s.driver === dynamic.driver)) return { lock, invalidateSeq, activeRanges, subs: list };
  // the driver inserts (register) or removes (unregister) its subscriptions while the threads run:
  // each has its in-tree and deferred-list state; if it registers, they are not in the tree yet, and
  // the tree itself exists (has_itree) only if another driver inserted one before
  const inTree = dynamic.registers ? 0 : 1;
  const late = list.map((x, i) => (subs[i].driver === dynamic.driver ? { ...x, inTree: addCounter(m, `${x.name} in itree`, inTree), deferred: addCounter(m, `${x.name} on deferred_list`, 0) } : x));
  if (!dynamic.registers) return { lock, invalidateSeq, activeRanges, subs: late };
  const hasItree = addCounter(m, 'subscriptions->has_itree', subs.some((x) => x.driver !== dynamic.driver) ? 1 : 0);
  return { lock, invalidateSeq, activeRanges, subs: late, hasItree };
}

const REGISTER_OP = site('device', "the driver's registration path (ib_umem_odp_get, amdgpu_mn_register, kvm_init_mmu_notifier, an HMM mirror)", 'model');
const UNREGISTER_OP = site('device', "the driver's teardown (mmu_interval_notifier_remove of its subscriptions, mmu_notifier_unregister)", 'model');

/** The device driver's interval subscriptions that it inserts or removes while the threads run. */
function dynamicSubs(kc: KernelContext, n: NotifierInstance): number[] {
  return kc.itree?.subs.flatMap((s, i) => (s.owner === n && s.inTree !== undefined ? [i] : [])) ?? [];
}

/**
 * A device thread's `register`: the driver registers while the mm is live — its hlist notifier
 * (mmu_notifier_register) and its interval subscriptions (mmu_interval_notifier_insert, v5.5+).
 */
function* registerLate(kc: KernelContext, n: NotifierInstance): Gen {
  yield* p.note(`${n.def.name} registers`, REGISTER_OP);
  if (onHlist(n)) yield* mmuNotifierRegister(kc, 0, REGISTER_OP);
  for (const i of dynamicSubs(kc, n)) yield* mmuIntervalNotifierInsert(kc, i);
}

/** A device thread's `unregister`: its interval subscriptions removed (v5.5+), its hlist notifier unregistered. */
function* unregisterLate(kc: KernelContext, n: NotifierInstance): Gen {
  for (const i of dynamicSubs(kc, n)) yield* mmuIntervalNotifierRemove(kc, i);
  if (onHlist(n)) yield* mmuNotifierUnregister(kc, 0, DRIVER_UNREGISTER);
  else yield* p.note(`${n.def.name} has no hlist notifier: its interval subscriptions are removed`, UNREGISTER_OP);
}

/** The device side of a driver: each access goes through its table and faults through the driver on a miss. */
function* deviceThread(kc: KernelContext, n: NotifierInstance, ops: ThreadScenario['ops'], vmaPages: number, holdsMm: boolean, registersAsUser = false): Gen {
  const table = n.def.device.table(n.state);
  for (const op of ops) {
    if (op.op === 'register') {
      yield* registerLate(kc, n);
      if (registersAsUser) yield* mmput(kc, vmaPages); // the registering thread's (or reference's) mmput: it may be the last
      continue;
    }
    if (op.op === 'unregister') {
      yield* unregisterLate(kc, n);
      continue;
    }
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
  if (holdsMm) {
    // a device whose faults run in a thread of the process (device.holdsMm: a KVM vCPU) is a user of the mm
    yield* mmput(kc, vmaPages);
  }
}

function* cpuThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number, vmSoftdirty = -1): Gen {
  for (const op of ops) {
    if (op.op === 'access') yield* userAccess(kc, op.page, op.write);
    else if (op.op === 'munmap') yield* vmMunmap(kc, op.page, op.pages);
    else if (op.op === 'mprotect') yield* mprotect(kc, op.page, op.pages, op.writable);
    else if (op.op === 'dontneed') yield* madviseDontneed(kc, op.page, op.pages);
    else if (op.op === 'lazyfree') yield* madviseFree(kc, op.page, op.pages, vmaPages); // each era's form: Era.lazyfree
    else if (op.op === 'fork') yield* fork(kc, vmaPages);
    else if (op.op === 'exit') yield* mmput(kc, vmaPages); // do_exit → exit_mm → mmput
    else if (op.op === 'clearRefs') yield* clearRefsSoftDirty(kc, vmaPages, vmSoftdirty);
    else if (op.op === 'punch') yield* punchHole(kc, op.page); // the shared file VMA only
  }
}

function* oomThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) if (op.op === 'reap') yield* oomReap(kc, vmaPages);
}

function* migrateThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) if (op.op === 'migrate') yield* migratePageAt(kc, op.page, vmaPages);
}

/** ksmd (mm/ksm.c ksm_scan_thread → ksm_do_scan): each merge of two pages (src/kernel/ksm.ts). */
function* ksmdThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) if (op.op === 'merge') yield* ksmMerge(kc, op.page, op.with, vmaPages);
}

/** A thread of the process running task_numa_work on its way back to user space (src/kernel/numa.ts). */
function* numaThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) if (op.op === 'scan') yield* taskNumaWork(kc, op.page, op.pages, vmaPages);
}

/** The flusher writing back file pages (src/kernel/writeback.ts), only with the scenario's `file`. */
function* writebackThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) if (op.op === 'writeback') yield* writebackPage(kc, op.page, vmaPages);
}

/**
 * The shared file mapping's objects (the scenario's `file`), created after every other object so
 * that no other id moves: i_mmap_rwsem, the page-cache tree_lock, and per file page its page-cache
 * slot (pfn + 1, generation).
 */
function buildFile(m: Machine, nPages: number): FileMapping {
  const iMmapRwsem = addLock(m, LockKind.RwSem, 'mapping->i_mmap_rwsem');
  const treeLock = addLock(m, LockKind.Spin, 'mapping->tree_lock');
  const cachePfn: number[] = [];
  const cacheGen: number[] = [];
  for (let i = 0; i < nPages; i++) {
    cachePfn.push(addCounter(m, `page cache[${i}]: pfn + 1`));
    cacheGen.push(addCounter(m, `page cache[${i}]: generation`));
  }
  return { iMmapRwsem, treeLock, cachePfn, cacheGen };
}

function* reclaimThread(kc: KernelContext, ops: ThreadScenario['ops'], vmaPages: number): Gen {
  for (const op of ops) {
    if (op.op === 'reclaim') yield* shrinkPage(kc, op.page, vmaPages);
    else if (op.op === 'age') yield* agePage(kc, op.page);
  }
}

/** Whether the device thread is a user of the mm (device.holdsMm) in a scenario whose task exits. */
function deviceHoldsMm(notifiers: readonly NotifierInstance[], scenario: Scenario): boolean {
  return notifiers[0]?.def.device.holdsMm === true && scenario.threads.some((t) => t.kind === 'device') && scenario.threads.some((t) => t.ops.some((o) => o.op === 'exit'));
}

/**
 * Whether the device thread registers in a scenario whose task exits, as a user of the mm only for
 * its registration: the driver registers from a thread of the process (KVM_CREATE_VM, ODP's
 * ib_umem_get, amdgpu's GEM_USERPTR ioctls) or holds an mm reference (get_task_mm), and
 * mmu_notifier_register says `BUG_ON(atomic_read(&mm->mm_users) <= 0)` (mm/mmu_notifier.c v4.13).
 */
function deviceRegistersAsUser(notifiers: readonly NotifierInstance[], scenario: Scenario): boolean {
  return !deviceHoldsMm(notifiers, scenario) && scenario.threads.some((t) => t.kind === 'device' && t.ops[0]?.op === 'register') && scenario.threads.some((t) => t.ops.some((o) => o.op === 'exit'));
}

/**
 * The mm's lifetime objects (kernel/context.ts MmLifetime), only for a scenario that exits or
 * unregisters, created after every driver's objects so that their ids do not move: mm_users (the
 * exiting task, plus a device thread that is a user of the mm), the notifier list with every
 * notifier hashed, mmu_notifier_mm->lock, the SRCU state, and the per-notifier bookkeeping of
 * no-callback-after-unregister.
 */
function buildLifetime(m: Machine, notifiers: readonly NotifierInstance[], scenario: Scenario): MmLifetime | undefined {
  if (!scenario.threads.some((t) => t.ops.some((o) => o.op === 'exit' || o.op === 'unregister' || o.op === 'register'))) return undefined;
  // a device that registers while the threads run is not on the list until it does
  const registers = notifiers.length > 0 && onHlist(notifiers[0]) && scenario.threads.some((t) => t.kind === 'device' && t.ops[0]?.op === 'register');
  const users = scenario.threads.some((t) => t.ops.some((o) => o.op === 'exit')) ? 1 + (deviceHoldsMm(notifiers, scenario) || deviceRegistersAsUser(notifiers, scenario) ? 1 : 0) : 1;
  return {
    mmUsers: addCounter(m, 'mm->mm_users', users),
    list: addCounter(m, 'mm->mmu_notifier_mm->list (hashed notifiers, one bit each)', ((1 << notifiers.length) - 1) & ~(registers ? 1 : 0)),
    lock: addLock(m, LockKind.Spin, 'mmu_notifier_mm->lock'),
    srcuIdx: addCounter(m, 'srcu: current index', 0),
    srcuReaders: [addCounter(m, 'srcu readers[0]'), addCounter(m, 'srcu readers[1]')],
    srcuMutex: addLock(m, LockKind.Mutex, 'srcu->mutex'),
    running: notifiers.map((n) => addCounter(m, `${n.def.name}: callbacks running`)),
    unregistered: notifiers.map((n) => addCounter(m, `${n.def.name}: unregistered`)),
    oomVictim: scenario.threads.some((t) => t.kind === 'oom'),
  };
}

export function buildExecution(era: Era, drivers: readonly NotifierDefinition<any>[], scenario: Scenario): Built {
  const nPages = scenarioPages(scenario);
  const m = createMm(nPages);
  const thpOrder = scenarioThpOrder(scenario);
  if (thpOrder > 0) enableThp(m, thpOrder);
  const subs: PendingSub[] = [];
  const notifiers: NotifierInstance[] = drivers.map((def, i) => ({ def, state: def.setup(setupApi(m, era.name, def.name, def.contract === 'mirror', i, subs)) }));
  m.hasNotifiers = notifiers.length > 0;
  const registers = scenario.threads.some((t) => t.kind === 'device' && t.ops[0]?.op === 'register');
  const unregisters = scenario.threads.some((t) => t.kind === 'device' && t.ops.some((o) => o.op === 'unregister'));
  const itree = buildItree(m, notifiers, subs, { driver: registers || unregisters ? 0 : -1, registers });
  // VM_SOFTDIRTY of the VMA (mmap_region: vma->vm_flags |= VM_SOFTDIRTY), only when clear_refs reads it,
  // after every driver's objects so that their ids do not move
  const vmSoftdirty = scenario.threads.some((t) => t.ops.some((o) => o.op === 'clearRefs')) ? addCounter(m, 'VM_SOFTDIRTY', 1) : -1;
  const lifetime = buildLifetime(m, notifiers, scenario);
  const file = scenario.file ? buildFile(m, nPages) : undefined;
  // the DAX file's pmem extents and entry locks (kernel/dax.ts), after every other object
  const dax = scenario.dax ? buildDax(m, nPages, thpOrder) : undefined;
  // NUMA balancing's mm->tlb_flush_pending (kernel/numa.ts), after every other object
  const numa = scenario.threads.some((t) => t.kind === 'numa') ? { tlbFlushPending: addCounter(m, 'mm->tlb_flush_pending'), vmaPages: nPages } : undefined;
  const kc = { era, notifiers, itree, thpOrder, ...(lifetime ? { lifetime } : {}), ...(file ? { file } : {}), ...(dax ? { dax } : {}), ...(numa ? { numa } : {}) } as { era: Era; notifiers: NotifierInstance[]; itree: IntervalTree | null; k: KernelContext['k']; thpOrder: number; lifetime?: MmLifetime; file?: FileMapping; dax?: DaxMapping; numa?: KernelContext['numa'] };
  kc.k = kernelApi(kc);
  // PageKsm is read by do_wp_page only when a ksmd thread can make one (KernelContext.ksm)
  if (scenario.threads.some((t) => t.kind === 'ksmd')) (kc as { ksm?: boolean }).ksm = true;
  const counts = new Map<string, number>();
  const threads: ThreadSpec[] = scenario.threads.map((t) => {
    const i = counts.get(t.kind) ?? 0;
    counts.set(t.kind, i + 1);
    const name = i === 0 ? t.kind : `${t.kind}${i}`;
    m.threads.push({ name, atomic: 0, nonBlock: 0, retries: 0, held: [], done: false });
    const body =
      t.kind === 'cpu'
        ? cpuThread(kc, t.ops, nPages, vmSoftdirty)
        : t.kind === 'reclaim'
          ? reclaimThread(kc, t.ops, nPages)
          : t.kind === 'migrate'
            ? migrateThread(kc, t.ops, nPages)
          : t.kind === 'ksmd'
            ? ksmdThread(kc, t.ops, nPages)
          : t.kind === 'writeback'
            ? writebackThread(kc, t.ops, nPages)
          : t.kind === 'numa'
            ? numaThread(kc, t.ops, nPages)
          : t.kind === 'oom'
            ? oomThread(kc, t.ops, nPages)
            : deviceThread(kc, notifiers[0], t.ops, nPages, lifetime !== undefined && deviceHoldsMm(notifiers, scenario), lifetime !== undefined && deviceRegistersAsUser(notifiers, scenario));
    return { name, body };
  });
  return { machine: m, threads, kc };
}
