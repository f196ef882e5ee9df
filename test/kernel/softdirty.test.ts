/**
 * clear_refs soft-dirty (src/kernel/task_mmu.ts; reference S9): `echo 4 > /proc/pid/clear_refs`
 * write-protects every present PTE and huge PMD inside a range_start/end bracket over the whole
 * address space; a mirror that keeps a writable spte over it lets device writes escape soft-dirty
 * tracking, which secondary-follows-primary reports as a permission leak.
 */
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/check/explore';
import { check } from '../../src/check/fuzz';
import { DRIVER_INVARIANTS } from '../../src/invariants';
import { DEFAULT_BOUNDS } from '../../src/scenario/arbitrary';
import { runCase, type Case } from '../../src/check/case';
import { erasOf } from '../../src/drivers';
import { kvm } from '../../src/drivers/kvm';
import { ERAS, eraByName } from '../../src/eras';
import type { NotifierDefinition } from '../../src/notifier/definition';
import type { ExecutionResult } from '../../src/runtime/execution';
import { site } from '../../src/runtime/site';
import { validateScenario } from '../../src/scenario/scenario';
import { decodeToken, encodeToken } from '../../src/schedule/token';

type Threads = Case['scenario']['threads'];
type KvmState = ReturnType<typeof kvm.setup>;

function run(kernel: string, threads: Threads, driver: NotifierDefinition<any> = kvm, thpOrder = 0): ExecutionResult {
  const scenario = thpOrder ? { threads, thp: true, thpOrder } : { threads };
  return runCase({ kernel, driver: driver.name, scenario, preemptions: [], maxSteps: 3000 }, { era: eraByName(kernel), driver });
}
const fns = (r: ExecutionResult) => r.trace.map((s) => s.effect.at.fn);
const texts = (r: ExecutionResult) => r.trace.map((s) => s.effect.text ?? '');

const AT = site('test', 'a mirror that takes MMU_NOTIFY_SOFT_DIRTY at its word', 'model');
/**
 * Test-only broken driver: KVM, but it reads the v5.2 event documentation ("soft dirty accounting
 * (still same page and same access flags)") as "nothing to invalidate" and keeps its sptes over a
 * soft-dirty clear. Still bumps count and seq, so it is not caught for anything else.
 */
const skipsSoftDirty: NotifierDefinition<KvmState> = {
  ...kvm,
  name: 'skips-soft-dirty',
  eras: ['v5.2', 'v5.5', 'v6.6'],
  ops: {
    *invalidateRangeStart(k, s, r) {
      yield* k.spinLock(s.mmuLock, AT);
      yield* k.add(s.count, 1, AT);
      if (r.event !== 'MMU_NOTIFY_SOFT_DIRTY') yield* k.spteClearRange(s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, AT, true);
      yield* k.spinUnlock(s.mmuLock, AT);
      return 0;
    },
    invalidateRangeEnd: kvm.ops.invalidateRangeEnd,
  },
};

/** A CPU write, then the device maps page 0 writable, then clear_refs (a second CPU thread, the tracer). */
const deviceThenClear: Threads = [
  { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
  { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
  { kind: 'cpu', ops: [{ op: 'clearRefs' }] },
];

describe('clear_refs soft-dirty (fs/proc/task_mmu.c clear_refs_write)', () => {
  it('write-protects every present PTE, keeps the VMA writable; the next write faults and reuses the page (do_wp_page → wp_page_reuse)', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 1, write: true }, { op: 'clearRefs' }, { op: 'access', page: 0, write: true }] }]);
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    expect(m.ptes[1]).toMatchObject({ pfn: 2, writable: false });
    expect(m.ptes[0]).toMatchObject({ pfn: 1, generation: 0, writable: true }); // the same page, reused
    expect(m.vmaWritable.every((w) => w)).toBe(true);
    expect(fns(r)).toContain('wp_page_reuse');
    expect(fns(r)).not.toContain('wp_page_copy');
    expect(fns(r)).toContain('ptep_modify_prot_start; ptep_modify_prot_commit(pte_clear_soft_dirty(pte_wrprotect(ptent)))');
    expect(m.counters[m.counterNames.indexOf('VM_SOFTDIRTY')]).toBe(0);
  });

  it('in each era\'s form: the VM_SOFTDIRTY write/downgrade dance only the first time (≤ v5.7), the write lock in v6.8, the flush after range_end', () => {
    for (const era of ERAS) {
      const r = run(era.name, [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'clearRefs' }, { op: 'clearRefs' }] }]);
      expect(r.verdict.kind, era.name).toBe('pass');
      const f = fns(r);
      const downgrades = f.filter((x) => x === 'clear_refs_write: downgrade_write(&mm->mmap_sem)').length;
      const end = texts(r).findIndex((t) => t.startsWith('mmu_notifier_invalidate_range_end(0x100000, 0x101000) returned'));
      expect(end, era.name).toBeGreaterThan(0);
      const after = f.slice(end);
      switch (era.clearRefs) {
        case 'read-flush-tlb-mm':
          expect(after).toContain('clear_refs_write: flush_tlb_mm(mm)');
          break;
        case 'read-mmu-gather':
          expect(after).toContain('tlb_finish_mmu(&tlb, 0, -1) → tlb_flush_mmu_tlbonly');
          break;
        case 'read-mmu-gather-noflush':
          expect(after).toContain('tlb_finish_mmu → tlb_flush_mmu_tlbonly: nothing gathered, return');
          break;
        case 'write-lock':
          expect(after).toContain('clear_refs_write: flush_tlb_mm(mm) → flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL)');
          break;
      }
      expect(downgrades, era.name).toBe(era.clearRefs === 'write-lock' ? 0 : 2); // up_write + down_read, once
      const starts = texts(r).filter((t) => t.startsWith('mmu_notifier_invalidate_range_start('));
      expect(starts, era.name).toEqual(Array(2).fill(`mmu_notifier_invalidate_range_start(0x100000, 0x101000${era.events ? ', MMU_NOTIFY_SOFT_DIRTY' : ''})`));
    }
    expect(new Set(ERAS.map((e) => e.clearRefs))).toEqual(new Set(['read-flush-tlb-mm', 'read-mmu-gather', 'read-mmu-gather-noflush', 'write-lock']));
  });

  it('a mirror that keeps its writable spte over the soft-dirty clear is caught by secondary-follows-primary; KVM passes on every era', () => {
    for (const era of skipsSoftDirty.eras) {
      const r = run(era, deviceThenClear, skipsSoftDirty);
      expect(r.verdict, era).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
      expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/still maps 0x100000 writable after cpu1 invalidated it and finished; the CPU PTE is read-only/);
    }
    for (const era of erasOf('kvm')) {
      const r = run(era, deviceThenClear);
      expect(r.verdict.kind, era).toBe('pass');
      expect(r.machine.tables[0].entries[0], era).toBeNull();
      expect(r.machine.ptes[0], era).toMatchObject({ writable: false });
    }
  });

  it('the same on a huge PMD: clear_soft_dirty_pmd write-protects it, the broken mirror is caught, and the next CPU write reuses the THP', () => {
    const threads: Threads = [...deviceThenClear, { kind: 'cpu', ops: [{ op: 'access', page: 1, write: true }] }];
    const broken = run('v5.2', threads.slice(0, 3), skipsSoftDirty, 1);
    expect(broken.verdict).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
    for (const era of erasOf('kvm')) {
      const r = run(era, threads, kvm, 1);
      expect(r.verdict.kind, era).toBe('pass');
      expect(r.machine.pmds[0], era).toMatchObject({ pfn: 1, writable: true }); // do_huge_pmd_wp_page: reused, not copied
      expect(fns(r), era).toContain('clear_soft_dirty_pmd');
    }
  });

  /**
   * secondary-follows-primary is checked when the invalidating thread has finished: a CPU write after
   * clear_refs in the same thread makes the PTE writable again (wp_page_reuse), and a device write
   * through the stale spte in between goes unseen. The scenario ends the thread with clear_refs.
   */
  it('explored exhaustively within 2 preemptions (a CPU write then clear_refs, against a device write): the broken mirror is caught, KVM passes in each form', () => {
    const scenario = { threads: [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'clearRefs' }] }, { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] }] } as Case['scenario'];
    const bad = explore({ kernel: 'v5.2', driver: skipsSoftDirty.name, target: { era: eraByName('v5.2'), driver: skipsSoftDirty }, scenario, maxPreemptions: 2 });
    expect(bad.verdict).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
    for (const kernel of ['v4.10', 'v4.13', 'v5.2', 'v5.5', 'v6.6']) {
      const r = explore({ kernel, driver: 'kvm', scenario, maxPreemptions: 2 });
      expect(r.verdict.kind, kernel).toBe('pass');
      expect(r.complete, kernel).toBe(true);
    }
  });

  it('fuzzing with clear_refs drawn (ScenarioBounds.clearRefs): KVM keeps up in every era form, THP included', () => {
    for (const kernel of ['v4.10', 'v4.13', 'v5.5', 'v6.6']) {
      const r = check({ kernel, driver: 'kvm', runs: 300, seed: 3, bounds: { ...DEFAULT_BOUNDS, oom: false, clearRefs: true }, invariants: DRIVER_INVARIANTS }); // ≤ v4.12 the OOM reaper unmaps with no notifier call
      expect(r.verdict.kind, `${kernel}: ${r.verdict.kind === 'violation' ? r.verdict.message : ''}`).toBe('pass');
    }
  });

  it('is data: token code s, a cpu operation only', () => {
    const c: Case = { kernel: 'v5.2', driver: 'kvm', scenario: { threads: deviceThenClear }, preemptions: [{ thread: 1, after: 2, to: 2 }], maxSteps: 2000 };
    expect(decodeToken(encodeToken(c))).toEqual(c);
    expect(() => validateScenario({ threads: [{ kind: 'device', ops: [{ op: 'clearRefs' }] }] })).toThrow(/not one a device thread does/);
  });
});
