/**
 * Intel SVM's PASID-IOTLB flush granularity (intel_flush_svm_range_dev, v4.10 … v4.19): the address
 * mask covers the naturally aligned block of 2^AM pages containing `start`, so an unaligned range of
 * several pages loses its tail (what 2d6ffc63f124 fixed in v5.11). AMD IOMMUv2 flushes the whole
 * IOTLB for any range beyond one page, and the NPU each page: neither loses it.
 */
import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { psiFlushedVpns, psiMask } from '../../src/drivers/intel-svm';
import { DRIVER_INVARIANTS } from '../../src/invariants';
import { PAGE_SIZE, VMA_BASE, vpnOf } from '../../src/runtime/machine';
import type { Scenario } from '../../src/scenario/scenario';

const k = { PAGE_SIZE, vpnOf };

describe('psiMask / psiFlushedVpns', () => {
  it('is ilog2(__roundup_pow_of_two(pages))', () => {
    expect([1, 2, 3, 4, 5, 8, 9].map(psiMask)).toEqual([0, 1, 2, 2, 3, 3, 4]);
  });
  it('flushes the aligned block containing the start, not the range', () => {
    expect(psiFlushedVpns(k, VMA_BASE, 2)).toEqual([0, 2]);
    expect(psiFlushedVpns(k, VMA_BASE + PAGE_SIZE, 1)).toEqual([1, 2]);
    // [page 1, page 3): AM = 1 covers pages 0 and 1 only
    expect(psiFlushedVpns(k, VMA_BASE + PAGE_SIZE, 2)).toEqual([0, 2]);
    // three pages from page 1: AM = 2 covers pages 0–3
    expect(psiFlushedVpns(k, VMA_BASE + PAGE_SIZE, 3)).toEqual([0, 4]);
  });
});

/** The device maps page 2 (write), then the CPU unmaps pages 1–2: one preemption after the CPU's write. */
const scenario: Scenario = {
  threads: [
    { kind: 'cpu', ops: [{ op: 'access', page: 2, write: true }, { op: 'munmap', page: 1, pages: 2 }] },
    { kind: 'device', ops: [{ op: 'access', page: 2, write: true }] },
  ],
};

function verdicts(driver: string, kernel: string): string[] {
  const out: string[] = [];
  for (let after = 1; after <= 40; after++) {
    const c: Case = { kernel, driver, scenario, preemptions: [{ thread: 0, after, to: 1 }], maxSteps: 2000, invariants: DRIVER_INVARIANTS };
    const v = runCase(c).verdict;
    out.push(v.kind === 'violation' ? v.invariant : v.kind);
  }
  return out;
}

describe('an unaligned two-page munmap after the device mapped its second page', () => {
  it.each(['v4.12', 'v4.13', 'v4.19'])('leaves a stale Intel SVM IOTLB entry to a freed page on %s', (kernel) => {
    expect(verdicts('intel-svm', kernel)).toContain('no-secondary-maps-freed-page');
  });
  it.each(['amd-iommu-v2', 'powernv-npu'])('is flushed completely by %s', (driver) => {
    expect(new Set(verdicts(driver, 'v4.13'))).toEqual(new Set(['pass']));
  });
});
