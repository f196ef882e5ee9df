/**
 * KSM (mm/ksm.c write_protect_page, replace_page; reference S8) and `->change_pte`: what ksmd does
 * to the page tables, that the page_count check keeps a pinned page out, that a KSM page is copied
 * on a write fault, and that drivers are checked against it (a sleeping change_pte, a mirror that
 * ignores the KSM brackets, KVM on every era).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvmFor, kvmWithMutexIn } from '../drivers/kvm-variants';
import { runCase, type Case } from '../../src/check/case';
import { ERAS, eraByName } from '../../src/eras';
import { DRIVERS } from '../../src/drivers';
import { kvm } from '../../src/drivers/kvm';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { instrumentNotifier } from '../../src/notifier/instrument';
import { validateNotifier } from '../../src/notifier/validate';
import { describeEffect } from '../../src/report/label';
import { site } from '../../src/runtime/site';
import { scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import type { KernelApi } from '../../src/notifier/kernel-api';
import { runThreads } from '../drivers/harness';
import { decodeToken, encodeToken } from '../../src/schedule/token';
import { scenarioText, validateScenario } from '../../src/scenario/scenario';

type Threads = Case['scenario']['threads'];
type KvmDef = NotifierDefinition<ReturnType<typeof kvm.setup>>;


function run(kernel: string, threads: Threads, driver: NotifierDefinition<any> = kvmFor(kernel), preemptions: Case['preemptions'] = []) {
  return runCase({ kernel, driver: driver.name, scenario: { threads }, preemptions, maxSteps: 3000 }, { era: eraByName(kernel), driver });
}

/** Two written pages, then ksmd merges page 0 into page 1's page. */
const MERGE: Threads = [
  { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 1, write: true }] },
  { kind: 'ksmd', ops: [{ op: 'merge', page: 0, with: 1 }] },
];

const AT = site('test', 'driver under test', 'model');

const sleepingChangePte = (kernel: string) => kvmWithMutexIn(kernel, 'change-pte-mutex', 'changePte');

/**
 * A KVM-like mirror whose range_start does not drop the sptes (it only counts): correct for nothing,
 * but in a KSM scenario it is only the KSM brackets that can catch it.
 */
function noZapStart(kernel: string): KvmDef {
  const base = kvmFor(kernel);
  return {
    ...base,
    name: 'start-keeps-sptes',
    eras: [kernel],
    ops: {
      *invalidateRangeStart(k, s) {
        yield* k.spinLock(s.mmuLock, AT);
        yield* k.add(s.count, 1, AT);
        yield* k.spinUnlock(s.mmuLock, AT);
        return 0;
      },
      invalidateRangeEnd: base.ops.invalidateRangeEnd,
    },
  };
}

describe('ksmd merges two pages (mm/ksm.c try_to_merge_two_pages)', () => {
  it('write-protects both, maps the KSM page at both addresses read-only and frees the replaced page', () => {
    const r = run('v4.13', MERGE);
    expect(r.verdict.kind).toBe('pass');
    const [a, b] = [r.machine.ptes[0]!, r.machine.ptes[1]!];
    expect(a.pfn).toBe(b.pfn);
    expect(a.writable || b.writable).toBe(false);
    const kpage = r.machine.pages[b.pfn];
    expect(kpage).toMatchObject({ ksm: true, free: false, refcount: 2, mapcount: 2, dirty: true });
    expect(r.machine.pages.filter((p, pfn) => pfn !== 0 && p.free)).toHaveLength(1); // page 0's old page
  });

  it('every merge step names mm/ksm.c (or the notifier and PTL steps it calls), in the timeline order of the source', () => {
    const r = run('v4.13', MERGE);
    const ksmd = r.trace.filter((s) => r.machine.threads[s.thread].name === 'ksmd');
    for (const s of ksmd) {
      expect(s.effect.at.file && s.effect.at.fn && s.effect.at.version).toBeTruthy();
      expect(describeEffect(r.machine, s.effect).length).toBeGreaterThan(0);
    }
    const fns = ksmd.filter((s) => s.effect.at.file === 'mm/ksm.c').map((s) => s.effect.at.fn);
    const first = (fn: string) => fns.findIndex((f) => f.startsWith(fn));
    expect(first('scan_get_next_rmap_item')).toBeGreaterThanOrEqual(0);
    expect(first('get_mergeable_page')).toBeGreaterThan(first('scan_get_next_rmap_item'));
    expect(first('write_protect_page')).toBeGreaterThan(first('get_mergeable_page'));
    expect(first('replace_page')).toBeGreaterThan(first('write_protect_page'));
    expect(fns).toContain('ksm_do_scan: put_page(page)');
    // the KVM callbacks ran inside the KSM brackets: change_pte from set_pte_at_notify
    const labels = ksmd.map((s) => s.effect.text ?? '');
    expect(labels.some((l) => /mmu_notifier_change_pte/.test(l))).toBe(true);
    expect(labels.filter((l) => /mmu_notifier_invalidate_range_start/.test(l))).toHaveLength(3); // wp ×2, replace
  });

  it('v4.13 calls ->invalidate_range under the PTL (ptep_clear_flush_notify), v4.15 only at range_end (ptep_clear_flush)', () => {
    const driver = (kernel: string): KvmDef => ({ ...kvm, name: 'range-counter', eras: [kernel], ops: { ...kvm.ops, *invalidateRange(k, s) { yield* k.note('->invalidate_range', AT); } } });
    const under = (kernel: string) => {
      const r = run(kernel, MERGE, driver(kernel));
      expect(r.verdict.kind).toBe('pass');
      const fns = r.trace.map((s) => `${s.effect.at.fn}|${s.effect.text ?? ''}`);
      return fns.filter((f) => /^__mmu_notifier_invalidate_range\|/.test(f)).length;
    };
    expect(under('v4.13')).toBe(3); // write_protect_page ×2 and replace_page, each under the PTL
    expect(under('v4.15')).toBe(0);
  });

  it('a second merge into the KSM page takes the stable-tree path (try_to_merge_with_ksm_page only)', () => {
    const r = run('v4.13', [
      { kind: 'cpu', ops: [0, 1, 2].map((page) => ({ op: 'access' as const, page, write: true })) },
      { kind: 'ksmd', ops: [{ op: 'merge', page: 0, with: 1 }, { op: 'merge', page: 2, with: 1 }] },
    ]);
    expect(r.verdict.kind).toBe('pass');
    const pfns = [0, 1, 2].map((v) => r.machine.ptes[v]!.pfn);
    expect(new Set(pfns).size).toBe(1);
    expect(r.machine.pages[pfns[0]]).toMatchObject({ ksm: true, refcount: 3, mapcount: 3 });
    // the second merge write-protects and replaces only the page at 2: 3 + 2 brackets, not 3 + 3
    expect(r.trace.filter((s) => /mmu_notifier_invalidate_range_start/.test(s.effect.text ?? '')).length).toBe(5);
  });

  it('a page pinned by get_user_pages is not merged: page_mapcount + 1 + swapped != page_count', () => {
    const pin = DRIVERS.find((d) => d.name === 'page-pin')!;
    const threads: Threads = [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 1, write: true }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'ksmd', ops: [{ op: 'merge', page: 0, with: 1 }] },
    ];
    const r = run('v4.13', threads, pin);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.ptes[0]!.pfn).not.toBe(r.machine.ptes[1]!.pfn); // not merged
    expect(r.machine.ptes[0]!.writable).toBe(true); // the PTE was restored as it was
    expect(r.trace.some((s) => /a GUP pin or I\/O in flight/.test(s.effect.text ?? ''))).toBe(true);
    // without the pin the same scenario merges (the check is what stopped it)
    const free = run('v4.13', threads.filter((t) => t.kind !== 'device'), pin);
    expect(free.machine.ptes[0]!.pfn).toBe(free.machine.ptes[1]!.pfn);
  });

  it('a write fault on a KSM page copies it (do_wp_page: PageKsm is not reused), on every era', () => {
    for (const era of ERAS) {
      const r = run(era.name, [...MERGE, { kind: 'cpu', ops: [{ op: 'access', page: 1, write: true }] }]);
      expect(r.verdict.kind, era.name).toBe('pass');
      const [a, b] = [r.machine.ptes[0]!, r.machine.ptes[1]!];
      expect(a.pfn, era.name).not.toBe(b.pfn);
      expect(b.writable, era.name).toBe(true);
      expect(r.machine.pages[a.pfn].ksm, era.name).toBe(true); // page 0 still maps the KSM page
      expect(r.trace.some((s) => s.effect.at.fn === 'wp_page_copy'), era.name).toBe(true);
    }
  });

  it('a KSM page mapped once is reused by v5.2 and v5.5 (reuse_ksm_page), copied by v5.0 and v6.6', () => {
    const threads: Threads = [...MERGE, { kind: 'cpu', ops: [{ op: 'munmap', page: 0, pages: 1 }, { op: 'access', page: 1, write: true }] }];
    const pfnAfter = (kernel: string) => {
      const r = run(kernel, threads);
      expect(r.verdict.kind, kernel).toBe('pass');
      return r;
    };
    const kpfn = run('v4.13', MERGE).machine.ptes[1]!.pfn;
    for (const k of ['v5.2', 'v5.5']) {
      const r = pfnAfter(k);
      expect(r.machine.ptes[1]!.pfn, k).toBe(kpfn);
      expect(r.machine.pages[kpfn].ksm, k).toBe(false); // page_move_anon_rmap
    }
    for (const k of ['v4.13', 'v5.0', 'v6.6']) expect(pfnAfter(k).machine.ptes[1]!.pfn, k).not.toBe(kpfn);
  });

  it('a merge that loses the race with a write to the tree page is undone by break_cow', () => {
    // ksmd write-protects both pages; the cpu writes page 0 before replace_page (pte_same fails)
    const threads: Threads = [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 1, write: true }] },
      { kind: 'ksmd', ops: [{ op: 'merge', page: 0, with: 1 }] },
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
    ];
    const base = run('v4.13', threads);
    const ksmdSteps = base.trace.filter((s) => s.thread === 1);
    const replaceAt = ksmdSteps.findIndex((s) => s.effect.at.fn === 'replace_page');
    expect(replaceAt).toBeGreaterThan(0);
    const r = run('v4.13', threads, kvm, [{ thread: 1, after: replaceAt, to: 2 }]);
    expect(r.verdict.kind).toBe('pass');
    expect(r.trace.some((s) => s.effect.at.fn === 'break_cow')).toBe(true);
    expect(r.machine.ptes[0]!.pfn).not.toBe(r.machine.ptes[1]!.pfn);
    expect(r.machine.pages[r.machine.ptes[1]!.pfn].ksm).toBe(false); // broken: a fresh copy
  });

  it('the merge operation round-trips through a replay token and the scenario text', () => {
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: { threads: MERGE }, preemptions: [], maxSteps: 2000 };
    expect(decodeToken(encodeToken(c)).scenario).toEqual(c.scenario);
    expect(scenarioText(c.scenario)).toContain('ksmd: merge(0, 1)');
    expect(() => validateScenario({ threads: [{ kind: 'ksmd', ops: [{ op: 'merge', page: 0, with: 9 }] }] })).toThrow(/merge needs with/);
    expect(() => validateScenario({ threads: [{ kind: 'ksmd', ops: [{ op: 'access', page: 0, write: true }] }] })).toThrow(/not one a ksmd thread does/);
  });
});

describe('->change_pte', () => {
  it('exists in every modelled era, and a user notifier with changePte is accepted and called with the new PTE', () => {
    for (const era of ERAS) expect(era.callbacks, era.name).toContain('changePte');
    const seen: string[] = [];
    const user = instrumentNotifier(validateNotifier({ ...kvm, name: 'user', eras: ['v4.13'], device: { table: kvm.device.table, fault: kvm.device.fault }, ops: { ...kvm.ops, *changePte(k: any, s: any, address: number, pte: { pfn: number; writable: boolean }) {
      seen.push(`${address.toString(16)} ${pte.pfn} ${pte.writable}`);
      yield* kvm.ops.changePte!(k, s, address, pte as never);
    } } }) as KvmDef);
    const r = run('v4.13', MERGE, user);
    expect(r.verdict.kind).toBe('pass');
    expect(seen).toHaveLength(3); // write_protect_page ×2, replace_page
    expect(seen.every((x) => x.endsWith('false'))).toBe(true);
  });

  it('a change_pte that sleeps (mutex) is caught on a KSM merge and on a COW (wp_page_copy), in every era', () => {
    for (const era of ERAS) {
      const drv = sleepingChangePte(era.name);
      const merge = run(era.name, MERGE, drv);
      expect(merge.verdict, era.name).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
      const cow = run(era.name, [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'fork' }, { op: 'access', page: 0, write: true }] }], drv);
      expect(cow.verdict, era.name).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
      // the same driver without the mutex in change_pte passes both
      const ok = { ...drv, ops: { ...drv.ops, *changePte() {} } };
      expect(run(era.name, MERGE, ok).verdict.kind, era.name).toBe('pass');
    }
  });

  it('KVM re-points an spte read-only when change_pte finds one (kvm_set_pte_rmapp), drops it for a writable pte; v6.6 only inside an invalidation', () => {
    // called by hand with an spte present, as before 6bdb913f0a70 (2012) bracketed every set_pte_at_notify
    const body = (writable: boolean) => (k: KernelApi, s: ReturnType<typeof kvm.setup>) =>
      (function* () {
        yield* kvm.device.fault(k, s, { address: k.addressOf(0), write: true });
        const spte = (yield* k.spteRead(s.spt, 0, AT))!;
        yield* kvm.ops.changePte!(k, s, k.addressOf(0), { pfn: spte.pfn, generation: spte.generation, writable });
      })();
    for (const kernel of ['v4.13', 'v5.5']) {
      const ro = runThreads(kvm, kernel, [body(false)]);
      expect(ro.machine.tables[0].entries[0], kernel).toMatchObject({ writable: false });
      expect(ro.machine.counters[ro.machine.counterNames.indexOf('kvm->mmu_notifier_seq')], kernel).toBe(1); // mmu_notifier_seq++
      expect(runThreads(kvm, kernel, [body(true)]).machine.tables[0].entries[0], kernel).toBeNull();
    }
    // v6.8: mmu_invalidate_in_progress == 0, so nothing is done
    expect(runThreads(kvm, 'v6.6', [body(true)]).machine.tables[0].entries[0]).toMatchObject({ writable: true });
  });
});

describe('drivers against KSM', () => {
  it('a mirror whose range_start keeps its sptes keeps a writable spte of the KSM page (permission leak) or maps the freed page', () => {
    for (const era of ERAS) {
      // device maps `with`'s page writable: after write_protect_page it must not stay writable
      const leak = run(era.name, [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 1, write: true }] },
        { kind: 'device', ops: [{ op: 'access', page: 1, write: true }] },
        { kind: 'ksmd', ops: [{ op: 'merge', page: 0, with: 1 }] },
      ], noZapStart(era.name));
      expect(leak.verdict, era.name).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
      // device maps the replaced page: replace_page + ksmd's put_page free it under the device
      const uaf = run(era.name, [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'access', page: 1, write: true }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
        { kind: 'ksmd', ops: [{ op: 'merge', page: 0, with: 1 }] },
      ], noZapStart(era.name));
      expect(uaf.verdict, era.name).toMatchObject({ kind: 'violation', invariant: 'no-secondary-maps-freed-page' });
    }
  });

  const ksmScenario = fc
    .record({
      pre: fc.array(fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 2 }), write: fc.boolean() }), { minLength: 1, maxLength: 3 }),
      cpu: fc.array(fc.oneof(fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 2 }), write: fc.boolean() }), fc.record({ op: fc.constant('munmap' as const), page: fc.nat({ max: 2 }), pages: fc.constant(1) }), fc.constant({ op: 'fork' as const })), { maxLength: 2 }),
      merges: fc.array(fc.record({ page: fc.nat({ max: 2 }), d: fc.integer({ min: 1, max: 2 }) }).map(({ page, d }) => ({ op: 'merge' as const, page, with: (page + d) % 3 })), { minLength: 1, maxLength: 2 }),
      device: fc.array(fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 2 }), write: fc.boolean() }), { minLength: 1, maxLength: 2 }),
    })
    .map(({ pre, cpu, merges, device }): Threads => [
      { kind: 'cpu', ops: [...pre, ...cpu] },
      { kind: 'ksmd', ops: merges },
      { kind: 'device', ops: device },
    ]);

  /** The first counterexample of `driver` over KSM scenarios on `kernel`, or null. */
  function fuzz(kernel: string, driver: NotifierDefinition<any>, runs: number, seed: number): string | null {
    let found: string | null = null;
    fc.assert(
      fc.property(ksmScenario, scheduleArbitrary(3, 80, 3), (threads, preemptions) => {
        const r = run(kernel, threads, driver, preemptions);
        if (r.verdict.kind !== 'pass' && found === null) found = `${r.verdict.kind} ${'invariant' in r.verdict ? r.verdict.invariant : ''}: ${scenarioText({ threads })}`;
        return true;
      }),
      { numRuns: runs, seed },
    );
    return found;
  }

  it('KVM passes KSM scenarios (merges racing faults, munmap, fork and vCPU faults) on every era', () => {
    for (const era of ERAS) expect(fuzz(era.name, kvmFor(era.name), 200, 7), era.name).toBeNull();
  });

  it('the same fuzzing finds the driver whose range_start keeps its sptes, on every era', () => {
    for (const era of ERAS) expect(fuzz(era.name, noZapStart(era.name), 200, 7), era.name).not.toBeNull();
  });

  it('the default scenario draw has ksmd threads (so sources.test.ts walks their steps), with THP too (test/kernel/ksm-thp.test.ts)', () => {
    const drawn = fc.sample(scenarioArbitrary(), { numRuns: 300, seed: 1 });
    const ksm = drawn.filter((s) => s.threads.some((t) => t.kind === 'ksmd'));
    expect(ksm.length).toBeGreaterThan(20);
    expect(ksm.some((s) => s.thp)).toBe(true);
    expect(ksm.every((s) => s.threads.every((t) => t.kind !== 'ksmd' || (t.ops.length <= 2 && t.ops.every((o) => o.op === 'merge' && o.page !== o.with))))).toBe(true);
  });
});
