/**
 * IB umem ODP: reference §3 B14 by hand. ca748c39ea3f (v5.0) held `umem_rwsem` for read from
 * range_start to range_end; zap_page_range → __split_huge_pmd nests a second range_start on the same
 * thread, and an MR registration (ib_umem_odp_get: down_write) queued between the two read
 * acquisitions waits for the first while the second waits behind it. The scenario model has neither
 * call site yet, so the threads are written here; the v4.19 driver, which drops the lock at the end of
 * range_start, gets through the same threads.
 */
import { describe, expect, it } from 'vitest';
import { ibUmemOdp419, ibUmemOdpRwsemHeld, type OdpState } from '../../src/drivers/umem_odp';
import { VMA_BASE, PAGE_SIZE } from '../../src/runtime/machine';
import { site } from '../../src/runtime/site';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { runThreads, type Body } from './harness';

const ZAP = { start: VMA_BASE, end: VMA_BASE + PAGE_SIZE };
const SPLIT = site('mm/huge_memory.c', '__split_huge_pmd (inside zap_page_range)', 'v5.4', 'hand-driven: THP is not modelled');
const REG = site('drivers/infiniband/core/umem_odp.c', 'ib_umem_odp_get: down_write(&per_mm->umem_rwsem)', 'v5.4', 'hand-driven: MR registration is not modelled');

function threads(def: NotifierDefinition<OdpState>): Body<OdpState>[] {
  const zap: Body<OdpState> = function* (k, s) {
    yield* def.ops.invalidateRangeStart!(k, s, ZAP);
    yield* k.cpuRelax(SPLIT, 'zap_pte_range reaches a huge pmd');
    yield* def.ops.invalidateRangeStart!(k, s, ZAP); // __split_huge_pmd's own bracket
    yield* def.ops.invalidateRangeEnd!(k, s, ZAP);
    yield* def.ops.invalidateRangeEnd!(k, s, ZAP);
  };
  const register: Body<OdpState> = function* (k, s) {
    yield* k.downWrite(s.umemRwsem, REG);
    yield* k.upWrite(s.umemRwsem, REG);
  };
  return [zap, register];
}

describe('ib-umem-odp-rwsem-held (reference §3 B14)', () => {
  it('deadlocks when a writer queues between the nested read acquisitions of one thread', () => {
    const r = runThreads(ibUmemOdpRwsemHeld, 'v5.0', threads(ibUmemOdpRwsemHeld));
    expect(r.verdict.kind).toBe('deadlock');
    expect(r.verdict.kind === 'deadlock' && r.verdict.message).toMatch(/cpu waits for context->umem_rwsem held by cpu.*cpu1 waits for context->umem_rwsem/s);
  });

  it('the v4.19 driver, which holds umem_rwsem only inside range_start, gets through the same threads', () => {
    const r = runThreads(ibUmemOdp419, 'v4.19', threads(ibUmemOdp419));
    expect(r.verdict.kind).toBe('pass');
  });
});
