/**
 * Scenarios are data (DESIGN §4): which threads run which operations on which pages. The era and
 * the driver come from the check's options.
 */
import { UsageError } from '../runtime/errors';

/** A user access (read or write) of page `page` by a CPU thread: faults if the PTE does not allow it. */
export interface CpuAccess {
  readonly op: 'access';
  readonly page: number;
  readonly write: boolean;
}
/** `munmap()` of `pages` pages starting at page `page`. */
export interface Munmap {
  readonly op: 'munmap';
  readonly page: number;
  readonly pages: number;
}
/** `mprotect()` of `pages` pages at `page`: read-only, or read-write again. */
export interface Mprotect {
  readonly op: 'mprotect';
  readonly page: number;
  readonly pages: number;
  readonly writable: boolean;
}
/** `madvise(MADV_DONTNEED)` of `pages` pages at `page`. */
export interface MadviseDontneed {
  readonly op: 'dontneed';
  readonly page: number;
  readonly pages: number;
}
/** `madvise(MADV_FREE)` of `pages` pages at `page`: clean lazyfree pages that reclaim may discard. */
export interface MadviseFree {
  readonly op: 'lazyfree';
  readonly page: number;
  readonly pages: number;
}
/**
 * `fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, page * PAGE_SIZE, PAGE_SIZE)` on the
 * shared file (only with `file`): unmap_mapping_range and truncate_inode_pages_range
 * (src/kernel/truncate.ts) drop the file page from the page cache; the next access reads a new one.
 */
export interface PunchHole {
  readonly op: 'punch';
  readonly page: number;
}
/** `fork()`: the child shares every page copy-on-write (the child itself is not modelled further). */
export interface Fork {
  readonly op: 'fork';
}
/**
 * `echo 4 > /proc/pid/clear_refs` (CLEAR_REFS_SOFT_DIRTY, fs/proc/task_mmu.c): every present PTE and
 * huge PMD of the mm write-protected and its soft-dirty bit cleared, inside a `[0, -1UL)` bracket.
 */
export interface ClearRefs {
  readonly op: 'clearRefs';
}
/** Reclaim (swap-out) of the page mapped at `page`. */
export interface Reclaim {
  readonly op: 'reclaim';
  readonly page: number;
}
/**
 * Reclaim's aging pass (shrink_active_list → page_referenced, src/kernel/aging.ts) over the page
 * mapped at `page`: its young bits, the PTE's and (->clear_flush_young) the secondary MMUs', are
 * tested and cleared. Opt-in (ScenarioBounds.aging).
 */
export interface Age {
  readonly op: 'age';
  readonly page: number;
}
/**
 * Page migration (migrate_pages → unmap_and_move, mm/migrate.c) of the page mapped at `page`, as
 * memory hot-remove (do_migrate_range) would isolate it: migration entries, a new page, the old one freed.
 */
export interface Migrate {
  readonly op: 'migrate';
  readonly page: number;
}
/**
 * ksmd merging the anonymous page at `page` with the identical one at `with` (mm/ksm.c
 * try_to_merge_two_pages; src/kernel/ksm.ts): `with`'s page becomes the KSM page and replaces the
 * page at `page`, both write-protected.
 */
export interface KsmMerge {
  readonly op: 'merge';
  readonly page: number;
  readonly with: number;
}
/** The OOM reaper reaping the whole address space (the victim is the modelled mm). */
export interface OomReap {
  readonly op: 'reap';
}
/**
 * The task exits and is the mm's last user (do_exit → exit_mm → mmput → exit_mmap): the last
 * operation of the only cpu thread (src/kernel/exit.ts).
 */
export interface Exit {
  readonly op: 'exit';
}
/**
 * The device's driver registers while the mm is live (ODP's MR registration ib_umem_odp_get, amdgpu's
 * userptr BO amdgpu_mn_register, an HMM mirror's range): its interval subscriptions are inserted
 * (mmu_interval_notifier_insert, v5.5+). The device thread's first operation; before it the
 * subscriptions are not in the mm's tree.
 */
export interface Register {
  readonly op: 'register';
}
/** The device's driver unregisters its notifier (mmu_notifier_unregister): the device thread's last operation. */
export interface Unregister {
  readonly op: 'unregister';
}
/**
 * Writeback of the file page at `page` (a `writeback` thread, only with the scenario's `file`):
 * write_cache_pages → clear_page_dirty_for_io → page_mkclean (src/kernel/writeback.ts).
 */
export interface Writeback {
  readonly op: 'writeback';
  readonly page: number;
}
/**
 * NUMA balancing's scan of `pages` pages at `page` (a `numa` thread: task_numa_work, the task work of
 * another thread of the process): change_prot_numa makes them PROT_NONE hinting entries, which the
 * next access faults on and migrates (src/kernel/numa.ts).
 */
export interface NumaScan {
  readonly op: 'scan';
  readonly page: number;
  readonly pages: number;
}
/** A device access through the secondary MMU, faulting through the driver on a miss. */
export interface DeviceAccess {
  readonly op: 'access';
  readonly page: number;
  readonly write: boolean;
}

export type CpuOp = CpuAccess | Munmap | Mprotect | MadviseDontneed | MadviseFree | Fork | ClearRefs | Exit | PunchHole;

export type ThreadScenario =
  | { readonly kind: 'cpu'; readonly ops: readonly CpuOp[] }
  | { readonly kind: 'reclaim'; readonly ops: readonly (Reclaim | Age)[] }
  | { readonly kind: 'device'; readonly ops: readonly (DeviceAccess | Register | Unregister)[] }
  | { readonly kind: 'oom'; readonly ops: readonly OomReap[] }
  | { readonly kind: 'migrate'; readonly ops: readonly Migrate[] }
  | { readonly kind: 'ksmd'; readonly ops: readonly KsmMerge[] }
  | { readonly kind: 'writeback'; readonly ops: readonly Writeback[] }
  | { readonly kind: 'numa'; readonly ops: readonly NumaScan[] };

export interface Scenario {
  readonly threads: readonly ThreadScenario[];
  /**
   * Transparent huge pages (`transparent_hugepage=always`): a write fault on a PMD-less aligned
   * region of 2^thpOrder pages that lies whole in the VMA maps a THP with a huge PMD (the VMA is
   * rounded up to whole regions). Absent: no THP, every page is order 0.
   */
  readonly thp?: boolean;
  /** HPAGE_PMD_ORDER with `thp` (1 to MAX_THP_ORDER; default 1: two subpages, small state spaces). */
  readonly thpOrder?: number;
  /**
   * The VMA is a MAP_SHARED mapping of a file (offset 0) whose pages are page-cache pages
   * (src/kernel/writeback.ts); `writeback` threads need it. Only the operations the model has for a
   * shared file VMA are allowed with it (cpu access, munmap, dontneed, exit; device; writeback).
   * Absent: the anonymous private VMA.
   */
  readonly file?: boolean;
  /**
   * With `file` and `thp`: the file is a DAX file on pmem (CONFIG_FS_DAX_PMD) whose faults map each
   * aligned region with one huge PMD, written back by dax_writeback_one (src/kernel/dax.ts; catalogue
   * B3). Only cpu accesses, device threads and writeback are modelled with it. Absent: no DAX.
   */
  readonly dax?: boolean;
}

/** The largest THP order a scenario may ask for: 2^3 pages fill MAX_PAGES. */
export const MAX_THP_ORDER = 3;

/** The scenario's THP order, or 0 without THP. */
export function scenarioThpOrder(s: Scenario): number {
  return s.thp ? (s.thpOrder ?? 1) : 0;
}

export const MAX_PAGES = 8;

/** Number of virtual pages the scenario's VMA needs (1 + the highest page it names). */
export function scenarioPages(s: Scenario): number {
  let n = 1;
  for (const t of s.threads) {
    for (const op of t.ops) if ('page' in op) n = Math.max(n, op.page + ('pages' in op ? op.pages : 1), 'with' in op ? op.with + 1 : 0);
  }
  const nr = 1 << scenarioThpOrder(s);
  return Math.ceil(n / nr) * nr; // with THP, whole huge-page regions
}

/** Number of operations over all threads. */
export function scenarioOps(s: Scenario): number {
  return s.threads.reduce((n, t) => n + t.ops.length, 0);
}

function opText(kind: ThreadScenario['kind'], op: ThreadScenario['ops'][number]): string {
  switch (op.op) {
    case 'mprotect':
      return `mprotect(${op.page}, ${op.pages}, ${op.writable ? 'rw' : 'ro'})`;
    case 'dontneed':
      return `madvise_dontneed(${op.page}, ${op.pages})`;
    case 'lazyfree':
      return `madvise_free(${op.page}, ${op.pages})`;
    case 'fork':
      return 'fork()';
    case 'exit':
      return 'exit()';
    case 'unregister':
      return 'mmu_notifier_unregister()';
    case 'register':
      return 'register()';
    case 'clearRefs':
      return 'clear_refs(4)';
    case 'reap':
      return 'oom_reap()';
    case 'access':
      return `${op.write ? 'write' : 'read'}(${op.page})`;
    case 'munmap':
      return `munmap(${op.page}, ${op.pages})`;
    case 'reclaim':
      return `reclaim(${op.page})`;
    case 'age':
      return `age(${op.page})`;
    case 'migrate':
      return `migrate(${op.page})`;
    case 'merge':
      return `merge(${op.page}, ${op.with})`;
    case 'writeback':
      return `writeback(${op.page})`;
    case 'scan':
      return `change_prot_numa(${op.page}, ${op.pages})`;
    case 'punch':
      return `punch_hole(${op.page})`;
  }
  void kind;
}

/** `cpu: write(0) munmap(0, 1) | device: write(0)` */
export function scenarioText(s: Scenario): string {
  const thp = s.thp ? `[thp order ${scenarioThpOrder(s)}] ` : '';
  const file = s.file ? (s.dax ? '[file dax] ' : '[file] ') : '';
  return thp + file + s.threads.map((t) => `${t.kind}: ${t.ops.map((o) => opText(t.kind, o)).join(' ')}`).join(' | ');
}

/** Checks a scenario that came from outside (a replay token, a file): throws UsageError naming the problem. */
export function validateScenario(x: unknown): Scenario {
  const bad = (why: string): never => {
    throw new UsageError(`invalid scenario: ${why}`);
  };
  if (typeof x !== 'object' || x === null || !Array.isArray((x as Scenario).threads)) bad('expected { threads: [...] }');
  const threads = (x as Scenario).threads;
  if (threads.length === 0 || threads.length > 8) bad('1 to 8 threads');
  const page = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < MAX_PAGES;
  for (const t of threads) {
    if (!['cpu', 'reclaim', 'device', 'oom', 'migrate', 'ksmd', 'writeback', 'numa'].includes(t?.kind)) bad(`unknown thread kind '${String(t?.kind)}'`);
    if (!Array.isArray(t.ops) || t.ops.length > 16) bad('ops must be an array of at most 16 operations');
    for (const op of t.ops as unknown as readonly Record<string, unknown>[]) {
      const allowed = t.kind === 'cpu' ? ['access', 'munmap', 'mprotect', 'dontneed', 'lazyfree', 'fork', 'clearRefs', 'exit', 'punch'] : t.kind === 'reclaim' ? ['reclaim', 'age'] : t.kind === 'migrate' ? ['migrate'] : t.kind === 'ksmd' ? ['merge'] : t.kind === 'writeback' ? ['writeback'] : t.kind === 'numa' ? ['scan'] : t.kind === 'oom' ? ['reap'] : ['access', 'register', 'unregister'];
      if (op.op !== 'reap' && op.op !== 'fork' && op.op !== 'clearRefs' && op.op !== 'exit' && op.op !== 'unregister' && op.op !== 'register' && !page(op.page)) bad(`page must be an integer in [0, ${MAX_PAGES})`);
      if (op.op === 'mprotect' && typeof op.writable !== 'boolean') bad('mprotect needs writable: boolean');
      if (!allowed.includes(op.op as string)) bad(`operation '${String(op.op)}' is not one a ${t.kind} thread does`);
      if (op.op === 'access' && typeof op.write !== 'boolean') bad('access needs write: boolean');
      if (op.op === 'merge' && !page(op.with)) bad(`merge needs with: an integer in [0, ${MAX_PAGES})`);
      if ((op.op === 'munmap' || op.op === 'mprotect' || op.op === 'dontneed' || op.op === 'lazyfree' || op.op === 'scan') && !(Number.isInteger(op.pages) && (op.pages as number) >= 1 && (op.page as number) + (op.pages as number) <= MAX_PAGES)) {
        bad(`${String(op.op)} needs pages >= 1 within the VMA`);
      }
    }
  }
  // exit: the last user of the mm exits, so no other cpu thread (a user of the same mm) can run
  // beside it; exit and unregister end their thread
  for (const t of threads) {
    const ops = t.ops as readonly { op: string }[];
    for (const [i, o] of ops.entries()) if ((o.op === 'exit' || o.op === 'unregister') && i !== ops.length - 1) bad(`${o.op} must be the last operation of its thread`);
    for (const [i, o] of ops.entries()) if (o.op === 'register' && i !== 0) bad('register must be the first operation of its thread');
  }
  if (threads.some((t) => (t.ops as readonly { op: string }[]).some((o) => o.op === 'exit')) && threads.filter((t) => t.kind === 'cpu' || t.kind === 'numa').length > 1) {
    bad('exit needs the only cpu thread: the mm\'s last user exits (a numa thread is another thread of the process)');
  }
  const { thp, thpOrder } = x as Scenario;
  if (thp !== undefined && typeof thp !== 'boolean') bad('thp must be a boolean');
  if (thpOrder !== undefined && !(thp === true && Number.isInteger(thpOrder) && thpOrder >= 1 && thpOrder <= MAX_THP_ORDER)) {
    bad(`thpOrder needs thp: true and an integer in [1, ${MAX_THP_ORDER}]`);
  }
  const { file } = x as Scenario;
  if (file !== undefined && typeof file !== 'boolean') bad('file must be a boolean');
  if (threads.some((t) => t.kind === 'writeback') && file !== true) bad('writeback threads need file: true');
  if (file === true) {
    // the shared file VMA has only these call sites modelled (src/kernel/writeback.ts)
    if (thp && (x as Scenario).dax !== true) bad('file and thp together are not modelled (except a DAX file: dax: true)');
    // (NUMA balancing on the file VMA would migrate page-cache pages: not modelled)
    const kind = threads.find((t) => !['cpu', 'device', 'writeback'].includes(t.kind));
    if (kind) bad(`a ${kind.kind} thread is not modelled on a shared file VMA`);
    for (const t of threads) {
      for (const o of t.ops as readonly { op: string }[]) {
        if (t.kind === 'cpu' && !['access', 'munmap', 'dontneed', 'exit', 'punch'].includes(o.op)) bad(`${o.op} is not modelled on a shared file VMA`);
      }
    }
  }
  if (file !== true && threads.some((t) => (t.ops as readonly { op: string }[]).some((o) => o.op === 'punch'))) bad('punch needs file: true (a hole in the shared file)');
  const { dax } = x as Scenario;
  if (dax !== undefined && typeof dax !== 'boolean') bad('dax must be a boolean');
  if (dax === true) {
    // src/kernel/dax.ts: PMD faults and writeback only (no zap of a DAX PMD)
    if (file !== true || thp !== true) bad('dax needs file: true and thp: true');
    for (const t of threads) for (const o of t.ops as readonly { op: string }[]) if (t.kind === 'cpu' && o.op !== 'access') bad(`${o.op} is not modelled on a DAX file VMA`);
  }
  return x as Scenario;
}
