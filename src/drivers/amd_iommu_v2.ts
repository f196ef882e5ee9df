/**
 * AMD IOMMUv2 (drivers/iommu/amd_iommu_v2.c): PASID-tagged DMA through the process page table
 * (ATS translation, PRI page requests served by `do_fault` → handle_mm_fault). No start/end:
 * `->invalidate_range` flushes the IOTLB, and nothing else is needed since the device holds no
 * translation the CPU page table does not have (`mirror`, no page references).
 *
 * `mn_invalidate_range(start, end)`: `if ((start ^ (end - 1)) < PAGE_SIZE)
 * amd_iommu_flush_page(domain, pasid, start); else amd_iommu_flush_tlb(domain, pasid);` — one page
 * when the range lies in one page, the whole IOTLB of the PASID otherwise; ≤ v4.12
 * `mn_invalidate_page(address)` = `__mn_flush_page(address)`. The flush queues INVALIDATE_IOMMU_PAGES
 * and waits for completion by polling (no sleep; the polling itself is not read [U], reference §2.5).
 *
 * The single-page case is where the aac2fea9 range `[address, address + (1UL << order))` goes wrong
 * for a THP (reference §3 B5: 512 bytes, so only the first subpage is flushed); with order-0 pages
 * it flushes exactly the page, so that cell waits for THP.
 */
import type { MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import { ALL_VPNS, atsFault, iotlbFlush, unbindPasid } from './ats';

const V2 = 'drivers/iommu/amd_iommu_v2.c';

export interface AmdIommuV2State {
  readonly hw: number;
  readonly iotlb: number;
  /** The PASID's GCR3 entry (1: the device may translate through the mm), cleared by ->release. */
  readonly gcr3: number;
}

function setup(api: SetupApi): AmdIommuV2State {
  return Object.freeze({ hw: api.spinlock('amd iommu hw (translation vs INVALIDATE_IOMMU_PAGES + COMPLETION_WAIT)'), iotlb: api.secondaryTable('amd iommu iotlb'), gcr3: api.counter('gcr3[pasid] valid', 1) });
}

function invalidateRange(version: string) {
  const page = site(V2, 'mn_invalidate_range → amd_iommu_flush_page', version);
  const all = site(V2, 'mn_invalidate_range → amd_iommu_flush_tlb', version);
  return function* (k: KernelApi, s: AmdIommuV2State, r: MmuNotifierRange): Gen {
    if ((r.start ^ (r.end - 1)) < k.PAGE_SIZE) {
      const vpn = k.vpnOf(r.start);
      yield* iotlbFlush(k, s.hw, s.iotlb, vpn, vpn + 1, page);
    } else {
      yield* iotlbFlush(k, s.hw, s.iotlb, 0, ALL_VPNS, all);
    }
  };
}

function device(version: string): NotifierDefinition<AmdIommuV2State>['device'] {
  const at = {
    translate: site('device', 'ATS translation request: IOMMU walks the CPU page table (PASID, GCR3)', version),
    pri: site(V2, 'ppr_notifier → do_fault: handle_mm_fault; finish_pri_tag', version, 'modelled by get_user_pages + put_page'),
  };
  return { table: (s) => s.iotlb, fault: (k, s, f) => atsFault(k, s.hw, s.iotlb, f.address, f.write, at, s.gcr3) };
}

/**
 * `mn_release()` (amd_iommu_v2.c v4.10.17, v4.13.19; v5.2.1 the same): might_sleep(); the device
 * driver's inv_ctx_cb (not modelled: no device driver above it); unbind_pasid: `invalid = true`,
 * clear the GCR3 entry and flush the IOTLB ("After this the device/pasid can't access the mm
 * anymore"), flush_workqueue (no PRI work is modelled in flight).
 */
function release(version: string) {
  const at = site(V2, 'mn_release → unbind_pasid → amd_iommu_domain_clear_gcr3', version);
  return function* (k: KernelApi, s: AmdIommuV2State): Gen {
    yield* k.mightSleep('mn_release: might_sleep()', at);
    yield* unbindPasid(k, s.hw, s.iotlb, s.gcr3, at);
  };
}

export const amdIommuV2Legacy: NotifierDefinition<AmdIommuV2State> = {
  name: 'amd-iommu-v2',
  title: 'AMD IOMMUv2 (v4.10/v4.12): shares the CPU page table; invalidate_page and invalidate_range flush the IOTLB',
  contract: 'mirror',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: `${V2} mn_invalidate_page, mn_invalidate_range, do_fault (v4.12; v4.10.17 identical ops)`,
  setup,
  ops: {
    *invalidatePage(k, s, address) {
      const vpn = k.vpnOf(address);
      yield* iotlbFlush(k, s.hw, s.iotlb, vpn, vpn + 1, site(V2, 'mn_invalidate_page → __mn_flush_page', 'v4.12'));
    },
    invalidateRange: invalidateRange('v4.12'),
    release: release('v4.12'),
  },
  device: device('v4.12'),
};

export const amdIommuV2: NotifierDefinition<AmdIommuV2State> = {
  name: 'amd-iommu-v2',
  title: 'AMD IOMMUv2 (v4.13+): ->invalidate_range only: one page if the range is within a page, else the whole IOTLB',
  contract: 'mirror',
  eras: ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'],
  source: `${V2} mn_invalidate_range, do_fault (v4.13.9; same in v4.19.95, v5.0.1, v5.2.1)`,
  setup,
  ops: { invalidateRange: invalidateRange('v4.13'), release: release('v4.13') },
  device: device('v4.13'),
};
