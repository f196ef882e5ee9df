/**
 * The machine: all mutable state of one execution in one value, objects referenced by index handles
 * (pages by pfn, PTEs by virtual page number, locks, counters and secondary tables by id).
 *
 * Nothing outside this value changes during an execution, so an execution can be reset (build a new
 * machine), copied (`cloneMachine`), hashed and printed.
 */
import { UsageError } from './errors';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** First user address of the modelled VMA. Small, so that timelines stay readable. */
export const VMA_BASE = 0x100000;
/** pfn 0 is the shared zero page (`my_zero_pfn()`): mapped read-only by read faults, never freed. */
export const ZERO_PFN = 0;

export const enum Writer {
  None = 0,
  Cpu = 1,
  Device = 2,
}

export interface Page {
  refcount: number;
  mapcount: number;
  free: boolean;
  /** Bumped at every free: a pfn that comes back from the allocator is a different page. */
  generation: number;
  /** PG_dirty. */
  dirty: boolean;
  /** PG_swapbacked: cleared by MADV_FREE (mark_page_lazyfree): a clean lazyfree page is discarded, not swapped. */
  swapBacked: boolean;
  /** A device wrote the page since its data was last made safe (PG_dirty set, or written back): no-lost-dirty. */
  deviceWrote: boolean;
  /** PG_swapcache: the page is in the swap cache (which holds one reference). */
  swapCache: boolean;
  /** PG_locked: the thread holding the page lock, or -1. */
  lockedBy: number;
  lastWriter: Writer;
  /** Step at which the page was last freed (-1 if never): reports say when. */
  freedAt: number;
  /** `compound_order()`: the THP's order on its head page, 0 on order-0 and tail pages. */
  order: number;
  /** `compound_head()` of a tail page (its head's pfn, kept while the THP is free); -1 on head and order-0 pages. */
  compoundHead: number;
  /** The head's `compound_mapcount`: huge PMDs mapping the THP (0 on other pages). */
  compoundMapcount: number;
  /** PageKsm (`page->mapping` with PAGE_MAPPING_KSM): a merged page of the KSM stable tree (mm/ksm.c). */
  ksm: boolean;
  /**
   * Migration copied this page's contents to its replacement (`migrate_page_copy`) and has not
   * given up: a write to it from now on is lost when the replacement takes its place (no-lost-write).
   * On the head page of a THP.
   */
  copied: boolean;
  /** The first write to the page after `copied` was set (who wrote, and when), for no-lost-write. */
  writeAfterCopy: string | null;
}

/** A primary PTE. `swap` entries keep the pfn of the swap-cache page they were unmapped from. */
export interface Pte {
  pfn: number;
  generation: number;
  writable: boolean;
  dirty: boolean;
  young: boolean;
  swap: boolean;
  /** With `swap`: a migration entry (`make_migration_entry`), installed while a THP is split (freeze). */
  migration?: boolean;
  /**
   * `pte_protnone()`: a NUMA hinting entry (change_prot_numa, src/kernel/numa.ts): present in the
   * page table and the rmap, but neither the CPU nor an IOMMU walk may use it (x86: _PAGE_PROTNONE
   * without _PAGE_PRESENT); the access faults into do_numa_page. `writable` is then the write
   * permission the hinting fault gives back (pte_savedwrite up to v5.7, x86's RW bit).
   */
  protnone?: boolean;
  /**
   * Only in what a page-table read returns: the page is mapped by a huge PMD (`pmd_trans_huge`), and
   * this is the view of its subpage at the address read. Never stored in `ptes`.
   */
  huge?: boolean;
  /** Only in a page-table read, with `huge`: the PMD maps the huge zero page (`is_huge_zero_pmd`). */
  hugeZero?: boolean;
}

/** A huge PMD (`pmd_trans_huge`): maps the aligned region of 2^thpOrder pages to the THP at `pfn` (its head). */
export interface Pmd {
  pfn: number;
  generation: number;
  writable: boolean;
  dirty: boolean;
  young: boolean;
  /** `pmd_protnone()`: a NUMA hinting huge PMD (change_huge_pmd with prot_numa); as Pte.protnone. */
  protnone?: boolean;
  /** Only in what a PMD read or clear returns: `is_huge_zero_pmd()`, it maps the huge zero page (Machine.hugeZero), read-only, with no rmap. */
  zero?: boolean;
  /**
   * `is_pmd_migration_entry()` (v4.14+, CONFIG_ARCH_ENABLE_THP_MIGRATION): not present, the THP
   * headed at `pfn` is being migrated whole (set_pmd_migration_entry); `writable` is
   * is_write_migration_entry. Holds no reference and no rmap of the THP.
   */
  migration?: boolean;
}

/** A secondary-MMU entry (an spte): what the device uses to reach memory. */
export interface Spte {
  pfn: number;
  /** The generation of the page when the driver looked it up (from gup), not when installed. */
  generation: number;
  writable: boolean;
  /**
   * The accessed bit (EPT/NPT A bit; KVM's shadow_accessed_mask): set by a device access through
   * the entry, test-and-cleared by `->clear_flush_young` (KVM kvm_age_rmapp → mmu_spte_age).
   * Absent until the first access (as false).
   */
  young?: boolean;
}

export const enum LockKind {
  Spin = 0,
  Mutex = 1,
  RwSem = 2,
}

export interface Lock {
  readonly kind: LockKind;
  readonly name: string;
  /** Exclusive owner (thread id) or -1. */
  owner: number;
  /** Thread ids holding the lock for read (rw-semaphores). */
  readers: number[];
  /**
   * rw-semaphores: writers queued because the lock is held. The kernel's rwsem makes new readers
   * wait behind a queued writer (writer preference), which is what turns nested read acquisitions
   * into deadlocks (reference §3 B14). Refreshed by the runtime before each step.
   */
  writersQueued: number;
}

export interface SecondaryTable {
  readonly name: string;
  /** Name of the driver (notifier) that owns it. */
  readonly owner: string;
  /** The owner's contract is `mirror`: once an invalidation completes, the table follows the CPU's. */
  readonly mirror: boolean;
  entries: (Spte | null)[];
}

export interface ThreadContext {
  readonly name: string;
  /** Spinlocks held + local_irq_disable depth: > 0 means atomic context. */
  atomic: number;
  /** Consecutive retries of a retry loop (`cpuRelax` marked as a retry) since the thread last made progress. */
  retries: number;
  /** Depth of non-blockable invalidations the thread is in (OOM reaper: `blockable == false`). */
  nonBlock: number;
  /** Lock ids held, in acquisition order. */
  held: number[];
  done: boolean;
}

/** A change of a present primary mapping that no notifier call has covered yet. */
export interface Obligation {
  readonly thread: number;
  readonly vpn: number;
  readonly step: number;
  /** Not inside a range_start … range_end window (nor followed by invalidate_page): start/end users were not told. */
  bracket: boolean;
  /** Not followed by invalidate_range / invalidate_page / a range_end that calls ->invalidate_range. */
  range: boolean;
  /**
   * The step at which the same thread changed the same page's mapping again while this change was
   * still untold: a notification after that is about the later change, and cannot tell of this one.
   */
  supersededAt?: number;
  /** For a clear: the present entry it removed, so that setting the same one back undoes the change. */
  readonly cleared?: { readonly pfn: number; readonly generation: number; readonly writable: boolean };
}

/** A range_start … range_end window of one thread: changes inside it are covered. */
export interface CoverWindow {
  readonly thread: number;
  readonly start: number;
  readonly end: number;
}

/** An invalidate_range_start that returned 0 and has not had its _end yet. */
export interface OpenBracket {
  readonly thread: number;
  readonly notifier: string;
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

export interface Machine {
  /** Number of virtual pages in the modelled VMA. */
  readonly nPages: number;
  pages: Page[];
  /** LIFO free list of pfns: a freed pfn is the first to be reused, like the per-cpu page lists. */
  freeList: number[];
  ptes: (Pte | null)[];
  /** Whether each virtual page still lies inside a VMA (munmap detaches). */
  vma: boolean[];
  /** VM_WRITE of the VMA each virtual page lies in (mprotect changes it). */
  vmaWritable: boolean[];
  locks: Lock[];
  counters: number[];
  readonly counterNames: string[];
  tables: SecondaryTable[];
  threads: ThreadContext[];
  /** Open start/end brackets, per notifier (start-end-paired). */
  brackets: OpenBracket[];
  /** End without a start, seen by the dispatcher: the first one, for the invariant to report. */
  unpairedEnd: string | null;
  /** Whether any notifier is registered (mm_has_notifiers): only then must changes be notified. */
  hasNotifiers: boolean;
  /** Open range_start windows per thread, and changes not yet covered (full-range-invalidated). */
  windows: CoverWindow[];
  obligations: Obligation[];
  /** The ranges each thread has notified since its last uncovered change, for messages. */
  notified: string[];
  /** Lock-order graph (lockdep-style): edges `held → acquired` by lock id, as `held * 65536 + acquired`. */
  lockOrder: number[];
  /** The first loss of device-written data seen (a lazyfree page discarded with it), for no-lost-dirty. */
  lostDirty: string | null;
  /** The first write lost to a migration (written after migrate_page_copy, then the page replaced), for no-lost-write. */
  lostWrite: string | null;
  /** The first lock-order inversion seen, for the no-deadlock invariant to report. */
  lockInversion: string | null;
  /** Notifier calls under way (range_end, invalidate_range, invalidate_page): their callbacks are running. */
  notifying: { readonly thread: number; readonly kind: number; readonly start: number; readonly end: number; readonly alsoRange: boolean }[];
  /** Invalidations that completed (range_end returned), to check mirrors against when their thread finishes. */
  mirrorChecks: CoverWindow[];
  /** Global step counter (number of effects applied so far). */
  step: number;
  /** `HPAGE_PMD_ORDER` of this execution: 0 without transparent huge pages (see `enableThp`). */
  thpOrder: number;
  /** Per aligned region of 2^thpOrder pages (`vpn >> thpOrder`): its huge PMD, or null. Empty without THP. */
  pmds: (Pmd | null)[];
  /** Per region: whether its PMD points to a PTE table (`pmd_populate`), so a fault there is a PTE fault. */
  pteTables: boolean[];
  /** Heads of freed THPs, reused LIFO by the next huge allocation (order-0 pages use `freeList`). */
  freeHuge: number[];
  /**
   * The huge zero page's head (`huge_zero_page`, mm/huge_memory.c get_huge_zero_page: allocated at
   * the first read fault that maps it, then kept), or -1. Mapped read-only by huge PMDs with no rmap
   * and no reference of their own; never freed in the model (the shrinker that frees it once no mm
   * uses it is not modelled).
   */
  hugeZero: number;
}

export function newPage(): Page {
  return { refcount: 0, mapcount: 0, free: true, generation: 0, dirty: false, swapBacked: true, deviceWrote: false, swapCache: false, lockedBy: -1, lastWriter: Writer.None, freedAt: -1, order: 0, compoundHead: -1, compoundMapcount: 0, ksm: false, copied: false, writeAfterCopy: null };
}

export function createMachine(nPages: number): Machine {
  const zero = newPage();
  zero.free = false;
  zero.refcount = 1; // the zero page is reserved and never freed
  const ptes: (Pte | null)[] = new Array(nPages).fill(null);
  const vma: boolean[] = new Array(nPages).fill(true);
  return { nPages, pages: [zero], freeList: [], ptes, vma, vmaWritable: new Array(nPages).fill(true), locks: [], counters: [], counterNames: [], tables: [], threads: [], brackets: [], unpairedEnd: null, hasNotifiers: false, windows: [], obligations: [], notified: [], lockOrder: [], lostDirty: null, lostWrite: null, lockInversion: null, notifying: [], mirrorChecks: [], step: 0, thpOrder: 0, pmds: [], pteTables: [], freeHuge: [], hugeZero: -1 };
}

export function addLock(m: Machine, kind: LockKind, name: string): number {
  m.locks.push({ kind, name, owner: -1, readers: [], writersQueued: 0 });
  return m.locks.length - 1;
}

export function addCounter(m: Machine, name: string, initial = 0): number {
  m.counters.push(initial);
  m.counterNames.push(name);
  return m.counters.length - 1;
}

export function addTable(m: Machine, name: string, owner: string, mirror = false): number {
  m.tables.push({ name, owner, mirror, entries: new Array(m.nPages).fill(null) });
  return m.tables.length - 1;
}

export function addressOf(vpn: number): number {
  return VMA_BASE + vpn * PAGE_SIZE;
}

export function vpnOf(address: number): number {
  return Math.floor((address - VMA_BASE) / PAGE_SIZE);
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** A deep copy; the copy shares nothing mutable with the original. */
export function cloneMachine(m: Machine): Machine {
  return {
    nPages: m.nPages,
    pages: m.pages.map((p) => ({ ...p })),
    freeList: m.freeList.slice(),
    ptes: m.ptes.map((p) => (p ? { ...p } : null)),
    vma: m.vma.slice(),
    vmaWritable: m.vmaWritable.slice(),
    locks: m.locks.map((l) => ({ ...l, readers: l.readers.slice() })),
    counters: m.counters.slice(),
    counterNames: m.counterNames.slice(),
    tables: m.tables.map((t) => ({ ...t, entries: t.entries.map((e) => (e ? { ...e } : null)) })),
    threads: m.threads.map((t) => ({ ...t, held: t.held.slice() })),
    brackets: m.brackets.slice(),
    unpairedEnd: m.unpairedEnd,
    hasNotifiers: m.hasNotifiers,
    windows: m.windows.slice(),
    obligations: m.obligations.slice(),
    notified: m.notified.slice(),
    lockOrder: m.lockOrder.slice(),
    lostDirty: m.lostDirty,
    lostWrite: m.lostWrite,
    lockInversion: m.lockInversion,
    notifying: m.notifying.slice(),
    mirrorChecks: m.mirrorChecks.slice(),
    step: m.step,
    thpOrder: m.thpOrder,
    pmds: m.pmds.map((x) => (x ? { ...x } : null)),
    pteTables: m.pteTables.slice(),
    freeHuge: m.freeHuge.slice(),
    hugeZero: m.hugeZero,
  };
}

/**
 * Turns transparent huge pages on for a new machine (`transparent_hugepage=always`): THPs of
 * `order` (HPAGE_PMD_ORDER; small, so state spaces stay tractable), one PMD per aligned region of
 * 2^order pages. `VMA_BASE` is aligned for every order up to 8.
 */
export function enableThp(m: Machine, order: number): void {
  if (!Number.isInteger(order) || order < 1 || order > 8) throw new UsageError(`thpOrder must be an integer in [1, 8], not ${order}`);
  const regions = Math.ceil(m.nPages / (1 << order));
  m.thpOrder = order;
  m.pmds = new Array(regions).fill(null);
  m.pteTables = new Array(regions).fill(false);
}

/**
 * What a page-table walk finds at `vpn`: its PTE, or under a huge PMD the view of the subpage
 * (`huge: true`), or null. Invariants and reports read the primary page table through this.
 */
export function pageTableEntry(m: Machine, vpn: number): Pte | null {
  const pte = m.ptes[vpn];
  if (pte || m.thpOrder === 0) return pte;
  const pmd = m.pmds[vpn >> m.thpOrder];
  if (!pmd) return null;
  const pfn = pmd.pfn + (vpn & ((1 << m.thpOrder) - 1));
  const view: Pte = { pfn, generation: m.pages[pfn].generation, writable: pmd.writable, dirty: pmd.dirty, young: pmd.young, swap: false, huge: true };
  if (pmd.protnone) view.protnone = true;
  if (isHugeZero(m, pmd.pfn)) view.hugeZero = true;
  if (pmd.migration) {
    // the subpage's view of a PMD migration entry: a (non-present) migration entry
    view.swap = true;
    view.migration = true;
  }
  return view;
}

/** `is_huge_zero_page()` of the page at `pfn` (any of its subpages). */
export function isHugeZero(m: Machine, pfn: number): boolean {
  return m.hugeZero >= 0 && pfn >= m.hugeZero && pfn < m.hugeZero + (1 << m.thpOrder);
}

/** `compound_head()`: the pfn of the head of the page at `pfn` (itself unless it is a THP tail). */
export function headPfn(m: Machine, pfn: number): number {
  const h = m.pages[pfn].compoundHead;
  return h < 0 ? pfn : h;
}
