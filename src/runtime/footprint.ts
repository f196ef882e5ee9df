/**
 * Footprints: which shared objects an effect reads and writes. Derived from the effect itself (the
 * effect set is closed), so every effect declares its footprint without the thread code saying it.
 *
 * Used by the runtime to run only the invariants an effect can affect, and by partial-order
 * reduction to decide which steps commute.
 */
import { Op, type Effect } from './effect';
import type { Machine } from './machine';

/** Kinds of shared object. An object id is `kind << 24 | index`. */
export const enum Obj {
  Lock = 1,
  Counter = 2,
  Page = 3,
  Pte = 4,
  Spte = 5,
  Vma = 6,
  Allocator = 7,
  CpuTlb = 8,
  Thread = 9,
  /** The notifier dispatcher's record of open start/end brackets. */
  Bracket = 10,
  /** A PMD (one per aligned THP region). */
  Pmd = 11,
}

/** Bit masks of object kinds, for cheap "may this step affect that invariant" tests. */
export const K_LOCK = 1 << Obj.Lock;
export const K_COUNTER = 1 << Obj.Counter;
export const K_PAGE = 1 << Obj.Page;
export const K_PTE = 1 << Obj.Pte;
export const K_SPTE = 1 << Obj.Spte;
export const K_VMA = 1 << Obj.Vma;
export const K_ALLOC = 1 << Obj.Allocator;
export const K_TLB = 1 << Obj.CpuTlb;
export const K_THREAD = 1 << Obj.Thread;
export const K_BRACKET = 1 << Obj.Bracket;
export const K_PMD = 1 << Obj.Pmd;

export function objId(kind: Obj, index: number): number {
  return (kind << 24) | index;
}

/** The object of page `pfn`: its THP head's (compound_head), where the refcount and flags live. */
function pageObj(m: Machine, pfn: number): number {
  const p = m.pages[pfn];
  return objId(Obj.Page, p !== undefined && p.compoundHead >= 0 ? p.compoundHead : pfn);
}

/** Per op: the kinds of object it may write. */
const WRITES: number[] = [];
function w(op: Op, mask: number) {
  WRITES[op] = mask;
}
w(Op.SpinLock, K_LOCK | K_THREAD);
w(Op.SpinUnlock, K_LOCK | K_THREAD);
w(Op.MutexLock, K_LOCK | K_THREAD);
w(Op.MutexUnlock, K_LOCK | K_THREAD);
w(Op.DownRead, K_LOCK | K_THREAD);
w(Op.UpRead, K_LOCK | K_THREAD);
w(Op.DownWrite, K_LOCK | K_THREAD);
w(Op.UpWrite, K_LOCK | K_THREAD);
w(Op.DownReadTrylock, K_LOCK | K_THREAD);
w(Op.MutexTrylock, K_LOCK | K_THREAD);
w(Op.NonBlockStart, K_THREAD);
w(Op.NonBlockEnd, K_THREAD);
w(Op.LocalIrqDisable, K_THREAD);
w(Op.LocalIrqEnable, K_THREAD);
w(Op.MightSleep, 0);
w(Op.CpuRelax, 0);
w(Op.Note, 0);
w(Op.Notify, K_BRACKET);
w(Op.BracketOpen, K_BRACKET);
w(Op.BracketClose, K_BRACKET);
w(Op.Read, 0);
w(Op.WaitCounter, 0);
w(Op.WaitCounterChange, 0);
w(Op.Write, K_COUNTER);
w(Op.Add, K_COUNTER);
w(Op.AllocPage, K_PAGE | K_ALLOC);
w(Op.GetPage, K_PAGE);
w(Op.DupMapping, K_PAGE);
w(Op.GetPageUnlessZero, K_PAGE);
w(Op.PutPage, K_PAGE | K_ALLOC);
w(Op.SetPageDirty, K_PAGE);
w(Op.PageRefFreeze, K_PAGE | K_ALLOC);
w(Op.LockPage, K_PAGE);
w(Op.TrylockPage, K_PAGE);
w(Op.UnlockPage, K_PAGE);
w(Op.SwapCacheAdd, K_PAGE);
w(Op.MarkLazyfree, K_PAGE);
w(Op.SetSwapBacked, K_PAGE);
w(Op.SetPageKsm, K_PAGE);
w(Op.PageCopy, K_PAGE);
w(Op.PageFlags, 0);
w(Op.LazyfreeFreeze, K_PAGE | K_ALLOC);
w(Op.LazyfreeReturn, K_PAGE);
w(Op.Writeback, K_PAGE);
w(Op.PteRead, 0);
w(Op.PteTouch, K_PTE);
w(Op.PteSet, K_PTE | K_PAGE | K_BRACKET);
w(Op.PteClear, K_PTE | K_PAGE | K_BRACKET);
w(Op.TlbFlush, K_TLB);
w(Op.VmaLookup, 0);
w(Op.VmaAllows, 0);
w(Op.VmaProtect, K_VMA);
w(Op.PageMapcount, 0);
w(Op.VmaDetach, K_VMA);
w(Op.SpteRead, 0);
w(Op.SpteSet, K_SPTE);
w(Op.SpteClearRange, K_SPTE);
w(Op.DeviceAccess, K_PAGE);

w(Op.AllocHugePage, K_PAGE | K_ALLOC);
w(Op.PmdRead, 0);
w(Op.PmdSet, K_PMD | K_PAGE | K_BRACKET);
w(Op.PmdClear, K_PMD | K_PAGE | K_BRACKET);
w(Op.PmdSplit, K_PMD | K_PTE | K_PAGE | K_BRACKET | K_ALLOC);
w(Op.CompoundHead, 0);
w(Op.PageCount, 0);
w(Op.SplitHugePage, K_PAGE);

export function writeKinds(op: Op): number {
  return WRITES[op];
}

export interface Footprint {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
  /** Whether the step is a synchronisation (lock acquire/release): DPOR treats these as conflicts. */
  readonly sync: boolean;
}

/** The exact objects an effect reads and writes on machine `m` (before it is applied). */
export function footprint(m: Machine, tid: number, e: Effect): Footprint {
  const thread = objId(Obj.Thread, tid);
  switch (e.op) {
    case Op.SpinLock:
    case Op.SpinUnlock:
    case Op.MutexLock:
    case Op.MutexUnlock:
    case Op.DownRead:
    case Op.UpRead:
    case Op.DownWrite:
    case Op.UpWrite:
    case Op.DownReadTrylock:
    case Op.MutexTrylock:
      return { reads: [], writes: [objId(Obj.Lock, e.a), thread], sync: true };
    case Op.NonBlockStart:
    case Op.NonBlockEnd:
    case Op.LocalIrqDisable:
    case Op.LocalIrqEnable:
      return { reads: [], writes: [thread], sync: false };
    case Op.MightSleep:
    case Op.CpuRelax:
    case Op.Note:
      return { reads: [thread], writes: [], sync: false };
    case Op.Notify:
    case Op.BracketOpen:
    case Op.BracketClose:
      return { reads: [], writes: [objId(Obj.Bracket, 0)], sync: false };
    case Op.Read:
      return { reads: [objId(Obj.Counter, e.a)], writes: [], sync: false };
    case Op.WaitCounter:
    case Op.WaitCounterChange:
      // a blocking read: it conflicts with every write of the counter (it may enable it)
      return { reads: [objId(Obj.Counter, e.a)], writes: [], sync: true };
    case Op.Write:
    case Op.Add:
      return { reads: [], writes: [objId(Obj.Counter, e.a)], sync: false };
    case Op.AllocPage: {
      const next = m.freeList.length > 0 ? m.freeList[m.freeList.length - 1] : m.pages.length;
      return { reads: [], writes: [objId(Obj.Allocator, 0), objId(Obj.Page, next)], sync: false };
    }
    case Op.LockPage:
    case Op.TrylockPage:
    case Op.UnlockPage:
      return { reads: [], writes: [pageObj(m, e.a)], sync: true };
    case Op.GetPage:
    case Op.DupMapping:
    case Op.GetPageUnlessZero:
    case Op.SetPageDirty:
    case Op.SwapCacheAdd:
    case Op.Writeback:
    case Op.MarkLazyfree:
    case Op.SetSwapBacked:
    case Op.SetPageKsm:
    case Op.PageCopy:
      return { reads: [], writes: [pageObj(m, e.a)], sync: false };
    case Op.PageFlags:
      return { reads: [pageObj(m, e.a)], writes: [], sync: false };
    case Op.PutPage:
    case Op.PageRefFreeze:
    case Op.LazyfreeFreeze:
      return { reads: [], writes: [pageObj(m, e.a), objId(Obj.Allocator, 0)], sync: false };
    case Op.LazyfreeReturn: {
      const reads: number[] = [];
      const writes: number[] = [];
      for (let v = e.a; v < e.a + e.b && v < m.nPages; v++) {
        reads.push(objId(Obj.Pte, v));
        const pte = m.ptes[v];
        if (pte && !pte.swap && pte.pfn !== 0) writes.push(pageObj(m, pte.pfn));
      }
      return { reads, writes, sync: false };
    }
    case Op.PteRead:
      // under THP a page-table read also reads the region's PMD (a huge PMD answers it)
      return { reads: m.thpOrder > 0 ? [objId(Obj.Pte, e.a), objId(Obj.Pmd, e.a >> m.thpOrder)] : [objId(Obj.Pte, e.a)], writes: [], sync: false };
    case Op.PteTouch:
      return { reads: m.thpOrder > 0 ? [objId(Obj.Pmd, e.a >> m.thpOrder)] : [], writes: [objId(Obj.Pte, e.a)], sync: false };
    case Op.PteSet:
    case Op.PteClear: {
      const cur = m.ptes[e.a];
      const writes = [objId(Obj.Pte, e.a)];
      if (m.thpOrder > 0) writes.push(objId(Obj.Pmd, e.a >> m.thpOrder)); // pte_alloc populates the PMD
      if (cur && !cur.swap) writes.push(pageObj(m, cur.pfn));
      if (e.op === Op.PteSet) writes.push(pageObj(m, (e.d as { pfn: number }).pfn));
      return { reads: [], writes, sync: false };
    }
    case Op.TlbFlush:
      return { reads: [], writes: [objId(Obj.CpuTlb, 0)], sync: false };
    case Op.VmaLookup:
    case Op.VmaAllows:
      return { reads: [objId(Obj.Vma, e.a)], writes: [], sync: false };
    case Op.PageMapcount:
      return { reads: [pageObj(m, e.a)], writes: [], sync: false };
    case Op.VmaProtect: {
      const writes: number[] = [];
      for (let v = e.a; v < e.a + e.b && v < m.nPages; v++) writes.push(objId(Obj.Vma, v));
      return { reads: [], writes, sync: false };
    }
    case Op.VmaDetach: {
      const writes: number[] = [];
      for (let v = e.a; v < e.a + e.b && v < m.nPages; v++) writes.push(objId(Obj.Vma, v));
      return { reads: [], writes, sync: false };
    }
    case Op.SpteRead:
      return { reads: [objId(Obj.Spte, e.a * 4096 + e.b)], writes: [], sync: false };
    case Op.SpteSet:
      return { reads: [], writes: [objId(Obj.Spte, e.a * 4096 + e.b)], sync: false };
    case Op.SpteClearRange: {
      const writes: number[] = [];
      for (let v = Math.max(0, e.b); v < e.c && v < m.nPages; v++) {
        writes.push(objId(Obj.Spte, e.a * 4096 + v));
        const s = e.d === 'dirty' ? m.tables[e.a]?.entries[v] : null;
        if (s && s.writable) writes.push(pageObj(m, s.pfn)); // kvm_set_pfn_dirty
      }
      return { reads: [], writes, sync: false };
    }
    case Op.DeviceAccess: {
      const s = m.tables[e.a]?.entries[e.b];
      const reads = [objId(Obj.Spte, e.a * 4096 + e.b)];
      return { reads, writes: s ? [pageObj(m, s.pfn)] : [], sync: false };
    }
    case Op.AllocHugePage:
    case Op.PmdRead:
    case Op.PmdSet:
    case Op.PmdClear:
    case Op.PmdSplit:
    case Op.CompoundHead:
    case Op.PageCount:
    case Op.SplitHugePage:
      return hugeFootprint(m, e);
  }
}

/**
 * THP effects. Page objects are the head's: the refcount, PG_locked, PG_dirty and PG_swapcache
 * of a THP live on its head, so two effects on different subpages of one THP do not commute.
 */
function hugeFootprint(m: Machine, e: Effect): Footprint {
  const nr = 1 << m.thpOrder;
  const region = e.a >> m.thpOrder;
  const pmd = objId(Obj.Pmd, region);
  const headObj = (pfn: number) => pageObj(m, pfn);
  switch (e.op) {
    case Op.AllocHugePage: {
      const next = m.freeHuge.length > 0 ? m.freeHuge[m.freeHuge.length - 1] : m.pages.length;
      const writes = [objId(Obj.Allocator, 0)];
      for (let i = 0; i < nr; i++) writes.push(objId(Obj.Page, next + i)); // a reused THP's pfns are its head's object anyway
      return { reads: [], writes, sync: false };
    }
    case Op.PmdRead:
      return { reads: [pmd], writes: [], sync: false };
    case Op.PmdSet:
    case Op.PmdClear:
    case Op.PmdSplit: {
      const cur = m.pmds[region];
      const writes = [pmd];
      for (let v = region * nr; v < (region + 1) * nr; v++) writes.push(objId(Obj.Pte, v));
      if (cur) writes.push(objId(Obj.Page, cur.pfn));
      if (e.op === Op.PmdSet) writes.push(objId(Obj.Page, (e.d as { pfn: number }).pfn));
      if (e.op === Op.PmdSplit) writes.push(objId(Obj.Allocator, 0));
      return { reads: [], writes, sync: false };
    }
    case Op.CompoundHead:
    case Op.PageCount:
      return { reads: [headObj(e.a)], writes: [], sync: false };
    default: {
      // SplitHugePage: every subpage becomes its own object afterwards
      const writes = [objId(Obj.Allocator, 0)];
      for (let i = 0; i < nr; i++) writes.push(objId(Obj.Page, e.a + i));
      return { reads: [], writes, sync: false };
    }
  }
}
