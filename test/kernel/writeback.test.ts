/**
 * A MAP_SHARED file mapping and its writeback (src/kernel/writeback.ts; reference S-list
 * "page_mkclean (writeback)"): the page-cache fault paths, write_cache_pages →
 * clear_page_dirty_for_io → page_mkclean in each era's form, and drivers checked against it — KVM
 * passes, a mirror that ignores range_start keeps a writable spte after page_mkclean (a permission
 * leak: a later device write would not dirty the page, and writeback would never write it), and a
 * sleeping ->invalidate_page is a sleep in atomic context on v4.12 through page_mkclean_one.
 */
import fc from 'fast-check';
import { inflateRawSync } from 'node:zlib';
import { kvmFor } from '../drivers/kvm-variants';
import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { eraByName } from '../../src/eras';
import { deriveEra } from '../../src/eras/era';
import { kvm } from '../../src/drivers/kvm';
import { invalidatePageMutex } from '../../src/drivers/invalidate-page-mutex';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { describeEffect } from '../../src/report/label';
import { site } from '../../src/runtime/site';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import { scenarioText, validateScenario, type Scenario } from '../../src/scenario/scenario';
import { decodeToken, encodeToken } from '../../src/schedule/token';
import type { Era } from '../../src/eras/era';

type Threads = Case['scenario']['threads'];
type KvmDef = NotifierDefinition<ReturnType<typeof kvm.setup>>;


function run(kernel: string | Era, threads: Threads, driver: NotifierDefinition<any> = kvmFor(typeof kernel === 'string' ? kernel : kernel.name), preemptions: Case['preemptions'] = []) {
  const era = typeof kernel === 'string' ? eraByName(kernel) : kernel;
  return runCase({ kernel: era.name, driver: driver.name, scenario: { file: true, threads }, preemptions, maxSteps: 3000 }, { era, driver });
}

/** The CPU maps page 0 read-only, then writes it (wp_page_shared); the device writes it; writeback. */
const WRITE_DEVICE_WRITEBACK: Threads = [
  { kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'access', page: 0, write: true }] },
  { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
  { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }] },
];

const AT = site('test', 'driver under test', 'model');

/** A KVM-like mirror whose range_start does not drop its sptes (it only counts): test-only. */
function ignoresRangeStart(kernel: string): KvmDef {
  const base = kvmFor(kernel);
  return {
    ...base,
    name: 'ignores-range-start',
    eras: [kernel],
    ops: {
      ...base.ops,
      *invalidateRangeStart(k, s) {
        yield* k.spinLock(s.mmuLock, AT);
        yield* k.add(s.count, 1, AT);
        yield* k.spinUnlock(s.mmuLock, AT);
        return 0;
      },
    },
  };
}

/** The writeback thread's steps as `fn|label`. */
function writebackSteps(r: ReturnType<typeof run>): string[] {
  return r.trace.filter((s) => r.machine.threads[s.thread].name === 'writeback').map((s) => `${s.effect.at.fn}|${describeEffect(r.machine, s.effect)}`);
}

describe('the shared file VMA (do_read_fault, do_shared_fault, wp_page_shared, zap)', () => {
  it('a read fault maps the page-cache page read-only; a write fault makes it writable and dirty without a copy', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'access', page: 0, write: true }] }]);
    expect(r.verdict.kind).toBe('pass');
    const pte = r.machine.ptes[0]!;
    expect(pte).toMatchObject({ writable: true, dirty: true });
    // the page cache's reference and the mapping's; PG_dirty from filemap_page_mkwrite / fault_dirty_shared_page
    expect(r.machine.pages[pte.pfn]).toMatchObject({ refcount: 2, mapcount: 1, dirty: true, free: false });
    const fns = r.trace.map((s) => s.effect.at.fn);
    expect(fns).toContain('do_read_fault');
    expect(fns).toContain('wp_page_shared');
    expect(fns).not.toContain('wp_page_copy');
    expect(fns).not.toContain('do_anonymous_page');
    // the first set_pte_at (the read fault's) was read-only
    const sets = r.trace.filter((s) => /^set_pte_at/.test(describeEffect(r.machine, s.effect)));
    expect(describeEffect(r.machine, sets[0].effect)).toMatch(/ ro\)/);
  });

  it('a write fault on pte_none goes through do_shared_fault; two faults share the one page-cache page', () => {
    const r = run('v4.13', [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
    ], kvm, [{ thread: 0, after: 8, to: 1 }]);
    expect(r.verdict.kind).toBe('pass');
    expect(r.trace.some((s) => s.effect.at.fn === 'do_shared_fault')).toBe(true);
    const live = r.machine.pages.filter((p, pfn) => pfn !== 0 && !p.free);
    expect(live).toHaveLength(1); // the loser of add_to_page_cache_lru (-EEXIST) freed its page, if it allocated one
    expect(live[0]).toMatchObject({ refcount: 2, mapcount: 1 });
  });

  it('munmap drops the mapping but the page cache keeps the page, dirtied from the dirty PTE (zap_pte_range)', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }] }]);
    expect(r.verdict.kind).toBe('pass');
    const page = r.machine.pages[1];
    expect(page).toMatchObject({ free: false, refcount: 1, mapcount: 0, dirty: true });
    expect(r.trace.some((s) => /set_page_dirty\(page\)/.test(s.effect.at.fn))).toBe(true);
  });

  it('after MADV_DONTNEED a fault maps the same page-cache page again', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'dontneed', page: 0, pages: 1 }, { op: 'access', page: 0, write: false }] }]);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.ptes[0]).toMatchObject({ pfn: 1, writable: false });
    expect(r.machine.pages[1]).toMatchObject({ free: false, refcount: 2, mapcount: 1, dirty: true });
  });
});

describe('writeback: write_cache_pages → clear_page_dirty_for_io → page_mkclean', () => {
  it('write-protects and cleans the PTE, moves its dirty bit to the page, then writes the page clean', () => {
    const r = run('v4.13', [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }] },
    ]);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.ptes[0]).toMatchObject({ writable: false, dirty: false });
    expect(r.machine.pages[1]).toMatchObject({ dirty: false, refcount: 2, mapcount: 1, lockedBy: -1 });
    const fns = writebackSteps(r).map((s) => s.split('|')[0]);
    const first = (fn: string) => fns.findIndex((f) => f.startsWith(fn));
    expect(first('write_cache_pages')).toBe(0);
    for (const [a, b] of [['write_cache_pages', 'clear_page_dirty_for_io'], ['clear_page_dirty_for_io', 'page_mkclean'], ['page_mkclean', 'rmap_walk_file'], ['rmap_walk_file', 'page_mkclean_one'], ['page_mkclean_one', 'clear_page_dirty_for_io: TestClearPageDirty'], ['clear_page_dirty_for_io: TestClearPageDirty', 'write_cache_pages → __writepage']]) {
      expect(first(b), `${a} before ${b}`).toBeGreaterThan(first(a));
    }
  });

  it('every step names its source (file, function, version), in every era', () => {
    for (const kernel of ['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2', 'v5.5', 'v6.6']) {
      const r = run(kernel, WRITE_DEVICE_WRITEBACK);
      for (const s of r.trace) {
        expect(s.effect.at.file && s.effect.at.fn && s.effect.at.version, kernel).toBeTruthy();
        expect(describeEffect(r.machine, s.effect).length, kernel).toBeGreaterThan(0);
      }
      // page_mkclean_one carries the era's own version
      const one = r.trace.find((s) => s.effect.at.fn === 'page_mkclean_one')!;
      expect(one.effect.at.version, kernel).toBe(kernel === 'v4.10' || kernel === 'v4.12' || kernel === 'aac2fea9' ? kernel : 'v4.13');
    }
  });

  it('page_mkclean_one tells the notifiers in each era\'s form', () => {
    /** The writeback thread's notifier calls and PTL steps, in order. */
    const shape = (kernel: string) =>
      writebackSteps(run(kernel, [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }] }]))
        .map((s) => s.split('|')[1])
        .filter((l) => /^(spin_lock\(ptl\)|spin_unlock\(ptl\)|mmu_notifier_[a-z_]+\(|set_pte_at)/.test(l) && !/returned$/.test(l))
        .map((l) => l.replace(/\(.*$/, ''));
    expect(shape('v4.10')).toEqual(['spin_lock', 'set_pte_at', 'spin_unlock', 'mmu_notifier_invalidate_page']);
    expect(shape('v4.12')).toEqual(['spin_lock', 'set_pte_at', 'mmu_notifier_invalidate_page', 'spin_unlock']);
    expect(shape('aac2fea9')).toEqual(['spin_lock', 'set_pte_at', 'spin_unlock', 'mmu_notifier_invalidate_range']);
    expect(shape('v4.13')).toEqual(['mmu_notifier_invalidate_range_start', 'spin_lock', 'set_pte_at', 'mmu_notifier_invalidate_range', 'spin_unlock', 'mmu_notifier_invalidate_range_end']);
    expect(shape('v4.15')).toEqual(['mmu_notifier_invalidate_range_start', 'spin_lock', 'set_pte_at', 'spin_unlock', 'mmu_notifier_invalidate_range_end']);
    // v6.6: inside ptep_clear_flush (flush_tlb_page), before set_pte_at
    expect(shape('v6.6')).toEqual(['mmu_notifier_invalidate_range_start', 'spin_lock', 'mmu_notifier_arch_invalidate_secondary_tlbs', 'set_pte_at', 'spin_unlock', 'mmu_notifier_invalidate_range_end']);
    expect(shape('v5.5')).toEqual(shape('v4.15'));
  });

  it('a clean read-only mapping is not touched (no notifier call), and a page not in the page cache is skipped', () => {
    const clean = run('v4.13', [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }] },
      { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }, { op: 'writeback', page: 1 }] },
    ]);
    expect(clean.verdict.kind).toBe('pass');
    expect(writebackSteps(clean).some((s) => /mmu_notifier/.test(s))).toBe(false);
    expect(writebackSteps(clean).some((s) => /not in the page cache/.test(s))).toBe(true);
  });

  it('the device\'s write through a writable spte reaches the page before it is written (KVM zaps with kvm_set_pfn_dirty)', () => {
    const r = run('v4.13', WRITE_DEVICE_WRITEBACK);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pages[1]).toMatchObject({ dirty: false, deviceWrote: false });
    expect(r.machine.tables[0].entries[0]).toBeNull();
  });
});

/** Small file scenarios: CPU faults, munmap and MADV_DONTNEED on two pages, device accesses, writebacks. */
const fileScenario: fc.Arbitrary<Scenario> = fc
  .record({
    cpu: fc.array(
      fc.oneof(
        { arbitrary: fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 1 }), write: fc.boolean() }), weight: 4 },
        { arbitrary: fc.record({ op: fc.constant('munmap' as const), page: fc.nat({ max: 1 }), pages: fc.constant(1) }), weight: 1 },
        { arbitrary: fc.record({ op: fc.constant('dontneed' as const), page: fc.nat({ max: 1 }), pages: fc.constant(1) }), weight: 1 },
      ),
      { minLength: 1, maxLength: 3 },
    ),
    device: fc.array(fc.record({ op: fc.constant('access' as const), page: fc.nat({ max: 1 }), write: fc.boolean() }), { minLength: 1, maxLength: 2 }),
    wb: fc.array(fc.record({ op: fc.constant('writeback' as const), page: fc.nat({ max: 1 }) }), { minLength: 1, maxLength: 2 }),
  })
  .map(({ cpu, device, wb }) => ({ file: true, threads: [{ kind: 'cpu' as const, ops: cpu }, { kind: 'device' as const, ops: device }, { kind: 'writeback' as const, ops: wb }] }));

/** The first counterexample of `driver` over file scenarios with writeback on `era`, or null. */
function fuzz(era: Era, driver: NotifierDefinition<any>, runs: number, seed: number): string | null {
  let found: string | null = null;
  fc.assert(
    fc.property(fileScenario, scheduleArbitrary(3, 80, 3), (scenario, preemptions) => {
      if (found !== null) return true;
      const r = runCase({ kernel: era.name, driver: driver.name, scenario, preemptions, maxSteps: 3000 }, { era, driver });
      if (r.verdict.kind !== 'pass') found = `${r.verdict.kind} ${'invariant' in r.verdict ? r.verdict.invariant : ''}: ${scenarioText(scenario)} ${JSON.stringify(preemptions)}`;
      return true;
    }),
    { numRuns: runs, seed },
  );
  return found;
}

const FUZZ_ERAS = ['v4.10', 'v4.12', 'v4.13', 'v4.15', 'v5.5', 'v6.6'];

describe('drivers against writeback', () => {
  it('KVM passes writeback scenarios (faults, munmap, dontneed, vCPU accesses racing page_mkclean) on several eras', () => {
    for (const kernel of FUZZ_ERAS) expect(fuzz(eraByName(kernel), kvmFor(kernel), 150, 11), kernel).toBeNull();
  });

  it('a mirror that ignores range_start keeps a writable spte after page_mkclean: secondary-follows-primary (v4.13+)', () => {
    for (const kernel of ['v4.13', 'v4.15', 'v5.5', 'v6.6']) {
      const r = run(kernel, WRITE_DEVICE_WRITEBACK, ignoresRangeStart(kernel));
      expect(r.verdict, kernel).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
      expect('message' in r.verdict && r.verdict.message, kernel).toMatch(/writable .*read-only/);
      // without the writeback the same driver passes: page_mkclean is what shows it
      const noWb = run(kernel, WRITE_DEVICE_WRITEBACK.filter((t) => t.kind !== 'writeback'), ignoresRangeStart(kernel));
      expect(noWb.verdict.kind, kernel).toBe('pass');
    }
  });

  it('the fuzzing finds the mirror that ignores range_start, on v4.13+', () => {
    for (const kernel of ['v4.13', 'v4.15', 'v6.6']) expect(fuzz(eraByName(kernel), ignoresRangeStart(kernel), 150, 11), kernel).not.toBeNull();
  });

  it('a sleeping ->invalidate_page (invalidate-page-mutex) sleeps under the PTL through page_mkclean_one on v4.12, not on v4.10', () => {
    const threads: Threads = [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }] },
    ];
    const v412 = run('v4.12', threads, invalidatePageMutex);
    expect(v412.verdict).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
    // the sleep is in the writeback thread, inside page_mkclean_one's invalidate_page
    const last = v412.trace[v412.trace.length - 1];
    expect(v412.machine.threads[last.thread].name).toBe('writeback');
    expect(v412.trace.slice(-12).some((s) => s.effect.at.fn === 'page_mkclean_one' && s.effect.at.version === 'v4.12')).toBe(true);
    expect(run('v4.10', threads, invalidatePageMutex).verdict.kind).toBe('pass');
    expect(fuzz(eraByName('v4.10'), invalidatePageMutex, 150, 11)).toBeNull();
    // the call's place is what decides: v4.12 with page_mkclean_one's invalidate_page moved after the PTL passes
    const moved = deriveEra(eraByName('v4.12'), { name: 'v4.12-after-ptl', summary: 'NOT A KERNEL (test-only)', source: 'test', tryToUnmapNotify: 'invalidate-page-after-ptl' });
    expect(run(moved, threads, invalidatePageMutex).verdict.kind).toBe('pass');
  });
});

describe('the scenario flag and the writeback operation', () => {
  it('round-trip through a replay token and the scenario text; old tokens decode as before', () => {
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: { file: true, threads: WRITE_DEVICE_WRITEBACK }, preemptions: [{ thread: 2, after: 5, to: 1 }], maxSteps: 3000 };
    expect(decodeToken(encodeToken(c))).toEqual(c);
    const withInv = { ...c, invariants: ['secondary-follows-primary'] };
    expect(decodeToken(encodeToken(withInv))).toEqual(withInv);
    expect(scenarioText(c.scenario)).toBe('[file] cpu: read(0) write(0) | device: write(0) | writeback: writeback(0)');
    // a scenario without `file` encodes exactly as before (no trailing element)
    const anon: Case = { ...c, preemptions: [], scenario: { threads: [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }] } };
    expect(decodeToken(encodeToken(anon))).toEqual(anon);
    const layout = (t: string) => JSON.parse(inflateRawSync(Buffer.from(t.slice(4), 'base64url').subarray(4)).toString('utf8')) as unknown[];
    expect(layout(encodeToken(anon))).toHaveLength(5);
    expect(layout(encodeToken(c))).toEqual(['v4.13', 'kvm', [['cpu', [['a', 0], ['w', 0]]], ['device', [['w', 0]]], ['writeback', [['b', 0]]]], [2, 5, 1], 3000, null, null, 1]);
    const thp: Case = { ...anon, scenario: { ...anon.scenario, thp: true, thpOrder: 2 } };
    expect(decodeToken(encodeToken(thp))).toEqual(thp);
  });

  it('the scenario draw has file scenarios only on request (ScenarioBounds.file), each valid, with a writeback thread', () => {
    expect(fc.sample(scenarioArbitrary(), { numRuns: 300, seed: 1 }).some((s) => s.file || s.threads.some((t) => t.kind === 'writeback'))).toBe(false);
    const drawn = fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, file: true }), { numRuns: 300, seed: 1 });
    const file = drawn.filter((s) => s.file);
    expect(file.length).toBeGreaterThan(15);
    expect(drawn.filter((s) => !s.file).every((s) => s.threads.every((t) => t.kind !== 'writeback'))).toBe(true);
    for (const s of file) {
      expect(() => validateScenario(s)).not.toThrow();
      expect(s.threads.some((t) => t.kind === 'writeback')).toBe(true);
    }
    // and KVM passes them (v4.13)
    let found: string | null = null;
    fc.assert(
      fc.property(scenarioArbitrary({ ...DEFAULT_BOUNDS, file: true }).filter((s) => s.file === true), scheduleArbitrary(), (scenario, preemptions) => {
        const r = runCase({ kernel: 'v4.13', driver: 'kvm', scenario, preemptions, maxSteps: 3000 });
        if (r.verdict.kind !== 'pass' && found === null) found = `${r.verdict.kind}: ${scenarioText(scenario)}`;
      }),
      { numRuns: 100, seed: 3 },
    );
    expect(found).toBeNull();
  });

  it('validateScenario: writeback needs file; file rules out what the model does not have for a shared file VMA', () => {
    const wb = { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }] };
    expect(() => validateScenario({ threads: [wb] })).toThrow(/writeback threads need file/);
    expect(() => validateScenario({ file: true, threads: [wb, { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] }] })).toThrow(/reclaim thread is not modelled/);
    expect(() => validateScenario({ file: true, threads: [{ kind: 'cpu', ops: [{ op: 'fork' }] }] })).toThrow(/fork is not modelled/);
    expect(() => validateScenario({ file: true, thp: true, threads: [wb] })).toThrow(/file and thp/);
    expect(() => validateScenario({ file: true, threads: [{ kind: 'cpu', ops: [{ op: 'writeback', page: 0 }] }] })).toThrow(/not one a cpu thread does/);
    expect(validateScenario({ file: true, threads: [wb] })).toBeTruthy();
  });
});
