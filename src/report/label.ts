/**
 * Kernel-spelled labels for effects: `spin_lock(kvm->mmu_lock)`, `ptep_clear_flush(0x100000)`.
 * Names of locks, counters and tables come from the machine that ran them.
 */
import { Op, type Effect } from '../runtime/effect';
import { addressOf, hex, type Machine, type Pte } from '../runtime/machine';
import type { PageRef } from '../runtime/primitives';

function lock(m: Machine, id: number): string {
  return m.locks[id]?.name ?? `lock#${id}`;
}
function counter(m: Machine, id: number): string {
  return m.counterNames[id] ?? `counter#${id}`;
}
function tbl(m: Machine, id: number): string {
  return m.tables[id]?.name ?? `table#${id}`;
}
function page(pfn: number, gen: number): string {
  return `pfn ${pfn}/g${gen}`;
}
function pteText(p: Pte | null): string {
  if (!p) return 'none';
  if (p.swap) return `swap(pfn ${p.pfn}/g${p.generation})`;
  return `${page(p.pfn, p.generation)} ${p.protnone ? `PROT_NONE (NUMA hint${p.writable ? ', saved write' : ''})` : p.writable ? 'rw' : 'ro'}${p.dirty ? ' dirty' : ''}`;
}

/** The label of an effect, without its result. */
export function describeEffect(m: Machine, e: Effect): string {
  if (e.text !== undefined && e.op !== Op.MightSleep && e.op !== Op.CpuRelax && e.op !== Op.WaitCounter && e.op !== Op.WaitCounterChange) return e.text;
  switch (e.op) {
    case Op.SpinLock:
      return `spin_lock(${lock(m, e.a)})`;
    case Op.SpinUnlock:
      return `spin_unlock(${lock(m, e.a)})`;
    case Op.MutexLock:
      return `mutex_lock(${lock(m, e.a)})`;
    case Op.MutexUnlock:
      return `mutex_unlock(${lock(m, e.a)})`;
    case Op.DownRead:
      return `down_read(${lock(m, e.a)})`;
    case Op.UpRead:
      return `up_read(${lock(m, e.a)})`;
    case Op.DownWrite:
      return `down_write(${lock(m, e.a)})`;
    case Op.UpWrite:
      return `up_write(${lock(m, e.a)})`;
    case Op.DownReadTrylock:
      return `down_read_trylock(${lock(m, e.a)})`;
    case Op.MutexTrylock:
      return `mutex_trylock(${lock(m, e.a)})`;
    case Op.NonBlockStart:
      return 'non-blockable invalidation begins (blockable == false)';
    case Op.NonBlockEnd:
      return 'non-blockable invalidation ends';
    case Op.LocalIrqDisable:
      return 'local_irq_disable()';
    case Op.LocalIrqEnable:
      return 'local_irq_enable()';
    case Op.MightSleep:
      return e.text ?? 'might_sleep()';
    case Op.CpuRelax:
      return e.text ?? 'cpu_relax()';
    case Op.Note:
      return e.text ?? '';
    case Op.Notify:
      return e.text ?? 'mmu_notifier call';
    case Op.BracketOpen:
      return `${String(e.d)}: range_start(${hex(e.b)}, ${hex(e.c)}) returned 0`;
    case Op.BracketClose:
      return `${String(e.d)}: range_end(${hex(e.b)}, ${hex(e.c)})`;
    case Op.Read:
      return `read ${counter(m, e.a)}`;
    case Op.WaitCounter:
      return e.text ?? `wait_event(${counter(m, e.a)} == ${e.b})`;
    case Op.WaitCounterChange:
      return e.text ?? `wait_event(${counter(m, e.a)} != ${e.b})`;
    case Op.Write:
      return `${counter(m, e.a)} = ${e.b}`;
    case Op.Add:
      return e.b === 1 ? `${counter(m, e.a)}++` : e.b === -1 ? `${counter(m, e.a)}--` : `${counter(m, e.a)} += ${e.b}`;
    case Op.AllocPage:
      return e.b ? 'alloc_page(GFP_KERNEL)' : 'alloc_page(GFP_ATOMIC)';
    case Op.GetPage:
      return `get_page(${page(e.a, e.b)})`;
    case Op.DupMapping:
      return `get_page; page_dup_rmap(${page(e.a, e.b)}) (the child's mapping)`;
    case Op.GetPageUnlessZero:
      return `get_page_unless_zero(${page(e.a, e.b)})`;
    case Op.PutPage:
      return (e.c & 1 ? 'page_remove_rmap; ' : '') + (e.c & 2 ? 'free_swap_cache; ' : '') + `put_page(${page(e.a, e.b)})`;
    case Op.SetPageDirty:
      return `set_page_dirty(${page(e.a, e.b)})`;
    case Op.LockPage:
      return `lock_page(${page(e.a, e.b)})`;
    case Op.TrylockPage:
      return `trylock_page(${page(e.a, e.b)})`;
    case Op.UnlockPage:
      return `unlock_page(${page(e.a, e.b)})`;
    case Op.MarkLazyfree:
      return e.c === 1 ? `ClearPageDirty(${page(e.a, e.b)})` : `ClearPageDirty; mark_page_lazyfree(${page(e.a, e.b)})`;
    case Op.SetSwapBacked:
      return `SetPageSwapBacked(${page(e.a, e.b)})`;
    case Op.SetPageKsm:
      return e.c === 1 ? `set_page_stable_node(${page(e.a, e.b)}): PageKsm` : `page_move_anon_rmap(${page(e.a, e.b)}): no longer PageKsm`;
    case Op.PageCopy:
      return e.c === 1 ? `migrate_page_copy(newpage, ${page(e.a, e.b)})` : `migration gives up: the copy of ${page(e.a, e.b)} is dropped`;
    case Op.PageFlags:
      return `PageDirty/PageSwapBacked/PageSwapCache/PageKsm(${page(e.a, e.b)})`;
    case Op.LazyfreeFreeze:
      return `page_ref_freeze(${page(e.a, e.b)}, ${e.c || 1}) unless PageDirty: discard the lazyfree page`;
    case Op.LazyfreeReturn:
      return `madvise(MADV_FREE) returns: later writes to [${hex(addressOf(e.a))}, ${hex(addressOf(e.a + e.b))}) must be kept`;
    case Op.PageRefFreeze:
      return `page_ref_freeze(${page(e.a, e.b)}, ${e.c})`;
    case Op.SwapCacheAdd:
      return `add_to_swap(${page(e.a, e.b)})`;
    case Op.Writeback:
      return `pageout(${page(e.a, e.b)})`;
    case Op.PteTouch:
      if (e.c === 2) return `ptep_test_and_clear_young(${hex(addressOf(e.a))})`;
      if (e.c === 1) return `IOMMU translates a ${e.b ? 'write' : 'read'} of ${hex(addressOf(e.a))} (ATS: walks the CPU page table; sets the accessed${e.b ? '/dirty' : ''} bit)`;
      return `CPU ${e.b ? 'writes' : 'reads'} ${hex(addressOf(e.a))} (MMU walk; sets the accessed${e.b ? '/dirty' : ''} bit)`;
    case Op.PteRead:
      return `read PTE ${hex(addressOf(e.a))}`;
    case Op.PteSet:
      return `set_pte_at(${hex(addressOf(e.a))}, ${pteText(e.d as Pte)})`;
    case Op.PteClear:
      return `${e.b ? 'ptep_clear_flush' : 'ptep_get_and_clear'}(${hex(addressOf(e.a))})${e.c ? '; page_remove_rmap' : ''}`;
    case Op.TlbFlush:
      return `flush_tlb_range(${hex(addressOf(e.a))}, ${hex(addressOf(e.b))})`;
    case Op.VmaLookup:
      return `find_vma(${hex(addressOf(e.a))})`;
    case Op.VmaAllows:
      return `find_vma(${hex(addressOf(e.a))}) allows ${e.b ? 'write' : 'read'}`;
    case Op.VmaProtect:
      return `mprotect_fixup(${hex(addressOf(e.a))}, ${hex(addressOf(e.a + e.b))}, ${e.c ? 'PROT_READ|PROT_WRITE' : 'PROT_READ'})`;
    case Op.PageMapcount:
      return `page_mapcount(${page(e.a, e.b)})`;
    case Op.VmaDetach:
      return `detach_vmas_to_be_unmapped(${hex(addressOf(e.a))}, ${hex(addressOf(e.a + e.b))})`;
    case Op.SpteRead:
      return `read ${tbl(m, e.a)}[${hex(addressOf(e.b))}]`;
    case Op.SpteSet: {
      const r = e.d as PageRef;
      return `install ${tbl(m, e.a)}[${hex(addressOf(e.b))}] -> ${page(r.pfn, r.generation)} ${e.c ? 'rw' : 'ro'}`;
    }
    case Op.SpteClearRange:
      if (e.d === 'young') return `test-and-clear accessed bits of ${tbl(m, e.a)}[${hex(addressOf(e.b))}, ${hex(addressOf(e.c))})`;
      return `zap ${tbl(m, e.a)}[${hex(addressOf(e.b))}, ${hex(addressOf(e.c))})`;
    case Op.DeviceAccess:
      return `device ${e.c ? 'writes' : 'reads'} ${hex(addressOf(e.b))} through ${tbl(m, e.a)}`;
    // transparent huge pages: the call sites give each of these a text; these are the fallbacks
    case Op.AllocHugePage:
      return 'alloc_hugepage_vma()';
    case Op.PmdRead:
      return `read PMD ${hex(addressOf(e.a))}`;
    case Op.PmdSet:
      return `set_pmd_at(${hex(addressOf(e.a))})`;
    case Op.PmdClear:
      return `pmdp_huge_get_and_clear(${hex(addressOf(e.a))})`;
    case Op.PmdSplit:
      return `__split_huge_pmd_locked(${hex(addressOf(e.a))}${e.b ? ', freeze' : ''})`;
    case Op.CompoundHead:
      return `compound_head(${page(e.a, e.b)})`;
    case Op.PageCount:
      return `page_count, total_mapcount(${page(e.a, e.b)})`;
    case Op.SplitHugePage:
      return `page_ref_freeze(${page(e.a, e.b)}, ${e.c}); __split_huge_page`;
  }
}

/** A short rendering of an effect's result, or '' when it has none worth showing. */
export function describeResult(e: Effect, result: unknown): string {
  switch (e.op) {
    case Op.Read:
    case Op.Add:
    case Op.SpteClearRange:
    case Op.PageMapcount:
      return `= ${String(result)}`;
    case Op.PteTouch:
      if (e.c === 1) return `= ${pteText(result as Pte | null)}`;
      return result ? '= true' : '= false';
    case Op.GetPageUnlessZero:
    case Op.LazyfreeFreeze:
    case Op.DownReadTrylock:
    case Op.MutexTrylock:
    case Op.TrylockPage:
    case Op.PageRefFreeze:
    case Op.VmaLookup:
    case Op.VmaAllows:
    case Op.DeviceAccess:
    case Op.SwapCacheAdd:
      return result ? '= true' : '= false';
    case Op.AllocPage: {
      const r = result as PageRef | undefined;
      return r ? `= ${page(r.pfn, r.generation)}` : '';
    }
    case Op.PteRead:
    case Op.PteClear:
      return `= ${pteText(result as Pte | null)}`;
    case Op.SpteRead: {
      const s = result as { pfn: number; generation: number; writable: boolean } | null;
      return s ? `= ${page(s.pfn, s.generation)} ${s.writable ? 'rw' : 'ro'}` : '= none';
    }
    default:
      return '';
  }
}
