/**
 * Page migration (src/kernel/migrate.ts, reference S6): migrate_pages → unmap_and_move →
 * __unmap_and_move with try_to_unmap(TTU_MIGRATION) in each era's notifier form, the
 * expected-count check of migrate_page_move_mapping, remove_migration_ptes (no notifier), the old
 * page freed with its last reference; THPs split first (≤ v4.13) or migrated whole (v4.15+, a
 * PTE-mapped THP); a CPU fault waiting on a migration entry.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolve, runCase, type Case } from '../../src/check/case';
import { erasOf } from '../../src/drivers';
import { pinningFault } from '../../src/drivers/unpin';
import { ERAS, eraByName } from '../../src/eras';
import { MIGRATE_SITES } from '../../src/kernel/migrate';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { Op } from '../../src/runtime/effect';
import type { ExecutionResult } from '../../src/runtime/execution';
import { site } from '../../src/runtime/site';
import { scheduleArbitrary } from '../../src/scenario/arbitrary';
import type { Scenario } from '../../src/scenario/scenario';
import { decodeToken, encodeToken } from '../../src/schedule/token';
import { describeEffect } from '../../src/report/label';
import { kvmStartKeeps } from '../drivers/kvm-variants';

type Preemptions = Case['preemptions'];

function run(kernel: string, driver: string | NotifierDefinition<any>, scenario: Scenario, preemptions: Preemptions = [], invariants?: readonly string[]): ExecutionResult {
  const c: Case = { kernel, driver: typeof driver === 'string' ? driver : driver.name, scenario, preemptions, maxSteps: 4000, ...(invariants ? { invariants } : {}) };
  return runCase(c, typeof driver === 'string' ? resolve(kernel, driver) : { era: eraByName(kernel), driver });
}

const texts = (r: ExecutionResult, thread?: number) => r.trace.filter((s) => thread === undefined || s.thread === thread).map((s) => s.effect.text ?? '');

/** Thread index of the migration in the family (cpu 0, device 1, migrate 2) and in `basic` (cpu 0, migrate 1, device 2). */
const MIGRATE = 2;
const BASIC_MIGRATE = 1;
/** The invariants that do not depend on aac2fea9's range bugs (full-range-invalidated catches those on every unmap). */
const DEVICE_INVARIANTS = ['no-secondary-maps-freed-page', 'no-sleep-in-atomic', 'secondary-follows-primary', 'start-end-paired'];

/**
 * The migration scenario family: CPU accesses (no munmap, no madvise, no reclaim: migration is the
 * only thing that frees a page, unless `dontneed`, which also draws a madvise(MADV_DONTNEED) of one
 * page: it splits a THP's PMD, so that v4.15+ migrates a PTE-mapped THP whole), device accesses and
 * one or two migrations, with or without THP.
 */
function family(opts: { thp: boolean; dontneed?: boolean }): fc.Arbitrary<Scenario> {
  const page = fc.nat({ max: 1 });
  const access = fc.record({ op: fc.constant('access' as const), page, write: fc.boolean() });
  const dontneed = fc.record({ op: fc.constant('dontneed' as const), page, pages: fc.constant(1) });
  const cpuOp = opts.dontneed ? fc.oneof({ arbitrary: access, weight: 3 }, { arbitrary: dontneed, weight: 1 }) : access;
  return fc
    .record({
      cpu: fc.array(cpuOp, { minLength: 1, maxLength: 3 }),
      mig: fc.array(fc.record({ op: fc.constant('migrate' as const), page }), { minLength: 1, maxLength: 2 }),
      device: fc.array(access, { minLength: 1, maxLength: 2 }),
      thp: opts.thp ? fc.boolean() : fc.constant(false),
    })
    .map(({ cpu, mig, device, thp }): Scenario => {
      const threads: Scenario['threads'] = [{ kind: 'cpu', ops: cpu }, { kind: 'device', ops: device }, { kind: 'migrate', ops: mig }];
      return thp ? { threads, thp: true, thpOrder: 1 } : { threads };
    });
}

/** One write fault, one device write, one migration of page 0, in that order by default. */
const basic: Scenario = {
  threads: [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
    { kind: 'migrate', ops: [{ op: 'migrate', page: 0 }] },
    { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
  ],
};
/** The device maps the page before the migration runs. */
const deviceFirst: Scenario = { threads: [basic.threads[0], basic.threads[2], basic.threads[1]] };

describe('migration through the era\'s try_to_unmap_one', () => {
  it('the default order migrates the page: migration entry, expected count 1, a new page mapped with no notifier, the old one freed', () => {
    for (const era of ERAS) {
      const r = run(era.name, 'observer', basic);
      // aac2fea9's bare 1-byte invalidate_range is Andrea Arcangeli's bug 2 (full-range-invalidated), for migration as for reclaim
      expect(r.verdict, era.name).toMatchObject(era.name === 'aac2fea9' ? { kind: 'violation', invariant: 'full-range-invalidated' } : { kind: 'pass' });
      if (era.name === 'aac2fea9') continue;
      const m = r.machine;
      const pte = m.ptes[0]!;
      expect(pte.pfn, era.name).not.toBe(1); // pfn 1 was the faulted page
      expect(m.pages[1].free, era.name).toBe(true);
      expect(m.pages[pte.pfn]).toMatchObject({ free: false, refcount: 1, mapcount: 1 });
      // remove_migration_pte: the write migration entry gives a writable PTE again (maybe_mkwrite, VM_WRITE)
      expect(pte).toMatchObject({ writable: true, swap: false });
      const t = texts(r, BASIC_MIGRATE);
      const entry = r.trace.findIndex((s) => s.thread === BASIC_MIGRATE && s.effect.op === Op.PteSet && (s.effect.d as { migration?: boolean }).migration === true);
      const remap = r.trace.findIndex((s) => s.thread === BASIC_MIGRATE && s.effect.op === Op.PteSet && (s.effect.d as { pfn: number }).pfn === pte.pfn);
      expect(entry, era.name).toBeGreaterThan(0);
      expect(remap, era.name).toBeGreaterThan(entry);
      // no notifier call between remove_migration_ptes and the end of the thread
      expect(r.trace.slice(remap).some((s) => s.thread === BASIC_MIGRATE && s.effect.op === Op.Notify), era.name).toBe(false);
      expect(t.some((x) => x.startsWith('page_count 2 != expected_count'))).toBe(false);
    }
  });

  it('v4.13 calls ->invalidate_range under the PTL for the migration entry; v4.15 … v5.5 leave it to range_end ("No need to invalidate here"); v6.6 flushes through ptep_clear_flush', () => {
    const under = (kernel: string) => {
      const r = run(kernel, 'observer', basic);
      expect(r.verdict.kind, kernel).toBe('pass');
      return r.trace.filter((s) => s.thread === BASIC_MIGRATE && s.effect.op === Op.Notify && /^mmu_notifier_(invalidate_range|arch_invalidate_secondary_tlbs)\(/.test(s.effect.text ?? '') && s.effect.at.fn.startsWith('try_to_unmap_one')).length;
    };
    expect(under('v4.13')).toBe(1);
    expect(under('v4.15')).toBe(0);
    expect(under('v5.5')).toBe(0);
    expect(eraByName('v4.13').migrationEntryInvalidateRange).toBe(true);
    expect(eraByName('v5.5').migrationEntryInvalidateRange).toBe(false);
    const r = run('v6.6', 'observer', basic);
    const arch = r.trace.filter((s) => s.thread === BASIC_MIGRATE && s.effect.op === Op.Notify && /arch_invalidate_secondary_tlbs/.test(s.effect.text ?? ''));
    expect(arch.length).toBeGreaterThan(0);
  });
});

describe('kvm-no-retry is caught through migration, kvm is not', () => {
  const caught = (kernel: string, seed: number): ExecutionResult | null => {
    let found: ExecutionResult | null = null;
    fc.assert(
      // two context switches: the device (thread 1) to the migration somewhere in its fault, the
      // migration back to the device somewhere in its run, plus one random preemption
      fc.property(family({ thp: false }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 48 }), scheduleArbitrary(1, 60, 3), (s, a, b, more) => {
        if (found) return;
        const pre = [{ thread: 1, after: a, to: MIGRATE }, { thread: MIGRATE, after: b, to: 1 }, ...more];
        const r = run(kernel, 'kvm-no-retry', s, pre, ['no-secondary-maps-freed-page']);
        if (r.verdict.kind === 'violation') found = r;
      }),
      // stops at the first: found within a few hundred runs (v4.10/v4.12, whose window is invalidate_page → the count check, take longest)
      { numRuns: 3000, seed },
    );
    return found;
  };

  for (const kernel of erasOf('kvm-no-retry')) {
    it(`${kernel}: the device maps the old page after the invalidation, migration frees it (no-secondary-maps-freed-page)`, () => {
      const r = caught(kernel, 1);
      expect(r, kernel).not.toBeNull();
      const v = r!.verdict;
      if (v.kind !== 'violation') throw new Error('unreachable');
      expect(v.invariant).toBe('no-secondary-maps-freed-page');
      // the page was freed by the migration thread, in mm/migrate.c (no munmap, zap or reclaim in the family)
      const pfn = Number(/to pfn (\d+)/.exec(v.message)![1]);
      const freedAt = r!.machine.pages[pfn].freedAt;
      const freer = r!.trace[freedAt];
      expect(freer.thread).toBe(MIGRATE);
      expect(freer.effect.at.file).toBe('mm/migrate.c');
    });
  }

  for (const kernel of erasOf('kvm')) {
    it(`kvm on ${kernel}: ${kernel === 'aac2fea9' ? 'caught (Andrea Arcangeli\'s bug 1: no start/end for the migration unmap)' : 'no violation in 300 migration scenarios, with and without THP'}`, () => {
      let bad: ExecutionResult | null = null;
      const seen = { migrated: 0, split: 0, whole: 0 };
      fc.assert(
        fc.property(family({ thp: true, dontneed: true }), scheduleArbitrary(3, 40, 3), (s, pre) => {
          if (bad) return;
          const r = run(kernel, 'kvm', s, pre, kernel === 'aac2fea9' ? ['no-secondary-maps-freed-page'] : undefined);
          if (r.verdict.kind !== 'pass') bad = r;
          const t = texts(r, MIGRATE);
          if (r.trace.some((x) => x.thread === MIGRATE && x.effect.at.fn === 'migrate_page_copy')) seen.migrated++;
          if (t.some((x) => x.startsWith('!total_mapcount && page_ref_freeze'))) seen.split++;
          if (t.includes('a THP for a THP: migrated whole')) seen.whole++;
        }),
        { numRuns: 300, seed: 11 },
      );
      // not vacuous: pages were migrated, and THPs split first (≤ v4.13) or migrated whole (v4.15+)
      if (kernel !== 'aac2fea9') {
        expect(seen.migrated).toBeGreaterThan(30);
        expect(eraByName(kernel).thpMigration === 'split' ? seen.split : seen.whole).toBeGreaterThan(0);
      }
      if (kernel === 'aac2fea9') {
        expect(bad).not.toBeNull();
        expect(bad!.verdict).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
      } else {
        expect(bad === null ? 'pass' : JSON.stringify((bad as ExecutionResult).verdict)).toBe('pass');
      }
    });
  }
});

/**
 * A device that pins what it maps for as long as it maps it and has no notifier callback (an RDMA
 * memory registration without ODP, a VFIO mapping): gup's reference is never given back.
 */
const longTermPin: NotifierDefinition<{ lock: number; spt: number }> = {
  name: 'long-term-pin',
  title: 'TEST ONLY: keeps the get_user_pages reference while mapped, no callbacks',
  contract: 'pin',
  eras: ERAS.map((e) => e.name),
  source: 'test/kernel/migrate.test.ts',
  setup: (api) => Object.freeze({ lock: api.mutex('pin->lock'), spt: api.secondaryTable('pinned') }),
  ops: {},
  device: { table: (s) => s.spt, fault: (k, s, f) => pinningFault(k, s.spt, s.lock, f, site('synthetic', 'long_term_pin_fault', 'v4.13')) },
};

describe('a page pinned by a device is not migrated', () => {
  for (const era of ERAS) {
    it(`${era.name}: page_count 2 != expected_count 1: -EAGAIN, the migration entries go back to the old page, the new page is freed`, () => {
      const r = run(era.name, longTermPin, deviceFirst, [], DEVICE_INVARIANTS);
      expect(r.verdict.kind).toBe('pass');
      const m = r.machine;
      const spte = m.tables[0].entries[0]!;
      expect(m.ptes[0]).toMatchObject({ pfn: spte.pfn, generation: spte.generation, swap: false, writable: true });
      expect(m.pages[spte.pfn]).toMatchObject({ free: false, refcount: 2, mapcount: 1 }); // the mapping and the pin
      const t = texts(r);
      expect(t.some((x) => x.startsWith('page_count 2 != expected_count 1'))).toBe(true);
      const newPage = r.trace.find((s) => s.effect.at.fn.startsWith('unmap_and_move: newpage'))!.result as { pfn: number };
      expect(m.pages[newPage.pfn].free).toBe(true);
      expect(r.trace.some((s) => s.effect.at.fn === 'migrate_page_copy')).toBe(false);
    });
  }

  it('contrast: a pin driver that drops its pins in range_start lets the migration succeed (v4.13)', () => {
    const r = run('v4.13', 'range-start-mutex', deviceFirst);
    expect(r.verdict.kind).toBe('pass');
    const m = r.machine;
    expect(m.ptes[0]!.pfn).not.toBe(1);
    expect(m.pages[1].free).toBe(true);
    expect(m.tables[0].entries[0]).toBeNull();
  });
});

describe('a sleeping ->invalidate_page is caught on v4.12 through migration', () => {
  it('invalidate-page-mutex: v4.12 sleeps under the PTL in try_to_unmap_one(TTU_MIGRATION); v4.10 calls it after the PTL', () => {
    const r12 = run('v4.12', 'invalidate-page-mutex', deviceFirst);
    expect(r12.verdict).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic', thread: 2 });
    expect((r12.verdict as { message: string }).message).toMatch(/mutex_lock\(priv->lock\).*holding spinlock ptl/);
    const r10 = run('v4.10', 'invalidate-page-mutex', deviceFirst);
    expect(r10.verdict.kind).toBe('pass');
    expect(r10.machine.pages[1].free).toBe(true); // migrated: the pin was dropped by invalidate_page
    let bad: string | null = null;
    fc.assert(
      fc.property(family({ thp: true }), scheduleArbitrary(3, 60, 3), (s, pre) => {
        if (bad) return;
        const r = run('v4.10', 'invalidate-page-mutex', s, pre);
        if (r.verdict.kind !== 'pass') bad = JSON.stringify(r.verdict);
      }),
      { numRuns: 200, seed: 5 },
    );
    expect(bad).toBeNull();
  });
});

describe('a CPU access that meets a migration entry waits for the migration', () => {
  // cpu 0 faults the page in, migrate 1, cpu1 2 reads it while the migration entry is there
  const s: Scenario = {
    threads: [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'migrate', ops: [{ op: 'migrate', page: 0 }] },
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }] },
    ],
  };
  /** Runs `s` with the migration preempted for cpu1 just after its step at `fn`. */
  const preemptedAfter = (fn: string) => {
    const plain = run('v4.13', 'observer', s);
    const mine = plain.trace.filter((x) => x.thread === BASIC_MIGRATE);
    const after = mine.findIndex((x) => x.effect.at.fn === fn) + 1;
    expect(after).toBeGreaterThan(0);
    return run('v4.13', 'observer', s, [{ thread: BASIC_MIGRATE, after, to: 2 }]);
  };
  const waited = (r: ExecutionResult) => {
    const waiter = r.trace.filter((x) => x.thread === 2);
    // read the migration entry, not a swap entry: no swap-in, no allocation
    expect(waiter.some((x) => x.effect.at.fn === 'do_swap_page' || x.effect.op === Op.AllocPage)).toBe(false);
    const lock = r.trace.findIndex((x) => x.thread === 2 && x.effect.op === Op.LockPage && x.effect.at.fn === '__migration_entry_wait');
    const unlock = r.trace.findIndex((x) => x.thread === BASIC_MIGRATE && x.effect.op === Op.UnlockPage && x.effect.a === 1);
    expect(lock).toBeGreaterThan(0);
    expect(unlock).toBeGreaterThan(0);
    expect(lock).toBeGreaterThan(unlock); // wait_on_page_locked: it ran only once the migration unlocked the old page
  };

  it('after the move: migration_entry_wait takes a reference, waits on the page lock, and its put_page frees the old page; the PTE maps the new page', () => {
    const r = preemptedAfter('migrate_page_copy');
    expect(r.verdict.kind).toBe('pass');
    waited(r);
    expect(r.machine.ptes[0]!.pfn).not.toBe(1);
    expect(r.machine.pages[1].free).toBe(true);
    expect(r.trace[r.machine.pages[1].freedAt].thread).toBe(2); // the waiter's put_page was the last reference
  });

  it('before the move: the waiter\'s reference makes page_count 2 != 1 (v4.13 checks without freezing an anonymous page): -EAGAIN, the old page is mapped again', () => {
    const plain = run('v4.13', 'observer', s);
    const mine = plain.trace.filter((x) => x.thread === BASIC_MIGRATE);
    // just after try_to_unmap returned: rmap_walk_anon's up_read
    const after = mine.findIndex((x) => x.effect.op === Op.UpRead) + 1;
    const r = run('v4.13', 'observer', s, [{ thread: BASIC_MIGRATE, after, to: 2 }]);
    expect(r.verdict.kind).toBe('pass');
    waited(r);
    expect(texts(r, BASIC_MIGRATE).some((x) => x.startsWith('page_count 2 != expected_count 1'))).toBe(true);
    expect(r.machine.ptes[0]).toMatchObject({ pfn: 1, swap: false });
    expect(r.machine.pages[1]).toMatchObject({ free: false, refcount: 1 });
  });
});

describe('THP migration in each era\'s form (Era.thpMigration)', () => {
  const thp = (threads: Scenario['threads'], thpOrder = 1): Scenario => ({ thp: true, thpOrder, threads });

  it('≤ v4.13: split_huge_page (freeze to migration entries, split, remap), then the head migrates as an order-0 page; the tail stays', () => {
    for (const kernel of ['v4.10', 'v4.12', 'v4.13']) {
      const r = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'migrate', ops: [{ op: 'migrate', page: 1 }] }]));
      expect(r.verdict.kind, kernel).toBe('pass');
      const m = r.machine;
      expect(m.pmds[0]).toBeNull();
      expect(m.ptes[0]!.pfn, kernel).not.toBe(1); // the head moved
      expect(m.pages[1].free, kernel).toBe(true);
      expect(m.ptes[1], kernel).toMatchObject({ pfn: 2, swap: false }); // the tail, an order-0 page now, stays
      expect(m.pages[2]).toMatchObject({ free: false, refcount: 1, mapcount: 1, compoundHead: -1 });
      expect(texts(r, BASIC_MIGRATE).some((x) => x.startsWith('!total_mapcount && page_ref_freeze'))).toBe(true);
    }
  });

  it('v4.15+: a PTE-mapped THP migrates whole into a new THP, and a PMD-mapped one through a PMD migration entry', () => {
    for (const kernel of ['v4.15', 'v5.5', 'v6.6']) {
      const ptes = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'dontneed', page: 3, pages: 1 }] }, { kind: 'migrate', ops: [{ op: 'migrate', page: 1 }] }], 2));
      expect(ptes.verdict.kind, kernel).toBe('pass');
      const m = ptes.machine;
      expect(m.pages[1].free, kernel).toBe(true); // the old THP, freed whole
      const head = m.ptes[0]!.pfn;
      expect(head).not.toBe(1);
      expect(m.pages[head]).toMatchObject({ order: 2, refcount: 3 }); // three PTEs map the new THP
      for (let i = 0; i < 3; i++) expect(m.ptes[i]).toMatchObject({ pfn: head + i, swap: false });
      const pmd = run(kernel, 'observer', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'migrate', ops: [{ op: 'migrate', page: 1 }] }]));
      expect(pmd.verdict.kind, kernel).toBe('pass');
      const newHead = pmd.machine.pmds[0]!.pfn;
      expect(newHead, kernel).not.toBe(1);
      expect(pmd.machine.pmds[0], kernel).toMatchObject({ writable: true, young: false });
      expect(pmd.machine.pmds[0]!.migration, kernel).toBeUndefined();
      expect(pmd.machine.pages[1].free, kernel).toBe(true);
      expect(pmd.machine.pages[newHead], kernel).toMatchObject({ order: 1, refcount: 1, compoundMapcount: 1 });
      const t = pmd.trace.filter((s) => s.thread === BASIC_MIGRATE).map((s) => describeEffect(pmd.machine, s.effect));
      const set = t.findIndex((x) => x.includes('PMD migration entry of pfn 1'));
      const copy = t.findIndex((x) => x.startsWith('migrate_page_copy'));
      const remove = t.findIndex((x) => x.includes('page_add_anon_rmap(new, true); set_pmd_at'));
      expect(set >= 0 && set < copy && copy < remove, `${kernel}: ${t.join(' / ')}`).toBe(true);
    }
  });
});

describe('sources and tokens', () => {
  const CORE = ['mm/migrate.c', 'mm/rmap.c', 'mm/page_vma_mapped.c', 'mm/mmu_notifier.c', 'mm/huge_memory.c', 'mm/memory_hotplug.c', 'include/linux/migrate.h', 'mm/vmscan.c', 'mm/swap.c', 'arch/x86/mm/tlb.c', 'arch/x86/include/asm/tlbflush.h', 'mm/pgtable-generic.c'];

  it('every step of a migration names its file, function and version; the core ones are mm/migrate.c, mm/rmap.c and what they call', () => {
    for (const s of MIGRATE_SITES) {
      expect(['mm/migrate.c', 'mm/rmap.c', 'mm/memory_hotplug.c', 'mm/vmscan.c', 'mm/swap.c', 'include/linux/migrate.h', 'mm/huge_memory.c']).toContain(s.file);
      expect(s.fn.length).toBeGreaterThan(0);
      expect(s.version).toMatch(/^v\d/);
    }
    const files = new Set<string>();
    for (const era of ERAS) {
      fc.assert(
        fc.property(family({ thp: true }), scheduleArbitrary(2, 60, 3), (sc, pre) => {
          const r = run(era.name, 'observer', sc, pre);
          for (const st of r.trace.filter((x) => x.thread === MIGRATE)) {
            const at = st.effect.at;
            expect(at.file && at.fn && at.version, `${at.file} ${at.fn} ${at.version}`).toBeTruthy();
            // a driver callback (the observer's interval-notifier mmu_interval_set_seq is include/linux/mmu_notifier.h)
            if (at.file === 'synthetic' || at.file.startsWith('drivers/') || at.file === 'include/linux/mmu_notifier.h') continue;
            expect(CORE, `${at.file} ${at.fn}`).toContain(at.file);
            files.add(at.file);
          }
        }),
        { numRuns: 40, seed: 3 },
      );
    }
    for (const f of ['mm/migrate.c', 'mm/rmap.c']) expect(files.has(f)).toBe(true);
  });

  it('the migrate operation has the token code m; a token without one decodes as before', () => {
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: basic, preemptions: [{ thread: 1, after: 3, to: 2 }], maxSteps: 2000 };
    const tok = encodeToken(c);
    expect(decodeToken(tok)).toEqual(c);
    const old: Case = { kernel: 'v4.13', driver: 'kvm', scenario: { threads: [basic.threads[0], basic.threads[2]] }, preemptions: [], maxSteps: 2000 };
    expect(decodeToken(encodeToken(old))).toEqual(old);
  });
});

describe('PMD migration entries (v4.15+: set_pmd_migration_entry, and every PMD walker meeting one)', () => {
  const thp = (threads: Scenario['threads']): Scenario => ({ thp: true, thpOrder: 1, threads });
  /** The migration thread stopped after try_to_unmap (the THP a PMD migration entry, not yet copied, its lock held). */
  function stopped(kernel: string, other: Scenario['threads'][number]) {
    const plain = run(kernel, 'kvm', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'migrate', ops: [{ op: 'migrate', page: 1 }] }, other]));
    const own = plain.trace.filter((s) => s.thread === 1).map((s) => describeEffect(plain.machine, s.effect));
    const set = own.findIndex((x) => x.includes('PMD migration entry of pfn 1'));
    const after = own.findIndex((x, i) => i > set && x.startsWith('mmu_notifier_invalidate_range_end') && x.endsWith('returned')) + 1;
    return run(kernel, 'kvm', thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'migrate', ops: [{ op: 'migrate', page: 1 }] }, other]), [{ thread: 1, after, to: 2 }]);
  }

  it('a CPU fault on the entry waits for the migration (pmd_migration_entry_wait); the reference it waits with makes the migration give up (-EAGAIN) and the old THP is mapped again; KVM passes', () => {
    for (const kernel of ['v4.15', 'v5.5', 'v6.6']) {
      const r = stopped(kernel, { kind: 'cpu', ops: [{ op: 'access', page: 1, write: true }] });
      expect(r.verdict.kind, kernel).toBe('pass');
      const cpu1 = r.trace.filter((s) => s.thread === 2).map((s) => `${s.effect.at.fn}|${describeEffect(r.machine, s.effect)}`);
      expect(cpu1.some((x) => x.startsWith('pmd_migration_entry_wait|lock_page')), kernel).toBe(true);
      const mig = r.trace.filter((s) => s.thread === 1).map((s) => describeEffect(r.machine, s.effect));
      expect(mig.some((x) => x.includes('expected_count')), kernel).toBe(true);
      expect(r.machine.pmds[0], kernel).toMatchObject({ pfn: 1 });
      expect(r.machine.pmds[0]!.migration, kernel).toBeUndefined();
    }
  });

  it('munmap zaps the entry (no page to free: the migration holds the THP), mprotect and fork make it a read entry', () => {
    const z = stopped('v4.19', { kind: 'cpu', ops: [{ op: 'munmap', page: 0, pages: 2 }] });
    expect(z.verdict.kind).toBe('pass');
    expect(z.machine.pmds[0]).toBeNull();
    expect(z.machine.pages[1].free).toBe(true); // the old THP freed by the migration's last put
    expect(z.machine.pages.filter((pg, i) => i > 0 && !pg.free)).toHaveLength(0); // and the new one: nothing maps it
    const pr = stopped('v4.19', { kind: 'cpu', ops: [{ op: 'mprotect', page: 0, pages: 2, writable: true }] });
    expect(pr.verdict.kind).toBe('pass');
    expect(pr.trace.some((s) => describeEffect(pr.machine, s.effect).includes('make_migration_entry_read'))).toBe(true);
    expect(pr.machine.pmds[0]).toMatchObject({ writable: false }); // remove_migration_pmd of a read entry
    const f = stopped('v4.19', { kind: 'cpu', ops: [{ op: 'fork' }] });
    expect(f.verdict.kind).toBe('pass');
    expect(f.machine.pmds[0]).toMatchObject({ writable: false });
  });

  it('a partial munmap splits the entry into PTE migration entries, which remove_migration_ptes then maps', () => {
    const r = stopped('v5.5', { kind: 'cpu', ops: [{ op: 'munmap', page: 1, pages: 1 }] });
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pmds[0]).toBeNull();
    expect(r.machine.ptes[0]).toMatchObject({ swap: false });
    expect(r.machine.ptes[0]!.pfn).not.toBe(1);
    expect(r.machine.ptes[1]).toBeNull();
  });

  it('a mirror that ignores the migration bracket keeps the old THP and is caught (v5.5); the real KVM is not', () => {
    const scenario = thp([{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'device', ops: [{ op: 'access', page: 1, write: false }] }, { kind: 'migrate', ops: [{ op: 'migrate', page: 1 }] }]);
    expect(run('v5.5', 'kvm', scenario).verdict.kind).toBe('pass');
    const deaf = kvmStartKeeps('v5.5', 'kvm-deaf-to-clear', ['MMU_NOTIFY_CLEAR']);
    const bad = run('v5.5', deaf, scenario);
    expect(bad.verdict.kind).toBe('violation');
  });
});
