/**
 * Catalogue B3 (reference §3 "THP: invalidate_page carried one 4 KiB address") through a DAX file
 * with PMD faults (src/kernel/dax.ts): ≤ v4.12 fs/dax.c dax_mapping_entry_mkclean write-protects a
 * huge PMD and calls `mmu_notifier_invalidate_page(mm, address)` with the PMD's start; KVM's
 * ->invalidate_page (kvm_unmap_hva, one page) leaves the vCPU a writable spte of the other subpage
 * while the CPU PMD is read-only and clean — a later guest write is never written back to pmem
 * (secondary-follows-primary). v4.13's bracket over the whole PMD passes.
 *
 * The B3 pair is asserted here, not in properties/drivers.property.test.ts PAIRS: the matrix draws
 * with DEFAULT_BOUNDS, where `dax` is never drawn (no matrix cell depends on it).
 */
import fc from 'fast-check';
import { kvmFor } from '../drivers/kvm-variants';
import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { eraByName } from '../../src/eras';
import { deriveEra, type Era } from '../../src/eras/era';
import { kvmLegacy } from '../../src/drivers/kvm';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { describeEffect } from '../../src/report/label';
import { site } from '../../src/runtime/site';
import { pageTableEntry } from '../../src/runtime/machine';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import { scenarioText, validateScenario, type Scenario } from '../../src/scenario/scenario';
import { decodeToken, encodeToken } from '../../src/schedule/token';

type Threads = Case['scenario']['threads'];

function daxScenario(threads: Threads, thpOrder = 1): Scenario {
  return { file: true, thp: true, thpOrder, dax: true, threads };
}

function run(era: Era, threads: Threads, driver: NotifierDefinition<any> = kvmFor(era.name), preemptions: Case['preemptions'] = []) {
  return runCase({ kernel: era.name, driver: driver.name, scenario: daxScenario(threads), preemptions, maxSteps: 3000 }, { era, driver });
}

/** `[file dax thp order 1] cpu: write(0) | device: write(1) | writeback: writeback(0)` */
const B3: Threads = [
  { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
  { kind: 'device', ops: [{ op: 'access', page: 1, write: true }] },
  { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }] },
];

const AT = site('test', 'THP-aware invalidate_page (test-only)', 'model');

/**
 * Test-only sibling of the v4.12 KVM model: its ->invalidate_page drops the sptes of the whole
 * order-1 huge page holding `address` (what the range API of the v4.13 fix made drivers do), not
 * one page. Not a kernel driver.
 */
const kvmThpAware: NotifierDefinition<any> = {
  ...kvmLegacy,
  name: 'kvm-thp-aware-invalidate-page',
  ops: {
    ...kvmLegacy.ops,
    *invalidatePage(k, s, address) {
      yield* k.spinLock(s.mmuLock, AT);
      yield* k.add(s.seq, 1, AT);
      const first = k.vpnOf(address) & ~1;
      yield* k.spteClearRange(s.spt, first, first + 2, AT, true);
      yield* k.spinUnlock(s.mmuLock, AT);
    },
  },
};

function steps(r: ReturnType<typeof run>, thread: string): string[] {
  return r.trace.filter((s) => r.machine.threads[s.thread].name === thread).map((s) => `${s.effect.at.file} ${s.effect.at.fn}|${describeEffect(r.machine, s.effect)}`);
}

describe('the DAX file VMA (dax_iomap_pmd_fault, dax_writeback_one)', () => {
  it('a write fault maps the whole extent with one writable dirty huge PMD; a read maps it read-only; a write to it then upgrades it', () => {
    const w = run(eraByName('v4.12'), [{ kind: 'cpu', ops: [{ op: 'access', page: 1, write: true }] }]);
    expect(w.verdict.kind).toBe('pass');
    expect(w.machine.pmds[0]).toMatchObject({ writable: true, dirty: true });
    expect(pageTableEntry(w.machine, 0)).toMatchObject({ huge: true, writable: true });
    expect(w.machine.ptes.every((x) => x === null)).toBe(true);
    expect(steps(w, 'cpu').some((s) => s.includes('dax_iomap_pmd_fault'))).toBe(true);
    const rw = run(eraByName('v4.12'), [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'access', page: 1, write: true }] }]);
    expect(rw.verdict.kind).toBe('pass');
    expect(rw.machine.pmds[0]).toMatchObject({ writable: true, dirty: true });
    // read: insert_pfn_pmd read-only; write to it: wp_huge_pmd → huge_fault again
    expect(steps(rw, 'cpu').map((s) => s.split('|')[1]).filter((s) => s.startsWith('insert_pfn_pmd: set_pmd_at('))).toEqual([
      'insert_pfn_pmd: set_pmd_at(0x100000, pfn 1/g0 huge ro)',
      'insert_pfn_pmd: set_pmd_at(0x100000, pfn 1/g0 huge rw dirty)',
    ]);
  });

  it('writeback write-protects and cleans the PMD; the pmem extent is never freed', () => {
    const r = run(eraByName('v4.13'), [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'writeback', ops: [{ op: 'writeback', page: 1 }] },
    ]);
    expect(r.verdict.kind).toBe('pass');
    expect(r.machine.pmds[0]).toMatchObject({ writable: false, dirty: false });
    const head = r.machine.pmds[0]!.pfn;
    expect(r.machine.pages[head]).toMatchObject({ free: false, refcount: 1, compoundMapcount: 1 });
  });

  it('a device fault on a subpage maps that subpage only (gup of a huge devmap PMD)', () => {
    const r = run(eraByName('v4.13'), B3.slice(0, 2));
    expect(r.verdict.kind).toBe('pass');
    const spt = r.machine.tables[0].entries;
    expect(spt[1]).toMatchObject({ pfn: r.machine.pmds[0]!.pfn + 1, writable: true });
    expect(spt[0]).toBeNull();
  });

  it('each era calls what its fs/dax.c calls', () => {
    const calls = (kernel: string) =>
      steps(run(eraByName(kernel), B3), 'writeback')
        .map((s) => s.split('|')[1])
        .filter((s) => s.startsWith('mmu_notifier_') && !s.endsWith('returned'));
    expect(calls('v4.10')).toEqual(['mmu_notifier_invalidate_page(0x100000) of a 2-page PMD']);
    expect(calls('v4.12')).toEqual(calls('v4.10'));
    expect(calls('v4.13')).toEqual(['mmu_notifier_invalidate_range_start(0x100000, 0x102000)', 'mmu_notifier_invalidate_range(0x100000, 0x102000)', 'mmu_notifier_invalidate_range_end(0x100000, 0x102000)']);
    expect(calls('v4.15')).not.toContain('mmu_notifier_invalidate_range(0x100000, 0x102000)');
    // ≤ v4.12 the notifier is called after the PMD lock is dropped (fs/dax.c v4.10.17, v4.12: spin_unlock(ptl) first)
    const wb = steps(run(eraByName('v4.12'), B3), 'writeback').map((s) => s.split('|')[1]);
    expect(wb.indexOf('spin_unlock(ptl)')).toBeLessThan(wb.findIndex((s) => s.startsWith('mmu_notifier_invalidate_page')));
  });
});

describe('B3: a one-page ->invalidate_page on a DAX PMD', () => {
  it('v4.10 and v4.12 (KVM kvm_unmap_hva of one page): the vCPU keeps a writable spte of the other subpage', () => {
    for (const kernel of ['v4.10', 'v4.12']) {
      const r = run(eraByName(kernel), B3);
      expect(r.verdict, kernel).toMatchObject({ kind: 'violation', invariant: 'secondary-follows-primary' });
      expect((r.verdict as { message: string }).message).toContain('still maps 0x101000 writable');
    }
  });

  it('v4.13, v4.15, v6.6 (a bracket over the whole PMD) pass the same scenario', () => {
    for (const kernel of ['v4.13', 'v4.15', 'v6.6']) expect(run(eraByName(kernel), B3).verdict.kind, kernel).toBe('pass');
  });

  it('the pair on v4.12: a THP-aware ->invalidate_page (test-only sibling) passes where KVM v4.12 fails', () => {
    expect(run(eraByName('v4.12'), B3, kvmThpAware).verdict.kind).toBe('pass');
  });

  it('the check depends on the model: v4.12 given v4.13\'s bracket (a broken model) would pass, so the B3 test above would fail', () => {
    const broken = deriveEra(eraByName('v4.12'), { name: 'v4.12-dax-bracket', summary: 'NOT A KERNEL (test-only)', source: 'test', tryToUnmapNotify: 'bracket', mkcleanInvalidateRange: true });
    expect(run(broken, B3, kvmLegacy).verdict.kind).toBe('pass');
  });

  it('fuzzing schedules (fixed seed) finds B3 on v4.12 and nothing on v4.13', () => {
    const fuzz = (kernel: string, driver = kvmFor(kernel)) => {
      const found = new Set<string>();
      const era = eraByName(kernel);
      fc.assert(
        fc.property(scheduleArbitrary(3, 60, 3), (preemptions) => {
          const v = run(era, B3, driver, preemptions).verdict;
          if (v.kind !== 'pass') found.add(v.kind === 'violation' ? v.invariant : v.kind);
        }),
        { numRuns: 200, seed: 42 },
      );
      return [...found].sort();
    };
    expect(fuzz('v4.12')).toContain('secondary-follows-primary');
    expect(fuzz('v4.13')).toEqual([]);
    expect(fuzz('v4.12', kvmThpAware)).toEqual([]);
  });
});

describe('drawn DAX scenarios (ScenarioBounds.dax)', () => {
  const bounds = { ...DEFAULT_BOUNDS, file: true, dax: true };
  it('are drawn only on request', () => {
    expect(fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, file: true }), { numRuns: 300, seed: 1 }).some((s) => s.dax)).toBe(false);
    const drawn = fc.sample(scenarioArbitrary(bounds), { numRuns: 300, seed: 1 }).filter((s) => s.dax);
    expect(drawn.length).toBeGreaterThan(0);
    for (const s of drawn) expect(validateScenario(s)).toBe(s);
  });

  it('KVM: v4.13 passes drawn DAX scenarios; v4.12 fails some with secondary-follows-primary (fixed seed)', () => {
    const campaign = (kernel: string) => {
      const era = eraByName(kernel);
      const driver = kvmFor(kernel);
      const found = new Set<string>();
      fc.assert(
        fc.property(scenarioArbitrary(bounds).filter((s) => s.dax === true), scheduleArbitrary(3, 60, 3), (scenario, preemptions) => {
          const v = runCase({ kernel, driver: driver.name, scenario, preemptions, maxSteps: 3000 }, { era, driver }).verdict;
          if (v.kind !== 'pass') found.add(v.kind === 'violation' ? v.invariant : v.kind);
        }),
        { numRuns: 200, seed: 7 },
      );
      return [...found].sort();
    };
    expect(campaign('v4.13')).toEqual([]);
    expect(campaign('v4.12')).toContain('secondary-follows-primary');
  });
});

describe('the dax flag', () => {
  it('needs file and thp, allows only cpu accesses, device and writeback threads', () => {
    expect(() => validateScenario({ dax: true, file: true, threads: B3 })).toThrow(/dax needs file: true and thp: true/);
    expect(() => validateScenario({ ...daxScenario(B3), threads: [{ kind: 'cpu', ops: [{ op: 'munmap', page: 0, pages: 1 }] }] })).toThrow(/not modelled on a DAX/);
    expect(() => validateScenario({ file: true, thp: true, threads: B3 })).toThrow(/file and thp together/);
    expect(scenarioText(daxScenario(B3))).toBe('[thp order 1] [file dax] cpu: write(0) | device: write(1) | writeback: writeback(0)');
  });

  it('round-trips through a replay token (older tokens have no 9th element and decode as before)', () => {
    const c: Case = { kernel: 'v4.12', driver: 'kvm', scenario: daxScenario(B3), preemptions: [], maxSteps: 3000 };
    expect(decodeToken(encodeToken(c)).scenario).toEqual(c.scenario);
    const plain: Case = { ...c, scenario: { file: true, threads: B3 } };
    expect(decodeToken(encodeToken(plain)).scenario).toEqual(plain.scenario);
  });
});
