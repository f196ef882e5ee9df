/**
 * fs/proc/task_mmu.c: `echo 4 > /proc/pid/clear_refs` (CLEAR_REFS_SOFT_DIRTY, reference S9), in each
 * era's form (Era.clearRefs).
 *
 * Soft-dirty tracking write-protects every present PTE and huge PMD of the mm so that the next write
 * faults and sets the soft-dirty bit again; a secondary MMU must write-protect (or drop) its entries
 * in the `[0, -1UL)` bracket, or a device write through a writable spte goes unrecorded
 * (MMU_NOTIFY_SOFT_DIRTY, include/linux/mmu_notifier.h v5.2+: "soft dirty accounting (still same page
 * and same access flags)"). The soft-dirty bit itself is not modelled: nothing in the model reads it;
 * what the model checks is the write-protect (secondary-follows-primary: a writable spte over a
 * read-only PTE once the clear_refs write has returned).
 *
 * Simplifications, each stated where it applies: downgrade_write is an up_write then a down_read
 * (a writer can get in between, where the kernel lets none: equivalent for the PTEs here, since
 * what it did is then seen by the walk); VM_SOFTDIRTY is one flag for the mm (mmap_region sets it on
 * the one VMA; split VMAs inherit it; no call site of the model creates a new VMA); swap and
 * migration entries only lose their soft-dirty bit (nothing to model); PTEs and PMDs that are
 * already read-only are rewritten unchanged (only their soft-dirty bit changes).
 */
import { PAGE_SIZE, VMA_BASE } from '../runtime/machine';
import * as h from '../runtime/huge-primitives';
import * as p from '../runtime/primitives';
import type { CounterId, Gen } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { flushPmdTlbRange, haddrVpn, hpageNr } from './huge_memory';
import { MMAP_SEM, PTL } from './mm';
import { flushTlb, invalidateRangeEnd, invalidateRangeStart, mmuNotifierRange } from './mmu_notifier';

const WRITE = site('fs/proc/task_mmu.c', 'clear_refs_write', 'v4.13');
const WRITE_410 = site('fs/proc/task_mmu.c', 'clear_refs_write', 'v4.10');
const WRITE_68 = site('fs/proc/task_mmu.c', 'clear_refs_write', 'v6.8');
const SOFTDIRTY_VMAS = site('fs/proc/task_mmu.c', 'clear_refs_write: vma->vm_flags &= ~VM_SOFTDIRTY; vma_set_page_prot(vma)', 'v4.13');
const DOWNGRADE = site('fs/proc/task_mmu.c', 'clear_refs_write: downgrade_write(&mm->mmap_sem)', 'v4.13', 'modelled as up_write + down_read');
const PTE_RANGE = site('fs/proc/task_mmu.c', 'clear_refs_pte_range', 'v4.13');
const CLEAR_PTE = site('fs/proc/task_mmu.c', 'clear_soft_dirty', 'v4.13', 'v6.8 first skips pte_is_pinned() pages: MMF_HAS_PINNED is set only by FOLL_PIN, which no modelled driver uses');
const PROT_COMMIT = site('arch/x86/include/asm/pgtable.h', 'ptep_modify_prot_start; ptep_modify_prot_commit(pte_clear_soft_dirty(pte_wrprotect(ptent)))', 'v4.13', 'one step under the PTL: the PTE is none in between (x86 ptep_get_and_clear), seen only by lockless walks, which then fault and wait for the PTL');
const CLEAR_PMD = site('fs/proc/task_mmu.c', 'clear_soft_dirty_pmd', 'v4.13', 'pmdp_invalidate + set_pmd_at(pmd_wrprotect) as one step under the PMD lock');
const PMDP_INVALIDATE = site('mm/pgtable-generic.c', 'pmdp_invalidate → flush_pmd_tlb_range', 'v4.13');
const PMDP_INVALIDATE_68 = site('arch/x86/mm/tlb.c', 'pmdp_invalidate → flush_pmd_tlb_range → flush_tlb_mm_range', 'v6.8');
const FINISH = site('mm/memory.c', 'tlb_finish_mmu(&tlb, 0, -1) → tlb_flush_mmu_tlbonly', 'v4.13');
const FINISH_57 = site('include/asm-generic/tlb.h', 'tlb_finish_mmu → tlb_flush_mmu_tlbonly: nothing gathered, return', 'v5.7');
const FLUSH_MM_410 = site('fs/proc/task_mmu.c', 'clear_refs_write: flush_tlb_mm(mm)', 'v4.10');
const FLUSH_MM_68 = site('fs/proc/task_mmu.c', 'clear_refs_write: flush_tlb_mm(mm) → flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL)', 'v6.8');

/**
 * `clear_refs_write(file, "4")` on the modelled mm. `vmSoftdirty` is the counter standing for "some
 * VMA has VM_SOFTDIRTY" (1 at first: mmap_region sets it), `nPages` the VMA's size.
 */
export function* clearRefsSoftDirty(kc: KernelContext, nPages: number, vmSoftdirty: CounterId): Gen {
  const form = kc.era.clearRefs;
  const at: Site = form === 'write-lock' ? WRITE_68 : form === 'read-flush-tlb-mm' ? WRITE_410 : WRITE;
  if (form === 'write-lock') {
    yield* p.downWrite(MMAP_SEM, at); // mmap_write_lock_killable(mm)
    // for_each_vma: if (vma->vm_flags & VM_SOFTDIRTY) { vm_flags_clear(vma, VM_SOFTDIRTY); vma_set_page_prot(vma); }
    if ((yield* p.read(vmSoftdirty, at)) !== 0) yield* p.write(vmSoftdirty, 0, at);
    yield* p.note('inc_tlb_flush_pending(mm)', at);
  } else {
    yield* p.downRead(MMAP_SEM, at);
    if (form !== 'read-flush-tlb-mm') yield* p.note('tlb_gather_mmu(&tlb, mm, 0, -1): a fullmm gather; inc_tlb_flush_pending', at);
    // for (vma = mm->mmap; vma; vma = vma->vm_next) if (vma->vm_flags & VM_SOFTDIRTY) { ... break; }
    if ((yield* p.read(vmSoftdirty, at)) !== 0) {
      yield* p.upRead(MMAP_SEM, at);
      yield* p.downWrite(MMAP_SEM, at); // down_write_killable(&mm->mmap_sem)
      yield* p.write(vmSoftdirty, 0, SOFTDIRTY_VMAS);
      yield* p.upWrite(MMAP_SEM, DOWNGRADE);
      yield* p.downRead(MMAP_SEM, DOWNGRADE);
    }
  }
  // v5.2+: mmu_notifier_range_init(&range, MMU_NOTIFY_SOFT_DIRTY, 0, NULL, mm, 0, -1UL) (v6.8: no vma
  // argument). Every driver intersects (0, -1UL) with what it maps (KVM's memslots, ODP's and
  // amdgpu's interval trees, gntdev's maps), and all of that lies in the modelled VMA: the notifiers
  // are given the VMA (as exit.ts does for exit_mmap's unmap_vmas(0, -1)), which the model's
  // per-page driver loops can walk.
  yield* p.note('range (0, -1UL): given to the notifiers as the modelled VMA, the part of the address space a driver can map', at);
  const range = mmuNotifierRange(kc, 'MMU_NOTIFY_SOFT_DIRTY', VMA_BASE, VMA_BASE + nPages * PAGE_SIZE);
  yield* invalidateRangeStart(kc, range, at);
  yield* walkClearSoftDirty(kc, nPages);
  yield* invalidateRangeEnd(kc, range, at);
  switch (form) {
    case 'read-flush-tlb-mm':
      yield* flushTlb(kc, 0, nPages, FLUSH_MM_410);
      break;
    case 'read-mmu-gather':
      // tlb_flush(tlb): flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL); then mmu_notifier_invalidate_range(mm, ~0, ~0)
      yield* p.tlbFlush(0, nPages, FINISH);
      yield* p.note('mmu_notifier_invalidate_range(mm, tlb->start = ~0UL, tlb->end = ~0UL): an empty range (fullmm: __tlb_reset_range)', FINISH);
      break;
    case 'read-mmu-gather-noflush':
      yield* p.note('tlb_finish_mmu: no cleared_ptes/cleared_pmds gathered, no TLB flush and no mmu_notifier_invalidate_range', FINISH_57);
      break;
    case 'write-lock':
      yield* flushTlb(kc, 0, nPages, FLUSH_MM_68); // → ->arch_invalidate_secondary_tlbs (of the VMA, as above)
      yield* p.note('dec_tlb_flush_pending(mm)', at);
      break;
  }
  if (form === 'write-lock') yield* p.upWrite(MMAP_SEM, at);
  else yield* p.upRead(MMAP_SEM, at);
}

/**
 * `walk_page_range(0, mm->highest_vm_end, &clear_refs_walk)` with `clear_refs_pte_range` as its
 * pmd_entry: a huge PMD under its lock (`pmd_trans_huge_lock`) gets clear_soft_dirty_pmd; a PTE table
 * gets clear_soft_dirty on each PTE under the PTL (`pte_offset_map_lock`); a none PMD is skipped.
 * Without THP one PTE table covers the VMA.
 */
function* walkClearSoftDirty(kc: KernelContext, nPages: number): Gen {
  if (!kc.thpOrder) {
    yield* clearPteRange(0, nPages);
    return;
  }
  const nr = hpageNr(kc);
  for (let a = 0; a < nPages; a += nr) {
    const pmd = yield* h.pmdRead(a, PTE_RANGE);
    if (pmd === null) continue; // pmd_none: walk_pmd_range skips it
    if (pmd === 'table') {
      yield* clearPteRange(a, Math.min(nr, nPages - a));
      continue;
    }
    yield* clearSoftDirtyPmd(kc, a);
  }
}

/** clear_refs_pte_range on a PTE table: under the PTL, clear_soft_dirty of each PTE of `[vpn, vpn + n)`. */
function* clearPteRange(vpn: number, n: number): Gen {
  yield* p.spinLock(PTL, PTE_RANGE);
  for (let v = vpn; v < vpn + n; v++) {
    const pte = yield* p.pteRead(v, CLEAR_PTE);
    // pte_present: write-protect; is_swap_pte: pte_swp_clear_soft_dirty only
    if (pte === null || pte.swap || !pte.writable) continue;
    yield* p.pteSet(v, { ...pte, writable: false }, PROT_COMMIT);
  }
  yield* p.spinUnlock(PTL, PTE_RANGE);
}

/**
 * `pmd_trans_huge_lock()` then `clear_soft_dirty_pmd()`: pmdp_invalidate (not present, CPU flush of
 * the huge page; v6.6+ the flush also calls ->arch_invalidate_secondary_tlbs) and
 * `set_pmd_at(pmd_clear_soft_dirty(pmd_wrprotect(pmd)))`, keeping dirty and young. The model sets the
 * read-only PMD first, then flushes: nobody can observe the not-present PMD in between except a
 * lockless walk, which would then wait for the PMD lock.
 */
function* clearSoftDirtyPmd(kc: KernelContext, vpn: number): Gen {
  const haddr = haddrVpn(kc, vpn);
  yield* p.spinLock(PTL, PTE_RANGE);
  const pmd = yield* h.pmdRead(haddr, PTE_RANGE);
  if (pmd !== null && pmd !== 'table') {
    // a PMD migration entry: "else if (is_migration_entry(pmd_to_swp_entry(pmd))) pmd_swp_clear_soft_dirty" (v4.15+): soft-dirty is not modelled
    if (pmd.writable && !pmd.migration) {
      yield* h.pmdSet(haddr, { ...pmd, writable: false }, CLEAR_PMD, 'pmdp_invalidate; set_pmd_at(pmd_wrprotect)');
      yield* flushPmdTlbRange(kc, haddr, PMDP_INVALIDATE, PMDP_INVALIDATE_68);
    }
  } else if (pmd === 'table') {
    // !pmd_trans_huge_lock: split meanwhile; the walk goes on with the PTEs (pmd_trans_unstable aside)
    yield* p.spinUnlock(PTL, PTE_RANGE);
    yield* clearPteRange(haddr, hpageNr(kc));
    return;
  }
  yield* p.spinUnlock(PTL, PTE_RANGE);
}
