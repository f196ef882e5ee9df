/**
 * Intel SVM (drivers/iommu/intel-svm.c): PASID DMA through the process page table (ATS, page
 * requests served by `prq_event_thread` → handle_mm_fault under mmap_sem). `->invalidate_range`
 * only (`change_pte` too, which no modelled call site calls): `mirror`, no page references.
 *
 * `intel_invalidate_range(start, end)` → `intel_flush_svm_range(svm, start, pages =
 * (end - start + PAGE_SIZE - 1) >> VTD_PAGE_SHIFT, ih = 0, gl = 0)` → per device a PASID-based IOTLB
 * invalidation with `QI_EIOTLB_ADDR(address) | QI_EIOTLB_AM(mask)`, `mask =
 * ilog2(__roundup_pow_of_two(pages))` (`qi_submit_sync` spins: no sleep). The hardware ignores the
 * address bits masked by AM, so it flushes the naturally aligned block of 2^mask pages that contains
 * `address`: an unaligned range of several pages loses its tail. That is what 2d6ffc63f124
 * "iommu/vt-d: Fix unaligned addresses for intel_flush_svm_range_dev()" (v5.11) fixed; its Fixes tag
 * names the v5.0 scalable-mode code (1c4f88b7f1f9), although the v4.10 … v4.19 descriptor is built the
 * same way for the extended (ECS) invalidation: whether ECS hardware ignored the bits alike is not
 * settled by what was read, so the matrix marks these cells uncertain.
 *
 * The device-IOTLB invalidation sent after it covers a superset of the range; it is not modelled
 * (a stale IOMMU IOTLB entry is handed back to the device on its next ATS request anyway). The
 * deferred-invalidate path (`pasid_state_table`, a cmpxchg instead of the flush) is absent on the
 * hardware modelled. ≤ v4.12 `intel_invalidate_page(address)` flushes one page (ih = 1).
 */
import type { MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import { atsFault, iotlbFlush, unbindPasid } from './ats';

const SVM = 'drivers/iommu/intel-svm.c';

export interface IntelSvmState {
  readonly hw: number;
  readonly iotlb: number;
  /** `svm->iommu->pasid_table[svm->pasid]` (1: valid), cleared by ->release. */
  readonly pasidEntry: number;
}

function setup(api: SetupApi): IntelSvmState {
  return Object.freeze({ hw: api.spinlock('vt-d hw (translation vs PASID-IOTLB invalidation + wait descriptor)'), iotlb: api.secondaryTable('vt-d pasid iotlb'), pasidEntry: api.counter('pasid_table[pasid] valid', 1) });
}

/** `ilog2(__roundup_pow_of_two(pages))`. */
export function psiMask(pages: number): number {
  let mask = 0;
  while (1 << mask < pages) mask++;
  return mask;
}

/**
 * `intel_flush_svm_range_dev()` for `pages` pages from `address`: the block of 2^mask pages the
 * hardware flushes, as virtual page numbers `[first, end)`.
 */
export function psiFlushedVpns(k: Pick<KernelApi, 'PAGE_SIZE' | 'vpnOf'>, address: number, pages: number): [number, number] {
  const mask = psiMask(pages);
  const block = k.PAGE_SIZE * (1 << mask);
  const base = address - (address % block); // QI_EIOTLB_ADDR with the low AM bits ignored
  const first = k.vpnOf(base);
  return [first, first + (1 << mask)];
}

function flushRange(version: string) {
  const at = site(SVM, 'intel_flush_svm_range → intel_flush_svm_range_dev: qi_submit_sync(PASID-IOTLB, AM)', version);
  return function* (k: KernelApi, s: IntelSvmState, address: number, pages: number): Gen {
    const [first, end] = psiFlushedVpns(k, address, pages);
    yield* iotlbFlush(k, s.hw, s.iotlb, first, end, at);
  };
}

function invalidateRange(version: string) {
  const flush = flushRange(version);
  return function* (k: KernelApi, s: IntelSvmState, r: MmuNotifierRange): Gen {
    // intel_flush_svm_range(svm, start, (end - start + PAGE_SIZE - 1) >> VTD_PAGE_SHIFT, 0, 0)
    yield* flush(k, s, r.start, Math.floor((r.end - r.start + k.PAGE_SIZE - 1) / k.PAGE_SIZE));
  };
}

function device(version: string): NotifierDefinition<IntelSvmState>['device'] {
  const at = {
    translate: site('device', 'ATS translation request: VT-d walks the first-level (CPU) page table', version),
    pri: site(SVM, 'prq_event_thread: handle_mm_fault under mmap_sem', version, 'modelled by get_user_pages + put_page'),
  };
  return { table: (s) => s.iotlb, fault: (k, s, f) => atsFault(k, s.hw, s.iotlb, f.address, f.write, at, s.pasidEntry) };
}

/**
 * `intel_mm_release()` (intel-svm.c v4.10.17, v4.13.19, v4.19.95): "This might end up being called
 * from exit_mmap(), *before* the page tables are cleared. And __mmu_notifier_release() will delete
 * us from the list of notifiers so that our invalidate_range() callback doesn't get called when the
 * page tables are cleared. So we need to protect against hardware accessing those page tables":
 * `pasid_table[pasid].val = 0`, then per device intel_flush_pasid_dev and
 * intel_flush_svm_range_dev(0, -1).
 */
function release(version: string) {
  const at = site(SVM, 'intel_mm_release: pasid_table[pasid].val = 0; intel_flush_svm_range_dev(svm, sdev, 0, -1, 0)', version);
  return function* (k: KernelApi, s: IntelSvmState): Gen {
    yield* unbindPasid(k, s.hw, s.iotlb, s.pasidEntry, at);
  };
}

export const intelSvmLegacy: NotifierDefinition<IntelSvmState> = {
  name: 'intel-svm',
  title: 'Intel SVM (v4.10/v4.12): shares the CPU page table; invalidate_page flushes one page, invalidate_range an AM-aligned block',
  contract: 'mirror',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: `${SVM} intel_invalidate_page, intel_invalidate_range, intel_flush_svm_range_dev, prq_event_thread (v4.12)`,
  setup,
  ops: {
    *invalidatePage(k, s, address) {
      yield* flushRange('v4.12')(k, s, address, 1);
    },
    invalidateRange: invalidateRange('v4.12'),
    release: release('v4.12'),
  },
  device: device('v4.12'),
};

export const intelSvm: NotifierDefinition<IntelSvmState> = {
  name: 'intel-svm',
  title: 'Intel SVM (v4.13+): ->invalidate_range only; PASID-IOTLB flush of the AM-aligned block containing start',
  contract: 'mirror',
  eras: ['v4.13', 'v4.15', 'v4.19'],
  source: `${SVM} intel_invalidate_range, intel_flush_svm_range_dev, prq_event_thread (v4.13.9; same in v4.19.95)`,
  setup,
  ops: { invalidateRange: invalidateRange('v4.13'), release: release('v4.13') },
  device: device('v4.13'),
};
