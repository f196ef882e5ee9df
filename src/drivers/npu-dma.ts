/**
 * The powernv NPU (arch/powerpc/platforms/powernv/npu-dma.c): NVLink2 GPUs translate through the
 * nest MMU, which walks the process page table (ATS); GPU faults are served by
 * `pnv_npu2_handle_fault` (get_user_pages_remote, then put_page). `->invalidate_range` only
 * (`change_pte` too, never called by a modelled site): `mirror`, no page references.
 *
 * `pnv_npu2_mn_invalidate_range(start, end)`: an ATSD invalidate of each page
 * (`mmio_invalidate(npu_context, 1, address, false)` for address in [start, end)) and a final one
 * with flush at `address == end`; from v4.19 a range larger than `atsd_threshold` (2 MiB) is one
 * PID-wide invalidate instead (never the case for the model's small VMAs). v4.12
 * `pnv_npu2_mn_invalidate_page(address)` invalidates that page with flush. Each launch spins on
 * the ATSD registers (`cpu_relax`): no sleep. The notifier appeared with NVLink2 support in v4.12
 * (v4.10.17 has none).
 */
import type { MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import { ALL_VPNS, atsFault, iotlbFlush, unbindPasid } from './ats';

const NPU = 'arch/powerpc/platforms/powernv/npu-dma.c';
/** `static uint64_t atsd_threshold = 2 * 1024 * 1024;` (v4.19). */
const ATSD_THRESHOLD = 2 * 1024 * 1024;

export interface NpuState {
  readonly hw: number;
  readonly atc: number;
  /** Whether the device driver still lets the GPU send translation requests (cleared by release_cb). */
  readonly requests: number;
}

function setup(api: SetupApi): NpuState {
  return Object.freeze({ hw: api.spinlock('npu hw (nest MMU translation vs ATSD launch + XTS_ATSD_STAT wait)'), atc: api.secondaryTable('gpu atc (nest mmu)'), requests: api.counter('npu_context: translation requests allowed', 1) });
}

function invalidateRange(version: string, threshold: boolean) {
  const va = site(NPU, 'pnv_npu2_mn_invalidate_range → mmio_invalidate(va)', version);
  const pid = site(NPU, 'pnv_npu2_mn_invalidate_range → mmio_invalidate(pid)', version);
  return function* (k: KernelApi, s: NpuState, r: MmuNotifierRange): Gen {
    if (threshold && r.end - r.start > ATSD_THRESHOLD) {
      yield* iotlbFlush(k, s.hw, s.atc, 0, ALL_VPNS, pid);
      return;
    }
    // for (address = start; address < end; address += PAGE_SIZE) mmio_invalidate(.., address, false);
    // then mmio_invalidate(.., address == end, true): one page past the range, flushed too
    let address = r.start;
    for (; address < r.end; address += k.PAGE_SIZE) yield* iotlbFlush(k, s.hw, s.atc, k.vpnOf(address), k.vpnOf(address) + 1, va);
    yield* iotlbFlush(k, s.hw, s.atc, k.vpnOf(address), k.vpnOf(address) + 1, va);
  };
}

const SZ_64K = 64 * 1024;
const SZ_2M = 2 * 1024 * 1024;
const SZ_1G = 1024 * 1024 * 1024;

/** v5.0 `mmio_invalidate(npu_context, start, size)`: the byte range one size-based ATSD covers, or null for the whole PID. */
export function atsdBlock(start: number, size: number): [number, number] | null {
  const end = start + size - 1;
  const down = (x: number, a: number) => x - (x % a);
  if (size === SZ_64K) return [start, start + SZ_64K];
  if (down(start, SZ_2M) === down(end, SZ_2M)) return [down(start, SZ_2M), down(start, SZ_2M) + SZ_2M];
  if (down(start, SZ_1G) === down(end, SZ_1G)) return [down(start, SZ_1G), down(start, SZ_1G) + SZ_1G];
  return null;
}

function* invalidateRange50(k: KernelApi, s: NpuState, r: MmuNotifierRange): Gen {
  const at = site(NPU, 'pnv_npu2_mn_invalidate_range → mmio_invalidate(start, size)', 'v5.0');
  const block = atsdBlock(r.start, r.end - r.start);
  if (block === null) yield* iotlbFlush(k, s.hw, s.atc, 0, ALL_VPNS, at);
  else yield* iotlbFlush(k, s.hw, s.atc, k.vpnOf(block[0]), Math.min(ALL_VPNS, k.vpnOf(block[1] - 1) + 1), at);
}

function device(version: string): NotifierDefinition<NpuState>['device'] {
  const at = {
    translate: site('device', 'GPU ATS translation: nest MMU walks the process page table', version),
    pri: site(NPU, 'pnv_npu2_handle_fault: get_user_pages_remote + put_page', version),
  };
  return { table: (s) => s.atc, fault: (k, s, f) => atsFault(k, s.hw, s.atc, f.address, f.write, at, s.requests) };
}

/**
 * `pnv_npu2_mn_release()` (npu-dma.c v4.12, v4.13.19, v4.19.95, v5.0.1): "Call into device driver
 * to stop requests to the NMMU" (release_cb, modelled as refusing further translations), then
 * "There should be no more translation requests for this PID, but we need to ensure any entries
 * for it are removed from the TLB": mmio_invalidate of the whole PID (v5.0: `(0, ~0UL)`).
 */
function release(version: string) {
  const at = site(NPU, 'pnv_npu2_mn_release: release_cb; mmio_invalidate(npu_context, 0, 0, true)', version);
  return function* (k: KernelApi, s: NpuState): Gen {
    yield* unbindPasid(k, s.hw, s.atc, s.requests, at);
  };
}

export const powernvNpuLegacy: NotifierDefinition<NpuState> = {
  name: 'powernv-npu',
  title: 'powernv NPU (v4.12): shares the CPU page table; invalidate_page and per-page ATSD invalidate_range',
  contract: 'mirror',
  eras: ['v4.12', 'aac2fea9'],
  source: `${NPU} pnv_npu2_mn_invalidate_page, pnv_npu2_mn_invalidate_range, pnv_npu2_handle_fault (v4.12)`,
  setup,
  ops: {
    *invalidatePage(k, s, address) {
      const vpn = k.vpnOf(address);
      yield* iotlbFlush(k, s.hw, s.atc, vpn, vpn + 1, site(NPU, 'pnv_npu2_mn_invalidate_page → mmio_invalidate(va, flush)', 'v4.12'));
    },
    invalidateRange: invalidateRange('v4.12', false),
    release: release('v4.12'),
  },
  device: device('v4.12'),
};

export const powernvNpu: NotifierDefinition<NpuState> = {
  name: 'powernv-npu',
  title: 'powernv NPU (v4.13): ->invalidate_range only, one ATSD invalidate per page (v4.19: whole PID above atsd_threshold)',
  contract: 'mirror',
  eras: ['v4.13', 'v4.15'],
  source: `${NPU} pnv_npu2_mn_invalidate_range, pnv_npu2_handle_fault (v4.13.9)`,
  setup,
  ops: { invalidateRange: invalidateRange('v4.13', false), release: release('v4.13') },
  device: device('v4.13'),
};

export const powernvNpu419: NotifierDefinition<NpuState> = {
  name: 'powernv-npu',
  title: 'powernv NPU (v4.19): ->invalidate_range only, per-page ATSD invalidates, whole PID above atsd_threshold',
  contract: 'mirror',
  eras: ['v4.19'],
  source: `${NPU} pnv_npu2_mn_invalidate_range, mmio_invalidate (v4.19.95)`,
  setup,
  ops: { invalidateRange: invalidateRange('v4.19', true), release: release('v4.19') },
  device: device('v4.19'),
};

export const powernvNpu50: NotifierDefinition<NpuState> = {
  name: 'powernv-npu',
  title: 'powernv NPU (v5.0/v5.2): ->invalidate_range only, one size-based ATSD (64K, the 2M or 1G block, else the PID)',
  contract: 'mirror',
  eras: ['v5.0', 'v5.2'],
  source: `${NPU} pnv_npu2_mn_invalidate_range, mmio_invalidate (v5.0.1, v5.2.1)`,
  setup,
  ops: { invalidateRange: invalidateRange50, release: release('v5.0') },
  device: device('v5.0'),
};
