/**
 * The IOTLB flush of the drivers that share the CPU page table, as their sources compute it:
 * AMD IOMMUv2 flushes one page when `(start ^ (end - 1)) < PAGE_SIZE`, else the whole IOTLB of the
 * PASID (amd_iommu_v2.c mn_invalidate_range); the v5.0 NPU sends one ATSD over the 2M (or 1G) block
 * holding the range (npu-dma.c mmio_invalidate).
 */
import { describe, expect, it } from 'vitest';
import { amdIommuV2, type AmdIommuV2State } from '../../src/drivers/amd_iommu_v2';
import { atsdBlock } from '../../src/drivers/npu-dma';
import { PAGE_SIZE, VMA_BASE } from '../../src/runtime/machine';
import { runThreads, type Body } from './harness';

const page = (i: number) => VMA_BASE + i * PAGE_SIZE;

/** Fills the IOTLB for pages 0–3 (ATS after a write fault), then sends one invalidate_range. */
function afterInvalidate(start: number, end: number): boolean[] {
  const body: Body<AmdIommuV2State> = function* (k, s) {
    for (let i = 0; i < 4; i++) {
      while ((yield* amdIommuV2.device.fault(k, s, { address: page(i), write: true })) !== 'mapped');
    }
    yield* amdIommuV2.ops.invalidateRange!(k, s, { start, end });
  };
  const r = runThreads(amdIommuV2, 'v4.13', [body], [], 4);
  expect(r.verdict.kind).toBe('pass');
  return r.machine.tables[0].entries.map((e) => e !== null);
}

describe('amd_iommu_v2 mn_invalidate_range', () => {
  it('flushes only the page when the range lies in one page (aac2fea9 passed [address, address + 1))', () => {
    expect(afterInvalidate(page(1), page(1) + 1)).toEqual([true, false, true, true]);
    expect(afterInvalidate(page(2), page(3))).toEqual([true, true, false, true]);
  });
  it('flushes the whole IOTLB for anything wider', () => {
    expect(afterInvalidate(page(1), page(3))).toEqual([false, false, false, false]);
  });
});

describe('npu-dma mmio_invalidate (v5.0)', () => {
  it('picks 64K exactly, else the 2M block, else the 1G block, else the PID', () => {
    const M2 = 2 * 1024 * 1024;
    expect(atsdBlock(0x10000, 0x10000)).toEqual([0x10000, 0x20000]);
    expect(atsdBlock(VMA_BASE + PAGE_SIZE, PAGE_SIZE)).toEqual([0, M2]);
    expect(atsdBlock(M2 - PAGE_SIZE, 2 * PAGE_SIZE)).toEqual([0, 1024 * 1024 * 1024]);
    expect(atsdBlock(1024 * 1024 * 1024 - PAGE_SIZE, 2 * PAGE_SIZE)).toBeNull();
  });
});
