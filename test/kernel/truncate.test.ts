/**
 * A hole punched in the shared file mapping (src/kernel/truncate.ts: truncate_pagecache_range →
 * unmap_mapping_range → zap_page_range_single, then truncate_inode_pages_range →
 * delete_from_page_cache): the page leaves the page cache and is freed once its mappings are
 * zapped, inside the notifier bracket; a racing fault finds it truncated under the page lock; a
 * mirror that keeps its spte maps a freed page; KVM passes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { ERAS, eraByName } from '../../src/eras';
import { TRUNCATE_SITES } from '../../src/kernel/truncate';
import type { NotifierDefinition } from '../../src/notifier/definition';
import { describeEffect } from '../../src/report/label';
import { DEFAULT_BOUNDS, scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';
import { scenarioText, validateScenario } from '../../src/scenario/scenario';
import { decodeToken, encodeToken } from '../../src/schedule/token';
import { kvmFor, kvmStartKeeps } from '../drivers/kvm-variants';

type Threads = Case['scenario']['threads'];

function run(kernel: string, threads: Threads, driver: NotifierDefinition<any> = kvmFor(kernel), preemptions: Case['preemptions'] = []) {
  return runCase({ kernel, driver: driver.name, scenario: { file: true, threads }, preemptions, maxSteps: 3000 }, { era: eraByName(kernel), driver });
}

function lines(r: ReturnType<typeof run>, thread: number): string[] {
  return r.trace.filter((s) => s.thread === thread).map((s) => `${s.effect.at.fn}|${describeEffect(r.machine, s.effect)}`);
}

const WRITE_PUNCH: Threads = [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'punch', page: 0 }] }];

describe('fallocate(FALLOC_FL_PUNCH_HOLE) of a mapped file page', () => {
  it('zaps the PTE inside a range_start … range_end bracket (MMU_NOTIFY_CLEAR from v5.2) and frees the page once it leaves the page cache', () => {
    for (const era of ERAS) {
      const r = run(era.name, WRITE_PUNCH);
      expect(r.verdict.kind, era.name).toBe('pass');
      expect(r.machine.ptes[0], era.name).toBeNull();
      const pfn = r.trace.map((s) => describeEffect(r.machine, s.effect)).find((x) => x.startsWith('set_pte_at(0x100000'))!;
      const page = Number(/pfn (\d+)/.exec(pfn)![1]);
      expect(r.machine.pages[page].free, era.name).toBe(true);
      const cpu = lines(r, 0);
      const start = cpu.findIndex((l) => l.startsWith('zap_page_range_single|mmu_notifier_invalidate_range_start'));
      const clear = cpu.findIndex((l) => l.startsWith('zap_pte_range|'));
      const end = cpu.findIndex((l) => l.startsWith('zap_page_range_single|mmu_notifier_invalidate_range_end'));
      const del = cpu.findIndex((l) => l.startsWith('delete_from_page_cache'));
      expect(start >= 0 && start < clear && clear < end && end < del, `${era.name}: ${cpu.join(' / ')}`).toBe(true);
      if (era.events) expect(cpu[start], era.name).toContain('MMU_NOTIFY_CLEAR');
    }
  });

  it('a later access reads a new page into the cache; an unmapped or uncached page is only dropped or left alone', () => {
    const r = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'punch', page: 0 }, { op: 'access', page: 0, write: false }] }]);
    expect(r.verdict.kind).toBe('pass');
    const sets = r.trace.map((s) => describeEffect(r.machine, s.effect)).filter((x) => x.startsWith('set_pte_at(0x100000'));
    expect(sets).toHaveLength(2);
    expect(sets[0]).not.toBe(sets[1]);
    const none = run('v4.13', [{ kind: 'cpu', ops: [{ op: 'punch', page: 1 }] }]);
    expect(lines(none, 0).some((l) => l.includes('is not cached'))).toBe(true);
  });

  it('a fault that looked the page up before the punch finds it truncated under the page lock and reads a new one (filemap_fault: "Did it get truncated?")', () => {
    // the page is cached but not mapped (MADV_DONTNEED); the second CPU's read fault stops right after
    // find_get_page took its reference, the punch runs, the fault goes on
    const threads: Threads = [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'dontneed', page: 0, pages: 1 }] },
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }] },
      { kind: 'cpu', ops: [{ op: 'punch', page: 0 }] },
    ];
    const plain = run('v4.13', threads);
    const idx = lines(plain, 1).findIndex((l) => l.startsWith('filemap_fault → find_get_page') && l.includes('get_page_unless_zero'));
    expect(idx).toBeGreaterThanOrEqual(0);
    const r = run('v4.13', threads, kvmFor('v4.13'), [{ thread: 1, after: idx + 1, to: 2 }]);
    expect(r.verdict.kind).toBe('pass');
    expect(lines(r, 1).some((l) => l.includes('Did it get truncated?'))).toBe(true);
    expect(r.machine.ptes[0]).toMatchObject({ swap: false });
    expect(r.machine.pages[r.machine.ptes[0]!.pfn].free).toBe(false);
    // a new page (the old one freed: its pfn may come back with a new generation)
    const first = /pfn (\d+)\/g(\d+)/.exec(r.trace.map((s) => describeEffect(r.machine, s.effect)).find((x) => x.startsWith('set_pte_at(0x100000'))!)!;
    expect(`${r.machine.ptes[0]!.pfn}/g${r.machine.ptes[0]!.generation}`).not.toBe(`${first[1]}/g${first[2]}`);
  });

  it('KVM passes fuzzed schedules with a device and writeback; a KVM whose range_start keeps its spte maps the freed page', () => {
    const threads: Threads = [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'punch', page: 0 }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'writeback', ops: [{ op: 'writeback', page: 0 }] },
    ];
    for (const kernel of ['v4.13', 'v5.5', 'v6.6']) {
      fc.assert(
        fc.property(scheduleArbitrary(2, 60, 3), (pre) => {
          const v = run(kernel, threads, kvmFor(kernel), pre).verdict;
          return v.kind === 'pass' || v.kind === 'step-budget-exceeded';
        }),
        { numRuns: 150, seed: 5 },
      );
      const bad = run(kernel, [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] }, { kind: 'cpu', ops: [{ op: 'punch', page: 0 }] }], kvmStartKeeps(kernel));
      expect(bad.verdict.kind === 'violation' && bad.verdict.invariant, kernel).toBe('no-secondary-maps-freed-page');
    }
  });
});

describe('scenarios with a hole punch', () => {
  it('are drawn only with the file (--also file), validate, print and replay', () => {
    const file = fc.sample(scenarioArbitrary({ ...DEFAULT_BOUNDS, file: true }), { numRuns: 1500, seed: 3 });
    const withPunch = file.filter((s) => s.threads.some((t) => t.ops.some((o) => o.op === 'punch')));
    expect(withPunch.length).toBeGreaterThan(20);
    for (const s of withPunch) {
      expect(s.file).toBe(true);
      expect(() => validateScenario(s)).not.toThrow();
    }
    expect(fc.sample(scenarioArbitrary(), { numRuns: 500, seed: 3 }).some((s) => s.threads.some((t) => t.ops.some((o) => o.op === 'punch')))).toBe(false);
    expect(() => validateScenario({ threads: WRITE_PUNCH })).toThrow(/punch needs file: true/);
    expect(scenarioText({ file: true, threads: WRITE_PUNCH })).toBe('[file] cpu: write(0) punch_hole(0)');
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: { file: true, threads: WRITE_PUNCH }, preemptions: [], maxSteps: 3000 };
    expect(decodeToken(encodeToken(c))).toEqual(c);
  });

  it('every step of the punch names mm/truncate.c, mm/memory.c or mm/filemap.c, a function and a version read', () => {
    for (const s of TRUNCATE_SITES) {
      expect(['mm/truncate.c', 'mm/memory.c', 'mm/filemap.c']).toContain(s.file);
      expect(s.fn.length).toBeGreaterThan(0);
      expect(s.version).toBe('v4.13');
    }
  });
});
