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
 * One device fault: translate through the CPU page table under the hardware lock and fill the
 * IOTLB; if the PTE does not allow the access, fault the page in the way the page-request handler
 * does (the model's get_user_pages stands for `handle_mm_fault` under mmap_sem, and its reference
 * is dropped at once, as pnv_npu2_handle_fault does) and let the device retry.
 */
export function* atsFault(k: KernelApi, hw: number, iotlb: number, address: number, write: boolean, at: AtsSites): Gen<DeviceFaultResult> {
  const vpn = k.vpnOf(address);
  yield* k.spinLock(hw, at.translate);
  const pte = yield* k.walkCpuPageTable(address, at.translate);
  const ok = pte !== null && !pte.swap && (!write || pte.writable);
  if (ok) yield* k.spteSet(iotlb, vpn, { pfn: pte.pfn, generation: pte.generation }, pte.writable, at.translate);
  yield* k.spinUnlock(hw, at.translate);
  if (ok) return 'mapped';
  const got = yield* k.getUserPagesUnlocked(address, write);
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

/** More virtual pages than any modelled VMA: a flush of the whole IOTLB of the PASID. */
export const ALL_VPNS = 1 << 12;
