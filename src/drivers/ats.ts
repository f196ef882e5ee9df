/**
 * The device side shared by secondary MMUs that use the process page table itself (AMD IOMMUv2,
 * Intel SVM, the powernv NPU): an IOTLB miss is an ATS translation request, which the IOMMU answers
 * by walking the CPU page table; a translation that fails becomes a page request (PRI, or the NPU's
 * fault path), which the kernel serves with handle_mm_fault and then lets the device retry.
 * Nothing holds a page reference: the only protection is that `->invalidate_range` flushes the
 * IOTLB after the PTE changed and before the page is freed.
 *
 * An IOMMU completes a translation that raced with an invalidation before the invalidation's
 * completion wait returns, or the invalidation removes what the translation filled. The model's
 * walk and fill are two steps, so each driver gives both sides one spinlock standing for that
 * hardware ordering (`iommu hw`): the translation holds it across walk and fill, the flush across
 * the IOTLB zap. A kernel primitive `atsTranslate(table, address, write)` (walk and fill as one
 * atomic step) would express this without the stand-in lock.
 */
import type { DeviceFaultResult } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import type { Site } from '../runtime/site';

export interface AtsSites {
  /** The hardware translation (ATS request answered by the IOMMU's page walk). */
  readonly translate: Site;
  /** The kernel's page-request handler (do_fault, prq_event_thread, pnv_npu2_handle_fault). */
  readonly pri: Site;
}

/**
 * One device fault: translate through the CPU page table under the hardware lock (setting the
 * PTE's accessed/dirty bits) and fill the IOTLB; if the PTE does not allow the access, fault the
 * page in the way the page-request handler does (the model's get_user_pages stands for
 * `handle_mm_fault` under mmap_sem, with FAULT_FLAG_WRITE for a write, which leaves the PTE dirty;
 * its reference is dropped at once, as pnv_npu2_handle_fault does) and let the device retry.
 */
export function* atsFault(k: KernelApi, hw: number, iotlb: number, address: number, write: boolean, at: AtsSites, pasid?: number): Gen<DeviceFaultResult> {
  const vpn = k.vpnOf(address);
  yield* k.spinLock(hw, at.translate);
  // `pasid`: the PASID-table / GCR3 entry (1 valid) that the driver's ->release clears: "After this
  // the device/pasid can't access the mm anymore" — the translation then faults and is refused
  if (pasid !== undefined && (yield* k.read(pasid, at.translate)) === 0) {
    yield* k.spinUnlock(hw, at.translate);
    return 'error';
  }
  // the walk sets the PTE's accessed bit, and for a write translation its dirty bit, as the CPU's MMU
  // does: what the device then writes through the IOTLB is not lost when the PTE goes (try_to_unmap_one
  // moves pte_dirty to the page; a lazyfree page written this way is kept). AMD IOMMUv2 / Intel SVM /
  // the nest MMU update the A/D bits of the process page table they walk [U: the IOMMU specifications
  // (AMD IOMMU, Intel VT-d first-level translation, POWER9 nest MMU) were not read here].
  const pte = yield* k.atsTranslate(address, write, at.translate);
  const ok = pte !== null && !pte.swap && (!write || pte.writable);
  if (ok) yield* k.spteSet(iotlb, vpn, { pfn: pte.pfn, generation: pte.generation }, pte.writable, at.translate);
  yield* k.spinUnlock(hw, at.translate);
  if (ok) return 'mapped';
  // the page-request handler calls handle_mm_fault itself: a hinting entry gets its NUMA fault
  const got = yield* k.getUserPagesUnlocked(address, write, true);
  if (!got) return 'error';
  yield* k.putPage(got.page, at.pri);
  return 'retry';
}

/** Flushes IOTLB entries `[firstVpn, endVpn)` under the hardware lock (the caller may hold the PTL). */
export function* iotlbFlush(k: KernelApi, hw: number, iotlb: number, firstVpn: number, endVpn: number, at: Site): Gen {
  yield* k.spinLock(hw, at);
  yield* k.spteClearRange(iotlb, firstVpn, endVpn, at);
  yield* k.spinUnlock(hw, at);
}

/**
 * What ->release does in AMD IOMMUv2 (unbind_pasid: "pasid_state->invalid = true", then
 * amd_iommu_domain_clear_gcr3 → __clear_gcr3: "*pte = 0" and __amd_iommu_flush_tlb; v4.13) and
 * Intel SVM (intel_mm_release: "svm->iommu->pasid_table[svm->pasid].val = 0", then
 * intel_flush_pasid_dev + intel_flush_svm_range_dev(0, -1); v4.13): under the hardware lock the
 * PASID entry is cleared, so no translation succeeds any more, and the whole IOTLB is flushed.
 */
export function* unbindPasid(k: KernelApi, hw: number, iotlb: number, pasid: number, at: Site): Gen {
  yield* k.spinLock(hw, at);
  yield* k.write(pasid, 0, at);
  yield* k.spteClearRange(iotlb, 0, ALL_VPNS, at);
  yield* k.spinUnlock(hw, at);
}

/** More virtual pages than any modelled VMA: a flush of the whole IOTLB of the PASID. */
export const ALL_VPNS = 1 << 12;
