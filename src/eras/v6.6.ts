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
  name: 'v6.6',
  summary: '->invalidate_range replaced by ->arch_invalidate_secondary_tlbs, called from the arch TLB flush',
  source: 'arch/x86/mm/tlb.c flush_tlb_mm_range, arch/x86/include/asm/tlbflush.h arch_tlbbatch_add_pending, mm/mmu_notifier.c (v6.8)',
  callbacks: ['invalidateRangeStart', 'invalidateRangeEnd', 'archInvalidateSecondaryTlbs', 'invalidate'],
  rangeEndCallsInvalidateRange: false,
  secondaryTlbs: 'arch-tlb-flush',
  // c2655835fd8c is in (v5.7, v6.5] (reference §5.3 [V]); its exact release is not verified
  failedStartEndsOthers: true,
});
