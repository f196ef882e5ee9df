/**
 * The call sites added for issue 3 (mprotect, fork, madvise(MADV_DONTNEED)), on fixed scenarios:
 * what the core VM does, and that a driver which ignores a write-protect is caught.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../src/check/fuzz';
import { runCase, type Case } from '../../src/check/case';
import { eraByName } from '../../src/eras';
import { DRIVER_INVARIANTS } from '../../src/invariants';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { kvm, kvmNoRetry } from '../../src/drivers/kvm';
import { site } from '../../src/runtime/site';

type Threads = Case['scenario']['threads'];

function run(kernel: string, threads: Threads, driver: NotifierDefinition<any> = kvm, preemptions: Case['preemptions'] = []) {
  return runCase({ kernel, driver: driver.name, scenario: { threads }, preemptions, maxSteps: 2000 }, { era: eraByName(kernel), driver });
}

describe('mprotect (mm/mprotect.c)', () => {
  it('write-protects the PTE and the VMA: a later CPU write gets SIGSEGV, KVM loses its spte', () => {
    const r = run('v4.13', [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'cpu', ops: [{ op: 'mprotect', page: 0, pages: 1, writable: false }, { op: 'access', page: 0, write: true }] },
    ]);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.ptes[0]).toMatchObject({ writable: false });
    expect(r.machine.tables[0].entries[0]).toBeNull();
    expect(r.trace.some((s) => /SIGSEGV/.test(s.effect.text ?? ''))).toBe(true);
  });

  it('a start/end driver that skips MMU_NOTIFY_PROTECTION_* invalidations keeps write access: secondary-follows-primary', () => {
    const AT = site('test', 'lazy mirror', 'model');
    // like KVM, but "optimises away" protection changes using the v5.2 event (a permission leak)
    const lazy: NotifierDefinition<ReturnType<typeof kvm.setup>> = {
      ...kvm,
      name: 'skips-protection',
      eras: ['v5.2'],
      ops: {
        *invalidateRangeStart(k, s, r) {
          yield* k.spinLock(s.mmuLock, AT);
          yield* k.add(s.count, 1, AT);
          if (r.event !== 'MMU_NOTIFY_PROTECTION_VMA' && r.event !== 'MMU_NOTIFY_PROTECTION_PAGE') {
            yield* k.spteClearRange(s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, AT);
          }
          yield* k.spinUnlock(s.mmuLock, AT);
          return 0;
        },
        invalidateRangeEnd: kvm.ops.invalidateRangeEnd,
      },
    };
    const threads: Threads = [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'cpu', ops: [{ op: 'mprotect', page: 0, pages: 1, writable: false }] },
    ];
    const r = run('v5.2', threads, lazy);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
    expect(r.verdict.kind === 'violation' && r.verdict.message).toMatch(/writable .* the CPU PTE is read-only/);
    expect(run('v5.2', threads).verdict.kind).toBe('pass'); // KVM zaps on every event
  });
});

describe('fork (kernel/fork.c dup_mmap, mm/memory.c copy_page_range)', () => {
  it('write-protects the parent; the parent\'s next write copies the page and the child keeps the old one', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'fork' }, { op: 'access', page: 0, write: true }] }]);
    expect(r.verdict.kind).toBe('pass');
    const pte = r.machine.ptes[0]!;
    expect(pte.writable).toBe(true);
    expect(pte.pfn).not.toBe(1); // a new page
    expect(r.machine.pages[1]).toMatchObject({ free: false, refcount: 1, mapcount: 1 }); // the child's
    expect(r.trace.map((s) => s.effect.at.fn)).toContain('wp_page_copy');
  });

  it('KVM stays in step with the parent through fork and COW, under fuzzing', () => {
    expect(check({ kernel: 'v4.13', driver: 'kvm', runs: 3000, seed: 11, invariants: DRIVER_INVARIANTS }).verdict.kind).toBe('pass');
  });
});

describe('madvise(MADV_DONTNEED) (mm/madvise.c)', () => {
  it('zaps the page but keeps the VMA: the next access faults a new page', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'dontneed', page: 0, pages: 1 }, { op: 'access', page: 0, write: true }] }]);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].free).toBe(false); // LIFO reuse: the freed pfn 1 comes back as the new page
    expect(r.machine.pages[1].generation).toBe(1);
    expect(r.machine.ptes[0]).toMatchObject({ pfn: 1, generation: 1 });
  });

  it('races with a device fault the same way munmap does (kvm-no-retry)', () => {
    const base: Threads = [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'dontneed', page: 0, pages: 1 }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
    ];
    const hit = Array.from({ length: 40 }, (_, i) => run('v4.13', base, kvmNoRetry, [{ thread: 0, after: i + 1, to: 1 }])).find((r) => r.verdict.kind !== 'pass');
    expect(hit?.verdict).toMatchObject({ kind: 'violation' });
  });
});

describe('madvise(MADV_FREE) and no-lost-dirty (mm/madvise.c, mm/vmscan.c lazyfree)', () => {
  const threads: Threads = [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'lazyfree', page: 0, pages: 1 }] },
    { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] }, // through a writable, clean PTE
    { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
  ];
  it('a clean lazyfree page is discarded; one the CPU wrote again is kept', () => {
    const clean = run('v4.13', [threads[0], threads[2]]);
    expect(clean.verdict.kind).toBe('pass');
    expect(clean.machine.pages[1].free).toBe(true);
    expect(clean.machine.ptes[0]).toBeNull(); // discarded: no swap entry
    const rewritten = run('v4.13', [{ kind: 'cpu', ops: [...threads[0].ops, { op: 'access', page: 0, write: true }] } as Threads[number], threads[2]]);
    expect(rewritten.machine.pages[1].free).toBe(false);
    expect(rewritten.machine.ptes[0]).toMatchObject({ pfn: 1, dirty: true });
  });

  it('KVM marks the page dirty when it zaps a writable spte (mmu_spte_clear_track_bits): nothing is lost', () => {
    const r = run('v4.13', threads);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1].free).toBe(false);
  });

  it('a driver that zaps without set_page_dirty loses what the device wrote: no-lost-dirty', () => {
    const AT = site('test', 'forgetful mirror', 'model');
    const forgetful: NotifierDefinition<ReturnType<typeof kvm.setup>> = {
      ...kvm,
      name: 'forgets-dirty',
      ops: {
        *invalidateRangeStart(k, s, r) {
          yield* k.spinLock(s.mmuLock, AT);
          yield* k.add(s.count, 1, AT);
          yield* k.spteClearRange(s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, AT); // no dirty transfer
          yield* k.spinUnlock(s.mmuLock, AT);
          return 0;
        },
        invalidateRangeEnd: kvm.ops.invalidateRangeEnd,
      },
    };
    const r = run('v4.13', threads, forgetful);
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-lost-dirty' });
  });
});
