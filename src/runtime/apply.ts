/**
 * The semantics of each effect on the machine: whether it can run now (`isEnabled`: a lock that is
 * taken blocks its acquirer) and what it does (`applyEffect`). This is the only code that mutates a
 * {@link Machine} during an execution.
 */
import { Op, type Effect } from './effect';
import { InternalError, ModelError } from './errors';
import { LockKind, PAGE_SIZE, VMA_BASE, Writer, ZERO_PFN, newPage, type Machine, type Obligation, type Page, type Pte, type Spte } from './machine';
import type { PageRef } from './primitives';
import { applyHugeEffect, assertNoHugePmd, hugeView } from './apply-huge';

export function isEnabled(m: Machine, tid: number, e: Effect): boolean {
  switch (e.op) {
    case Op.SpinLock:
    case Op.MutexLock:
    case Op.DownWrite: {
      const l = m.locks[e.a];
      return l.owner === -1 && l.readers.length === 0;
    }
    case Op.DownRead: {
      const l = m.locks[e.a];
      return l.owner === -1 && (l.writersQueued === 0 || (e.c === 1 && l.readers.includes(tid)));
    }
    case Op.LockPage: {
      const pg = m.pages[e.a];
      return pg === undefined || m.pages[pg.compoundHead < 0 ? e.a : pg.compoundHead].lockedBy === -1; // PG_locked is the head's
    }
    case Op.WaitCounter:
      return m.counters[e.a] === e.b;
    case Op.WaitCounterChange:
      return m.counters[e.a] !== e.b;
    default:
      return true;
  }
}

function lockOf(m: Machine, id: number, e: Effect) {
  const l = m.locks[id];
  if (l === undefined) throw new ModelError(`no lock with id ${id}`);
  const want =
    e.op === Op.SpinLock || e.op === Op.SpinUnlock ? LockKind.Spin : e.op === Op.MutexLock || e.op === Op.MutexUnlock || e.op === Op.MutexTrylock ? LockKind.Mutex : LockKind.RwSem;
  if (l.kind !== want) throw new ModelError(`lock '${l.name}' is not a ${['spinlock', 'mutex', 'rw-semaphore'][want]}`);
  return l;
}

function release(m: Machine, tid: number, lockId: number) {
  const held = m.threads[tid].held;
  const i = held.lastIndexOf(lockId);
  if (i < 0) throw new ModelError(`releases '${m.locks[lockId].name}', which it does not hold`);
  held.splice(i, 1);
}

/** Whether the lock-order graph has a path from `from` to `to`. */
function reaches(m: Machine, from: number, to: number): boolean {
  const seen = new Set<number>([from]);
  const stack = [from];
  while (stack.length > 0) {
    const a = stack.pop() as number;
    if (a === to) return true;
    for (const e of m.lockOrder) {
      if (Math.floor(e / 65536) !== a) continue;
      const b = e % 65536;
      if (!seen.has(b)) {
        seen.add(b);
        stack.push(b);
      }
    }
  }
  return false;
}

/**
 * lockdep's dependency tracking (kernel/locking/lockdep.c check_prev_add): acquiring `lock` while
 * holding `h` adds the edge h → lock; if lock ⇝ h is already in the graph the order is inverted,
 * which can deadlock in some other interleaving even if this one did not. Trylocks add no edge.
 * Two read acquisitions of the same rw-semaphore class are not ordered against each other.
 */
function recordLockOrder(m: Machine, tid: number, lock: number) {
  for (const h of m.threads[tid].held) {
    if (h === lock) continue;
    const code = h * 65536 + lock;
    if (m.lockOrder.includes(code)) continue;
    if (m.lockInversion === null && reaches(m, lock, h)) {
      m.lockInversion = `${m.threads[tid].name} takes ${m.locks[lock].name} while holding ${m.locks[h].name}, but ${m.locks[lock].name} → ${m.locks[h].name} was taken in that order before: possible ABBA deadlock`;
    }
    m.lockOrder.push(code);
  }
}

/**
 * A present mapping at `vpn` changed (cleared, pointed elsewhere, or lost write permission): the
 * secondary MMUs must hear of it, from an open range_start window or a later notifier call.
 */
export function mappingChanged(m: Machine, tid: number, vpn: number, cleared?: Pte) {
  if (!m.hasNotifiers) return;
  const address = VMA_BASE + vpn * PAGE_SIZE;
  const bracketed = m.windows.some((w) => w.thread === tid && w.start < address + PAGE_SIZE && address < w.end);
  // an untold earlier change of this page by this thread stays untold: what comes next is about this one
  // (a THP frozen to migration entries, remapped, then unmapped again as order-0 pages)
  for (const o of m.obligations) if (o.thread === tid && o.vpn === vpn && o.supersededAt === undefined) o.supersededAt = m.step;
  const o: Obligation = { thread: tid, vpn, step: m.step, bracket: !bracketed, range: true };
  m.obligations.push(cleared ? { ...o, cleared: { pfn: cleared.pfn, generation: cleared.generation, writable: cleared.writable } } : o);
}

/**
 * The same thread sets back, over a none PTE, exactly the entry it cleared and has told nobody of
 * (try_to_unmap_one's redirtied MADV_FREE page: `set_pte_at(mm, address, pvmw.pte, pteval)` with no
 * notifier, v4.12 … v6.8): the mapping is as it was, there is nothing to tell.
 */
function undoneChange(m: Machine, tid: number, vpn: number, pte: Pte) {
  if (pte.swap || pte.protnone) return;
  const i = m.obligations.findIndex((o) => o.thread === tid && o.vpn === vpn && o.supersededAt === undefined && o.cleared !== undefined && o.cleared.pfn === pte.pfn && o.cleared.generation === pte.generation && o.cleared.writable === pte.writable);
  if (i >= 0) m.obligations.splice(i, 1);
}

/** A notifier call of thread `tid` over [start, end) tells the secondaries of the changes it covers. */
function discharge(m: Machine, tid: number, start: number, end: number, bracket: boolean, range: boolean) {
  for (const o of m.obligations) {
    const a = VMA_BASE + o.vpn * PAGE_SIZE;
    if (o.thread !== tid || !(start < a + PAGE_SIZE && a < end) || o.supersededAt !== undefined) continue;
    if (bracket) o.bracket = false;
    if (range) o.range = false;
  }
  m.obligations = m.obligations.filter((o) => o.bracket || o.range);
}

/** Whether a primary entry gives access (a present PTE that is not a NUMA hinting one): only then can a secondary have it. */
function accessible(pte: Pte): boolean {
  return !pte.swap && !pte.protnone;
}

/** The page a reference names, checking that the reference is still to that page (same generation). */
export function pageOf(m: Machine, pfn: number, generation: number, what: string): Page {
  const p = m.pages[pfn];
  if (p === undefined) throw new ModelError(`${what}: no page with pfn ${pfn}`);
  if (p.generation !== generation || p.free) {
    throw new ModelError(`${what} on pfn ${pfn} generation ${generation}, but that page was freed (pfn ${pfn} is now ${p.free ? 'free' : `generation ${p.generation}`})`);
  }
  return p;
}

/** `compound_head()`: the page holding the refcount and the head-only flags of the page at `pfn`. */
function head(m: Machine, pfn: number, p: Page = m.pages[pfn]): Page {
  return p.compoundHead < 0 ? p : m.pages[p.compoundHead];
}

/** Frees the page at `pfn`; a THP head frees every subpage (free_compound_page). */
function freePage(m: Machine, pfn: number) {
  const p = m.pages[pfn];
  if (p.order > 0) {
    // the tails keep compoundHead while the THP is free (it is only ever reused whole), so its pfns
    // stay one object for footprints
    for (let i = 1; i < 1 << p.order; i++) freeOne(m, m.pages[pfn + i]);
    p.order = 0;
    p.compoundMapcount = 0;
    freeOne(m, p);
    m.freeHuge.push(pfn);
    return;
  }
  freeOne(m, p);
  m.freeList.push(pfn);
}

function freeOne(m: Machine, p: Page) {
  if (p.copied && p.writeAfterCopy !== null && m.lostWrite === null) {
    m.lostWrite = `${p.writeAfterCopy} after migrate_page_copy had copied it, and the page is now freed: its replacement never got that write`;
  }
  p.copied = false;
  p.writeAfterCopy = null;
  p.free = true;
  p.generation++;
  p.dirty = false;
  p.swapBacked = true;
  p.deviceWrote = false;
  p.swapCache = false;
  p.ksm = false;
  p.lockedBy = -1;
  p.mapcount = 0;
  p.lastWriter = Writer.None;
  p.freedAt = m.step;
  p.refcount = 0;
}

/** `put_page()`: drops a reference of the page's head (compound_head), freeing it at zero. */
export function dropRef(m: Machine, pfn: number) {
  if (pfn === ZERO_PFN) return; // the zero page is reserved
  const h = m.pages[pfn].compoundHead < 0 ? pfn : m.pages[pfn].compoundHead;
  const p = m.pages[h];
  if (p.refcount <= 0) throw new ModelError(`put_page on pfn ${pfn} with refcount ${p.refcount}`);
  if (--p.refcount === 0) freePage(m, h);
}

/** Applies `e` for thread `tid`, returning the value sent back to the thread. */
export function applyEffect(m: Machine, tid: number, e: Effect): unknown {
  const t = m.threads[tid];
  switch (e.op) {
    case Op.SpinLock: {
      const l = lockOf(m, e.a, e);
      recordLockOrder(m, tid, e.a);
      l.owner = tid;
      t.held.push(e.a);
      t.atomic++;
      return undefined;
    }
    case Op.MutexLock:
    case Op.DownWrite: {
      const l = lockOf(m, e.a, e);
      recordLockOrder(m, tid, e.a);
      l.owner = tid;
      t.held.push(e.a);
      return undefined;
    }
    case Op.SpinUnlock:
    case Op.MutexUnlock:
    case Op.UpWrite: {
      const l = lockOf(m, e.a, e);
      if (l.owner !== tid) throw new ModelError(`unlocks '${l.name}', which it does not hold`);
      release(m, tid, e.a);
      l.owner = -1;
      if (e.op === Op.SpinUnlock) t.atomic--;
      return undefined;
    }
    case Op.DownRead: {
      const l = lockOf(m, e.a, e);
      // lockdep check_deadlock (kernel/locking/lockdep.c v5.0): down_read is a non-recursive read
      // (read == 1), so taking a rw-semaphore the thread already holds is "possible recursive locking
      // detected": a writer queued between the two acquisitions deadlocks them (reference §3 B14)
      if (m.lockInversion === null && e.c !== 1 && t.held.includes(e.a)) {
        m.lockInversion = `${t.name} takes ${l.name} for read while already holding it: possible recursive locking (a writer queued in between deadlocks both)`;
      }
      // a recursive read of a lock the thread holds stands for the driver's recursion count: nothing is
      // acquired, so lockdep learns no new dependency (primitives.ts downRead)
      if (!(e.c === 1 && t.held.includes(e.a))) recordLockOrder(m, tid, e.a);
      l.readers.push(tid);
      t.held.push(e.a);
      return undefined;
    }
    case Op.UpRead: {
      const l = lockOf(m, e.a, e);
      const i = l.readers.indexOf(tid);
      if (i < 0) throw new ModelError(`up_read('${l.name}') without holding it for read`);
      l.readers.splice(i, 1);
      release(m, tid, e.a);
      return undefined;
    }
    case Op.DownReadTrylock: {
      const l = lockOf(m, e.a, e);
      if (l.owner !== -1 || l.writersQueued > 0) return false;
      l.readers.push(tid);
      t.held.push(e.a);
      return true;
    }
    case Op.MutexTrylock: {
      const l = lockOf(m, e.a, e);
      if (l.owner !== -1) return false;
      l.owner = tid;
      t.held.push(e.a);
      return true;
    }
    case Op.NonBlockStart:
      t.nonBlock++;
      return undefined;
    case Op.NonBlockEnd:
      if (t.nonBlock <= 0) throw new ModelError('leaves a non-blockable section it did not enter');
      t.nonBlock--;
      return undefined;
    case Op.LocalIrqDisable:
      t.atomic++;
      return undefined;
    case Op.LocalIrqEnable:
      if (t.atomic <= 0) throw new ModelError('local_irq_enable() without local_irq_disable()');
      t.atomic--;
      return undefined;
    case Op.CpuRelax:
      if (e.a === 1) t.retries++;
      return undefined;
    case Op.MightSleep:
    case Op.Note:
      return undefined;
    case Op.WaitCounter:
    case Op.WaitCounterChange:
      if (e.a >= m.counters.length) throw new ModelError(`no counter with id ${e.a}`);
      return undefined;
    case Op.Notify: {
      const [start, end] = [e.b, e.c];
      if (e.a === 0) {
        m.windows.push({ thread: tid, start, end });
      } else if (e.a === 4) {
        // the call has returned: every callback has run; only now are the secondaries told
        const i = m.notifying.findLastIndex((n) => n.thread === tid);
        if (i >= 0) {
          const n = m.notifying[i];
          m.notifying.splice(i, 1);
          if (n.kind === 1) {
            const w = m.windows.findIndex((x) => x.thread === tid && x.start === n.start && x.end === n.end);
            if (w >= 0) m.windows.splice(w, 1);
            if (m.tables.some((t) => t.mirror)) m.mirrorChecks.push({ thread: tid, start: n.start, end: n.end });
          }
          // an invalidate_page of a huge page (a DAX PMD, kernel/dax.ts; catalogue B3): mirrors must follow all of it
          if (n.kind === 3 && n.end - n.start > PAGE_SIZE && m.tables.some((t) => t.mirror)) m.mirrorChecks.push({ thread: tid, start: n.start, end: n.end });
          // invalidate_page tells both kinds of user; a range_end tells shared-table devices only if it calls ->invalidate_range
          discharge(m, tid, n.start, n.end, n.kind === 3, n.kind !== 1 || n.alsoRange);
        }
      } else {
        m.notifying.push({ thread: tid, kind: e.a, start, end, alsoRange: e.d === true });
      }
      if (e.a !== 4) m.notified.push(`${tid}:${e.text ?? ''}`);
      return undefined;
    }
    case Op.BracketOpen:
      m.brackets.push({ thread: tid, notifier: e.d as string, start: e.b, end: e.c, step: m.step });
      return undefined;
    case Op.BracketClose: {
      const i = m.brackets.findIndex((b) => b.thread === tid && b.notifier === e.d && b.start === e.b && b.end === e.c);
      if (i >= 0) m.brackets.splice(i, 1);
      else if (m.unpairedEnd === null) m.unpairedEnd = `${e.d as string} gets invalidate_range_end(0x${e.b.toString(16)}, 0x${e.c.toString(16)}) from ${t.name} with no start before it`;
      return undefined;
    }
    case Op.Read:
      if (e.a >= m.counters.length) throw new ModelError(`no counter with id ${e.a}`);
      return m.counters[e.a];
    case Op.Write:
      if (e.a >= m.counters.length) throw new ModelError(`no counter with id ${e.a}`);
      m.counters[e.a] = e.b;
      return undefined;
    case Op.Add:
      if (e.a >= m.counters.length) throw new ModelError(`no counter with id ${e.a}`);
      return (m.counters[e.a] += e.b);
    case Op.AllocPage: {
      let pfn = m.freeList.pop();
      if (pfn === undefined) {
        m.pages.push(newPage());
        pfn = m.pages.length - 1;
      }
      const p = m.pages[pfn];
      p.free = false;
      p.refcount = 1;
      return { pfn, generation: p.generation } satisfies PageRef;
    }
    case Op.GetPage:
      head(m, e.a, pageOf(m, e.a, e.b, 'get_page')).refcount++;
      return undefined;
    case Op.DupMapping: {
      const pg = pageOf(m, e.a, e.b, 'page_dup_rmap');
      head(m, e.a, pg).refcount++;
      if (e.c === 1) pg.compoundMapcount++; // page_dup_rmap(page, true): atomic_inc(compound_mapcount_ptr(page))
      else pg.mapcount++;
      return undefined;
    }
    case Op.GetPageUnlessZero: {
      const p = m.pages[e.a];
      if (p === undefined || p.free || p.generation !== e.b) return false;
      const h = head(m, e.a, p);
      if (h.refcount === 0) return false;
      h.refcount++;
      return true;
    }
    case Op.LockPage:
    case Op.TrylockPage: {
      const p = head(m, e.a, pageOf(m, e.a, e.b, e.op === Op.LockPage ? 'lock_page' : 'trylock_page'));
      if (p.lockedBy !== -1) return false;
      p.lockedBy = tid;
      return true;
    }
    case Op.UnlockPage: {
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'unlock_page'));
      if (p.lockedBy !== tid) throw new ModelError(`unlock_page on pfn ${e.a}, which it has not locked`);
      p.lockedBy = -1;
      return undefined;
    }
    case Op.PutPage: {
      const p = pageOf(m, e.a, e.b, 'put_page');
      if (e.c & 1 && e.a !== ZERO_PFN) p.mapcount--;
      // free_swap_cache(): trylock_page() first, so a page locked by reclaim keeps its swap cache
      const h = head(m, e.a, p);
      if (e.c & 2 && h.swapCache && h.lockedBy === -1) {
        h.swapCache = false;
        for (let i = 0; i < 1 << h.order; i++) dropRef(m, e.a); // delete_from_swap_cache: page_ref_sub(page, hpage_nr_pages(page))
      }
      dropRef(m, e.a);
      return undefined;
    }
    case Op.SetPageDirty: {
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'set_page_dirty'));
      p.dirty = true;
      p.deviceWrote = false; // the data will be written back, not dropped
      return undefined;
    }
    case Op.MarkLazyfree: {
      // madvise_free_pte_range: ClearPageDirty(page); mark_page_lazyfree: ClearPageSwapBacked
      // c = 1: v4.10's madvise_free_pte_range, ClearPageDirty alone (Era.lazyfree 'ttu-lzfree')
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'mark_page_lazyfree'));
      p.dirty = false;
      if (e.c !== 1) p.swapBacked = false;
      // what anyone (CPU or device) wrote before is the application's to lose: "Application no longer
      // needs these pages. If the pages are dirty, it's OK to just throw them away." (mm/madvise.c
      // v4.13, above madvise_free_single_vma's caller); no-lost-dirty watches writes after this point
      p.deviceWrote = false;
      return undefined;
    }
    case Op.SetSwapBacked:
      head(m, e.a, pageOf(m, e.a, e.b, 'SetPageSwapBacked')).swapBacked = true;
      return undefined;
    case Op.PageCopy: {
      // migrate_page_copy (c = 1) / its reversal when the migration gives up (c = 0): marks the source page's head
      const p = head(m, e.a, pageOf(m, e.a, e.b, e.c === 1 ? 'migrate_page_copy' : 'migration failed'));
      p.copied = e.c === 1;
      p.writeAfterCopy = null;
      return undefined;
    }
    case Op.SetPageKsm:
      head(m, e.a, pageOf(m, e.a, e.b, e.c === 1 ? 'set_page_stable_node' : 'page_move_anon_rmap')).ksm = e.c === 1;
      return undefined;
    case Op.PageFlags: {
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'page flags'));
      return { dirty: p.dirty, swapBacked: p.swapBacked, swapCache: p.swapCache, ksm: p.ksm };
    }
    case Op.LazyfreeFreeze: {
      // shrink_page_list: page_ref_freeze(page, 1); if (PageDirty(page)) unfreeze and keep
      const hp = m.pages[e.a]?.compoundHead >= 0 ? m.pages[e.a].compoundHead : e.a;
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'page_ref_freeze'));
      if (p.refcount !== (e.c || 1) || p.dirty) return false; // c: the references expected (v4.10: 2, the swap cache's too)
      if (p.deviceWrote && m.lostDirty === null) {
        m.lostDirty = `pfn ${hp} is discarded as a clean lazyfree page (MADV_FREE), but a device wrote it after it was made clean and nobody set_page_dirty(): the device's data is lost`;
      }
      p.refcount = 0;
      freePage(m, hp);
      return true;
    }
    case Op.LazyfreeReturn:
      // a write racing with the madvise call (e.g. through an IOTLB entry that range_end has not flushed
      // yet) may be lost, as one racing with the CPU's TLB flush may: only later writes must be kept
      for (let v = e.a; v < e.a + e.b && v < m.nPages; v++) {
        const pte = hugeView(m, v); // pageTableEntry: a huge PMD's subpage view too
        if (!pte || pte.swap || pte.pfn === ZERO_PFN) continue;
        const hp = head(m, pte.pfn);
        if (!hp.swapBacked) hp.deviceWrote = false;
      }
      return undefined;
    case Op.PageRefFreeze: {
      const hp = m.pages[e.a]?.compoundHead >= 0 ? m.pages[e.a].compoundHead : e.a;
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'page_ref_freeze'));
      if (p.refcount !== e.c) return false;
      p.refcount = 0;
      freePage(m, hp);
      return true;
    }
    case Op.SwapCacheAdd: {
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'add_to_swap'));
      if (p.swapCache) return false;
      p.swapCache = true;
      p.refcount += 1 << p.order; // __add_to_swap_cache: page_ref_add(page, hpage_nr_pages(page))
      if (e.c !== 1) p.dirty = true; // c = 1: ≤ v4.12's add_to_swap, which does not set_page_dirty
      return true;
    }
    case Op.Writeback: {
      const p = head(m, e.a, pageOf(m, e.a, e.b, 'pageout'));
      const was = p.dirty;
      p.dirty = false;
      if (was) p.deviceWrote = false; // written out with the device's data in it
      return was;
    }
    case Op.PteTouch: {
      // c = 1: an IOMMU's ATS translation (ats.ts): the same walk and A/D update, returning the PTE (null: denied)
      const pte = m.ptes[e.a];
      if (e.c === 2) {
        // ptep_test_and_clear_young (aging, kernel/aging.ts): returns the old accessed bit and clears it
        if (!pte || pte.swap) return false;
        const was = pte.young;
        pte.young = false;
        return was;
      }
      if (!pte) {
        const huge = m.thpOrder > 0 ? hugeView(m, e.a) : null;
        // a NUMA hinting PMD (pmd_protnone) is not present to the CPU's or the IOMMU's walk
        const ok = huge !== null && !huge.protnone && !huge.swap && (e.b === 0 || huge.writable);
        if (ok) {
          // the walk sets the huge PMD's A/D bits (_PAGE_ACCESSED, and _PAGE_DIRTY for a write), as a PTE's
          // below: what makes a THP that MADV_FREE cleaned (madvise_free_huge_pmd) dirty again
          const pmd = m.pmds[e.a >> m.thpOrder]!;
          pmd.young = true;
          if (e.b === 1) pmd.dirty = true;
          if (huge && e.b === 1) huge.dirty = true;
        }
        return e.c === 1 ? (ok ? huge : null) : ok;
      }
      // a NUMA hinting PTE (pte_protnone: _PAGE_PROTNONE without _PAGE_PRESENT on x86) faults both walks
      if (pte.swap || pte.protnone || (e.b === 1 && !pte.writable)) return e.c === 1 ? null : false;
      pte.young = true;
      if (e.b === 1) pte.dirty = true;
      return e.c === 1 ? { ...pte } : true;
    }
    case Op.PteRead: {
      const pte = m.ptes[e.a];
      return pte ? { ...pte } : m.thpOrder > 0 ? hugeView(m, e.a) : null;
    }
    case Op.PteSet: {
      const pte = e.d as Pte;
      const old = m.ptes[e.a];
      if (m.thpOrder > 0) {
        assertNoHugePmd(m, e.a, 'set_pte_at');
        if (pte.huge) throw new InternalError(`set_pte_at at vpn ${e.a} with a huge PMD's view as the new PTE`);
        m.pteTables[e.a >> m.thpOrder] = true; // pte_alloc(): pmd_populate if pmd_none
      }
      if (old && !old.swap && old.pfn !== pte.pfn) throw new ModelError(`set_pte_at over a present PTE mapping pfn ${old.pfn}`);
      // b = 1: the entry a clear without page_remove_rmap took is set back (the rmap never went)
      if (!pte.swap && pte.pfn !== ZERO_PFN && !(old && !old.swap && old.pfn === pte.pfn) && e.b !== 1) {
        pageOf(m, pte.pfn, pte.generation, 'set_pte_at').mapcount++;
      }
      if (old && accessible(old) && (pte.swap || old.pfn !== pte.pfn || old.generation !== pte.generation || (old.writable && !pte.writable) || pte.protnone)) {
        mappingChanged(m, tid, e.a);
      }
      if (!old && e.b === 1) undoneChange(m, tid, e.a, pte);
      m.ptes[e.a] = { ...pte };
      return undefined;
    }
    case Op.PteClear: {
      if (m.thpOrder > 0) assertNoHugePmd(m, e.a, 'ptep_get_and_clear');
      const old = m.ptes[e.a];
      m.ptes[e.a] = null;
      if (old && !old.swap && e.c === 1 && old.pfn !== ZERO_PFN) m.pages[old.pfn].mapcount--;
      if (old && accessible(old)) mappingChanged(m, tid, e.a, old);
      return old ? { ...old } : null;
    }
    case Op.TlbFlush:
      return undefined;
    case Op.VmaLookup:
      return m.vma[e.a] === true;
    case Op.VmaAllows:
      return m.vma[e.a] === true && (e.b === 0 || m.vmaWritable[e.a] === true);
    case Op.VmaProtect:
      for (let v = e.a; v < e.a + e.b && v < m.nPages; v++) m.vmaWritable[v] = e.c === 1;
      return undefined;
    case Op.PageMapcount: {
      // page_mapcount(): the PTE maps of the subpage plus the huge PMD maps of its THP
      const p = pageOf(m, e.a, e.b, 'page_mapcount');
      return p.mapcount + head(m, e.a, p).compoundMapcount;
    }
    case Op.VmaDetach:
      for (let v = e.a; v < e.a + e.b && v < m.nPages; v++) m.vma[v] = false;
      return undefined;
    case Op.SpteRead: {
      const s = table(m, e.a).entries[e.b];
      return s ? { ...s } : null;
    }
    case Op.SpteSet: {
      const ref = e.d as PageRef;
      const entry: Spte = { pfn: ref.pfn, generation: ref.generation, writable: e.c === 1 };
      table(m, e.a).entries[e.b] = entry;
      return undefined;
    }
    case Op.SpteClearRange: {
      const entries = table(m, e.a).entries;
      let n = 0;
      for (let v = Math.max(0, e.b); v < e.c && v < entries.length; v++) {
        const s = entries[v];
        if (s && e.d === 'young') {
          // test-and-clear of the accessed bits (kvm_age_rmapp → mmu_spte_age): counts the young entries, keeps them all
          if (s.young) n++;
          entries[v] = { pfn: s.pfn, generation: s.generation, writable: s.writable };
          continue;
        }
        if (s) {
          // with d = 'dirty' (KVM's mmu_spte_clear_track_bits): kvm_set_pfn_dirty() for a writable spte
          if (e.d === 'dirty' && s.writable) {
            const pg = m.pages[s.pfn];
            if (pg && !pg.free && pg.generation === s.generation) {
              const hpg = head(m, s.pfn, pg);
              hpg.dirty = true;
              hpg.deviceWrote = false;
            }
          }
          entries[v] = null;
          n++;
        }
      }
      return n;
    }
    case Op.DeviceAccess: {
      const s = table(m, e.a).entries[e.b];
      if (!s || (e.c === 1 && !s.writable)) return false;
      t.retries = 0; // the access went through: the retry loop made progress
      s.young = true; // the hardware sets the entry's accessed bit (EPT A/D bits) as it walks it
      if (e.c === 1) {
        const p = m.pages[s.pfn];
        p.lastWriter = Writer.Device;
        const hp = head(m, s.pfn, p);
        hp.deviceWrote = true;
        // migration already copied the page: this write does not reach the replacement (no-lost-write)
        if (hp.copied && hp.writeAfterCopy === null) hp.writeAfterCopy = `${t.name} wrote pfn ${s.pfn} through ${table(m, e.a).name} at step ${m.step}`;
      }
      return true;
    }
    case Op.AllocHugePage:
    case Op.PmdRead:
    case Op.PmdSet:
    case Op.PmdClear:
    case Op.PmdSplit:
    case Op.CompoundHead:
    case Op.PageCount:
    case Op.SplitHugePage:
      return applyHugeEffect(m, tid, e);
  }
}

function table(m: Machine, id: number) {
  const t = m.tables[id];
  if (t === undefined) throw new ModelError(`no secondary table with id ${id}`);
  return t;
}
