import { deriveEra } from './era';
import { v5_5 } from './v5.5';

/**
 * v6.6: Alistair Popple's series renames ->invalidate_range to ->arch_invalidate_secondary_tlbs and
 * moves the calls into the architecture's TLB flush: x86 flush_tlb_mm_range ends with
 * mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end), and arch_tlbbatch_add_pending (the
 * deferred flush of try_to_unmap_one) calls it for (0, -1UL) at once (arch/x86/mm/tlb.c,
 * arch/x86/include/asm/tlbflush.h v6.8). range_end no longer calls it; registering a notifier with
 * both it and start/end fails with -EINVAL (mm/mmu_notifier.c __mmu_notifier_register v6.8).
 * Read in the v6.8 snapshot; v6.6 as the first release is the reference's dating [U].
 */
export const v6_6 = deriveEra(v5_5, {
  // mm/huge_memory.c do_huge_pmd_numa_page v6.8: migrate_misplaced_folio (migrate_pages; PMD migration entries)
  numaThpMigration: 'migrate-pages',
  // mm/mprotect.c change_pte_range v6.8: is_cow_mapping(vma->vm_flags) && folio_ref_count(folio) != 1
  numaSkipShared: 'refcount',
  // mm/memory.c do_numa_page v6.8: the PTE stays PROT_NONE until migrate_misplaced_folio fails (out_map)
  numaFault: 'migrate-protnone',
  name: 'v6.6',
  // mm/ksm.c cmp_and_merge_page v6.8: split_huge_page of the THP both merged pages belong to
  ksmSplitSameCompound: true,
  summary: '->invalidate_range replaced by ->arch_invalidate_secondary_tlbs, called from the arch TLB flush',
  source: 'arch/x86/mm/tlb.c flush_tlb_mm_range, arch/x86/include/asm/tlbflush.h arch_tlbbatch_add_pending, mm/mmu_notifier.c (v6.8)',
  callbacks: ['invalidateRangeStart', 'invalidateRangeEnd', 'archInvalidateSecondaryTlbs', 'invalidate', 'release', 'changePte', 'clearFlushYoung'],
  // mm/mmap.c exit_mmap v6.8: mmap_read_lock around unmap_vmas, mmap_write_lock for free_pgtables/remove_vma
  exitMmap: 'mmap-lock',
  // fs/proc/task_mmu.c clear_refs_write v6.8: mmap_write_lock_killable, range_start(0, -1), walk, range_end, flush_tlb_mm
  clearRefs: 'write-lock',
  // mm/huge_memory.c change_huge_pmd v6.8: pmdp_invalidate_ad; MM_CP_TRY_CHANGE_WRITABLE && can_change_pmd_writable
  changeHugePmd: 'try-change-writable',
  // mm/huge_memory.c do_huge_pmd_wp_page v6.8: fallback: __split_huge_pmd(vma, vmf->pmd, vmf->address, false, NULL)
  thpCowSplits: true,
  // mm/vmscan.c shrink_folio_list v6.8: only a swapbacked large folio is split; a lazyfree THP is unmapped whole (TTU_SPLIT_HUGE_PMD)
  lazyfreeThpReclaim: 'whole',
  rangeEndCallsInvalidateRange: false,
  secondaryTlbs: 'arch-tlb-flush',
  // mm/memory.c wp_can_reuse_anon_folio v6.8: folio_test_ksm(folio) → copy (reuse_ksm_page is gone)
  ksmPageReuse: false,
  // c2655835fd8c is in (v5.7, v6.5] (reference §5.3 [V]); its exact release is not verified
  failedStartEndsOthers: true,
});
